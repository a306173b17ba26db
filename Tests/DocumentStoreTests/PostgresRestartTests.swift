import DocumentStore
import Foundation
import Logging
import PostgresStore
import QuiverTestSupport
import Synchronization
import Testing

/// PostgreSQL itself crashing and restarting under writes (a cluster of the test's own).
@Suite("PostgreSQL store: the server restarts under writes")
struct PostgresRestartTests {
    /// Four writers commit batches of ten new documents while the server is stopped in immediate
    /// mode (a crash: recovery replays the WAL at the next start) and started again. Every
    /// acknowledged batch is in the store afterwards; a batch that failed is wholly there (its
    /// COMMIT reached the server before the connection broke) or wholly absent; the errors while
    /// the server was down were `unreachable`; the writers carry on through the pool's new
    /// connections; seqs stay gap-free.
    @Test("kill -9 semantics for the database: acknowledged batches survive, failed ones are all or nothing", .timeLimit(.minutes(10)))
    func restartUnderWrites() throws {
        let cluster = try PostgresCluster.start(name: "restart")
        defer { cluster.destroy() }
        let url = try cluster.createDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-store-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let catalog = try PostgresCatalog(url: url, layout: DataLayout(dataDirectory: directory), logger: logger)
        let store = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)

        let stop = Atomic<Bool>(false)
        let acknowledged = Mutex<[String]>([])  // batch names
        let failed = Mutex<[String]>([])
        let errors = Mutex<[DocumentStoreError]>([])
        var threads: [Thread] = []
        let finished = Atomic<Int>(0)
        for w in 0..<4 {
            let thread = Thread {
                defer { finished.add(1, ordering: .sequentiallyConsistent) }
                var batch = 0
                while !stop.load(ordering: .relaxed) {
                    batch += 1
                    let name = "w\(w)b\(batch)"
                    let writes = (0..<10).map { i in
                        DocumentWrite(
                            id: "\(name)d\(i)", title: nil, text: name, metadata: nil, updatedAt: 1,
                            contentHash: [UInt8](repeating: 1, count: 32), vector: [Float(w), Float(i)], embeddedAt: 2)
                    }
                    do throws(DocumentStoreError) {
                        _ = try store.apply(generation: 1, writes: writes, deletes: [])
                        acknowledged.withLock { $0.append(name) }
                    } catch {
                        failed.withLock { $0.append(name) }
                        errors.withLock { $0.append(error) }
                        usleep(20_000)
                    }
                }
            }
            threads.append(thread)
            thread.start()
        }
        usleep(500_000)
        let before = acknowledged.withLock { $0.count }
        try cluster.stop(mode: "immediate")
        usleep(700_000)
        try cluster.startServer()
        // Writes go on after the restart (the pool replaced its broken connections).
        let restartedAt = acknowledged.withLock { $0.count }
        let deadline = Date().addingTimeInterval(30)
        while acknowledged.withLock({ $0.count }) < restartedAt + 20, Date() < deadline { usleep(20_000) }
        stop.store(true, ordering: .relaxed)
        while finished.load(ordering: .sequentiallyConsistent) < 4 { usleep(10_000) }

        let acked = acknowledged.withLock { $0 }
        let lost = failed.withLock { $0 }
        #expect(before > 0, "no batch committed before the crash")
        #expect(acked.count >= restartedAt + 20, "writes did not resume after the restart")
        #expect(!lost.isEmpty, "the crash did not fail any write: the test did not test it")
        // While the server was down, the errors said so.
        for error in errors.withLock({ $0 }) {
            guard case .unreachable = error else {
                Issue.record("a write failed with \(error), not unreachable")
                continue
            }
        }
        var texts: [String: Int] = [:]
        for id in try store.liveIDs() {
            let name = String(id[..<(id.lastIndex(of: "d") ?? id.endIndex)])
            texts[name, default: 0] += 1
        }
        for name in acked { #expect(texts[name] == 10, "acknowledged batch \(name) has \(texts[name] ?? 0) of 10 documents") }
        for name in lost { #expect(texts[name] == nil || texts[name] == 10, "failed batch \(name) is partly there") }
        // Seqs gap-free: one change per stored document (every document was written once).
        let stored = texts.values.reduce(0, +)
        #expect(try store.state().seq == Int64(stored))
        let changes = try store.changes(after: 0, generation: 1, dimensions: 2, limit: 100_000)
        #expect(changes.map(\.seq) == Array(1...Int64(stored)))
    }
}

/// A server that stops answering (frozen with SIGSTOP, its connections left open, as across a
/// network partition): calls fail `unreachable` after the request timeout instead of holding
/// their threads, and work again once it answers.
@Suite("PostgreSQL store: a server that stops answering")
struct PostgresUnresponsiveTests {
    @Test("calls fail unreachable after the request timeout, and recover when the server answers again", .timeLimit(.minutes(10)))
    func frozenServer() throws {
        let cluster = try PostgresCluster.start(name: "frozen")
        defer {
            try? cluster.freeze(false)
            cluster.destroy()
        }
        let url = try cluster.createDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-store-frozen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let catalog = try PostgresCatalog(
            url: url, layout: DataLayout(dataDirectory: directory), requestTimeout: .milliseconds(800), logger: logger)
        let store = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)
        _ = try store.apply(
            generation: 1,
            writes: [
                DocumentWrite(
                    id: "a", title: nil, text: "a", metadata: nil, updatedAt: 1, contentHash: [UInt8](repeating: 1, count: 32),
                    vector: [1, 0], embeddedAt: 2)
            ], deletes: [])
        try cluster.freeze(true)
        let start = Date()
        #expect {
            _ = try store.state()
        } throws: { error in
            guard case .unreachable = error as? DocumentStoreError else { return false }
            return true
        }
        let waited = Date().timeIntervalSince(start)
        #expect(waited >= 0.7 && waited < 10, "waited \(waited) s")
        // A new connection to the frozen server: the kernel accepts it, the start-up is never
        // answered; it too fails unreachable at the timeout instead of hanging.
        let connecting = Date()
        #expect {
            _ = try PostgresCatalog(
                url: url, layout: DataLayout(dataDirectory: directory), requestTimeout: .milliseconds(800), logger: logger)
        } throws: { error in
            guard case .unreachable = error as? DocumentStoreError else { return false }
            return true
        }
        let connectWaited = Date().timeIntervalSince(connecting)
        #expect(connectWaited >= 0.7 && connectWaited < 10, "a new connection waited \(connectWaited) s")
        try cluster.freeze(false)
        // The next call gets a new connection and answers.
        let deadline = Date().addingTimeInterval(20)
        var state: StoreState?
        while state == nil, Date() < deadline {
            state = try? store.state()
            if state == nil { usleep(50_000) }
        }
        #expect(state?.seq == 1)
    }
}
