import Foundation
import Logging
import PostgresStore
import QuiverTestSupport
import Synchronization
import Testing

@testable import DocumentStore

/// A store backend under test: how to get a fresh, empty catalog of it.
///
/// Every test of the conformance suite runs once per factory in `all`; a new backend (PostgreSQL)
/// adds its factory here and must pass the suite unchanged.
struct StoreFactory: Sendable, CustomStringConvertible {
    let description: String
    /// A new, empty catalog and a closure that removes what it made.
    let make: @Sendable () throws -> (catalog: any StoreCatalog, cleanUp: @Sendable () -> Void)

    static let sqlite = StoreFactory(description: "sqlite") {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-store-\(UUID().uuidString)")
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let catalog = try SQLiteCatalog(layout: DataLayout(dataDirectory: directory), logger: logger)
        return (catalog, { try? FileManager.default.removeItem(at: directory) })
    }

    /// A new database on the test process's PostgreSQL cluster (started on first use).
    static let postgres = StoreFactory(description: "postgres") {
        let cluster = try PostgresCluster.shared.get()
        let url = try cluster.createDatabase()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-store-\(UUID().uuidString)")
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let catalog = try PostgresCatalog(url: url, layout: DataLayout(dataDirectory: directory), logger: logger)
        return (catalog, { try? FileManager.default.removeItem(at: directory) })
    }

    static let all: [StoreFactory] = [.sqlite, .postgres]
}

/// The store contract (Sources/DocumentStore/StoreProtocols.swift), run against every backend.
@Suite("Store conformance")
struct StoreConformanceTests {
    static let settings = CollectionSettings(name: "c", metric: "cosine", hnswM: 16, hnswEfConstruction: 200, createdAt: 1)
    static let firstGeneration = GenerationRecord(
        generation: 1, modelID: "m", modelFingerprint: "f", dimensions: 2, state: .current, createdAt: 1, completedAt: 1)

    /// Runs `body` on a fresh collection "c" (2-dimensional, generation 1 current) of `factory`.
    func withStore(_ factory: StoreFactory, _ body: (any CollectionStore, any StoreCatalog) throws -> Void) throws {
        let (catalog, cleanUp) = try factory.make()
        defer { cleanUp() }
        let store = try catalog.create(Self.settings, firstGeneration: Self.firstGeneration)
        try body(store, catalog)
    }

    func write(_ id: String, _ vector: [Float]?, metadata: String? = nil) -> DocumentWrite {
        DocumentWrite(
            id: id, title: nil, text: id, metadata: metadata, updatedAt: 5, contentHash: [UInt8](repeating: 1, count: 32),
            vector: vector, embeddedAt: 6)
    }

