// IngestCompare: numbers for BENCHMARKS-collections.md, printed as JSON lines with /proc/loadavg.
//
//   IngestCompare ratio --docs corpus.jsonl --model DIR [--limit 2048] [--chunk 512] [--tmp DIR]
//       The same documents, chunk by chunk, alternately through Embedder.embed alone and through
//       SearchEngine.upsert (hash, store transaction, index catch-up) into a fresh collection, so
//       both sides see the same machine load; then the same upserts again (nothing changed).
//   IngestCompare populate --data DIR [--count 1000000] [--dim 384] [--batch 10000] [--ef-construction 200]
//       A collection "million" of random bring-your-own vectors, checkpointed.
//   IngestCompare open --data DIR [--dim 384]
//       Time to open the collection (mapped checkpoint + catch-up) and answer the first queries.
import Foundation
import Logging
import SearchEngine

func arg(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

func loadavg() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3).joined(separator: " ")
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func emit(_ fields: [String: Any]) {
    var fields = fields
    fields["loadavg"] = loadavg()
    if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}()

struct Line: Decodable {
    let id: String
    let title: String?
    let text: String
}

struct RandomVectors {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float(Double((z ^ (z >> 31)) >> 11) * 0x1.0p-53 * 2 - 1)
    }
}

func ratio() throws {
    let limit = Int(arg("--limit", "2048")) ?? 2048
    let chunk = Int(arg("--chunk", "512")) ?? 512
    let tmp = URL(fileURLWithPath: arg("--tmp", NSTemporaryDirectory())).appendingPathComponent("ingest-compare-\(getpid())")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let model = try EmbeddingModel.load(folder: URL(fileURLWithPath: arg("--model", "models/all-MiniLM-L6-v2")))
    guard let embedder = model.embedder else { fail("model has no embedder") }
    let text = try String(contentsOfFile: arg("--docs", "/work/corpus/docs.jsonl"), encoding: .utf8)
    let decoder = JSONDecoder()
    let documents = try text.split(separator: "\n").prefix(limit).map { line in
        let parsed = try decoder.decode(Line.self, from: Data(line.utf8))
        return DocumentInput(id: parsed.id, text: parsed.text, title: parsed.title)
    }
    let engine = try SearchEngine(dataDirectory: tmp, model: model, logger: logger)
    try engine.createCollection(CollectionOptions(name: "bench"))
    var embedSeconds = 0.0
    var upsertSeconds = 0.0
    let start = loadavg()
    for begin in stride(from: 0, to: documents.count, by: chunk) {
        let batch = Array(documents[begin..<min(documents.count, begin + chunk)])
        let texts = batch.map { d in d.title.map { "\($0)\n\(d.text ?? "")" } ?? (d.text ?? "") }
        var t = now()
        _ = try embedder.embed(texts)
        embedSeconds += now() - t
        t = now()
        _ = try engine.upsert(collection: "bench", documents: batch)
        upsertSeconds += now() - t
        let done = min(documents.count, begin + chunk)
        let line = String(
            format: "progress %d/%d embedder %.1f docs/s, upsert %.1f docs/s, ratio %.4f",
            done, documents.count, Double(done) / embedSeconds, Double(done) / upsertSeconds,
            embedSeconds / upsertSeconds)
        FileHandle.standardError.write(Data((line + ", load \(loadavg())\n").utf8))
    }
    var again = 0.0
    for begin in stride(from: 0, to: documents.count, by: chunk) {
        let batch = Array(documents[begin..<min(documents.count, begin + chunk)])
        let t = now()
        let result = try engine.upsert(collection: "bench", documents: batch)
        again += now() - t
        guard result.unchanged == batch.count else { fail("expected an unchanged re-sync") }
    }
    let n = Double(documents.count)
    emit([
        "mode": "ratio", "documents": documents.count, "chunk": chunk, "loadavg_start": start,
        "embedder_docs_per_s": n / embedSeconds, "upsert_docs_per_s": n / upsertSeconds,
        "upsert_vs_embedder": embedSeconds / upsertSeconds, "unchanged_resync_docs_per_s": n / again,
    ])
}

func populate() throws {
    let count = Int(arg("--count", "1000000")) ?? 1_000_000
    let dim = Int(arg("--dim", "384")) ?? 384
    let batch = Int(arg("--batch", "10000")) ?? 10_000
    let engine = try SearchEngine(
        dataDirectory: URL(fileURLWithPath: arg("--data", "var/bench")),
        model: .external(id: "random", dimensions: dim), logger: logger)
    let efConstruction = Int(arg("--ef-construction", "200")) ?? 200
    if !engine.hasCollection("million") {
        try engine.createCollection(CollectionOptions(name: "million", hnsw: .init(m: 16, efConstruction: efConstruction)))
    }
    var random = RandomVectors(state: 1)
    let t0 = now()
    var done = 0
    while done < count {
        let n = min(batch, count - done)
        let documents = (0..<n).map { i in
            DocumentInput(id: "v\(done + i)", vector: (0..<dim).map { _ in random.next() })
        }
        _ = try engine.upsert(collection: "million", documents: documents)
        done += n
        if done % 100_000 == 0 {
            FileHandle.standardError.write(Data("\(done) vectors, \(Int(now() - t0)) s, load \(loadavg())\n".utf8))
        }
    }
    let t1 = now()
    try engine.checkpoint(collection: "million")
    emit([
        "mode": "populate", "vectors": count, "dim": dim, "ef_construction": efConstruction, "ingest_s": t1 - t0,
        "checkpoint_s": now() - t1,
    ])
}

func openAndQuery() throws {
    let dim = Int(arg("--dim", "384")) ?? 384
    let t0 = now()
    let engine = try SearchEngine(
        dataDirectory: URL(fileURLWithPath: arg("--data", "var/bench")),
        model: .external(id: "random", dimensions: dim), logger: logger)
    var random = RandomVectors(state: 99)
    let query = (0..<dim).map { _ in random.next() }
    let first = try engine.query(collection: "million", QueryRequest(vector: query, k: 10))
    let t1 = now()
    var latencies: [Double] = []
    for _ in 0..<100 {
        let q = (0..<dim).map { _ in random.next() }
        let t = now()
        _ = try engine.query(collection: "million", QueryRequest(vector: q, k: 10))
        latencies.append((now() - t) * 1000)
    }
    latencies.sort()
    emit([
        "mode": "open", "open_and_first_query_ms": (t1 - t0) * 1000, "first_query_search_ms": first.timings.searchMs,
        "first_query_fetch_ms": first.timings.fetchMs, "indexed_seq": first.index.indexedSeq,
        "next_100_p50_ms": latencies[50], "next_100_p99_ms": latencies[99],
    ])
}

do {
    switch CommandLine.arguments.dropFirst().first {
    case "ratio": try ratio()
    case "populate": try populate()
    case "open": try openAndQuery()
    default: fail("usage: IngestCompare ratio|populate|open [options]")
    }
} catch {
    fail("error: \(error)")
}
