import Benchmark
import Embedder
import Foundation

/// Texts for the embedding benchmarks: the golden-fixture corpus (Python docstrings and edge
/// cases) shipped with the tests, so the suite runs on any checkout.
enum BenchmarkTexts {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let all: [String] = {
        let url = root.appendingPathComponent("Tests/EmbedderTests/Fixtures/minilm-tokens.jsonl")
        guard let content = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return content.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String
        }
    }()

    static func loadEmbedder() -> Embedder? {
        let folder =
            ProcessInfo.processInfo.environment["QUIVER_MODEL_DIR"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent("models/all-MiniLM-L6-v2")
        return try? Embedder(folder: folder)
    }
}

/// Batched document embedding and one-at-a-time query embedding.
func embeddingBenchmarks() {
    guard let embedder = BenchmarkTexts.loadEmbedder() else {
        print("EmbedderBenchmarks: model not found (run `make setup`); embedding benchmarks skipped")
        return
    }
    let docs = Array(BenchmarkTexts.all.filter { embedder.tokenize($0).count >= 50 }.prefix(128))
    let queries = Array(BenchmarkTexts.all.filter { (5...20).contains(embedder.tokenize($0).count) }.prefix(64))
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        maxDuration: .seconds(10), maxIterations: 20)

    Benchmark("embed \(docs.count) documents (batched)", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try embedder.embed(docs)) }
    }
    Benchmark(
        "embed one short query",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5), maxIterations: 2_000)
    ) { benchmark in
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(try embedder.embed(queries[i % queries.count]))
            i += 1
        }
    }
}
