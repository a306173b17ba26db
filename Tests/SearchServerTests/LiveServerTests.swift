import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
@testable import SearchServer

/// Records that graceful shutdown reached the module (the hook the engine uses to checkpoint).
final class ShutdownProbe: APIModule {
    let calls = Atomic<Int>(0)
    func addRoutes(to routes: APIRoutes, context: APIModuleContext) {}
    func shutdown() async { calls.add(1, ordering: .sequentiallyConsistent) }
}

/// A module whose route blocks until released, to hold requests in flight.
final class BlockingModule: APIModule {
    let entered = Atomic<Int>(0)
    let released = Atomic<Bool>(false)
    func addRoutes(to routes: APIRoutes, context: APIModuleContext) {
        routes.read.get("v1/slow") { [self] _, _ in
            entered.add(1, ordering: .sequentiallyConsistent)
            while !released.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(2)) }
            return "done"
        }
    }
}

@Suite("Live server over a socket")
struct LiveServerTests {
    @Test("the real server on 127.0.0.1 with an ephemeral port answers every route; shutdown runs the module hook")
    func live() async throws {
        let probe = ShutdownProbe()
        let app = try makeApp(modules: [probe])
        try await app.test(.live) { client in
            #expect(client.port != nil && client.port != 0)
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/ready").status == .ok)
            let embedding = try await client.post("/v1/embeddings", json: #"{"input": ["live one", "live two"]}"#)
            #expect(embedding.status == .ok)
            #expect(try embedding.decode(OpenAIResponse.self).data.count == 2)
            #expect(try await client.post("/embed", json: #"{"inputs": "live"}"#).decode([[Float]].self)[0].count == 384)
            expectError(try await client.post("/embed", json: "{nope"), .badRequest, code: "invalid_json")
            expectError(try await client.get("/missing"), .notFound, code: "not_found")
            // Concurrent requests over separate connections share the batcher.
            let port = try #require(client.port)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<16 {
                    group.addTask { try await RawHTTP.postStatus(port: port, path: "/v1/embeddings", json: #"{"input": "query number \#(i)"}"#) }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(try await client.get("/metrics").text.contains(#"route="/v1/embeddings",method="POST",status="200"} 17"#))
        }
        #expect(probe.calls.load(ordering: .sequentiallyConsistent) == 1)
    }

    @Test("over max_concurrent_requests in flight: 429 overloaded at once with Retry-After")
    func concurrencyLimit() async throws {
        let blocking = BlockingModule()
        let app = try makeApp(modules: [blocking]) { $0.limits.maxConcurrentRequests = 2 }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let slow = (0..<2).map { _ in Task { try await RawHTTP.postStatus(port: port, path: "/v1/slow", json: nil) } }
            for _ in 0..<2000 where blocking.entered.load(ordering: .sequentiallyConsistent) < 2 {
                try await Task.sleep(for: .milliseconds(2))
            }
            let rejected = try await client.post("/embed", json: #"{"inputs": "a"}"#)
            expectError(rejected, .tooManyRequests, code: "overloaded", messageContains: "max_concurrent_requests")
            #expect(rejected.headers[.retryAfter] == "1")
            let health = try await client.get("/health")
            #expect(health.status == .ok, "health is never refused for load")
            blocking.released.store(true, ordering: .sequentiallyConsistent)
            for task in slow { #expect(try await task.value == 200) }
            #expect(try await client.post("/embed", json: #"{"inputs": "a"}"#).status == .ok)
        }
    }
}

/// A minimal HTTP/1.1 client over a POSIX socket (one request per connection), so tests can open
/// several connections at once.
enum RawHTTP {
    static func postStatus(port: Int, path: String, json: String?) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try request(port: port, path: path, json: json) })
            }
            thread.start()
        }
    }

    struct Failure: Error { let reason: String }

    static func request(port: Int, path: String, json: String?) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(reason: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(reason: "connect") }
        let body = json ?? ""
        let method = json == nil ? "GET" : "POST"
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw Failure(reason: "send") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        let head = String(decoding: response.prefix(64), as: UTF8.self)
        let parts = head.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(reason: "bad response: \(head)") }
        return status
    }
}
