import Embedder
import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("quiver index: bad lines, --strict, --prune")
struct IndexCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(try quiverExecutable(), arguments)
    }

    @Test("bad lines are reported with their number and skipped; --strict stops; --prune deletes the absent")
    func badLinesStrictPrune() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        _ = try TinyModel.make(seed: 41, in: directory.url)
        let model = directory.url.appendingPathComponent("tiny-41").path
        let data = directory.url.appendingPathComponent("data").path
        let v = "[1,2,3,4,5,6,7,8]"
        let lines = [
            #"{"id":"a","text":"alpha beta"}"#,
            #"{"id":"b","text":"gamma""#,  // 2: invalid JSON
            #"{"text":"no id"}"#,  // 3: missing id
            #"{"id":"","text":"empty id"}"#,  // 4: empty id
            #"{"id":"c","vector":[1,2]}"#,  // 5: wrong length
            #"{"id":"d","vector":\#(v),"updated_at":"yesterday"}"#,  // 6: bad time
            #"{"id":"e","vector":\#(v),"metadata":{"k":1}}"#,
            #"{"id":"a\u0000x","text":"overwrites a"}"#,  // 8: NUL in the id
            #"{"id":"f","text":"cut\u0000here"}"#,  // 9: NUL in the text
        ]
        let file = directory.url.appendingPathComponent("in.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let first = try run(["index", file.path, "--collection", "c", "--data", data, "--model", model])
        #expect(first.status == 0, "\(first.stderr)")
        for (line, reason) in [
            (2, "invalid JSON"), (3, "missing \"id\""), (4, "empty id"), (5, "dimensions"), (6, "updated_at"),
            (8, "id contains a NUL"), (9, "text contains a NUL"),
        ] {
            #expect(first.stderr.contains("in.jsonl:\(line): ") && first.stderr.contains(reason), "line \(line): \(first.stderr)")
        }
        #expect(first.stdout.contains("inserted 2, updated 0, unchanged 0, deleted 0, failed 7"), "\(first.stdout)")

        let strict = try run(["index", file.path, "--collection", "c", "--data", data, "--model", model, "--strict"])
        #expect(strict.status != 0 && strict.stderr.contains("in.jsonl:2:") && strict.stderr.contains("--strict"))

        let smaller = directory.url.appendingPathComponent("small.jsonl")
        try (lines[0] + "\n").write(to: smaller, atomically: true, encoding: .utf8)
        let pruned = try run(["index", smaller.path, "--collection", "c", "--data", data, "--model", model, "--prune"])
        #expect(pruned.stdout.contains("unchanged 1, deleted 1, failed 0"), "\(pruned.stdout) \(pruned.stderr)")

        let info = try run(["info", "--data", data])
        #expect(info.stdout.contains("c: 1 documents (1 tombstones)"), "\(info.stdout)")
    }

    @Test("--defer-embedding stores documents for workers; quiver worker --once embeds them; --wait returns once they are embedded")
    func deferredEmbedding() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let tiny = try TinyModel.make(seed: 61, in: directory.url)
        let model = directory.url.appendingPathComponent("tiny-61").path
        let data = directory.url.appendingPathComponent("data").path
        let file = directory.url.appendingPathComponent("in.jsonl")
        let texts = (0..<40).map { TinyModel.text($0 * 13 + 2) }
        func write(_ texts: [String]) throws {
            try texts.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# }.joined(separator: "\n")
                .write(to: file, atomically: true, encoding: .utf8)
        }
        func pending() throws -> Int { try makeEngine(URL(fileURLWithPath: data), models: [tiny]).collection("c").pendingCount() }
        try write(texts)
        let stored = try run(["index", file.path, "-c", "c", "--data", data, "--model", model, "--defer-embedding"])
        #expect(stored.status == 0, "\(stored.stderr)")
        #expect(stored.stdout.contains("inserted 40") && stored.stdout.contains("embedded 0, deferred 40"), "\(stored.stdout)")
        #expect(try pending() == 40)
        // Documents waiting for a worker are not a problem of the store: check says so and passes.
        let waiting = try run(["check", "--data", data])
        #expect(waiting.status == 0 && waiting.stdout.contains("c: ok"), "\(waiting.stdout) \(waiting.stderr)")
        #expect(waiting.stdout.contains("40 live documents wait for an up-to-date vector"), "\(waiting.stdout)")
        // A store timeout out of range is refused before any work; one in range is taken.
        let refused = try run(["worker", "-c", "c", "--data", data, "--model", model, "--once", "--store-timeout", "0"])
        #expect(refused.status != 0 && refused.stderr.contains("--store-timeout must be between 0.1 and 3600"), "\(refused.stderr)")
        #expect(try pending() == 40)
        let worker = try run([
            "worker", "-c", "c", "--data", data, "--model", model, "--once", "--batch-size", "16", "--store-timeout", "5",
        ])
        #expect(worker.status == 0 && worker.stderr.contains("worker: embedded 40 documents"), "\(worker.stderr)")
        #expect(try pending() == 0)
        let embedded = try run(["check", "--data", data])
        #expect(embedded.status == 0 && !embedded.stdout.contains("wait for"), "\(embedded.stdout) \(embedded.stderr)")
        // Five documents change; --wait embeds them before it returns (no worker runs).
        var changed = texts
        for i in 0..<5 { changed[i] = TinyModel.text(7000 + i) }
        try write(changed)
        let waited = try run(["index", file.path, "-c", "c", "--data", data, "--model", model, "--defer-embedding", "--wait"])
        #expect(waited.status == 0, "\(waited.stderr)")
        #expect(waited.stdout.contains("updated 5, unchanged 35") && waited.stdout.contains("deferred 5"), "\(waited.stdout)")
        #expect(waited.stderr.contains("waiting for 5 pending documents"), "\(waited.stderr)")
        #expect(try pending() == 0)
        let engine = try makeEngine(URL(fileURLWithPath: data), models: [tiny])
        let embedder = try #require(tiny.embedder)
        #expect(try engine.document(collection: "c", id: "d3", includeVector: true).vector == (try embedder.embed(changed[3])))
        #expect(try engine.document(collection: "c", id: "d30", includeVector: true).vector == (try embedder.embed(texts[30])))
    }

    @Test(
        "check on a PostgreSQL store: sound, then a broken invariant is a problem (exit 1)",
        .enabled(if: TestStore.isPostgres, "edits a PostgreSQL database by hand"))
    func checkPostgres() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 5)
        let written = try engine.upsert(collection: "c", documents: (0..<10).map { DocumentInput(id: "v\($0)", vector: random.vector(8)) })
        let sound = try run(["check", "--data", directory.url.path])
        #expect(sound.status == 0 && sound.stdout.contains("c: ok, seq \(written.seq)"), "\(sound.stdout) \(sound.stderr)")
        let url = try #require(try TestStore.url(for: directory.url))
        let database = try #require(url.split(separator: "/").last.map(String.init))
        _ = try PostgresCluster.shared.get().psql("UPDATE quiver_collections SET seq = 3 WHERE name = 'c'", database: database)
        let broken = try run(["check", "--data", directory.url.path, "--json"])
        #expect(broken.status == 1, "\(broken.stdout) \(broken.stderr)")
        let report = try JSONDecoder().decode(CheckReport.self, from: Data(broken.stdout.utf8))
        let collection = try #require(report.collections.first)
        #expect(!collection.ok && collection.seq == 3)
        #expect(collection.storeProblems.contains { $0.contains("seq \(written.seq), beyond the collection's seq 3") }, "\(collection)")
    }

    @Test("a run with another model re-embeds everything into a new generation and switches")
    func modelChange() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let first = try TinyModel.make(seed: 51, in: directory.url)
        let second = try TinyModel.make(seed: 52, in: directory.url)
        let data = directory.url.appendingPathComponent("data").path
        let file = directory.url.appendingPathComponent("in.jsonl")
        let texts = (0..<300).map { TinyModel.text($0 * 11 + 1) }
        try texts.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# }.joined(separator: "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let one = try run(["index", file.path, "-c", "c", "--data", data, "--model", directory.url.appendingPathComponent("tiny-51").path])
        #expect(one.stdout.contains("inserted 300"), "\(one.stderr)")
        // Ten documents change in the same run that switches models.
        let changed = texts.enumerated().map { i, text in #"{"id":"d\#(i)","text":"\#(i < 10 ? TinyModel.text(5000 + i) : text)"}"# }
        try changed.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let two = try run(["index", file.path, "-c", "c", "--data", data, "--model", directory.url.appendingPathComponent("tiny-52").path])
        #expect(two.stderr.contains("model changed") && two.stderr.contains("switched c to generation 2"), "\(two.stderr)")
        #expect(two.stdout.contains("generation 2"), "\(two.stdout)")
        let engine = try makeEngine(URL(fileURLWithPath: data), models: [second, first])
        let info = try engine.collectionInfo("c")
        #expect(info.model.fingerprint == second.fingerprint && info.documents == 300)
        let embedder = try #require(second.embedder)
        for i in [0, 5, 150, 299] {
            let document = try engine.document(collection: "c", id: "d\(i)", includeVector: true)
            let text = i < 10 ? TinyModel.text(5000 + i) : texts[i]
            let expected = try embedder.embed(text)
            let old = try #require(first.embedder).embed(text)
            let stored = try #require(document.vector)
            // Batched and single embeddings differ in the last bits (GEMM blocking), not more.
            #expect(document.text == text && zip(stored, expected).allSatisfy { abs($0 - $1) < 1e-4 })
            #expect(zip(stored, old).contains { abs($0 - $1) > 1e-2 }, "d\(i) still has the old model's vector")
        }
    }

    @Test("--precision bf16 is a model change: a new generation of bf16 vectors under model@bf16, and back to fp32 likewise")
    func precisionChange() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let fp32 = try TinyModel.make(seed: 61, in: directory.url)
        let folder = directory.url.appendingPathComponent("tiny-61")
        let bf16 = try EmbeddingModel.load(folder: folder, options: .init(precision: .bf16))
        #expect(bf16.id == "tiny-61@bf16" && fp32.id == "tiny-61")
        #expect(bf16.fingerprint != fp32.fingerprint)
        #expect(try EmbeddingModel.fingerprint(folder: folder, precision: .bf16) == bf16.fingerprint)
        // int8 likewise, and its fingerprint names the calibrated bf16 layers: another calibration is another model.
        let int8 = try EmbeddingModel.load(folder: folder, options: .init(precision: .int8))
        #expect(int8.id == "tiny-61@int8" && int8.fingerprint != bf16.fingerprint && int8.fingerprint != fp32.fingerprint)
        #expect(try EmbeddingModel.fingerprint(folder: folder, precision: .int8) == int8.fingerprint)
        #expect(Embedder.recipe(.int8, int8InBF16: []) != Embedder.recipe(.int8) && Embedder.recipe(.bf16) == "bf16")
        let data = directory.url.appendingPathComponent("data").path
        let file = directory.url.appendingPathComponent("in.jsonl")
        let texts = (0..<120).map { TinyModel.text($0 * 7 + 3) }
        try texts.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# }.joined(separator: "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let one = try run(["index", file.path, "-c", "c", "--data", data, "--model", folder.path])
        #expect(one.stdout.contains("inserted 120"), "\(one.stderr)")
        let two = try run(["index", file.path, "-c", "c", "--data", data, "--model", folder.path, "--precision", "bf16"])
        #expect(two.stderr.contains("model changed") && two.stderr.contains("switched c to generation 2"), "\(two.stderr)")
        do {
            let engine = try makeEngine(URL(fileURLWithPath: data), models: [bf16, fp32])
            let info = try engine.collectionInfo("c")
            #expect(info.model.id == "tiny-61@bf16" && info.model.fingerprint == bf16.fingerprint && info.documents == 120)
            let reduced = try #require(bf16.embedder)
            let exact = try #require(fp32.embedder)
            for i in [0, 60, 119] {
                let stored = try #require(try engine.document(collection: "c", id: "d\(i)", includeVector: true).vector)
                let expected = try reduced.embed(texts[i])
                #expect(zip(stored, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "d\(i) is not the bf16 vector")
                #expect(try exact.embed(texts[i]) != stored, "d\(i) still has the fp32 vector")
            }
            let hits = try engine.query(collection: "c", QueryRequest(text: texts[60], k: 1, mode: .vector))
            #expect(hits.results.first?.id == "d60" && hits.model.id == "tiny-61@bf16")
        }
        let info = try run(["info", "--data", data])
        #expect(info.stdout.contains("model tiny-61@bf16"), "\(info.stdout)")
        let three = try run(["index", file.path, "-c", "c", "--data", data, "--model", folder.path])
        #expect(three.stderr.contains("switched c to generation 3"), "\(three.stderr)")
        #expect(try run(["info", "--data", data]).stdout.contains("model tiny-61 ("))
        // A bf16 candidate of the same folder, compared with the fp32 current one: the folder given
        // as --candidate-model is offered at every precision and the bf16 one is loaded for it.
        let candidate = try run(["index", "-c", "c", "--data", data, "--model", folder.path, "--precision", "bf16", "--candidate"])
        #expect(
            candidate.status == 0 && candidate.stdout.contains("candidate generation 4 (tiny-61@bf16)"),
            "\(candidate.stdout) \(candidate.stderr)")
        let queries = directory.url.appendingPathComponent("q.jsonl")
        try [3, 50, 99].map { #"{"text":"\#(texts[$0])","relevant":["d\#($0)"]}"# }.joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        let compared = try run([
            "eval", "-c", "c", "--data", data, "--model", folder.path, "--candidate-model", folder.path, "--queries", queries.path,
            "--generation", "current,candidate", "--mode", "vector", "--json",
        ])
        #expect(compared.status == 0, "\(compared.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        let configurations = try #require(report["configurations"] as? [[String: Any]])
        #expect(configurations.map { $0["generation"] as? String } == ["current", "candidate"])
        let asked = try run([
            "query", texts[50], "-c", "c", "--data", data, "--model", folder.path, "--candidate-model", folder.path, "--generation",
            "candidate", "--mode", "vector", "-k", "1", "--json",
        ])
        #expect(asked.stdout.contains(#""d50""#) && asked.stdout.contains("tiny-61@bf16"), "\(asked.stdout) \(asked.stderr)")
        // Without it the candidate's vectors cannot be asked by text: a clear error, not fp32 vectors.
        let refused = try run([
            "query", texts[50], "-c", "c", "--data", data, "--model", folder.path, "--generation", "candidate", "--mode", "vector",
        ])
        #expect(refused.status != 0 && refused.stderr.contains("not loaded"), "\(refused.stderr)")
    }

    @Test("serve refuses to listen beyond loopback without API keys unless told --insecure-no-auth")
    func serveRefusesOpenNonLoopback() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let data = directory.url.appendingPathComponent("data").path
        let refused = try run(["serve", "--host", "0.0.0.0", "--port", "0", "--no-sample", "--data", data])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--insecure-no-auth") && refused.stderr.contains("--api-key"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data), "it refused before touching the data folder")
    }

    @Test("query --input answers every line in input order on all read threads; --no-payload gives ids and scores only")
    func queryInput() throws {
        let directory = try TemporaryDirectory("quiver-cli")
        let data = directory.url.appendingPathComponent("data").path
        var random = SeededVectors(seed: 3)
        let vectors = (0..<300).map { _ in random.vector(8) }
        let documents = directory.url.appendingPathComponent("docs.jsonl")
        try vectors.enumerated().map {
            #"{"id":"d\#($0.offset)","title":"t","vector":[\#($0.element.map { "\($0)" }.joined(separator: ","))]}"#
        }
        .joined(separator: "\n").write(to: documents, atomically: true, encoding: .utf8)
        _ = try TinyModel.make(seed: 41, in: directory.url)  // 8 dimensions, as the vectors
        let model = directory.url.appendingPathComponent("tiny-41").path
        let indexed = try run(["index", documents.path, "--collection", "c", "--data", data, "--model", model])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        // 3,000 lines (more than one chunk), each the vector of a document, and one broken line.
        var lines = (0..<3000).map { i in #"{"vector":[\#(vectors[i % 300].map { "\($0)" }.joined(separator: ","))],"k":1}"# }
        lines[1234] = "{not json"
        let queries = directory.url.appendingPathComponent("queries.jsonl")
        try lines.joined(separator: "\n").write(to: queries, atomically: true, encoding: .utf8)
        for noPayload in [false, true] {
            let answered = try run(
                ["query", "-c", "c", "--data", data, "--model", model, "--input", queries.path] + (noPayload ? ["--no-payload"] : []))
            #expect(answered.status == 0, "\(answered.stderr)")
            let output = answered.stdout.split(separator: "\n")
            try #require(output.count == 3000)
            try #require(output[0].contains(#""id":"d0""#), "\(output[0])")
            for (i, line) in output.enumerated() {
                if i == 1234 {
                    #expect(line.contains(#""line":"1235""#), "\(line)")
                    continue
                }
                #expect(line.contains(#""id":"d\#(i % 300)""#), "line \(i + 1): \(line.prefix(120))")
                #expect(line.contains("freshness") != noPayload, "line \(i + 1)")
            }
            #expect(answered.stderr.contains("3000 queries (1 failed)"), "\(answered.stderr)")
        }
    }
}
