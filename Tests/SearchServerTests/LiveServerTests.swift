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
    // Requests go through `RawHTTP` (blocking sockets on their own threads, no client timeout):
    // in the full test run other suites keep the 2-thread cooperative pool busy with synchronous
    // model work for many seconds, longer than HummingbirdTesting's fixed 20 s read timeout.

    @Test("the real server on 127.0.0.1 with an ephemeral port answers every route; shutdown runs the module hook")
    func live() async throws {
        let probe = ShutdownProbe()
        let app = try makeApp(modules: [probe])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(port != 0)
            #expect(try await RawHTTP.send(port: port, path: "/health").status == 200)
            #expect(try await RawHTTP.send(port: port, path: "/ready").status == 200)
            let embedding = try await RawHTTP.send(port: port, path: "/v1/embeddings", json: #"{"input": ["live one", "live two"]}"#)
            #expect(embedding.status == 200)
            #expect(try JSONDecoder().decode(OpenAIResponse.self, from: embedding.body).data.count == 2)
            let tei = try await RawHTTP.send(port: port, path: "/embed", json: #"{"inputs": "live"}"#)
            #expect(try JSONDecoder().decode([[Float]].self, from: tei.body).first?.count == 384)
            let bad = try await RawHTTP.send(port: port, path: "/embed", json: "{nope")
            #expect(bad.status == 400 && (try? JSONDecoder().decode(ErrorBody.self, from: bad.body))?.error.code == "invalid_json")
            let missing = try await RawHTTP.send(port: port, path: "/missing")
            #expect(missing.status == 404 && (try? JSONDecoder().decode(ErrorBody.self, from: missing.body))?.error.code == "not_found")
            // Concurrent requests over separate connections share the batcher.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<16 {
                    group.addTask {
                        try await RawHTTP.send(port: port, path: "/v1/embeddings", json: #"{"input": "query number \#(i)"}"#).status
                    }
                }
                for try await status in group { #expect(status == 200) }
            }
            let metrics = try await RawHTTP.send(port: port, path: "/metrics")
            #expect(String(decoding: metrics.body, as: UTF8.self).contains(#"route="/v1/embeddings",method="POST",status="200"} 17"#))
        }
        #expect(probe.calls.load(ordering: .sequentiallyConsistent) == 1)
    }

    @Test("over max_concurrent_requests in flight: 429 overloaded at once with Retry-After; /health still answers")
    func concurrencyLimit() async throws {
        let blocking = BlockingModule()
        let app = try makeApp(modules: [blocking]) { $0.limits.maxConcurrentRequests = 2 }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let slow = (0..<2).map { _ in Task { try await RawHTTP.send(port: port, path: "/v1/slow").status } }
            for _ in 0..<20_000 where blocking.entered.load(ordering: .sequentiallyConsistent) < 2 {
                try await Task.sleep(for: .milliseconds(2))
            }
            let rejected = try await RawHTTP.send(port: port, path: "/embed", json: #"{"inputs": "a"}"#)
            #expect(rejected.status == 429)
            #expect((try? JSONDecoder().decode(ErrorBody.self, from: rejected.body))?.error.code == "overloaded")
            #expect(rejected.head.lowercased().contains("retry-after: 1"))
            #expect(try await RawHTTP.send(port: port, path: "/health").status == 200, "health is never refused for load")
            blocking.released.store(true, ordering: .sequentiallyConsistent)
            for task in slow { #expect(try await task.value == 200) }
            #expect(try await RawHTTP.send(port: port, path: "/embed", json: #"{"inputs": "a"}"#).status == 200)
        }
    }
}

/// A minimal HTTP/1.1 client over a POSIX socket (one request per connection), so tests can open
/// several connections at once.
enum RawHTTP {
    struct Reply: Sendable {
        let status: Int
        let head: String
        let body: Data
    }

    /// GET (no `json`) or POST `json`; one connection per request, `Connection: close`.
    static func send(port: Int, path: String, json: String? = nil) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try request(port: port, path: path, json: json) })
            }
            thread.start()
        }
    }

    static func postStatus(port: Int, path: String, json: String?) async throws -> Int {
        try await send(port: port, path: path, json: json).status
    }

    struct Failure: Error { let reason: String }

    static func request(port: Int, path: String, json: String?) throws -> Reply {
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
        let payload = json ?? ""
        let method = json == nil ? "GET" : "POST"
        let request =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(payload.utf8.count)\r\nConnection: close\r\n\r\n\(payload)"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw Failure(reason: "send") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var split = response.count
        if response.count >= 4 {
            for i in 0...(response.count - 4) where Array(response[i..<(i + 4)]) == separator {
                split = i
                break
            }
        }
        let head = String(decoding: response[0..<split], as: UTF8.self)
        let body = split + 4 <= response.count ? Data(response[(split + 4)...]) : Data()
        let parts = head.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(reason: "bad response: \(head.prefix(64))") }
        return Reply(status: status, head: head, body: body)
    }
}
