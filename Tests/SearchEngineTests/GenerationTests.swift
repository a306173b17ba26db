import Foundation
import Synchronization
import Testing

@testable import SearchEngine

@Suite("Generations and model changes")
struct GenerationTests {
    /// Two tiny models, and collection "c" holding `documents` texts (ids `d0`…) embedded with
    /// the old one.
    func collectionOnOldModel(_ directory: TemporaryDirectory, documents: Int) throws
        -> (old: EmbeddingModel, new: EmbeddingModel, texts: [String])
    {
        let old = try TinyModel.make(seed: 11, in: directory.url)
        let new = try TinyModel.make(seed: 22, in: directory.url)
        let texts = (0..<documents).map { TinyModel.text($0 * 7 + 3) }
        let engine = try makeEngine(directory, models: [old])
        try engine.createCollection(CollectionOptions(name: "c"))
        _ = try engine.upsert(
            collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        return (old, new, texts)
    }

    /// Runs `pass` on each engine's collection "c", each in a thread of its own (a worker process
    /// on its own machine), until it says it is done (polling every 20 ms when it is not); returns
    /// the documents embedded in all, and the failures (a worker never done after 200 passes
    /// is one).
    func runWorkers(_ workers: [SearchEngine], _ pass: @escaping @Sendable (CollectionHandle) throws -> (embedded: Int, done: Bool))
        -> (embedded: Int, failures: [String])
    {
        let embedded = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let finished = Atomic<Int>(0)
        for worker in workers {
            Thread {
                defer { finished.add(1, ordering: .relaxed) }
                do {
                    let handle = try worker.collection("c")
                    for _ in 0..<200 {
                        let (count, done) = try pass(handle)
                        embedded.add(count, ordering: .relaxed)
                        if done { return }
                        usleep(20_000)
                    }
                    failures.withLock { $0.append("a worker never saw the work done") }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        let deadline = Date().addingTimeInterval(120)
        while finished.load(ordering: .relaxed) < workers.count, Date() < deadline { usleep(10_000) }
        if finished.load(ordering: .relaxed) < workers.count { failures.withLock { $0.append("workers still running after 120 s") } }
        return (embedded.load(ordering: .relaxed), failures.withLock { $0 })
    }

    @Test("embedding workers: three processes share one model change, each document embedded once, switched in once")
    func workersShareAModelChange() throws {
        let directory = try TemporaryDirectory()
        let (old, new, texts) = try collectionOnOldModel(directory, documents: 300)
        let engine = try makeEngine(directory, models: [new, old])
        let begun = try #require(try engine.beginModelChange(collection: "c"))
        // Three workers: the starting engine and two others on the same store (other machines).
        let folders = try (0..<2).map { _ in try TemporaryDirectory() }
        let workers = try [engine] + folders.map { try engineOnSameStore(as: directory, folder: $0, models: [new, old]) }
        let (embedded, failures) = runWorkers(workers) { handle in
            let pass = try handle.workOnModelChange(batchSize: 16)
            return (pass.embedded, pass.generation == nil || pass.switched)
        }
        #expect(failures.isEmpty, "\(failures)")
        // PostgreSQL's claims hand each document to one worker; SQLite's plain reads may let two
        // embed the same document (one process at a time is its model), never fewer.
        if TestStore.isPostgres {
            #expect(embedded == texts.count)
        } else {
            #expect(embedded >= texts.count)
        }
        try engine.collection("c").catchUp()  // a replica follows the switch within a cycle
        let answer = try engine.query(collection: "c", QueryRequest(text: texts[7], k: 1))
        #expect(answer.index.generation == begun.generation && answer.results.first?.id == "d7")
        let generations = try engine.collection("c").store.generations()
        #expect(generations.map(\.state) == [.previous, .current])
        #expect(try engine.collection("c").store.vectorCount(generation: begun.generation) == texts.count)
    }

    @Test("pending counts: a writer waits only for documents last written up to its own last commit")
    func pendingWrittenThrough() throws {
        let directory = try TemporaryDirectory()
        let model = try TinyModel.make(seed: 11, in: directory.url)
        let engine = try makeEngine(directory, models: [model])
        try engine.createCollection(CollectionOptions(name: "c"))
        let first = try engine.upsert(
            collection: "c", documents: (0..<5).map { DocumentInput(id: "a\($0)", text: TinyModel.text($0)) }, deferEmbedding: true)
        // Another writer, later: a new document, and a0 written again.
        let later = try engine.upsert(
            collection: "c",
            documents: [DocumentInput(id: "b", text: TinyModel.text(50)), DocumentInput(id: "a0", text: TinyModel.text(51))],
            deferEmbedding: true)
        let handle = try engine.collection("c")
        #expect(try handle.pendingCount() == 6)
        #expect(try handle.pendingCount(writtenThrough: first.seq) == 4)
        #expect(try handle.pendingCount(writtenThrough: later.seq) == 6)
        #expect(try handle.pendingCount(writtenThrough: 0) == 0)
        #expect(try handle.embedPending().embedded == 6)
        #expect(try handle.pendingCount(writtenThrough: later.seq) == 0 && handle.pendingCount() == 0)
    }

    @Test("deferred writes: stored at once, embedded by workers on other engines, indexed by every replica as vectors land")
    func deferredWritesEmbeddedByWorkers() throws {
        let directory = try TemporaryDirectory()
        let model = try TinyModel.make(seed: 11, in: directory.url)
        let embedder = try #require(model.embedder)
        let writer = try makeEngine(directory, models: [model])
        try writer.createCollection(CollectionOptions(name: "c"))
        let texts = (0..<120).map { TinyModel.text($0 * 7 + 3) }
        let written = try writer.upsert(
            collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) },
            deferEmbedding: true)
        #expect(written.inserted == 120 && written.pending == 120 && written.embedded == 0)
        #expect(try writer.collection("c").pendingCount() == 120)
        #expect(try writer.collectionInfo("c").generations.first { $0.state == "current" }?.pending == 120)
        // Stored, not embedded: found by keyword, not by meaning.
        let replicaFolder = try TemporaryDirectory()
        let replica = try engineOnSameStore(as: directory, folder: replicaFolder, models: [model])
        #expect(try replica.query(collection: "c", QueryRequest(text: texts[7], k: 3, mode: .vector)).results.isEmpty)
        let keyword = try replica.query(collection: "c", QueryRequest(text: texts[7], k: 1, mode: .keyword))
        #expect(keyword.results.first?.id == "d7")
        // Two workers on other engines (other machines) embed them, loading no index (as
        // `quiver worker` runs).
        let folders = try (0..<2).map { _ in try TemporaryDirectory() }
        let workers = try folders.map { try engineOnSameStore(as: directory, folder: $0, models: [model], indexesOnDemand: true) }
        let (embedded, failures) = runWorkers(workers) { handle in
            let pass = try handle.embedPending(batchSize: 8)
            return (pass.embedded, pass.remaining == 0)
        }
        #expect(failures.isEmpty, "\(failures)")
        for worker in workers {
            let handle = try worker.collection("c")
            #expect(!handle.follower.isStarted && handle.follower.loaded == nil)
        }
        // Asked a query, a worker's engine loads its index then, with every vector the workers stored.
        let onDemand = try workers[0].query(collection: "c", QueryRequest(text: texts[3], k: 1, mode: .vector))
        #expect(onDemand.results.first?.id == "d3" && onDemand.index.indexedSeq == onDemand.index.storeSeq)
        if TestStore.isPostgres {
            #expect(embedded == texts.count)
        } else {
            #expect(embedded >= texts.count)
        }
        #expect(try writer.collection("c").pendingCount() == 0)
        let current = try #require(try writer.collectionInfo("c").generations.first { $0.state == "current" })
        #expect(current.pending == nil)
        // The replica follows the vectors like writes: every document found by meaning, with the
        // vector the model gives its text.
        try replica.collection("c").catchUp()
        for index in [0, 7, 119] {
            let answer = try replica.query(collection: "c", QueryRequest(text: texts[index], k: 1, mode: .vector))
            #expect(answer.results.first?.id == "d\(index)")
            #expect(answer.index.indexedSeq == answer.index.storeSeq)
        }
        #expect(try replica.document(collection: "c", id: "d7", includeVector: true).vector == (try embedder.embed(texts[7])))
        // A changed document keeps its old vector until a worker embeds the new text.
        let changed = try writer.upsert(
            collection: "c", documents: [DocumentInput(id: "d7", text: TinyModel.text(999))], deferEmbedding: true)
        #expect(changed.updated == 1 && changed.pending == 1)
        #expect(try writer.document(collection: "c", id: "d7", includeVector: true).vector == (try embedder.embed(texts[7])))
        let pass = try writer.collection("c").embedPending()
        #expect(pass.pending && pass.embedded == 1 && pass.remaining == 0)
        #expect(try writer.document(collection: "c", id: "d7", includeVector: true).vector == (try embedder.embed(TinyModel.text(999))))
        // Sent again, now embedded, it is unchanged (the stored vector's content hash matches).
        #expect(try writer.upsert(collection: "c", documents: [DocumentInput(id: "d7", text: TinyModel.text(999))]).unchanged == 1)
        // During a model change deferred writes wait for the building generation's fill.
        let other = try TinyModel.make(seed: 22, in: directory.url)
        let changing = try makeEngine(directory, models: [other, model])
        _ = try #require(try changing.beginModelChange(collection: "c"))
        _ = try changing.upsert(collection: "c", documents: [DocumentInput(id: "new", text: "fresh words")], deferEmbedding: true)
        #expect(try changing.collection("c").embedPending().generation == nil)
    }

    @Test("a model change under concurrent queries never mixes two models' vectors")
    func switchUnderQueries() throws {
        let directory = try TemporaryDirectory()
        let (old, new, texts) = try collectionOnOldModel(directory, documents: 400)
        #expect(old.fingerprint != new.fingerprint)
        // The engine knows both models; the new one is the default, the collection still uses the old one.
        let engine = try makeEngine(directory, models: [new, old])
        let byID = Dictionary(uniqueKeysWithValues: texts.enumerated().map { ("d\($0.offset)", $0.element) })
        let oldEmbedder = try #require(old.embedder)
        let newEmbedder = try #require(new.embedder)
        // d0 is rewritten during the change: generation 1 keeps its old vector.
        let reader = ModelCheckingReader(
            engine: engine, embedders: [old.fingerprint: oldEmbedder, new.fingerprint: newEmbedder], until: 2
        ) { id, generation in id == "d0" && generation == 2 ? TinyModel.text(999) : byID[id] }
        reader.waitForAnswers(20)
        let begun = try #require(try engine.beginModelChange(collection: "c"))
        #expect(begun.generation == 2 && begun.pending == 400)
        // Writes during the change go to the new generation; the old one keeps serving.
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d0", text: TinyModel.text(999))])
        #expect(try engine.query(collection: "c", QueryRequest(text: "alpha", k: 1)).index.generation == 1)
        let switched = try engine.completeModelChange(collection: "c", batchSize: 64)
        #expect(switched == 2)
        let generations = try reader.stop()
        #expect(generations.first == 1 && generations.last == 2, "saw \(Set(generations)) in \(generations.count) queries")
        #expect(generations == generations.sorted(), "generations went back")

        let info = try engine.collectionInfo("c")
        #expect(info.model.fingerprint == new.fingerprint)
        #expect(info.generations.map(\.state) == ["previous", "current"])
        #expect(FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("collections/c/generations/2/index.hnsw").path))
        let current = try String(contentsOf: directory.url.appendingPathComponent("collections/c/CURRENT"), encoding: .utf8)
        #expect(current == "2\n")
        let d0 = try engine.document(collection: "c", id: "d0", includeVector: true)
        #expect(d0.text == TinyModel.text(999))
        #expect(try #require(d0.vector) == (try newEmbedder.embed(TinyModel.text(999))))

        // An engine without the new model cannot embed queries for the collection any more.
        let oldOnly = try makeEngine(directory, models: [old])
        #expect(throws: SearchEngineError.modelUnavailable(collection: "c", fingerprint: new.fingerprint)) {
            try oldOnly.query(collection: "c", QueryRequest(text: "alpha", k: 1))
        }
        #expect(try oldOnly.query(collection: "c", QueryRequest(id: "d1", k: 1)).results.count == 1)
    }

    @Test("a write embedded for a generation that stops serving meanwhile is re-targeted and re-embedded, never lost")
    func writeRacesModelChange() throws {
        let directory = try TemporaryDirectory()
        let (old, new, _) = try collectionOnOldModel(directory, documents: 50)
        let engine = try makeEngine(directory, models: [new, old])
        let newEmbedder = try #require(new.embedder)
        // Between embedding (for generation 1, the old model) and committing, a whole model change
        // runs: generation 2 (the new model) becomes current and generation 1 stops serving.
        let targets = Mutex<[Int64]>([])
        engine.hooks.beforeWriteCommit.withLock {
            $0 = { generation in
                let first = targets.withLock { list in
                    list.append(generation)
                    return list.count == 1
                }
                guard first else { return }
                do {
                    _ = try engine.beginModelChange(collection: "c")
                    _ = try engine.completeModelChange(collection: "c")
                } catch {
                    Issue.record("model change failed: \(error)")
                }
            }
        }
        let text = TinyModel.text(4242)
        let result = try engine.upsert(
            collection: "c", documents: [DocumentInput(id: "new", text: text), DocumentInput(id: "d1", text: TinyModel.text(777))])
        engine.hooks.beforeWriteCommit.withLock { $0 = nil }
        #expect(targets.withLock { $0 } == [1, 2], "the write was not re-targeted: \(targets.withLock { $0 })")
        #expect(result.generation == 2 && result.inserted == 1 && result.updated == 1)
        // Both documents are in the serving generation with the new model's vectors, and findable.
        let info = try engine.collectionInfo("c")
        #expect(info.index.generation == 2 && info.index.indexedSeq >= result.seq)
        for (id, text) in [("new", text), ("d1", TinyModel.text(777))] {
            let stored = try engine.document(collection: "c", id: id, includeVector: true)
            #expect(try #require(stored.vector) == (try newEmbedder.embed(text)), "\(id) kept a vector of the old model")
            let top = try engine.query(collection: "c", QueryRequest(text: text, k: 1))
            #expect(top.results.first?.id == id)
        }
        let exported = try engine.exportVectors(collection: "c", cursor: nil, limit: 1000)
        #expect(exported.vectors.count == 51 && exported.generation == 2)
    }
}
