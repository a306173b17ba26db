import Foundation
import QuiverTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A `quiver serve` child process on a free loopback port, with the real model, and what the
/// kernel says about its memory.
final class ServedQuiver: @unchecked Sendable {
    let process = Process()
    let port: Int
    let log: URL

    /// Starts `quiver serve --no-sample` over `directory`/data with `arguments` added, and waits
    /// until `/ready` answers 200.
    init(_ directory: TemporaryDirectory, _ arguments: [String] = [], data: URL? = nil) throws {
        port = try BlockingHTTP.freePort()
        log = directory.url.appendingPathComponent("serve-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = try quiverExecutable()
        process.arguments =
            [
                "serve", "--port", "\(port)", "--no-sample", "--data", (data ?? directory.url.appendingPathComponent("data")).path,
                "--model", TestModel.folder.path, "--log-level", "warning",
            ] + arguments
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let reply = try? BlockingHTTP.exchange(port: port, "GET", "/ready", json: nil, timeoutSeconds: 2), reply.status == 200 {
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw BlockingHTTP.Failure(description: "quiver serve did not become ready: \(logText)")
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// A `/proc/PID/status` field in bytes (`VmRSS`, `VmHWM`: the peak resident set).
    func memory(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kB = Int(parts[1]) { return kB * 1024 }
        }
        return 0
    }

    /// One request on a new connection (30 s timeouts).
    func send(_ method: String, _ path: String, _ json: String? = nil) throws -> BlockingHTTP.Reply {
        try BlockingHTTP.exchange(port: port, method, path, json: json, timeoutSeconds: 30)
    }

    /// SIGTERM, then waits up to `seconds` for the exit; true when it exited.
    func terminate(within seconds: Double) -> Bool {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning
    }
}

/// Issue 14: every answer is bounded before the work starts; slow, idle and over-large clients
/// cannot lock others out; a refusal reaches a client that writes its whole body first. Each
/// test runs a real `quiver serve` and fails on the code before these limits.
@Suite("Serve limits", .serialized)
struct ServeLimitsTests {
    static func vectorJSON(_ vector: [Float]) -> String { "[" + vector.map { "\($0)" }.joined(separator: ",") + "]" }

    /// Documents `prefix0…` with random vectors and texts of `textBytes` bytes, PUT in batches.
    static func fill(
        _ server: ServedQuiver, collection: String, count: Int, dimensions: Int, textBytes: Int, batch: Int, seed: UInt64
    ) throws {
        var random = SeededVectors(seed: seed)
        let text = String(repeating: "lorem ipsum ", count: textBytes / 12)
        for start in stride(from: 0, to: count, by: batch) {
            let documents = (start..<min(start + batch, count)).map {
                #"{"id":"d\#($0)","text":"\#(text)","vector":\#(vectorJSON(random.vector(dimensions)))}"#
            }
            let reply = try server.send(
                "PUT", "/v1/collections/\(collection)/documents", #"{"documents":[\#(documents.joined(separator: ","))]}"#)
            try #require(reply.status == 200, "\(reply.text.prefix(300))")
        }
    }

    static func create(_ server: ServedQuiver, _ name: String, dimensions: Int) throws {
        let reply = try server.send("POST", "/v1/collections", #"{"name":"\#(name)","model":"external","dimensions":\#(dimensions)}"#)
        try #require(reply.status == 201, "\(reply.text)")
    }

    @Test("a request whose answer would be huge is a 413 before the work; export pages are sized in bytes; peak RSS stays bounded")
    func boundedAnswers() throws {
        let directory = try TemporaryDirectory("quiver-serve")
        let server = try ServedQuiver(directory)
        try Self.create(server, "c", dimensions: 384)
        try Self.fill(server, collection: "c", count: 2000, dimensions: 384, textBytes: 2048, batch: 250, seed: 1)
        try Self.create(server, "long", dimensions: 16)
        try Self.fill(server, collection: "long", count: 200, dimensions: 16, textBytes: 60_000, batch: 50, seed: 2)
        try Self.create(server, "wide", dimensions: 65_536)
        try Self.fill(server, collection: "wide", count: 40, dimensions: 65_536, textBytes: 12, batch: 4, seed: 3)
        let baseline = server.memory("VmHWM")
        #expect(baseline > 0)

        // 256 × k=1000 with text and vector: 15.9 KB asking for ~1.5 GB (measured 455 MB at caf5ddc on 1,500 documents).
        let huge = (0..<256).map { #"{"id":"d\#($0)","k":1000,"include":["text","vector"]}"# }.joined(separator: ",")
        let refused = try server.send("POST", "/v1/collections/c/query/batch", #"{"queries":[\#(huge)]}"#)
        #expect(refused.status == 413, "\(refused.text.prefix(300))")
        #expect(refused.text.contains("max_response_bytes"), "\(refused.text.prefix(300))")
        // Text queries are refused before they are embedded: the batcher sees nothing.
        func embedBatches() throws -> Double {
            let metrics = try server.send("GET", "/metrics").text
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("quiver_embed_batch_requests_count ") }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
        }
        let created = try server.send("POST", "/v1/collections", #"{"name":"m"}"#)
        try #require(created.status == 201, "\(created.text)")
        let articles = (0..<50).map { #"{"id":"m\#($0)","text":"article \#($0) about passwords and invoices"}"# }
        let embedded = try server.send("PUT", "/v1/collections/m/documents", #"{"documents":[\#(articles.joined(separator: ","))]}"#)
        try #require(embedded.status == 200, "\(embedded.text)")
        let batchesBefore = try embedBatches()
        let texts = (0..<256).map { #"{"text":"how do I reset my password \#($0)","k":1000,"include":["text","vector"]}"# }
        let textRefused = try server.send("POST", "/v1/collections/m/query/batch", #"{"queries":[\#(texts.joined(separator: ","))]}"#)
        #expect(textRefused.status == 413, "\(textRefused.text.prefix(300))")
        #expect(try embedBatches() == batchesBefore, "a refused batch was embedded")
        let textAnswered = try server.send(
            "POST", "/v1/collections/m/query/batch", #"{"queries":[\#(texts.prefix(4).joined(separator: ","))]}"#)
        #expect(textAnswered.status == 200, "\(textAnswered.text.prefix(300))")
        #expect(try embedBatches() > batchesBefore, "the metric counts embedded batches")
        // The same with k=10 fits (256 × 10 hits × ~8 KB ≈ 20 MB).
        let fitting = (0..<256).map { #"{"id":"d\#($0)","k":10,"include":["text","vector"]}"# }.joined(separator: ",")
        let answered = try server.send("POST", "/v1/collections/c/query/batch", #"{"queries":[\#(fitting)]}"#)
        #expect(answered.status == 200, "\(answered.text.prefix(300))")
        #expect(answered.body.count < 32 << 20)
        // Texts far longer than the estimate assumes: caught as the hits are read.
        let long = (0..<64).map { #"{"id":"d\#($0)","k":10,"include":["text"]}"# }.joined(separator: ",")
        let longRefused = try server.send("POST", "/v1/collections/long/query/batch", #"{"queries":[\#(long)]}"#)
        #expect(longRefused.status == 413, "\(longRefused.text.prefix(300))")
        #expect(longRefused.text.contains("max_response_bytes"), "\(longRefused.text.prefix(300))")

        // One id 10,000 times: ~58 MB of vectors.
        let ids = Array(repeating: #""d1""#, count: 10_000).joined(separator: ",")
        let vectors = try server.send("POST", "/v1/collections/c/vectors", #"{"ids":[\#(ids)]}"#)
        #expect(vectors.status == 413, "\(vectors.text.prefix(300))")
        let fewer = try server.send(
            "POST", "/v1/collections/c/vectors", #"{"ids":[\#(Array(repeating: #""d1""#, count: 1000).joined(separator: ","))]}"#)
        #expect(fewer.status == 200, "\(fewer.text.prefix(300))")

        // /tokenize: 60 inputs of 32,000 one-letter words: ~1.9M tokens, ~58 MB of JSON.
        let words = String(repeating: "a ", count: 32_000)
        let tokenize = try server.send(
            "POST", "/tokenize", #"{"inputs":[\#(Array(repeating: "\"\(words)\"", count: 60).joined(separator: ","))]}"#)
        #expect(tokenize.status == 413, "\(tokenize.text.prefix(300))")
        #expect(tokenize.text.contains("max_response_bytes"))
        #expect(try server.send("POST", "/tokenize", #"{"inputs":["hello world"]}"#).status == 200)

        // Export pages of a 65,536-dimension collection: cut to max_response_bytes, all rows reached.
        for format in ["ndjson", "f32"] {
            var cursor = ""
            var rows = 0
            var pages = 0
            repeat {
                let page = try server.send("GET", "/v1/collections/wide/vectors?limit=1000&format=\(format)&cursor=\(cursor)")
                try #require(page.status == 200, "\(page.text.prefix(300))")
                #expect(page.body.count <= 32 << 20, "\(format) page of \(page.body.count) bytes")
                rows += Int(page.headers["quiver-count"] ?? "") ?? 0
                pages += 1
                cursor = page.headers["quiver-next-cursor"] ?? ""
            } while !cursor.isEmpty && pages < 100
            #expect(rows == 40, "\(format)")
            if format == "ndjson" { #expect(pages >= 2, "a 65,536-dim JSON page of 40 rows is ~39 MB: cut in two") }
        }

        // The limits are listed.
        let info = try server.send("GET", "/v1/info")
        for name in ["max_response_bytes", "max_vector_ids", "max_connections", "idle_timeout_seconds", "body_timeout_seconds"] {
            #expect(info.text.contains("\"\(name)\""), "\(name) missing from /v1/info")
        }
        // The bound: the peak resident set grew by less than 256 MiB over the peak after loading
        // (the refused requests were refused before their work; the served ones are ≤ 32 MiB).
        let peak = server.memory("VmHWM")
        #expect(peak - baseline < 256 << 20, "peak RSS grew by \((peak - baseline) >> 20) MiB (from \(baseline >> 20) MiB)")
    }

    @Test("hundreds of idle and dribbling connections hold no slot: others are answered within a second; SIGTERM exits")
    func slowClients() throws {
        let directory = try TemporaryDirectory("quiver-serve")
        let server = try ServedQuiver(directory, ["--max-concurrent-requests", "8", "--body-timeout", "2", "--idle-timeout", "30"])
        try Self.create(server, "c", dimensions: 4)
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        let head =
            "POST /v1/collections/c/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        for i in 0..<300 {
            let socket = try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 10)
            sockets.append(socket)
            if i % 2 == 0 { try BlockingHTTP.sendAll(socket, Array((head + "{\"ve").utf8)) }  // dribbling: 4 bytes of 100 KB
        }
        Thread.sleep(forTimeInterval: 0.3)
        for path in ["/v1/collections", "/v1/collections/c"] {
            let start = Date()
            let reply = try server.send("GET", path)
            #expect(reply.status == 200, "\(reply.status) \(reply.text.prefix(200))")
            #expect(Date().timeIntervalSince(start) < 1, "\(path) took \(Date().timeIntervalSince(start)) s")
        }
        let start = Date()
        let query = try server.send("POST", "/v1/collections/c/query", #"{"vector":[1,0,0,0],"k":1}"#)
        #expect(query.status == 200, "\(query.text)")
        #expect(Date().timeIntervalSince(start) < 1)
        // A dribbler is answered 408 once the body deadline passes, and its connection is closed
        // then (the read ends at the close, long before the 10 s receive timeout or the 30 s idle
        // timeout).
        let readStart = Date()
        let reply = try BlockingHTTP.readReply(sockets[0])
        #expect(reply.status == 408, "\(reply.status) \(reply.text)")
        #expect(reply.text.contains("request_timeout"))
        #expect(Date().timeIntervalSince(readStart) < 6, "the connection stayed open after the 408")
        // New dribblers, then SIGTERM: the server exits (their bodies time out; idle connections close).
        for _ in 0..<50 {
            let socket = try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 10)
            sockets.append(socket)
            try BlockingHTTP.sendAll(socket, Array((head + "{").utf8))
        }
        #expect(server.terminate(within: 10), "SIGTERM did not end the server: \(server.logText.suffix(2000))")
    }

    @Test("a body over max_body_bytes sent whole before reading still gets its 413; the connection cap holds")
    func earlyRefusalAndConnectionCap() throws {
        let directory = try TemporaryDirectory("quiver-serve")
        let server = try ServedQuiver(directory, ["--max-connections", "20", "--idle-timeout", "30"])
        try Self.create(server, "c", dimensions: 4)
        // 6 MB sent in full before the answer is read, as Python's urllib does; a stalled write fails after 10 s.
        let socket = try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 10)
        defer { close(socket) }
        let body = [UInt8](repeating: UInt8(ascii: " "), count: 6_000_000)
        let head =
            "PUT /v1/collections/c/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try BlockingHTTP.sendAll(socket, Array(head.utf8) + body)
        let reply = try BlockingHTTP.readReply(socket)
        #expect(reply.status == 413, "\(reply.status) \(reply.text)")
        #expect(reply.text.contains("payload_too_large"))

        // The same without a declared length (chunked): read past the limit, dropped, then the 413.
        let chunked = try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 10)
        defer { close(chunked) }
        var upload = Array(
            "PUT /v1/collections/c/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .utf8)
        let piece = [UInt8](repeating: UInt8(ascii: " "), count: 65_536)
        for _ in 0..<96 { upload += Array("10000\r\n".utf8) + piece + Array("\r\n".utf8) }
        upload += Array("0\r\n\r\n".utf8)
        try BlockingHTTP.sendAll(chunked, upload)
        let chunkedReply = try BlockingHTTP.readReply(chunked)
        #expect(chunkedReply.status == 413, "\(chunkedReply.status) \(chunkedReply.text)")

        // 20 idle connections fill the cap: a 21st waits, and is served once one closes.
        var idle: [Int32] = []
        for _ in 0..<20 { idle.append(try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 10)) }
        Thread.sleep(forTimeInterval: 0.3)
        let waiting = try BlockingHTTP.connectSocket(port: server.port, timeoutSeconds: 1)
        defer { close(waiting) }
        try BlockingHTTP.sendAll(waiting, Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        #expect((try? BlockingHTTP.readReply(waiting)) == nil, "a connection over max_connections was served at once")
        for socket in idle { close(socket) }
        var time = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(waiting, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        let served = try BlockingHTTP.readReply(waiting)
        #expect(served.status == 200)
    }

    /// Runs a system command (mount, umount); true when it exited 0.
    @discardableResult
    static func system(_ path: String, _ arguments: [String]) -> Bool {
        guard let result = try? runProcess(URL(fileURLWithPath: path), arguments) else { return false }
        return result.status == 0
    }

    @Test(
        "a full disk answers writes 507 and keeps serving reads; freed, writes resume without a restart and nothing acknowledged is lost; a read-only folder serves reads and refuses writes with 507",
        .enabled(if: geteuid() == 0, "mounts a small tmpfs, which needs root (CI runs as root)"))
    func fullDisk() throws {
        let directory = try TemporaryDirectory("quiver-disk")
        let mountPoint = directory.url.appendingPathComponent("mnt")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        try #require(Self.system("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint.path]))
        defer { Self.system("/bin/umount", ["-l", mountPoint.path]) }
        let data = mountPoint.appendingPathComponent("data")
        var server: ServedQuiver? = try ServedQuiver(directory, data: data)
        try Self.create(try #require(server), "c", dimensions: 64)

        // A filler file leaves ~1.5 MB free.
        var info = statvfs()
        try #require(statvfs(mountPoint.path, &info) == 0)
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        let filler = mountPoint.appendingPathComponent("filler")
        try Data(count: max(0, free - 1_500_000)).write(to: filler)

        var random = SeededVectors(seed: 9)
        var acknowledged: [String] = []
        var statuses: [Int] = []
        var next = 0
        var lastReply = ""
        func write(_ count: Int) throws -> Int {
            let documents = (next..<next + count).map {
                #"{"id":"d\#($0)","text":"\#(String(repeating: "x", count: 2000))","vector":\#(Self.vectorJSON(random.vector(64)))}"#
            }
            let reply = try #require(server).send(
                "PUT", "/v1/collections/c/documents", #"{"documents":[\#(documents.joined(separator: ","))]}"#)
            if reply.status == 200 { acknowledged += (next..<next + count).map { "d\($0)" } }
            if reply.status == 507 { #expect(reply.text.contains("insufficient_storage"), "\(reply.text)") }
            lastReply = reply.text
            next += count
            statuses.append(reply.status)
            return reply.status
        }
        for _ in 0..<200 where statuses.last != 507 { _ = try write(50) }
        #expect(statuses.last == 507, "the disk never filled: \(statuses.count) writes")
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 507 }, "\(statuses)")
        #expect(!acknowledged.isEmpty)
        // Reads are served meanwhile, and the server is still ready.
        let query = try #require(server).send(
            "POST", "/v1/collections/c/query", #"{"vector":\#(Self.vectorJSON(random.vector(64))),"k":3}"#)
        #expect(query.status == 200, "\(query.text)")
        #expect(try #require(server).send("GET", "/ready").status == 200)

        // Freed: the next write succeeds, no restart.
        try FileManager.default.removeItem(at: filler)
        let resumed = try write(50)
        let log = try #require(server).logText
        #expect(resumed == 200, "\(lastReply) \(log.suffix(3000))")

        // Every acknowledged write is there, before and after a restart.
        func missing() throws -> String {
            let ids = acknowledged.map { "\"\($0)\"" }.joined(separator: ",")
            let reply = try #require(server).send("POST", "/v1/collections/c/vectors", #"{"ids":[\#(ids)]}"#)
            try #require(reply.status == 200, "\(reply.text.prefix(300))")
            let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            return "\((object?["missing"] as? [String]) ?? ["no answer"])"
        }
        #expect(try missing() == "[]")
        #expect(try #require(server).terminate(within: 20))
        server = nil
        server = try ServedQuiver(directory, data: data)
        #expect(try missing() == "[]")
        #expect(try #require(server).terminate(within: 20))

        // The same folder mounted read-only: reads are served, writes are a 507 that says so.
        let readOnly = directory.url.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        try #require(Self.system("/bin/mount", ["--bind", "-o", "ro", data.path, readOnly.path]))
        defer { Self.system("/bin/umount", ["-l", readOnly.path]) }
        server = try ServedQuiver(directory, data: readOnly)
        #expect(try missing() == "[]")
        #expect(try #require(server).send("POST", "/v1/collections/c/query", #"{"id":"d0","k":3}"#).status == 200)
        let refused = try #require(server).send(
            "PUT", "/v1/collections/c/documents", #"{"documents":[{"id":"new","vector":\#(Self.vectorJSON(random.vector(64)))}]}"#)
        #expect(refused.status == 507, "\(refused.text)")
        #expect(refused.text.contains("read-only"), "\(refused.text)")
        #expect(try #require(server).send("GET", "/ready").status == 200)
    }

    @Test("after a kill -9 the next start runs quick_check on every store; after a clean shutdown it does not")
    func quickCheckAfterUncleanShutdown() throws {
        let directory = try TemporaryDirectory("quiver-serve")
        var server: ServedQuiver? = try ServedQuiver(directory)
        try Self.create(try #require(server), "c", dimensions: 4)
        kill(try #require(server).process.processIdentifier, SIGKILL)
        try #require(server).process.waitUntilExit()
        server = nil
        server = try ServedQuiver(directory)
        let afterKill = try #require(server).logText
        #expect(afterKill.contains("quick_check of every store done"), "\(afterKill)")
        #expect(afterKill.contains("problems=none"), "\(afterKill)")
        #expect(try #require(server).terminate(within: 20))
        server = nil
        server = try ServedQuiver(directory)
        let afterClean = try #require(server).logText
        #expect(!afterClean.contains("quick_check"), "\(afterClean)")
    }

    @Test("an index checkpoint that cannot be written: the collection serves from memory; /ready says degraded; the metric is 1")
    func checkpointFailingIsReported() throws {
        let directory = try TemporaryDirectory("quiver-serve")
        var server: ServedQuiver? = try ServedQuiver(directory)
        try Self.create(try #require(server), "c", dimensions: 4)
        try Self.fill(try #require(server), collection: "c", count: 20, dimensions: 4, textBytes: 12, batch: 20, seed: 5)
        #expect(try #require(server).terminate(within: 20))
        server = nil
        // The generation folder replaced by a file: the index is rebuilt at start and cannot be saved.
        let generation = directory.url.appendingPathComponent("data/collections/c/generations/1")
        try FileManager.default.removeItem(at: generation)
        try Data("not a folder".utf8).write(to: generation)
        server = try ServedQuiver(directory)
        let ready = try #require(server).send("GET", "/ready")
        #expect(ready.status == 200)
        #expect(ready.text.contains("degraded") && ready.text.contains("collection c"), "\(ready.text)")
        let metrics = try #require(server).send("GET", "/metrics").text
        #expect(
            metrics.contains(#"quiver_index_checkpoint_failing{collection="c"} 1"#),
            "\(metrics.split(separator: "\n").filter { $0.contains("checkpoint") })")
        let query = try #require(server).send("POST", "/v1/collections/c/query", #"{"vector":[1,0,0,0],"k":5}"#)
        #expect(query.status == 200 && query.text.contains("\"id\""), "\(query.text.prefix(300))")
        let write = try #require(server).send("PUT", "/v1/collections/c/documents", #"{"documents":[{"id":"new","vector":[0,1,0,0]}]}"#)
        #expect(write.status == 200, "\(write.text.prefix(300))")
    }
}
