import DocumentStore
import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Backup, restore and check", .enabled(if: TestStore.isSQLite, "works on the SQLite store's files (copied, damaged, backed up)"))
struct BackupTests {
    /// Acknowledged writes of the stream: the seq each was answered with and its ids.
    final class WriteLog: @unchecked Sendable {
        let lock = NSLock()
        var writes: [(seq: Int64, ids: [String])] = []
        var failures: [String] = []
        var stop = false
    }

    @Test("a backup taken during an HTTP write stream restores exactly the writes acknowledged up to its seq; check passes")
    func backupDuringWrites() throws {
        let directory = try TemporaryDirectory("quiver-backup")
        let data = directory.url.appendingPathComponent("data")
        let server = try ServedQuiver(directory)
        try ServeLimitsTests.create(server, "c", dimensions: 8)
        let log = WriteLog()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            var random = SeededVectors(seed: 5)
            var next = 0
            while !log.lock.withLock({ log.stop }) {
                let ids = (next..<next + 10).map { "w\($0)" }
                next += 10
                let documents = ids.map { #"{"id":"\#($0)","text":"x","vector":\#(ServeLimitsTests.vectorJSON(random.vector(8)))}"# }
                do {
                    let reply = try server.send(
                        "PUT", "/v1/collections/c/documents", #"{"documents":[\#(documents.joined(separator: ","))]}"#)
                    let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
                    if reply.status == 200, let seq = (object?["seq"] as? NSNumber)?.int64Value {
                        log.lock.withLock { log.writes.append((seq, ids)) }
                    } else {
                        log.lock.withLock { log.failures.append("\(reply.status) \(reply.text.prefix(200))") }
                    }
                } catch {
                    log.lock.withLock { log.failures.append("\(error)") }
                }
            }
            finished.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.5)
        let backup = directory.url.appendingPathComponent("backup")
        let taken = try runProcess(try quiverExecutable(), ["backup", "--data", data.path, "--out", backup.path, "--json"])
        #expect(taken.status == 0, "\(taken.stderr)")
        Thread.sleep(forTimeInterval: 0.5)
        log.lock.withLock { log.stop = true }
        finished.wait()
        #expect(log.failures.isEmpty, "\(log.failures.prefix(3))")

        let manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(taken.stdout.utf8))
        let backupSeq = try #require(manifest.collections.first { $0.name == "c" }).seq
        let writes = log.lock.withLock { log.writes }
        let before = writes.filter { $0.seq <= backupSeq }.flatMap(\.ids)
        let after = writes.filter { $0.seq > backupSeq }.flatMap(\.ids)
        #expect(!before.isEmpty && !after.isEmpty, "the backup was not taken mid-stream: \(before.count) before, \(after.count) after")

        let restored = directory.url.appendingPathComponent("restored")
        let restore = try runProcess(try quiverExecutable(), ["restore", backup.path, "--data", restored.path])
        #expect(restore.status == 0, "\(restore.stderr)")
        let check = try runProcess(try quiverExecutable(), ["check", "--data", restored.path])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(check.stdout.contains("c: ok"), "\(check.stdout)")

        let copy = try ServedQuiver(directory, data: restored)
        let ids = (before + after).map { "\"\($0)\"" }.joined(separator: ",")
        let reply = try copy.send("POST", "/v1/collections/c/vectors", #"{"ids":[\#(ids)]}"#)
        try #require(reply.status == 200, "\(reply.text.prefix(300))")
        let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
        let missing = Set((object?["missing"] as? [String]) ?? [])
        #expect(
            missing == Set(after),
            "acknowledged up to seq \(backupSeq) but missing: \(Set(before).intersection(missing).prefix(5)); after it but present: \(Set(after).subtracting(missing).prefix(5))"
        )
        let info = try copy.send("GET", "/v1/collections/c")
        #expect(info.text.contains("\"store_seq\":\(backupSeq)"), "\(info.text.prefix(400))")
        // The restored index answers: a restored document's own vector finds it first.
        let probe = try #require(before.first)
        let stored = try copy.send("POST", "/v1/collections/c/vectors", #"{"ids":["\#(probe)"]}"#)
        let vectors = (try JSONSerialization.jsonObject(with: stored.body) as? [String: Any])?["vectors"] as? [[String: Any]]
        let vector = try #require(vectors?.first?["vector"] as? [Double])
        let nearest = try copy.send(
            "POST", "/v1/collections/c/query", #"{"vector":[\#(vector.map { "\($0)" }.joined(separator: ","))],"k":1}"#)
        #expect(nearest.text.contains("\"id\":\"\(probe)\""), "\(nearest.text.prefix(300))")
    }

    @Test("check says exit 1 for a damaged index file or store, restore refuses an altered backup and an existing collection")
    func damage() throws {
        let directory = try TemporaryDirectory("quiver-backup")
        let data = directory.url.appendingPathComponent("data")
        let engine = try makeEngine(data)
        _ = try engine.createCollection(.init(name: "c"))
        var random = SeededVectors(seed: 2)
        _ = try engine.upsert(collection: "c", documents: (0..<50).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) })
        try engine.checkpoint(collection: "c")
        let backup = directory.url.appendingPathComponent("backup")
        let manifest = try DataBackup.backup(data: data, to: backup)
        #expect(manifest.collections.map(\.name) == ["c"])
        #expect(try DataCheck.run(data: data).ok)

        // An existing collection is not overwritten.
        do {
            _ = try DataBackup.restore(from: backup, to: data)
            Issue.record("a restore overwrote an existing collection")
        } catch {
            #expect("\(error)".contains("exists already"), "\(error)")
        }
        // One byte changed in the backup's index file: refused, naming the file.
        let indexFile = try #require(manifest.collections.first?.files.first { $0.path.hasSuffix("index.hnsw") })
        let url = backup.appendingPathComponent(indexFile.path)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: url)
        do {
            _ = try DataBackup.restore(from: backup, to: directory.url.appendingPathComponent("other"))
            Issue.record("an altered backup was restored")
        } catch {
            #expect("\(error)".contains("index.hnsw"), "\(error)")
        }

