import DocumentStore
import Foundation
import Synchronization
import Testing

@testable import SearchEngine

@Suite("Candidate generations: build beside, evaluate, promote or discard")
struct CandidateTests {
    /// Collection "c" of `count` texts embedded with `old`.
    func collection(_ directory: TemporaryDirectory, old: EmbeddingModel, count: Int) throws -> [String] {
        let texts = (0..<count).map { TinyModel.text($0 * 7 + 3) }
        let engine = try makeEngine(directory, models: [old])
        try engine.createCollection(CollectionOptions(name: "c"))
        _ = try engine.upsert(collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        return texts
    }

    @Test("candidate build leaves the current generation serving and taking writes; eval compares both; promote under queries never mixes")
    func buildEvaluatePromote() async throws {
        let directory = try TemporaryDirectory("quiver-candidate")
        let old = try TinyModel.make(seed: 11, in: directory.url)
        let new = try TinyModel.make(seed: 22, in: directory.url)
        var texts = try collection(directory, old: old, count: 200)
        let engine = try makeEngine(directory, models: [new, old])
        let handle = try engine.collection("c")
        let begun = try #require(try handle.beginModelChange(candidate: true))
        #expect(begun.generation == 2 && begun.candidate == true && begun.pending == 200)
        // A write while the candidate exists goes to the current generation and is searchable there.
        texts[0] = TinyModel.text(999)
        let written = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d0", text: texts[0])])
        #expect(written.generation == 1)
        #expect(try handle.query(QueryRequest(text: texts[0], k: 1, mode: .vector)).results.first?.id == "d0")
        // Filled, not switched.
        #expect(try handle.completeModelChange(batchSize: 64) == nil)
        var info = try handle.info()
        #expect(info.generations.map(\.state) == ["current", "building"])
        #expect(info.generations.last?.candidate == true && info.generations.last?.pending == 0)
        #expect(info.model.fingerprint == old.fingerprint)
        #expect(try handle.query(QueryRequest(text: texts[5], k: 1, mode: .vector)).index.generation == 1)
        // A document changed after the fill is stale in the candidate until an evaluation or the
        // promote embeds it.
        texts[1] = TinyModel.text(1001)
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d1", text: texts[1])])
        #expect(try handle.candidate()?.pending == 1)
        // A candidate of the model the collection already uses is refused.
        let sameModel = try makeEngine(directory, models: [old])
        #expect(throws: SearchEngineError.self) { try sameModel.collection("c").beginModelChange(candidate: true) }

        // Evaluation: each query is a document's own text, on both generations.
        let judged = (0..<40).map { JudgedQuery(text: texts[$0 * 5], judgments: ["d\($0 * 5)": 1]) }
        let report = try await handle.evaluate(
            judged,
            configurations: [EvaluationConfiguration(mode: .vector), EvaluationConfiguration(mode: .vector, generation: .candidate)],
            embedder: ModelQueryEmbedder(engine: engine))
        #expect(report.configurations.map(\.generation) == ["current", "candidate"])
        #expect(report.configurations.map(\.label) == ["vector", "vector @candidate"])
        for result in report.configurations { #expect((result.metrics["precision@1"] ?? 0) >= 0.9, "\(result.label) \(result.metrics)") }
        #expect(report.comparisons.count == 1)
        #expect(try handle.candidate()?.pending == 0)
        // The candidate's hits are scored with the candidate's model.
        let newEmbedder = try #require(new.embedder)
        let oldEmbedder = try #require(old.embedder)
        let answer = try await handle.query(
            QueryRequest(text: texts[10], k: 3, mode: .vector, generation: .candidate), embedder: ModelQueryEmbedder(engine: engine))
        #expect(answer.index.generation == 2 && answer.model.fingerprint == new.fingerprint)
        let q = try newEmbedder.embed(texts[10])
        for hit in answer.results {
            let index = try #require(Int(hit.id.dropFirst()))
            #expect(abs(hit.score - cosine(q, try newEmbedder.embed(texts[index]))) < 1e-4)
        }

        // Promote while a reader queries: every answer is one model's, generations never go back.
        let snapshot = texts
        let reader = ModelCheckingReader(
            engine: engine, embedders: [old.fingerprint: oldEmbedder, new.fingerprint: newEmbedder], until: 2
        ) { id, _ in Int(id.dropFirst()).map { snapshot[$0] } }
        reader.waitForAnswers(20)
        #expect(try handle.promoteCandidate(batchSize: 64) == 2)
        let generations = try reader.stop()
        #expect(generations.first == 1 && generations.last == 2, "saw \(Set(generations))")
        #expect(generations == generations.sorted(), "generations went back")
        info = try handle.info()
        #expect(info.model.fingerprint == new.fingerprint)
        #expect(info.generations.map(\.state) == ["previous", "current"])
        #expect(info.generations.allSatisfy { $0.candidate == nil })
        #expect(try handle.candidate() == nil)
        let d1 = try engine.document(collection: "c", id: "d1", includeVector: true)
        #expect(try #require(d1.vector) == (try newEmbedder.embed(texts[1])))
        #expect(throws: SearchEngineError.self) { try handle.promoteCandidate() }
    }

    @Test("a query naming the candidate is answered from its vectors, by its model; batches mix generations; no candidate is a conflict")
    func queriesNameTheCandidate() async throws {
        let directory = try TemporaryDirectory("quiver-candidate-query")
        let old = try TinyModel.make(seed: 11, in: directory.url)
        let new = try TinyModel.make(seed: 22, in: directory.url)
        var texts = try collection(directory, old: old, count: 120)
        let engine = try makeEngine(directory, models: [new, old])
        let handle = try engine.collection("c")
        let embedder = ModelQueryEmbedder(engine: engine)
        // No candidate yet: a clear conflict, sync and async.
        let none = SearchEngineError.conflict("collection c has no candidate generation")
        #expect(throws: none) { try handle.query(QueryRequest(text: texts[0], k: 1, generation: .candidate)) }
        await #expect(throws: none) {
            try await handle.query(QueryRequest(text: texts[0], k: 1, generation: .candidate), embedder: embedder)
        }
        _ = try handle.beginModelChange(candidate: true)
        #expect(try handle.completeModelChange(batchSize: 64) == nil)
        let newEmbedder = try #require(new.embedder)
        // Candidate answers: generation 2, the candidate's model, scores from its vectors.
        for probe in [4, 33, 97] {
            let answer = try handle.query(QueryRequest(text: texts[probe], k: 3, mode: .vector, generation: .candidate))
            #expect(answer.index.generation == 2 && answer.model.fingerprint == new.fingerprint)
            #expect(answer.results.first?.id == "d\(probe)")
            let q = try newEmbedder.embed(texts[probe])
            for hit in answer.results {
                let index = try #require(Int(hit.id.dropFirst()))
                #expect(abs(hit.score - cosine(q, try newEmbedder.embed(texts[index]))) < 1e-4)
            }
            // The current generation still answers by default, with the old model.
            let current = try handle.query(QueryRequest(text: texts[probe], k: 3, mode: .vector))
            #expect(current.index.generation == 1 && current.model.fingerprint == old.fingerprint)
        }
        // A batch mixing both generations: answers in request order, each from its generation;
        // hybrid works on the candidate too (the keyword index is shared).
        let batch = try await handle.query(
            batch: [
                QueryRequest(text: texts[5], k: 2, mode: .vector, generation: .candidate),
                QueryRequest(text: texts[6], k: 2, mode: .vector),
                QueryRequest(text: texts[7], k: 2, mode: .hybrid, generation: .candidate),
                QueryRequest(text: texts[8], k: 2, mode: .vector, generation: .current),
            ], embedder: embedder)
        #expect(batch.map(\.index.generation) == [2, 1, 2, 1])
        #expect(batch.map { $0.results.first?.id } == ["d5", "d6", "d7", "d8"])
        // An error names the query's place in the whole batch, not in its generation's part.
        do {
            _ = try await handle.query(
                batch: [
                    QueryRequest(text: texts[5], k: 2, mode: .vector),
                    QueryRequest(text: texts[6], k: 2, mode: .vector),
                    QueryRequest(vector: [1, 2, 3], k: 2, generation: .candidate),
                ], embedder: embedder)
            Issue.record("a 3-dimension vector was accepted")
        } catch let error as SearchEngineError {
            #expect("\(error)".contains("queries[2]"), "\(error)")
        }
        // A snapshot of one generation refuses a query naming the other.
        let snapshot = try handle.snapshot(generation: .candidate)
        #expect(throws: SearchEngineError.self) { try snapshot.query(QueryRequest(text: texts[1], k: 1)) }
        #expect(try snapshot.query(QueryRequest(text: texts[1], k: 1, generation: .candidate)).index.generation == 2)

        // Writes go to the current generation only: a new document is missing from the
        // candidate's answers (its index catches up with the change feed) until an evaluation
        // embeds it into the candidate.
        texts.append(TinyModel.text(5151))
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d120", text: texts[120])])
        #expect(try handle.query(QueryRequest(text: texts[120], k: 1, mode: .vector)).results.first?.id == "d120")
        let before = try handle.query(QueryRequest(text: texts[120], k: 5, mode: .vector, generation: .candidate))
        #expect(!before.results.contains { $0.id == "d120" })
        // Caught up through the write's change (the held index covers it), five hits all the same.
        #expect(before.index.pending == 0 && before.results.count == 5 && before.index.vectors == 120)
        #expect(try handle.candidate()?.pending == 1)
        _ = try await handle.evaluate(
            [JudgedQuery(text: texts[120], judgments: ["d120": 1])],
            configurations: [EvaluationConfiguration(mode: .vector, generation: .candidate)], embedder: embedder)
        let after = try handle.query(QueryRequest(text: texts[120], k: 1, mode: .vector, generation: .candidate))
        #expect(after.results.first?.id == "d120")
        // A deletion reaches the candidate's held index through the change feed.
        _ = try engine.delete(collection: "c", ids: ["d33"])
        let deleted = try handle.query(QueryRequest(text: texts[33], k: 5, mode: .vector, generation: .candidate))
        #expect(!deleted.results.contains { $0.id == "d33" })
        // Out of the held index itself (not only skipped when the hits are read), and still k hits.
        #expect(deleted.index.pending == 0 && deleted.results.count == 5 && deleted.index.vectors == 120, "\(deleted.index)")

        // Promoted: the candidate is the current generation; naming the candidate is a conflict.
        #expect(try handle.promoteCandidate(batchSize: 64) == 2)
        #expect(try handle.query(QueryRequest(text: texts[4], k: 1, mode: .vector)).index.generation == 2)
        #expect(throws: none) { try handle.query(QueryRequest(text: texts[4], k: 1, generation: .candidate)) }
    }

    @Test("a collection of your own vectors has no candidate: nothing to embed into another model's generation")
    func externalCollectionsRefuseCandidates() throws {
        let directory = try TemporaryDirectory("quiver-candidate-external")
        let model = try TinyModel.make(seed: 11, in: directory.url)
        let engine = try makeEngine(directory, models: [model])
        try engine.createCollection(CollectionOptions(name: "own", model: CollectionOptions.externalModel, dimensions: model.dimensions))
        _ = try engine.upsert(
            collection: "own", documents: [DocumentInput(id: "a", vector: [Float](repeating: 0.1, count: model.dimensions))])
        let handle = try engine.collection("own")
        for candidate in [true, false] {
            #expect(throws: SearchEngineError.self) { try handle.beginModelChange(candidate: candidate) }
        }
        #expect(try handle.info().generations.count == 1)
    }

    @Test(
        "discard drops the candidate and its vectors; documents written only to it (as a model change) are embedded into the current generation first"
    )
    func discard() throws {
        let directory = try TemporaryDirectory("quiver-candidate-discard")
        let old = try TinyModel.make(seed: 11, in: directory.url)
        let new = try TinyModel.make(seed: 22, in: directory.url)
        let texts = try collection(directory, old: old, count: 60)
        do {
            // A plain model change takes a write (it goes to the building generation only), then a
            // --candidate run turns that generation into a candidate.
            let engine = try makeEngine(directory, models: [new])
            let handle = try engine.collection("c")
            _ = try handle.beginModelChange()
            let written = try engine.upsert(collection: "c", documents: [DocumentInput(id: "only-candidate", text: TinyModel.text(4242))])
            #expect(written.generation == 2)
            #expect(try handle.beginModelChange(candidate: true)?.candidate == true)
            #expect(try handle.completeModelChange() == nil)
            // Candidates take no writes: this one goes to the current generation (whose model this
            // engine lacks), so it is refused rather than hidden in the candidate.
            #expect(throws: SearchEngineError.modelUnavailable(collection: "c", fingerprint: old.fingerprint)) {
                try engine.upsert(collection: "c", documents: [DocumentInput(id: "refused", text: TinyModel.text(77))])
            }
            #expect(try handle.candidate()?.pending == 0)
            // Discarding needs the current model for that document.
            #expect(throws: SearchEngineError.modelUnavailable(collection: "c", fingerprint: old.fingerprint)) {
                try handle.discardCandidate()
            }
            #expect(try handle.candidate() != nil)
        }
        let engine = try makeEngine(directory, models: [old])
        let handle = try engine.collection("c")
        let folder = directory.url.appendingPathComponent("collections/c/generations/2").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(try handle.discardCandidate() == 2)
        #expect(!FileManager.default.fileExists(atPath: folder))
        let info = try handle.info()
        #expect(info.generations.map(\.generation) == [1] && info.generations.map(\.state) == ["current"])
        #expect(info.index.pending == 0 && info.index.vectors == 61)
        // The document written only to the candidate is searchable in the current generation.
        let found = try handle.query(QueryRequest(text: TinyModel.text(4242), k: 1, mode: .vector))
        #expect(found.results.first?.id == "only-candidate")
        #expect(try handle.query(QueryRequest(text: texts[3], k: 1, mode: .vector)).results.first?.id == "d3")
        #expect(throws: SearchEngineError.self) { try handle.discardCandidate() }
    }

    @Test("quiver index --candidate, eval --generation current,candidate, promote; and discard")
    func commandLine() throws {
        let directory = try TemporaryDirectory("quiver-candidate-cli")
        _ = try TinyModel.make(seed: 11, in: directory.url)
        _ = try TinyModel.make(seed: 22, in: directory.url)
        let old = directory.url.appendingPathComponent("tiny-11").path
        let new = directory.url.appendingPathComponent("tiny-22").path
        let data = directory.url.appendingPathComponent("data").path
        let file = directory.url.appendingPathComponent("in.jsonl")
        let texts = (0..<50).map { TinyModel.text($0 * 7 + 3) }
        try texts.enumerated().map { #"{"id": "d\#($0.offset)", "text": "\#($0.element)"}"# }.joined(separator: "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let queries = directory.url.appendingPathComponent("q.jsonl")
        try (0..<10).map { #"{"text": "\#(texts[$0 * 5])", "relevant": ["d\#($0 * 5)"]}"# }.joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        func quiver(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess(try quiverExecutable(), arguments + ["--data", data])
        }
        var result = try quiver(["index", file.path, "-c", "c", "--model", old])
        #expect(result.status == 0, "\(result.stderr)")
        result = try quiver(["index", file.path, "-c", "c", "--model", new, "--candidate"])
        #expect(result.status != 0 && result.stderr.contains("--candidate builds from the stored documents"), "\(result.stderr)")
        result = try quiver(["index", "-c", "c", "--model", new, "--candidate"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("candidate generation 2"), "\(result.stdout)")
        result = try quiver(["info", "--json"])
        #expect(result.stdout.contains(#""candidate":true"#), "\(result.stdout)")
        result = try quiver(["info"])
        #expect(result.stdout.contains("generation 2 (candidate)"), "\(result.stdout)")
        result = try quiver([
            "eval", "-c", "c", "--queries", queries.path, "--model", old, "--candidate-model", new, "--generation", "current,candidate",
            "--mode", "vector,keyword", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let configurations = try #require(report["configurations"] as? [[String: Any]])
        #expect(configurations.map { $0["generation"] as? String } == ["current", "current", "candidate", "candidate"])
        #expect(configurations.map { $0["label"] as? String } == ["vector", "keyword", "vector @candidate", "keyword @candidate"])
        // Without the candidate's model, its text queries cannot be embedded: a clear error.
        result = try quiver(["eval", "-c", "c", "--queries", queries.path, "--model", old, "--generation", "candidate"])
        #expect(result.status != 0 && result.stderr.contains("not loaded"), "\(result.stderr)")
        // A query naming the candidate, embedded with the candidate's model.
        result = try quiver([
            "query", texts[7], "-c", "c", "--model", old, "--candidate-model", new, "--generation", "candidate", "--json", "-k", "1",
            "--mode", "vector",
        ])
        #expect(
            result.status == 0 && result.stdout.contains(#""d7""#) && result.stdout.contains(#""generation":2"#),
            "\(result.stdout) \(result.stderr)")
        result = try quiver(["query", texts[7], "-c", "c", "--model", old, "--generation", "candidate", "--mode", "vector"])
        #expect(result.status != 0 && result.stderr.contains("not loaded"), "\(result.stderr)")
        result = try quiver(["promote", "-c", "c", "--model", new])
        #expect(result.status == 0 && result.stdout.contains("generation 2 is current"), "\(result.stdout) \(result.stderr)")
        result = try quiver(["query", texts[7], "-c", "c", "--model", new, "--json", "-k", "1", "--mode", "vector"])
        #expect(result.stdout.contains(#""d7""#), "\(result.stdout) \(result.stderr)")
        // Another candidate (back to the old model), discarded.
        result = try quiver(["index", "-c", "c", "--model", old, "--candidate"])
        #expect(result.status == 0, "\(result.stderr)")
        result = try quiver(["discard", "-c", "c", "--model", new])
        #expect(result.status == 0 && result.stdout.contains("discarded"), "\(result.stdout) \(result.stderr)")
        result = try quiver(["discard", "-c", "c", "--model", new])
        #expect(result.status != 0 && result.stderr.contains("no candidate"), "\(result.stderr)")
        // quiver settings: shows, sets and resets the collection's changeable settings.
        result = try quiver(["settings", "-c", "c"])
        #expect(result.status == 0 && result.stdout.contains(#""verdict_threshold":0.5"#), "\(result.stdout) \(result.stderr)")
        result = try quiver(["settings", "-c", "c", "--set", "verdict_threshold=0.25"])
        #expect(result.status == 0 && result.stdout.contains(#""verdict_threshold":0.25"#), "\(result.stdout) \(result.stderr)")
        result = try quiver(["settings", "-c", "c", "--set", "verdict_threshold=high"])
        #expect(result.status != 0 && result.stderr.contains("not JSON"), "\(result.stderr)")
        result = try quiver(["settings", "-c", "c", "--set", "verdict_treshold=0.3"])
        #expect(result.status != 0 && result.stderr.contains("unknown setting"), "\(result.stderr)")
        result = try quiver(["settings", "-c", "c"])
        #expect(result.stdout.contains(#""verdict_threshold":0.25"#), "\(result.stdout) \(result.stderr)")
        result = try quiver(["settings", "-c", "c", "--reset", "verdict_threshold"])
        #expect(result.status == 0 && result.stdout.contains(#""verdict_threshold":0.5"#), "\(result.stdout) \(result.stderr)")
    }
}
