import Foundation
import Logging
import Testing

@testable import DocumentStore

@Suite("DocumentStore")
struct DocumentStoreTests {
    let directory: URL
    let store: DocumentStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try DocumentStore(path: directory.appendingPathComponent("store.sqlite").path, logger: Logger(label: "test"))
        try store.initialize(
            CollectionSettings(name: "c", metric: "cosine", hnswM: 16, hnswEfConstruction: 200, createdAt: 1),
            firstGeneration: GenerationRecord(
                generation: 1, modelID: "m", modelFingerprint: "f", dimensions: 2,
                state: .current, createdAt: 1, completedAt: 1))
    }

    func write(_ id: String, _ vector: [Float]?, metadata: String? = nil) -> DocumentWrite {
        DocumentWrite(
            id: id, title: nil, text: id, metadata: metadata, updatedAt: 5, contentHash: [UInt8](repeating: 1, count: 32),
            vector: vector, embeddedAt: 6)
    }

    @Test("each change gets the next seq; tombstones keep labels and show up in changes")
    func sequenceAndTombstones() throws {
        let first = try store.apply(generation: 1, writes: [write("a", [1, 0]), write("b", [0, 1])], deletes: [])
        #expect(
            first
                == {
                    var o = WriteOutcome()
                    o.inserted = 2
                    o.seq = 2
                    return o
                }())
        let second = try store.apply(generation: 1, writes: [write("a", [1, 1])], deletes: ["b", "missing"])
        #expect(second.updated == 1 && second.deleted == 1 && second.seq == 4)
        let changes = try store.changes(after: 2, generation: 1, dimensions: 2, limit: 10)
        #expect(changes.map(\.seq) == [3, 4])
        #expect(changes[1].deleted && changes[1].vector == nil)
        #expect(changes[0].vector == [1, 1])
        // Re-inserting a deleted id reuses its label and counts as an insert.
        let label = changes[1].label
        let third = try store.apply(generation: 1, writes: [write("b", [0.5, 0.5])], deletes: [])
        #expect(third.inserted == 1)
        #expect(try store.documents(ids: ["b"], generation: 1, dimensions: 2, withVectors: true)["b"]?.label == label)
        #expect(try store.counts() == (live: 2, deleted: 0))
    }

    @Test("the schema rejects what the engine must never write")
    func constraints() throws {
        #expect(throws: DocumentStoreError.self) {
            try store.apply(generation: 1, writes: [write("x", [1, 0], metadata: "{not json")], deletes: [])
        }
        #expect(throws: DocumentStoreError.self) {
            try store.apply(generation: 7, writes: [write("y", [1, 0])], deletes: [])  // no such generation
        }
        // Nothing of a failed transaction remains.
        #expect(try store.currentSeq() == 0)
        #expect(try store.counts().live == 0)
    }

    @Test("a generation switches in only when every live document has an up-to-date vector")
    func generationSwitch() throws {
        _ = try store.apply(generation: 1, writes: [write("a", [1, 0]), write("b", [0, 1])], deletes: [])
        let next = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 3, at: 2)
        #expect(next.generation == 2 && next.state == .building)
        #expect(try store.staleCount(generation: 2) == 2)
        #expect(throws: DocumentStoreError.generationIncomplete(generation: 2, missing: 2)) {
            try store.switchGeneration(to: 2, at: 3)
        }
        let stale = try store.staleDocuments(generation: 2, afterLabel: 0, limit: 10)
        let kept = try store.writeGenerationVectors(
            generation: 2,
            stale.map { (label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [1, 2, 3]) },
            embeddedAt: 4)
        #expect(kept == 2)
        try store.switchGeneration(to: 2, at: 5)
        #expect(try store.generations().map(\.state) == [.previous, .current])
        #expect(try store.currentGeneration().modelFingerprint == "f2")
        // A vector computed from an outdated document version is not kept.
        _ = try store.apply(generation: 2, writes: [write("a", [3, 2, 1])], deletes: [])
        let third = try store.beginGeneration(modelID: "m3", fingerprint: "f3", dimensions: 2, at: 6)
        let outdated = try store.writeGenerationVectors(
            generation: third.generation,
            [(label: stale[0].label, sourceSeq: 1, contentHash: [UInt8](repeating: 3, count: 32), vector: [1, 2])],
            embeddedAt: 7)
        #expect(outdated == 0)
    }

    @Test("documents by label: text and vector only when asked for, everything else always")
    func documentsByLabel() throws {
        _ = try store.apply(
            generation: 1,
            writes: [
                write("a", [1, 0], metadata: #"{"lang":"en"}"#), write("b", [0, 1], metadata: nil),
            ], deletes: [])
        let labels = try store.documents(ids: ["a", "b"], generation: 1, dimensions: 2, withVectors: false).mapValues(\.label)
        let label = try #require(labels["a"])
        let full = try store.documents(labels: [label, 999], generation: 1, dimensions: 2, withVectors: true, withText: true)
        #expect(full.count == 1 && full[label]?.vector == [1, 0] && full[label]?.text != nil && full[label]?.metadata == #"{"lang":"en"}"#)
        for (text, vector) in [(false, false), (false, true), (true, false)] {
            let found = try store.documents(labels: [label], generation: 1, dimensions: 2, withVectors: vector, withText: text)
            var expected = try #require(full[label])
            if !text { expected.text = nil }
            if !vector { expected.vector = nil }
            #expect(found[label] == expected)
        }
    }

    @Test("filters translate to SQL with bound values only")
    func filters() throws {
        _ = try store.apply(
            generation: 1,
            writes: [
                write("a", [1, 0], metadata: #"{"lang":"en","year":2020}"#),
                write("b", [0, 1], metadata: #"{"lang":"de","year":2024}"#),
                write("c", [1, 1], metadata: #"{"lang":"en\"' OR 1=1 --","year":2025}"#),
            ], deletes: [])
        let labels = try store.documents(ids: ["a", "b", "c"], generation: 1, dimensions: 2, withVectors: false)
        func ids(_ conditions: [FieldCondition]) throws -> Set<String> {
            let found = try store.labels(matching: conditions, generation: 1)
            return Set(labels.filter { found.contains($0.value.label) }.map(\.key))
        }
        #expect(try ids([.init(field: .metadata("lang"), comparison: .eq, value: .string("en"))]) == ["a"])
        #expect(try ids([.init(field: .metadata("year"), comparison: .gte, value: .number(2024))]) == ["b", "c"])
        #expect(try ids([.init(field: .updatedAt, comparison: .lt, value: .number(5))]).isEmpty)
        #expect(try ids([.init(field: .embeddedAt, comparison: .eq, value: .number(6))]) == ["a", "b", "c"])
        #expect(try ids([.init(field: .metadata("lang' OR 1=1 --"), comparison: .eq, value: .string("en"))]).isEmpty)
    }
}
