import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Ingest and freshness")
struct IngestTests {
    @Test("freshness across insert, update, unchanged re-sync and delete")
    func freshness() throws {
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 1)
        let v1 = random.vector(8)
        let v2 = random.vector(8)
        let sourceTime = Timestamp(seconds: 1_700_000_000)

        let before = Date().timeIntervalSince1970
        let inserted = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "a", text: "first", metadata: .object(["n": .number(1)]), updatedAt: sourceTime, vector: v1),
                DocumentInput(id: "b", text: "other", vector: v2),
            ])
        #expect(inserted.inserted == 2 && inserted.updated == 0 && inserted.unchanged == 0 && inserted.seq == 2)
        let a1 = try engine.document(collection: "c", id: "a")
        #expect(a1.freshness.updatedAt == sourceTime)
        let embedded1 = try #require(a1.freshness.embeddedAt)
        #expect(embedded1.seconds >= before)
        let indexed1 = try #require(a1.freshness.indexedAt)
        #expect(indexed1 >= embedded1)
        #expect(a1.freshness.model.fingerprint == "external-external-8")
        let b1 = try engine.document(collection: "c", id: "b")
        #expect(b1.freshness.updatedAt.seconds >= before)  // no updated_at given: the time of the write

        // Unchanged re-sync: nothing written, nothing re-embedded, freshness untouched.
        let same = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "a", text: "first", metadata: .object(["n": .number(1)]), updatedAt: sourceTime, vector: v1),
                DocumentInput(id: "b", text: "other", vector: v2),
            ])
        #expect(same.unchanged == 2 && same.inserted == 0 && same.updated == 0 && same.seq == 2)
        var unchanged = try engine.document(collection: "c", id: "a")
        unchanged.freshness.ageSeconds = a1.freshness.ageSeconds  // the only field that moves with the clock
        #expect(unchanged == a1)

        // Metadata-only change: updated, vector and embedded_at kept.
        let meta = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "a", text: "first", metadata: .object(["n": .number(2)]), updatedAt: sourceTime, vector: v1)
            ])
        #expect(meta.updated == 1 && meta.embedded == 0)
        let a2 = try engine.document(collection: "c", id: "a")
        #expect(a2.freshness.embeddedAt == embedded1 && a2.metadata == .object(["n": .number(2)]) && a2.seq == 3)

        // Content change: re-embedded (new vector), newer embedded_at and indexed_at.
        let laterSource = Timestamp(seconds: 1_800_000_000)
        let changed = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "a", text: "changed", updatedAt: laterSource, vector: v2)
            ])
        #expect(changed.updated == 1 && changed.seq == 4)
        let a3 = try engine.document(collection: "c", id: "a", includeVector: true)
        #expect(a3.freshness.updatedAt == laterSource)
        #expect(try #require(a3.freshness.embeddedAt) >= embedded1)
        #expect(try #require(a3.freshness.indexedAt) >= indexed1)
        let hit = try #require(try engine.query(collection: "c", QueryRequest(vector: v2, k: 2)).results.first { $0.id == "a" })
        #expect(hit.freshness?.updatedAt == laterSource && hit.freshness?.indexedAt != nil)

        // Delete: gone from reads and searches; the index state says it is searchable (seq).
        let deleted = try engine.delete(collection: "c", ids: ["a", "missing"])
        #expect(deleted.deleted == 1 && deleted.seq == 5)
        #expect(throws: SearchEngineError.documentNotFound(collection: "c", id: "a")) {
            try engine.document(collection: "c", id: "a")
        }
        let response = try engine.query(collection: "c", QueryRequest(vector: v2, k: 5))
        #expect(response.results.map(\.id) == ["b"])
        #expect(response.index.indexedSeq == 5 && response.index.storeSeq == 5 && response.index.pending == 0)
    }

    @Test("re-writing unchanged vectors leaves the index as it was; replaced vectors are compacted away")
    func compaction() throws {
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 5)
        let count = 3_000
        var vectors = (0..<count).map { _ in random.vector(8) }
        func write(round: Int) throws {
            _ = try engine.upsert(
                collection: "c",
                documents: (0..<count).map {
                    DocumentInput(id: "d\($0)", text: "t\($0) r\(round)", vector: vectors[$0])
                })
        }
        try write(round: 0)
        try write(round: 1)  // new texts, same vectors: stored as updates, nothing to re-link
        var (serving, _) = try engine.runtime("c").catchUp()
        #expect(serving.index.count == count && serving.index.removedCount == 0)

        // Two rounds of new vectors leave 6,000 replaced nodes next to 3,000 live ones: compacted.
        for round in 2...3 {
            vectors = (0..<count).map { _ in random.vector(8) }
            try write(round: round)
        }
        (serving, _) = try engine.runtime("c").catchUp()
        #expect(serving.index.count == count)
        #expect(serving.index.removedCount == 0, "\(serving.index.removedCount) removed nodes left")
        var found = 0
        for i in stride(from: 0, to: count, by: 10) {
            let top = try engine.query(collection: "c", QueryRequest(vector: vectors[i], k: 5, ef: 100))
            if top.results.first?.id == "d\(i)" { found += 1 }
            #expect(top.results.allSatisfy { $0.freshness?.indexedAt != nil })
        }
        #expect(found >= count / 10 * 99 / 100, "\(found) of \(count / 10) found first")
        // The compacted index was checkpointed: a new engine opens it with the same contents.
        let reopened = try makeEngine(directory)
        let (again, _) = try reopened.runtime("c").catchUp()
        #expect(again.index.count == count && again.index.removedCount == 0)
    }

    @Test("prune deletes exactly the ids absent from the input")
    func prune() throws {
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 2)
        let documents = (0..<200).map { DocumentInput(id: "d\($0)", text: "t", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: documents)
        let keep = Set(documents.map(\.id).filter { !$0.hasSuffix("7") })
        let result = try engine.prune(collection: "c", keeping: keep)
        #expect(result.deleted == 200 - keep.count)
        let exported = try engine.exportVectors(collection: "c", cursor: nil, limit: 1000)
        #expect(Set(exported.vectors.map(\.id)) == keep)
        #expect(try engine.prune(collection: "c", keeping: keep).deleted == 0)
    }

    @Test("an interrupted sync started again skips what it committed and finishes")
    func resume() throws {
        let directory = try TemporaryDirectory()
        var random = SeededVectors(seed: 3)
        let documents = (0..<1000).map { DocumentInput(id: "d\($0)", text: "t\($0)", vector: random.vector(8)) }
        do {
            let engine = try makeEngine(directory)
            try engine.createCollection(CollectionOptions(name: "c"))
            for start in stride(from: 0, to: 600, by: 100) {  // the run "dies" after six batches
                _ = try engine.upsert(collection: "c", documents: Array(documents[start..<start + 100]))
            }
        }
        let engine = try makeEngine(directory)
        var total = UpsertResult()
        for start in stride(from: 0, to: 1000, by: 100) {
            total.add(try engine.upsert(collection: "c", documents: Array(documents[start..<start + 100])))
        }
        #expect(total.unchanged == 600 && total.inserted == 400 && total.updated == 0)
        let state = try engine.catchUp(collection: "c")
        #expect(state.indexedSeq == 1000 && state.pending == 0)
        for document in documents.prefix(50) {
            let top = try engine.query(collection: "c", QueryRequest(vector: document.vector, k: 1, ef: 200))
            #expect(top.results.first?.id == document.id)
        }
    }

    @Test("invalid documents are rejected with their position; nothing of the call is written")
    func validation() throws {
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        let good = DocumentInput(id: "ok", vector: [Float](repeating: 1, count: 8))
        let cases: [(DocumentInput, String)] = [
            (DocumentInput(id: "", vector: good.vector), "empty id"),
            (DocumentInput(id: "x", vector: [1, 2]), "dimensions"),
            (DocumentInput(id: "x", vector: [Float](repeating: .nan, count: 8)), "non-finite"),
            (DocumentInput(id: "x", metadata: .array([]), vector: good.vector), "metadata"),
            (DocumentInput(id: String(repeating: "x", count: 2000), vector: good.vector), "longer"),
        ]
        for (bad, reason) in cases {
            do {
                _ = try engine.upsert(collection: "c", documents: [good, bad])
                Issue.record("accepted a document with \(reason)")
            } catch {
                guard case .invalidDocument(let index, _, let message) = error else {
                    Issue.record("\(error)")
                    continue
                }
                #expect(index == 1 && message.contains(reason))
            }
        }
        #expect(throws: SearchEngineError.modelUnavailable(collection: "c", fingerprint: "external-external-8")) {
            try engine.upsert(collection: "c", documents: [DocumentInput(id: "t", text: "needs a model")])
        }
        #expect(try engine.catchUp(collection: "c").storeSeq == 0)
        #expect(throws: SearchEngineError.invalidName("../x")) { try engine.createCollection(CollectionOptions(name: "../x")) }
        #expect(throws: SearchEngineError.invalidName("A")) { try engine.query(collection: "A", QueryRequest(text: "q")) }
        #expect(throws: SearchEngineError.collectionNotFound("nope")) { try engine.query(collection: "nope", QueryRequest(text: "q")) }
        #expect(throws: SearchEngineError.collectionExists("c")) { try engine.createCollection(CollectionOptions(name: "c")) }
    }

    @Test("NUL characters: refused in ids, titles and texts; never match another document; metadata and odd text round-trip exactly")
    func nulCharacters() throws {
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        let vector: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "kb-1", text: "original", vector: vector)])
        // Before: "kb-1\0x" overwrote kb-1, and "a\0secret" was stored as "a".
        for (document, field) in [
            (DocumentInput(id: "kb-1\u{0}x", text: "other", vector: vector), "id"),
            (DocumentInput(id: "\u{0}", text: "other", vector: vector), "id"),
            (DocumentInput(id: "t", text: "other", title: "a\u{0}b", vector: vector), "title"),
            (DocumentInput(id: "t", text: "a\u{0}secret", vector: vector), "text"),
        ] {
            do {
                _ = try engine.upsert(collection: "c", documents: [document])
                Issue.record("\(field) with NUL accepted")
            } catch {
                guard case SearchEngineError.invalidDocument(0, _, let reason) = error else {
                    Issue.record("\(error)")
                    continue
                }
                #expect(reason.contains("\(field) contains a NUL"), "\(reason)")
            }
        }
        #expect(try engine.document(collection: "c", id: "kb-1").text == "original")
        #expect(try engine.collectionInfo("c").documents == 1)
        // Reads and deletes by an id with a NUL find nothing (SQLite would have matched "kb-1").
        #expect(throws: SearchEngineError.documentNotFound(collection: "c", id: "kb-1\u{0}x")) {
            try engine.document(collection: "c", id: "kb-1\u{0}x")
        }
        #expect(throws: SearchEngineError.documentNotFound(collection: "c", id: "kb-1\u{0}x")) {
            try engine.query(collection: "c", QueryRequest(id: "kb-1\u{0}x", k: 1))
        }
        #expect(try engine.vectors(collection: "c", ids: ["kb-1\u{0}x"]).missing == ["kb-1\u{0}x"])
        #expect(try engine.delete(collection: "c", ids: ["kb-1\u{0}x"]).deleted == 0)
        #expect(try engine.document(collection: "c", id: "kb-1").text == "original")
        // A filter string with a NUL would match on its prefix: refused.
        #expect(throws: SearchEngineError.self) {
            try engine.query(collection: "c", QueryRequest(vector: vector, k: 1, filter: QueryFilter(["lang": .string("en\u{0}x")])))
        }
        // What is accepted is stored exactly: NUL inside metadata, U+FFFF, astral characters, 1 MB text.
        let metadata = JSONValue.object(["note": .string("a\u{0}b\u{FFFF}\u{1F600}"), "n": .number(1)])
        let long = String(repeating: "ab\u{FFFF}c", count: 1 << 18)
        _ = try engine.upsert(
            collection: "c",
            documents: [DocumentInput(id: "odd\u{FFFF}", text: long, title: "\u{FFFF}", metadata: metadata, vector: vector)])
        let stored = try engine.document(collection: "c", id: "odd\u{FFFF}")
        #expect(stored.text == long && stored.title == "\u{FFFF}" && stored.metadata == metadata)
    }
}