    @Test("each change gets the next seq; tombstones keep labels and show up in changes", arguments: StoreFactory.all)
    func sequenceAndTombstones(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            let first = try store.apply(generation: 1, writes: [write("a", [1, 0]), write("b", [0, 1])], deletes: [])
            var expected = WriteOutcome()
            expected.inserted = 2
            expected.seq = 2
            #expect(first == expected)
            let second = try store.apply(generation: 1, writes: [write("a", [1, 1])], deletes: ["b", "missing"])
            #expect(second.updated == 1 && second.deleted == 1 && second.seq == 4)
            let changes = try store.changes(after: 2, generation: 1, dimensions: 2, limit: 10)
            #expect(changes.map(\.seq) == [3, 4])
            #expect(changes.map(\.id) == ["a", "b"])
            #expect(changes[1].deleted && changes[1].vector == nil)
            #expect(changes[0].vector == [1, 1])
            // Re-inserting a deleted id reuses its label and counts as an insert.
            let label = changes[1].label
            let third = try store.apply(generation: 1, writes: [write("b", [0.5, 0.5])], deletes: [])
            #expect(third.inserted == 1)
            #expect(try store.documents(ids: ["b"], generation: 1, dimensions: 2, withVectors: true)["b"]?.label == label)
            #expect(try store.counts() == (live: 2, deleted: 0))
            #expect(try store.state().seq == 5)
        }
    }

    @Test("the change feed is compacted, gap-free and paged: each document once, at its latest seq", arguments: StoreFactory.all)
    func compactedFeed(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            for round in 0..<3 {
                _ = try store.apply(
                    generation: 1, writes: (0..<10).map { write("d\($0)", [Float(round), 1]) }, deletes: round == 2 ? ["d3"] : [])
            }
            #expect(try store.state().seq == 31)
            var seen: [DocumentChange] = []
            var after: Int64 = 0
            while true {
                let page = try store.changes(after: after, generation: 1, dimensions: 2, limit: 4)
                guard let last = page.last else { break }
                #expect(page.count <= 4)
                seen.append(contentsOf: page)
                after = last.seq
            }
            #expect(Set(seen.map(\.id)).count == seen.count, "a document appears twice")
            #expect(seen.map(\.seq) == seen.map(\.seq).sorted())
            #expect(seen.count == 10)
            // A follower applying the feed in order ends with exactly the live documents.
            let live = Set(seen.filter { !$0.deleted }.map(\.id))
            #expect(live == Set(try store.liveIDs()))
            #expect(seen.first { $0.id == "d3" }?.deleted == true)
            #expect(seen.filter { !$0.deleted }.allSatisfy { $0.vector == [2, 1] })

            // The text feed is the same compacted log, with titles and texts instead of vectors.
            var texts: [TextChange] = []
            after = 0
            while true {
                let page = try store.textChanges(after: after, limit: 3)
                guard let last = page.last else { break }
                #expect(page.count <= 3)
                texts.append(contentsOf: page)
                after = last.seq
            }
            #expect(texts.map(\.seq) == seen.map(\.seq))
            #expect(texts.map(\.label) == seen.map(\.label))
            #expect(texts.map(\.deleted) == seen.map(\.deleted))
            let byLabel = Dictionary(uniqueKeysWithValues: seen.map { ($0.label, $0.id) })
            for change in texts {
                // `write` stores the id as the text.
                #expect(change.text == (change.deleted ? "" : byLabel[change.label]))
                #expect(change.title == nil)
            }
        }
    }

    @Test("a write to a generation that is no longer current or building fails whole", arguments: StoreFactory.all)
    func retiredGenerationRefusesWrites(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(generation: 1, writes: [write("a", [1, 0])], deletes: [])
            let next = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 2)
            // A building generation takes writes.
            _ = try store.apply(generation: next.generation, writes: [write("b", [0, 1])], deletes: [])
            let stale = try store.staleDocuments(generation: next.generation, afterLabel: 0, limit: 10)
            _ = try store.writeGenerationVectors(
                generation: next.generation,
                stale.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [1, 1])
                },
                embeddedAt: 3)
            try store.switchGeneration(to: next.generation, at: 4)
            let seq = try store.state().seq
            // Generation 1 is retired now: a write embedded for it must not land there.
            #expect(throws: DocumentStoreError.generationNotWritable(generation: 1)) {
                try store.apply(generation: 1, writes: [write("c", [1, 0]), write("a", [0, 1])], deletes: [])
            }
            #expect(try store.state().seq == seq)
            #expect(try store.documents(ids: ["c"], generation: 2, dimensions: 2, withVectors: false).isEmpty)
            #expect(try store.documents(ids: ["a"], generation: 2, dimensions: 2, withVectors: true)["a"]?.vector == [1, 1])
            // A generation replaced by another model change is not writable either.
            let third = try store.beginGeneration(modelID: "m3", fingerprint: "f3", dimensions: 2, at: 5)
            let fourth = try store.beginGeneration(modelID: "m4", fingerprint: "f4", dimensions: 2, at: 6)
            #expect(fourth.generation != third.generation)
            #expect(throws: DocumentStoreError.generationNotWritable(generation: third.generation)) {
                try store.apply(generation: third.generation, writes: [write("d", [1, 0])], deletes: [])
            }
            #expect(try store.state().seq == seq)
        }
    }

    @Test("the schema rejects what the engine must never write", arguments: StoreFactory.all)
    func constraints(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            #expect(throws: DocumentStoreError.self) {
                try store.apply(generation: 1, writes: [write("x", [1, 0], metadata: "{not json")], deletes: [])
            }
            #expect(throws: DocumentStoreError.self) {
                try store.apply(generation: 7, writes: [write("y", [1, 0])], deletes: [])  // no such generation
            }
            // Nothing of a failed transaction remains.
            #expect(try store.state().seq == 0)
            #expect(try store.counts().live == 0)
        }
    }

    @Test("changeable settings: updated in one transaction, read with the state, a JSON object or nothing", arguments: StoreFactory.all)
    func tuning(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, catalog) throws in
            #expect(try store.settings().tuning == nil && store.state().tuning == nil)
            let stored = try store.updateTuning { old in
                #expect(old == nil)
                return #"{"verdict_threshold":0.4}"#
            }
            #expect(stored == #"{"verdict_threshold":0.4}"#)
            // Read with every state, and by a second handle on the same collection.
            #expect(try store.state().tuning == stored)
            #expect(try #require(try catalog.open("c")).settings().tuning == stored)
            // No change seq: settings are not documents.
            #expect(try store.state().seq == 0)
            // The change sees what is stored, and nil clears it.
            _ = try store.updateTuning { old in
                #expect(old == stored)
                return nil
            }
            #expect(try store.state().tuning == nil)
            // The schema keeps the column a JSON object; a refused change leaves the stored one.
            _ = try store.updateTuning { _ in #"{"a":1}"# }
            #expect(throws: DocumentStoreError.self) { try store.updateTuning { _ in "[1,2]" } }
            #expect(throws: DocumentStoreError.self) { try store.updateTuning { _ in "{not json" } }
            #expect(try store.settings().tuning == #"{"a":1}"#)
        }
    }

    @Test("a generation switches in only when every live document has an up-to-date vector", arguments: StoreFactory.all)
    func generationSwitch(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
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
                stale.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [1, 2, 3])
                },
                embeddedAt: 4)
            #expect(kept == 2)
            try store.switchGeneration(to: 2, at: 5)
            #expect(try store.generations().map(\.state) == [.previous, .current])
            try store.switchGeneration(to: 2, at: 6)  // twice (two workers completing it): once
            #expect(try store.generations().map(\.state) == [.previous, .current])
            #expect(try store.state().current.modelFingerprint == "f2")
            #expect(try store.vectorCount(generation: 2) == 2)
            // A vector computed from an outdated document version is not kept.
            _ = try store.apply(generation: 2, writes: [write("a", [3, 2, 1])], deletes: [])
            let third = try store.beginGeneration(modelID: "m3", fingerprint: "f3", dimensions: 2, at: 6)
            let outdated = try store.writeGenerationVectors(
                generation: third.generation,
                [GenerationVector(label: stale[0].label, sourceSeq: 1, contentHash: [UInt8](repeating: 3, count: 32), vector: [1, 2])],
                embeddedAt: 7)
            #expect(outdated == 0)
        }
    }

    @Test("passages: spans and vectors round-trip through writes, changes, pages, counts and reads", arguments: StoreFactory.all)
    func passages(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            let chunked = try store.beginGeneration(
                modelID: "m2", fingerprint: "f2", dimensions: 2, chunking: Chunking(tokens: 16, overlap: 4), at: 2, candidate: false)
            #expect(chunked.chunking == Chunking(tokens: 16, overlap: 4))
            #expect(try store.generations().last?.chunking == Chunking(tokens: 16, overlap: 4))
            let spans = [ChunkSpan(start: 0, end: 10), ChunkSpan(start: 8, end: 20), ChunkSpan(start: 18, end: 25)]
            var w = write("a", [0.6, 0.8])
            w.chunks = ChunkVectors(spans: spans, flat: [1, 0, 0, 1, 0.6, 0.8])
            _ = try store.apply(generation: chunked.generation, writes: [w, write("b", [1, 1])], deletes: [])
            #expect(try store.vectorCount(generation: chunked.generation) == 4)  // three passages and one plain vector
            let changes = try store.changes(after: 0, generation: chunked.generation, dimensions: 2, limit: 10)
            #expect(changes.first?.chunks == ChunkVectors(spans: spans, flat: [1, 0, 0, 1, 0.6, 0.8]))
            #expect(changes.first?.vector == [0.6, 0.8] && changes.last?.chunks == nil)
            let page = try store.vectorPage(generation: chunked.generation, dimensions: 2, afterLabel: 0, limit: 10)
            #expect(page.counts == [3, 1] && page.flat == [1, 0, 0, 1, 0.6, 0.8, 1, 1])
            let read = try store.documents(ids: ["a"], generation: chunked.generation, dimensions: 2, withVectors: false)
            #expect(read["a"]?.chunks == ChunkVectors(spans: spans, flat: []))
            let withVectors = try store.documents(ids: ["a"], generation: chunked.generation, dimensions: 2, withVectors: true)
            #expect(withVectors["a"]?.chunks?.flat == [1, 0, 0, 1, 0.6, 0.8] && withVectors["a"]?.vector == [0.6, 0.8])
            // Shrunk to one passage: the row holds one span, the count follows.
            var shrunk = write("a", [1, 0])
            shrunk.chunks = ChunkVectors(spans: [ChunkSpan(start: 0, end: 3)], flat: [1, 0])
            _ = try store.apply(generation: chunked.generation, writes: [shrunk], deletes: [])
            #expect(try store.vectorCount(generation: chunked.generation) == 2)
            // A generation vector with passages.
            _ = try store.apply(generation: 1, writes: [write("c", [1, 0])], deletes: [])
            let stale = try store.staleDocuments(generation: chunked.generation, afterLabel: 0, limit: 10)
            #expect(stale.map(\.id) == ["c"])
            let kept = try store.writeGenerationVectors(
                generation: chunked.generation,
                stale.map {
                    GenerationVector(
                        label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1],
                        chunks: ChunkVectors(spans: [ChunkSpan(start: 0, end: 1), ChunkSpan(start: 1, end: 2)], flat: [0, 1, 0, 1]))
                }, embeddedAt: 3)
            #expect(kept == 1)
            #expect(try store.vectorCount(generation: chunked.generation) == 4)
        }
    }

    @Test("hit documents: each hit's document and its passage's text (Unicode scalar offsets) in one read", arguments: StoreFactory.all)
    func hitDocuments(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            let chunked = try store.beginGeneration(
                modelID: "m2", fingerprint: "f2", dimensions: 2, chunking: Chunking(tokens: 16, overlap: 4), at: 2, candidate: false)
            // "é" and "💡" are one scalar each: offsets count scalars, not bytes or UTF-16 units.
            let text = "Héllo 💡 world, second passage here."
            var a = write("a", [0.6, 0.8])
            a.text = text
            a.chunks = ChunkVectors(spans: [ChunkSpan(start: 0, end: 7), ChunkSpan(start: 8, end: 36)], flat: [1, 0, 0, 1])
            var plain = write("b", [1, 1])
            plain.text = "no passages"
            _ = try store.apply(generation: chunked.generation, writes: [a, plain, write("gone", [1, 0])], deletes: [])
            let byID = try store.documents(ids: ["a", "b", "gone"], generation: chunked.generation, dimensions: 2, withVectors: false)
            let labels = try ["a", "b", "gone"].map { try #require(byID[$0]?.label) }
            _ = try store.apply(generation: chunked.generation, writes: [], deletes: ["gone"])
            let (documents, passages) = try store.hitDocuments(
                labels: labels + [999], passages: [labels[0]: 1, labels[1]: 0, labels[2]: 0], generation: chunked.generation,
                dimensions: 2, withVectors: false, withText: false)
            #expect(Set(documents.keys) == [labels[0], labels[1]])  // deleted and absent left out
            #expect(documents[labels[0]]?.text == nil && documents[labels[0]]?.chunks?.spans.count == 2)
            #expect(passages == [labels[0]: "world, second passage here."])  // no spans for "b": no passage
            let first = try store.hitDocuments(
                labels: [labels[0]], passages: [labels[0]: 0], generation: chunked.generation, dimensions: 2, withVectors: true,
                withText: true)
            #expect(first.passages == [labels[0]: "Héllo 💡"] && first.documents[labels[0]]?.text == text)
            #expect(first.documents[labels[0]]?.chunks?.flat == [1, 0, 0, 1])
            // Out of range and negative passages read nothing; the document still does.
            for passage in [2, -1, 1 << 40] {
                let read = try store.hitDocuments(
                    labels: [labels[0]], passages: [labels[0]: passage], generation: chunked.generation, dimensions: 2,
                    withVectors: false, withText: false)
                #expect(read.passages.isEmpty && read.documents.count == 1)
            }
            // The same passage through the two-read default.
            #expect(try store.passageTexts([(labels[0], ChunkSpan(start: 8, end: 36))]) == passages)
        }
    }

    @Test("claims: stale documents handed out in label order, their vectors stored; changed ones keep none", arguments: StoreFactory.all)
    func claimStale(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(generation: 1, writes: (0..<5).map { write("d\($0)", [1, 0]) }, deletes: [])
            let next = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 2)
            func vectors(_ page: [StoredDocument]) -> [GenerationVector] {
                page.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1])
                }
            }
            var seen: [String] = []
            let first = try store.claimStale(generation: next.generation, afterLabel: 0, limit: 3, embeddedAt: 3) { page in
                seen += page.map(\.id)
                #expect(page.allSatisfy { $0.text != nil })
                return vectors(page)
            }
            #expect(first.claimed == 3 && first.written == 3 && seen == ["d0", "d1", "d2"])
            // A document rewritten after its claim was read keeps no vector from it.
            let second = try store.claimStale(
                generation: next.generation, afterLabel: try #require(first.lastLabel), limit: 3, embeddedAt: 3
            ) {
                page in
                var outdated = vectors(page)
                outdated[0].sourceSeq -= 1
                return outdated
            }
            #expect(second.claimed == 2 && second.written == 1)
            let done = try store.claimStale(
                generation: next.generation, afterLabel: try #require(second.lastLabel), limit: 3, embeddedAt: 3
            ) {
                _ in
                Issue.record("nothing is left after the last label")
                return []
            }
            #expect(done == StaleClaim(claimed: 0, lastLabel: nil, written: 0))
            #expect(try store.staleCount(generation: next.generation) == 1)
            // The next pass from the start takes the one left.
            let again = try store.claimStale(generation: next.generation, afterLabel: 0, limit: 10, embeddedAt: 4) { vectors($0) }
            #expect(again.claimed == 1 && again.written == 1)
            #expect(try store.staleCount(generation: next.generation) == 0)
            // A generation that is no longer writable is refused whole.
            _ = try store.discardGeneration(next.generation)
            #expect(throws: DocumentStoreError.self) {
                try store.claimStale(generation: next.generation, afterLabel: 0, limit: 10, embeddedAt: 5) { vectors($0) }
            }
        }
    }

    @Test(
        "pending writes: stored without a vector, stale until a worker's vector lands as a change with the next seq",
        arguments: StoreFactory.all)
    func pendingWrites(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(generation: 1, writes: ["d0", "d1", "d2"].map { write($0, [1, 0]) }, deletes: [])
            func pending(_ id: String, _ text: String) -> DocumentWrite {
                var item = write(id, nil)
                item.text = text
                item.pending = true
                return item
            }
            // A new document and a changed one, stored without embedding.
            let outcome = try store.apply(generation: 1, writes: [pending("p", "new"), pending("d0", "changed")], deletes: [])
            #expect(outcome.inserted == 1 && outcome.updated == 1 && outcome.seq == 5)
            #expect(try store.staleCount(generation: 1) == 2)
            // A writer that committed up to seq 4 waits for "p" only; documents waiting for a
            // worker are a state of the store, not a problem.
            #expect(try store.staleCount(generation: 1, writtenThrough: 4) == 1)
            #expect(try store.staleCount(generation: 1, writtenThrough: 3) == 0)
            #expect(try store.problems() == [])
            let changes = try store.changes(after: 3, generation: 1, dimensions: 2, limit: 10)
            #expect(changes.map(\.id) == ["p", "d0"])
            #expect(changes[0].vector == nil)
            #expect(changes[1].vector == [1, 0])  // the old vector serves until the new one lands
            #expect(try store.documents(ids: ["d0"], generation: 1, dimensions: 2, withVectors: false)["d0"]?.text == "changed")
            // A building generation complete before the worker runs stays complete after it.
            let next = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 2)
            _ = try store.claimStale(generation: next.generation, afterLabel: 0, limit: 10, embeddedAt: 3) { page in
                page.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 3, count: 32), vector: [1, 1])
                }
            }
            #expect(try store.staleCount(generation: next.generation) == 0)
            #expect(try store.state().seq == 5)  // a building generation's vectors are not changes
            // The worker: claims both, and "p" is written again while it embeds (its vector is dropped).
            var seen: [String] = []
            let claim = try store.claimStale(generation: 1, afterLabel: 0, limit: 10, embeddedAt: 4) { page in
                seen = page.map(\.id)
                _ = try? store.apply(generation: 1, writes: [pending("p", "newer")], deletes: [])
                return page.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1])
                }
            }
            #expect(seen == ["d0", "p"] && claim.claimed == 2 && claim.written == 1)
            // d0's vector is a change after the rewrite of p (seq 6): seq 7, with the new vector.
            #expect(try store.state().seq == 7)
            let after = try store.changes(after: 5, generation: 1, dimensions: 2, limit: 10)
            #expect(after.map(\.id) == ["p", "d0"] && after.map(\.seq) == [6, 7])
            #expect(after[0].vector == nil && after[1].vector == [0, 1])
            #expect(try store.staleCount(generation: 1) == 1)
            // The building generation's vector of d0 moved along with it; p's is stale (rewritten).
            #expect(try store.staleCount(generation: next.generation) == 1)
            let last = try store.claimStale(generation: 1, afterLabel: 0, limit: 10, embeddedAt: 5) { page in
                page.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1])
                }
            }
            #expect(last.claimed == 1 && last.written == 1)
            #expect(try store.staleCount(generation: 1) == 0 && store.state().seq == 8)
            #expect(try store.changes(after: 0, generation: 1, dimensions: 2, limit: 10).map(\.seq) == [2, 3, 7, 8])
            // writeGenerationVectors into the current generation numbers its vectors too.
            _ = try store.apply(generation: 1, writes: [pending("d1", "again")], deletes: [])
            let d1 = try #require(try store.staleDocuments(generation: 1, afterLabel: 0, limit: 10).first)
            #expect(
                try store.writeGenerationVectors(
                    generation: 1,
                    [GenerationVector(label: d1.label, sourceSeq: d1.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1])],
                    embeddedAt: 6) == 1)
            #expect(try store.state().seq == 10 && store.staleCount(generation: 1) == 0)
            #expect(try store.problems() == [])
        }
    }

    @Test("a candidate generation keeps its flag, takes writes, and is discarded with its vectors", arguments: StoreFactory.all)
    func candidateGeneration(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(generation: 1, writes: [write("a", [1, 0]), write("b", [0, 1])], deletes: [])
            let candidate = try store.beginGeneration(
                modelID: "m2", fingerprint: "f2", dimensions: 2, chunking: .off, at: 2, candidate: true)
            #expect(candidate.candidate && candidate.state == .building)
            #expect(try store.generations().last?.candidate == true)
            // Resumed with the same model: the same generation; the flag follows the request.
            #expect(
                try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, chunking: .off, at: 3, candidate: true)
                    == candidate)
            let resumed = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 3)
            #expect(resumed.generation == candidate.generation && !resumed.candidate)
            #expect(try store.generations().last?.candidate == false)
            _ = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, chunking: .off, at: 3, candidate: true)
            let stale = try store.staleDocuments(generation: candidate.generation, afterLabel: 0, limit: 10)
            _ = try store.writeGenerationVectors(
                generation: candidate.generation,
                stale.map {
                    GenerationVector(label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [1, 1])
                },
                embeddedAt: 4)
            #expect(try store.vectorCount(generation: candidate.generation) == 2)
            // The current generation is not discarded; the candidate is, with its vectors.
            #expect(try store.discardGeneration(1) == false)
            #expect(try store.discardGeneration(candidate.generation))
            #expect(try store.discardGeneration(candidate.generation) == false)
            #expect(try store.generations().map(\.generation) == [1])
            #expect(try store.vectorCount(generation: candidate.generation) == 0)
            #expect(try store.state().current.generation == 1)
            #expect(try store.documents(ids: ["a", "b"], generation: 1, dimensions: 2, withVectors: true).count == 2)
            // Writes for it are refused after the discard.
            #expect(throws: DocumentStoreError.generationNotWritable(generation: candidate.generation)) {
                try store.apply(generation: candidate.generation, writes: [write("c", [1, 0])], deletes: [])
            }
        }
    }

    @Test("documents by label: text and vector only when asked for, everything else always", arguments: StoreFactory.all)
    func documentsByLabel(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(
                generation: 1,
                writes: [
                    write("a", [1, 0], metadata: #"{"lang":"en"}"#), write("b", [0, 1], metadata: nil),
                ], deletes: [])
            let labels = try store.documents(ids: ["a", "b"], generation: 1, dimensions: 2, withVectors: false).mapValues(\.label)
            let label = try #require(labels["a"])
            let full = try store.documents(labels: [label, 999], generation: 1, dimensions: 2, withVectors: true, withText: true)
            #expect(
                full.count == 1 && full[label]?.vector == [1, 0] && full[label]?.text != nil && full[label]?.metadata == #"{"lang":"en"}"#)
            for (text, vector) in [(false, false), (false, true), (true, false)] {
                let found = try store.documents(labels: [label], generation: 1, dimensions: 2, withVectors: vector, withText: text)
                var expected = try #require(full[label])
                if !text { expected.text = nil }
                if !vector { expected.vector = nil }
                #expect(found[label] == expected)
            }
        }
    }

    @Test("rebuild inputs: vector pages and live labels in label order, with ids", arguments: StoreFactory.all)
    func rebuildPages(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(generation: 1, writes: (0..<7).map { write("d\($0)", [Float($0), 1]) }, deletes: [])
            _ = try store.apply(generation: 1, writes: [], deletes: ["d2"])
            var pages: [VectorPage] = []
            var after: Int64 = 0
            while true {
                let page = try store.vectorPage(generation: 1, dimensions: 2, afterLabel: after, limit: 4)
                guard let last = page.labels.last else { break }
                #expect(page.ids.count == page.labels.count && page.flat.count == page.labels.count * 2)
                pages.append(page)
                after = last
            }
            let ids = pages.flatMap(\.ids)
            #expect(ids == ["d0", "d1", "d3", "d4", "d5", "d6"])
            #expect(pages.flatMap(\.flat) == [0, 1, 1, 1, 3, 1, 4, 1, 5, 1, 6, 1])
            #expect(try store.vectorCount(generation: 1) == 6)
            let live = try store.liveLabels(afterLabel: 0, limit: 100)
            #expect(live.map(\.id) == ids)
            #expect(live.map(\.label) == pages.flatMap(\.labels))
            try #require(live.count == 6)
            #expect(try store.liveLabels(afterLabel: live[1].label, limit: 2).map(\.id) == ["d3", "d4"])
            // A building generation has no vectors yet: nothing to rebuild from, every document live.
            let next = try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 2)
            #expect(try store.vectorPage(generation: next.generation, dimensions: 2, afterLabel: 0, limit: 10).labels.isEmpty)
            #expect(try store.liveLabels(afterLabel: 0, limit: 100).map(\.id) == ids)
            // Export without text reads no text; with it, the text is there.
            let bare = try store.exportPage(generation: 1, dimensions: 2, afterLabel: 0, limit: 10, withText: false)
            let full = try store.exportPage(generation: 1, dimensions: 2, afterLabel: 0, limit: 10, withText: true)
            #expect(bare.map(\.id) == ids && full.map(\.id) == ids)
            #expect(bare.allSatisfy { $0.text == nil } && full.allSatisfy { $0.text == $0.id })
        }
    }

    @Test("filters translate to SQL with bound values only", arguments: StoreFactory.all)
    func filters(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
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

    @Test(
        "filters compare a field with a value of its own JSON type; ne matches other types, never missing or null",
        arguments: StoreFactory.all)
    func filterTypes(_ factory: StoreFactory) throws {
        try withStore(factory) { (store, _) throws in
            _ = try store.apply(
                generation: 1,
                writes: [
                    write("num", [1, 0], metadata: #"{"x": 5}"#), write("str", [0, 1], metadata: #"{"x": "abc"}"#),
                    write("yes", [1, 1], metadata: #"{"x": true}"#), write("one", [1, 1], metadata: #"{"x": 1}"#),
                    write("nul", [1, 1], metadata: #"{"x": null}"#), write("none", [1, 1], metadata: #"{"y": 1}"#),
                    write("big", [1, 1], metadata: #"{"x": 1e400}"#), write("bare", [1, 1]),
                    write("nulstr", [1, 1], metadata: #"{"x": "a\u0000b"}"#),
                ], deletes: [])
            let labels = try store.documents(
                ids: ["num", "str", "yes", "one", "nul", "none", "big", "bare", "nulstr"], generation: 1, dimensions: 2, withVectors: false)
            func ids(_ comparison: FieldCondition.Comparison, _ value: FieldCondition.Value) throws -> Set<String> {
                let found = try store.labels(matching: [.init(field: .metadata("x"), comparison: comparison, value: value)], generation: 1)
                return Set(labels.filter { found.contains($0.value.label) }.map(\.key))
            }
            #expect(try ids(.gt, .number(3)) == ["num", "big"])
            #expect(try ids(.lt, .number(3)) == ["one"])
            #expect(try ids(.eq, .number(1)) == ["one"])
            #expect(try ids(.lt, .string("b")) == ["str", "nulstr"])
            #expect(try ids(.eq, .bool(true)) == ["yes"])
            #expect(try ids(.ne, .string("abc")) == ["num", "yes", "one", "big", "nulstr"])
            #expect(try ids(.ne, .number(5)) == ["str", "yes", "one", "big", "nulstr"])
        }
    }

    @Test("the catalog: create once, list, open, delete", arguments: StoreFactory.all)
    func catalog(_ factory: StoreFactory) throws {
        let (catalog, cleanUp) = try factory.make()
        defer { cleanUp() }
        #expect(try catalog.names().isEmpty)
        #expect(try catalog.open("c") == nil)
        let store = try catalog.create(Self.settings, firstGeneration: Self.firstGeneration)
        _ = try store.apply(generation: 1, writes: [write("a", [1, 0])], deletes: [])
        #expect(throws: DocumentStoreError.self) { try catalog.create(Self.settings, firstGeneration: Self.firstGeneration) }
        var other = Self.settings
        other.name = "b"
        _ = try catalog.create(other, firstGeneration: Self.firstGeneration)
        #expect(try catalog.names() == ["b", "c"])
        let reopened = try #require(try catalog.open("c"))
        let settings = try reopened.settings()
        #expect(settings.name == "c" && settings.metric == "cosine" && settings.hnswM == 16 && settings.createdAt == 1)
        #expect(try reopened.state().seq == 1)
        #expect(try reopened.liveIDs() == ["a"])
        #expect(try catalog.delete("c"))
        #expect(try !catalog.delete("c"))
        #expect(try catalog.names() == ["b"])
        #expect(try catalog.open("c") == nil)
    }
}

/// The contract under concurrency and repeated ids: what a multi-writer backend must get right
/// and a single-writer one gets for free.
@Suite("Store conformance: concurrency")
struct StoreConcurrencyTests {
    /// Several writes of the same id in one call are changes in input order, as if applied one by
    /// one: one insert then updates, the last write's values, a delete after them.
    @Test("repeated ids in one write: each occurrence is a change, the last one wins", arguments: StoreFactory.all)
    func repeatedIDs(_ factory: StoreFactory) throws {
        let (catalog, cleanUp) = try factory.make()
        defer { cleanUp() }
        let store = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)
        func write(_ id: String, _ vector: [Float]?, text: String, updatedAt: Double) -> DocumentWrite {
            DocumentWrite(
                id: id, title: nil, text: text, metadata: nil, updatedAt: updatedAt, contentHash: [UInt8](repeating: 1, count: 32),
                vector: vector, embeddedAt: 6)
        }
        let outcome = try store.apply(
            generation: 1,
            writes: [
                write("a", [1, 0], text: "one", updatedAt: 1), write("a", [0, 1], text: "two", updatedAt: 2),
                write("a", nil, text: "three", updatedAt: 3), write("b", [1, 1], text: "b", updatedAt: 4),
            ], deletes: ["b", "b"])
        #expect(outcome.inserted == 1 + 1 && outcome.updated == 2 && outcome.deleted == 1 && outcome.seq == 5)
        let a = try #require(try store.documents(ids: ["a"], generation: 1, dimensions: 2, withVectors: true)["a"])
        #expect(a.text == "three" && a.updatedAt == 3 && a.seq == 3 && a.vector == [0, 1])
        // The metadata-only last write moved the vector's source seq with it: not stale.
        #expect(try store.staleCount(generation: 1) == 0)
        #expect(try store.documents(ids: ["b"], generation: 1, dimensions: 2, withVectors: false).isEmpty)
        let changes = try store.changes(after: 0, generation: 1, dimensions: 2, limit: 10)
        #expect(changes.map(\.id) == ["a", "b"] && changes.map(\.seq) == [3, 5] && changes[1].deleted)
        // A tombstone keeps the time of its last write.
        _ = try store.apply(generation: 1, writes: [], deletes: ["a"])
        #expect(try store.existing(ids: ["a"], generation: 1)["a"]?.updatedAt == 3)
    }

    /// Eight writers at once, and a follower reading the feed meanwhile: every seq from 1 to the
    /// last is handed out exactly once, every page the follower reads is gap-free after its
    /// position, and the follower ends with exactly the store's live documents.
    @Test("8 concurrent writers: seqs gap-free and unique; a concurrent follower never skips one", arguments: StoreFactory.all)
    func concurrentWriters(_ factory: StoreFactory) throws {
        let (catalog, cleanUp) = try factory.make()
        defer { cleanUp() }
        let store = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)
        let writers = 8
        let rounds = 25
        let done = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let outcomes = Mutex<[WriteOutcome]>([])
        var threads: [Thread] = []
        for w in 0..<writers {
            let thread = Thread {
                defer { done.add(1, ordering: .sequentiallyConsistent) }
                for round in 0..<rounds {
                    // Overlapping ids across writers: updates and deletes of each other's documents.
                    let ids = (0..<4).map { "d\((w * 3 + round + $0) % 40)" }
                    let writes = ids.map {
                        DocumentWrite(
                            id: $0, title: nil, text: "\(w)-\(round)", metadata: nil, updatedAt: 1,
                            contentHash: [UInt8](repeating: 1, count: 32), vector: [Float(w), Float(round)], embeddedAt: 2)
                    }
                    do {
                        let outcome = try store.apply(
                            generation: 1, writes: writes, deletes: round % 5 == 4 ? ["d\((w + round) % 40)"] : [])
                        outcomes.withLock { $0.append(outcome) }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            threads.append(thread)
            thread.start()
        }
        // The follower: reads after its position until the writers are done and it has caught up.
        var position: Int64 = 0
        var live: [String: Int64] = [:]
        var seen: [Int64] = []
        while true {
            let finished = done.load(ordering: .sequentiallyConsistent) == writers
            let page = try store.changes(after: position, generation: 1, dimensions: 2, limit: 7)
            for change in page {
                // The page continues from the position: a change committed later cannot have
                // taken a seq the follower already read past.
                #expect(change.seq > position)
                seen.append(change.seq)
                if change.deleted { live[change.id] = nil } else { live[change.id] = change.label }
                position = change.seq
            }
            if page.isEmpty, finished, position == (try store.state().seq) { break }
            if page.isEmpty { usleep(1_000) }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let final = try store.state().seq
        let acknowledged = outcomes.withLock { $0 }
        // Every change numbered once: the outcomes' seqs are distinct and the counts add up.
        let changeCount = acknowledged.reduce(0) { $0 + $1.inserted + $1.updated + $1.deleted }
        #expect(Int64(changeCount) == final)
        #expect(Set(acknowledged.map(\.seq)).count == acknowledged.count)
        // The follower applied a compacted feed: what it holds is the store's live set.
        #expect(Set(live.keys) == Set(try store.liveIDs()))
        #expect(seen == seen.sorted())
        // The compacted feed read from scratch holds each document once at its latest seq.
        let all = try store.changes(after: 0, generation: 1, dimensions: 2, limit: 1000)
        #expect(Set(all.map(\.id)).count == all.count)
        #expect(all.last?.seq == final)
    }

    /// Three workers claiming one building generation — or the current one's pending documents —
    /// while a writer rewrites documents: no document is handed to two workers at once, no
    /// deadlock between the claims' commits and the writer, and the generation ends complete.
    /// (On SQLite claims are plain reads — one process at a time is its model — so this runs on
    /// PostgreSQL.)
    @Test(
        "3 concurrent workers: claims never overlap, a writer is not deadlocked, the generation ends complete",
        arguments: [false, true])
    func concurrentClaims(pendingInCurrent: Bool) throws {
        let (catalog, cleanUp) = try StoreFactory.postgres.make()
        defer { cleanUp() }
        let store = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)
        func write(_ id: String, _ text: String) -> DocumentWrite {
            DocumentWrite(
                id: id, title: nil, text: text, metadata: nil, updatedAt: 1, contentHash: [UInt8](repeating: 1, count: 32),
                vector: pendingInCurrent ? nil : [1, 0], embeddedAt: 2, pending: pendingInCurrent)
        }
        _ = try store.apply(generation: 1, writes: (0..<60).map { write("d\($0)", "v0") }, deletes: [])
        let building =
            pendingInCurrent
            ? try store.state().current : try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: 2, at: 2)
        let holding = Mutex<Set<Int64>>([])
        let overlaps = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let embedded = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        var threads: [Thread] = []
        for _ in 0..<3 {
            let thread = Thread {
                defer { finished.add(1, ordering: .relaxed) }
                var after: Int64 = 0
                for _ in 0..<200 {
                    do {
                        let claim = try store.claimStale(generation: building.generation, afterLabel: after, limit: 4, embeddedAt: 3) {
                            page in
                            let labels = Set(page.map(\.label))
                            holding.withLock { held in
                                if !held.isDisjoint(with: labels) { overlaps.add(1, ordering: .relaxed) }
                                held.formUnion(labels)
                            }
                            usleep(20_000)  // the embedding
                            holding.withLock { $0.subtract(labels) }
                            embedded.add(page.count, ordering: .relaxed)
                            return page.map {
                                GenerationVector(
                                    label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32), vector: [0, 1])
                            }
                        }
                        if let last = claim.lastLabel {
                            after = last
                        } else if try store.staleCount(generation: building.generation) == 0 {
                            return
                        } else {
                            after = 0
                            usleep(5_000)
                        }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                        return
                    }
                }
            }
            threads.append(thread)
            thread.start()
        }
        // A writer rewriting documents meanwhile, with their vectors in the building generation
        // (as a write during a model change does): it waits for a claim holding its document.
        for round in 0..<10 {
            _ = try store.apply(generation: building.generation, writes: [write("d\(round * 5)", "v\(round)")], deletes: [])
            usleep(10_000)
        }
        let deadline = Date().addingTimeInterval(60)
        while try store.staleCount(generation: building.generation) > 0, Date() < deadline { usleep(10_000) }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(overlaps.load(ordering: .relaxed) == 0)
        #expect(try store.staleCount(generation: building.generation) == 0)
        #expect(try store.vectorCount(generation: building.generation) == 60)
        // Each document went to a worker once, or was rewritten with its new vector by the writer.
        #expect(embedded.load(ordering: .relaxed) >= 50)
        while finished.load(ordering: .relaxed) < 3, Date() < deadline { usleep(10_000) }
        #expect(finished.load(ordering: .relaxed) == 3)
        if pendingInCurrent {
            // Every vector was a change: the feed holds each document once, with its vector, and
            // its seqs are gap-free up to the state's.
            let changes = try store.changes(after: 0, generation: 1, dimensions: 2, limit: 1000)
            #expect(changes.count == 60 && changes.allSatisfy { $0.vector == [0, 1] })
            #expect(changes.last?.seq == (try store.state().seq))
        } else {
            try store.switchGeneration(to: building.generation, at: 4)
        }
    }
}
