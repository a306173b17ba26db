import Foundation
import Hummingbird
import Logging
import QuiverTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import SearchServer

/// Records when its shutdown hook ran relative to the in-flight request.
final class OrderProbe: APIModule {
    let events = Mutex<[String]>([])
    func addRoutes(to routes: APIRoutes, context: APIModuleContext) {}
    func shutdown() async { events.withLock { $0.append("module shutdown") } }
}

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("shutdown finishes the in-flight request, then runs the modules' shutdown hooks")
    func finishesInFlight() async throws {
        let blocking = BlockingModule()
        let probe = OrderProbe()
        let port = try BlockingHTTP.freePort()
        let app = try makeApp(modules: [blocking, probe]) { $0.port = port }
        let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
        let running = Task { try await group.run() }
        var up = false
        for _ in 0..<500 where !up {
            up = (try? await RawHTTP.postStatus(port: port, path: "/health", json: nil)) == 200
            if !up { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(up)
        let slow = Task { try await RawHTTP.postStatus(port: port, path: "/v1/slow", json: nil) }
        for _ in 0..<2000 where blocking.entered.load(ordering: .sequentiallyConsistent) < 1 {
            try await Task.sleep(for: .milliseconds(2))
        }
        await group.triggerGracefulShutdown()
        try await Task.sleep(for: .milliseconds(100))
        #expect(probe.events.withLock { $0 }.isEmpty, "modules shut down while a request was in flight")
        probe.events.withLock { $0.append("request released") }
        blocking.released.store(true, ordering: .sequentiallyConsistent)
        #expect(try await slow.value == 200)
        try await running.value
        #expect(probe.events.withLock { $0 } == ["request released", "module shutdown"])
    }
}
