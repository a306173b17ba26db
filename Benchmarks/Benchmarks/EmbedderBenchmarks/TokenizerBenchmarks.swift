import Benchmark
import Embedder
import Foundation

/// Tokenizer throughput on real text, comparable with `scripts/bench/tokenizer_bench.py` (Hugging
/// Face `tokenizers`, one thread) on the same texts.
///
/// Texts: `QUIVER_TOKENIZER_TEXTS` (JSONL with a "text" field), else `/work/corpus/docs.jsonl` when
/// present, else the golden fixture texts. Model: `QUIVER_MODEL_DIR`, else
/// `<package root>/models/all-MiniLM-L6-v2`. One iteration encodes every text once; MB/s is the
/// texts' UTF-8 size divided by the wall clock per iteration (printed at registration).
func registerTokenizerBenchmarks() {
    let environment = ProcessInfo.processInfo.environment
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let model =
        environment["QUIVER_MODEL_DIR"].map { URL(fileURLWithPath: $0) }
        ?? root.appendingPathComponent("models/all-MiniLM-L6-v2")
    var textsPath = root.appendingPathComponent("Tests/EmbedderTests/Fixtures/minilm-tokens.jsonl").path
    if FileManager.default.fileExists(atPath: "/work/corpus/docs.jsonl") { textsPath = "/work/corpus/docs.jsonl" }
    if let path = environment["QUIVER_TOKENIZER_TEXTS"] { textsPath = path }

    let tokenizer: WordPieceTokenizer
    let texts: [String]
    do {
        tokenizer = try WordPieceTokenizer(folder: model)
        texts = try loadTexts(textsPath)
    } catch {
        print("Tokenizer benchmarks skipped: \(error)")
        return
    }
    let bytes = texts.reduce(0) { $0 + $1.utf8.count }
    print("Tokenizer benchmarks: \(texts.count) texts, \(String(format: "%.3f", Double(bytes) / 1e6)) MB from \(textsPath)")

    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .throughput, .mallocCountTotal],
        warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10
    )
    Benchmark("Tokenizer encode all texts (no truncation)", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            for text in texts { blackHole(tokenizer.encode(text, maxLength: Int.max)) }
        }
    }
    Benchmark("Tokenizer encode all texts (maxLength 256)", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            for text in texts { blackHole(tokenizer.encode(text, maxLength: 256)) }
        }
    }
    Benchmark("Tokenizer load tokenizer.json", configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxIterations: 10)) {
        benchmark in
        for _ in benchmark.scaledIterations { blackHole(try? WordPieceTokenizer(folder: model)) }
    }
}

private func loadTexts(_ path: String) throws -> [String] {
    struct Line: Decodable { var text: String }
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let decoder = JSONDecoder()
    return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Line.self, from: Data($0)).text }
}