        // The same damage in the data folder: check reports it (exit 1) and says it would rebuild.
        let generation = try #require(DataBackup.generations(of: DataLayout(dataDirectory: data).collection("c")).last)
        let live = DataLayout(dataDirectory: data).collection("c").indexPath(generation)
        var liveBytes = try Data(contentsOf: URL(fileURLWithPath: live))
        liveBytes[liveBytes.count / 2] ^= 0xFF
        try liveBytes.write(to: URL(fileURLWithPath: live))
        let report = try DataCheck.run(data: data)
        #expect(!report.ok)
        #expect(report.collections.first?.damagedIndexFiles.count == 1)
        #expect(report.collections.first?.indexNotes.contains { $0.contains("would rebuild") } == true)
        let cli = try runProcess(try quiverExecutable(), ["check", "--data", data.path])
        #expect(cli.status == 1, "\(cli.stdout)")
        #expect(cli.stdout.contains("damaged index file"), "\(cli.stdout)")

        // A damaged store (bytes overwritten in its pages): a store problem, exit 1.
        let other = directory.url.appendingPathComponent("other-data")
        let second = directory.url.appendingPathComponent("second")
        _ = try DataBackup.backup(data: data, to: second)
        _ = try DataBackup.restore(from: second, to: other)
        let store = URL(fileURLWithPath: DataLayout(dataDirectory: other).collection("c").storePath)
        var storeBytes = try Data(contentsOf: store)
        for offset in stride(from: 4096, to: storeBytes.count, by: 4096) where offset + 64 < storeBytes.count {
            for i in offset + 8..<offset + 64 { storeBytes[i] = 0xA5 }
        }
        try storeBytes.write(to: store)
        let damaged = try DataCheck.run(data: other)
        #expect(damaged.collections.first.map { !$0.storeProblems.isEmpty } == true, "\(damaged)")
        let storeCLI = try runProcess(try quiverExecutable(), ["check", "--data", other.path])
        #expect(storeCLI.status == 1, "\(storeCLI.stdout)")
    }
}
