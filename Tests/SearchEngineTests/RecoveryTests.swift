import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Index recovery from the store", .enabled(if: TestStore.isSQLite, "works on the SQLite store's files (copied, damaged, backed up)"))
struct RecoveryTests {
    /// A collection with 300 checkpointed documents and 200 more (plus updates and deletes)
    /// committed after the checkpoint; returns every live id with its vector.
    func prepare(_ directory: TemporaryDirectory) throws -> [String: [Float]] {
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 9)
        var live: [String: [Float]] = [:]
        let first = (0..<300).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: first)
        try engine.checkpoint(collection: "c")
        for d in first { live[d.id] = d.vector }
        let second =
            (300..<500).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
            + (0..<20).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: second)
        for d in second { live[d.id] = d.vector }
        _ = try engine.delete(collection: "c", ids: (20..<40).map { "d\($0)" })
        for i in 20..<40 { live["d\(i)"] = nil }
        return live
    }

    func verify(_ directory: TemporaryDirectory, _ live: [String: [Float]]) throws {
        let engine = try makeEngine(directory)
        let state = try engine.catchUp(collection: "c")
        #expect(state.pending == 0 && state.indexedSeq == state.storeSeq)
        for (id, vector) in live {
            let top = try engine.query(collection: "c", QueryRequest(vector: vector, k: 1, ef: 200))
            #expect(top.results.first?.id == id)
        }
        let all = try engine.query(collection: "c", QueryRequest(vector: [Float](repeating: 0.1, count: 8), k: 1000))
        #expect(Set(all.results.map(\.id)) == Set(live.keys))
    }

    var indexFile: (TemporaryDirectory) -> URL {
        { $0.url.appendingPathComponent("collections/c/generations/1/index.hnsw") }
    }

    @Test("a stale checkpoint catches up with the store")
    func staleCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let live = try prepare(directory)
        try verify(directory, live)
    }

    @Test("a corrupted index file is rebuilt from the store")
    func corrupted() throws {
        let directory = try TemporaryDirectory()
        let live = try prepare(directory)
        var bytes = try Data(contentsOf: indexFile(directory))
        for offset in stride(from: 200, to: bytes.count, by: 997) { bytes[offset] ^= 0x5A }
        try bytes.write(to: indexFile(directory))
        try verify(directory, live)
    }

    @Test("a truncated, missing or foreign index file is rebuilt from the store")
    func missing() throws {
        let directory = try TemporaryDirectory()
        let live = try prepare(directory)
        let bytes = try Data(contentsOf: indexFile(directory))
        try bytes.prefix(bytes.count / 2).write(to: indexFile(directory))
        try verify(directory, live)
        try FileManager.default.removeItem(at: indexFile(directory))
        try verify(directory, live)
        try Data("not an index".utf8).write(to: indexFile(directory))
        try verify(directory, live)
    }

    @Test("an index covering more than the store (a restored backup) is rebuilt")
    func ahead() throws {
        let directory = try TemporaryDirectory()
        let live = try prepare(directory)
        let saved = directory.url.appendingPathComponent("saved.sqlite")
        let store = directory.url.appendingPathComponent("collections/c/store.sqlite")
        try FileManager.default.copyItem(at: store, to: saved)
        do {
            let engine = try makeEngine(directory)
            _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "extra", vector: [Float](repeating: 3, count: 8))])
            try engine.checkpoint(collection: "c")
        }
        // Restore the older store: the checkpoint now covers a seq the store never reached.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store.path + suffix) }
        try FileManager.default.copyItem(at: saved, to: store)
        try verify(directory, live)
    }
}
