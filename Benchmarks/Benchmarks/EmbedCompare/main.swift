// EmbedCompare: the Swift side of the encoder comparison with sentence-transformers
// (scripts/bench/st_bench.py). Reads the same JSONL texts, prints one JSON object:
// batched documents/s, one-at-a-time query latency, the forward pass's GFLOP/s and the
// cblas_sgemm peak measured in the same process. See BENCHMARKS.md for the commands.
import Embedder
import Foundation
import VectorMath

struct Arguments {
    var model = "../models/all-MiniLM-L6-v2"
    var docs = ""
    var queries = ""
    var budgets = [4096]
    var repeats = 3
    var workers = ProcessInfo.processInfo.activeProcessorCount
    var blasThreads = 1
    var groupSizes: [Int] = []
    var splitTokens: [Int] = []
    /// Embedder.Options.packedGEMMTokens (default: the embedder's own default).
    var packedTokens = Embedder.Options().packedGEMMTokens
    /// The dense layers' arithmetic (`--precision fp32|bf16|int8`).
    var precision = Precision.fp32

    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            let value = it.next() ?? ""
            switch flag {
            case "--model": model = value
            case "--docs": docs = value
            case "--queries": queries = value
            case "--token-budgets": budgets = value.split(separator: ",").compactMap { Int($0) }
            case "--repeats": repeats = Int(value) ?? 3
            case "--workers": workers = Int(value) ?? workers
            case "--blas-threads": blasThreads = Int(value) ?? 1
            case "--group-sizes": groupSizes = value.split(separator: ",").compactMap { Int($0) }
            case "--split-tokens": splitTokens = value.split(separator: ",").compactMap { Int($0) }
            case "--packed-tokens": packedTokens = Int(value) ?? packedTokens
            case "--precision":
                guard let chosen = Precision(rawValue: value) else {
                    FileHandle.standardError.write(Data("--precision: fp32, bf16 or int8\n".utf8))
                    exit(2)
                }
                precision = chosen
            default:
                FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
                exit(2)
            }
        }
    }
}

func readTexts(_ path: String) -> [String] {
    guard let content = try? String(contentsOfFile: path, encoding: .utf8) else {
        FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
        exit(1)
    }
    return content.split(separator: "\n").compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// GFLOP/s of cblas_sgemm for C[m×n] = A[m×k]·B[n×k]ᵀ, best of a few runs.
func sgemmPeak(m: Int, n: Int, k: Int) -> Double {
    let a = [Float](repeating: 0.01, count: m * k)
    let b = [Float](repeating: 0.02, count: n * k)
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    let reps = max(1, Int(2e9 / Double(2 * m * n * k)))
    for _ in 0..<5 {
        let t = c.withUnsafeMutableBufferPointer { out in
            seconds { for _ in 0..<reps { VectorMath.matmulTransposedB(a, b, into: out.baseAddress!, m: m, n: n, k: k) } }
        }
        best = min(best, t / Double(reps))
    }
    return 2 * Double(m * n * k) / best / 1e9
}

let args = Arguments()
let embedder: Embedder
do {
    embedder = try Embedder(
        folder: URL(fileURLWithPath: args.model),
        options: .init(workers: args.workers, blasThreads: args.blasThreads, packedGEMMTokens: args.packedTokens, precision: args.precision)
    )
} catch {
    FileHandle.standardError.write(Data("cannot load model: \(error)\n".utf8))
    exit(1)
}
let docs = readTexts(args.docs)
let queries = readTexts(args.queries)
var report: [String: Any] = [
    "precision": args.precision.rawValue, "kernels": Kernels.active.rawValue, "bf16_kernel": Kernels.bf16.rawValue,
    "workers": args.workers, "blas_threads": args.blasThreads,
    "packed_gemm_tokens": args.packedTokens, "n_docs": docs.count,
    "n_queries": queries.count,
    "openblas_coretype": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(auto-detect)",
    "loadavg_start": (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
]

let docTokens = docs.map(embedder.tokenize)
let totalTokens = docTokens.reduce(0) { $0 + $1.count }
report["mean_tokens_per_doc"] = Double(totalTokens) / Double(max(1, docs.count))
// 21.2 MFLOP per token in the layers' matrix products (all-MiniLM-L6-v2), plus attention:
// 4·L·H FLOPs per token per layer (QKᵀ and PV).
let h = Double(embedder.dimension)
let layers = Double(embedder.config.layerCount)
let linearFlopsPerToken = 2 * layers * (4 * h * h + 2 * h * Double(embedder.config.intermediateSize))
let forwardFlops = docTokens.reduce(0.0) { $0 + Double($1.count) * (linearFlopsPerToken + 4 * layers * Double($1.count) * h) }

for budget in args.budgets {
    let batched = try Embedder(
        folder: URL(fileURLWithPath: args.model),
        options: .init(
            tokenBudget: budget, workers: args.workers, blasThreads: args.blasThreads, packedGEMMTokens: args.packedTokens,
            precision: args.precision))
    _ = try batched.embed(Array(docs.prefix(64)))
    var best = Double.infinity
    for _ in 0..<args.repeats { best = min(best, try seconds { _ = try batched.embed(docs) }) }
    report["docs_per_s_budget_\(budget)"] = Double(docs.count) / best
    report["gflops_budget_\(budget)"] = forwardFlops / best / 1e9
}
// Small batches, as the server's batcher forms them at low concurrency: the queries in groups of
// N, each group one `embed` call; queries/s for each columnSplitTokens setting.
for split in args.splitTokens {
    let grouped = try Embedder(
        folder: URL(fileURLWithPath: args.model),
        options: .init(
            workers: args.workers, blasThreads: args.blasThreads, columnSplitTokens: split,
            packedGEMMTokens: args.packedTokens, precision: args.precision))
    for size in args.groupSizes {
        let groups = stride(from: 0, to: queries.count, by: size).map { Array(queries[$0..<min(queries.count, $0 + size)]) }
        _ = try grouped.embed(Array(queries.prefix(size)))
        var best = Double.infinity
        for _ in 0..<args.repeats { best = min(best, try seconds { for g in groups { _ = try grouped.embed(g) } }) }
        report["queries_per_s_group_\(size)_split_\(split)"] = Double(queries.count) / best
    }
}
let tokenizeTime = seconds { for d in docs { _ = embedder.tokenize(d) } }
report["tokenize_docs_per_s"] = Double(docs.count) / tokenizeTime

for q in queries.prefix(20) { _ = try embedder.embed(q) }
var latencies: [Double] = []
for q in queries { latencies.append(try seconds { _ = try embedder.embed(q) } * 1000) }
latencies.sort()
report["query_ms_median"] = latencies[latencies.count / 2]
report["query_ms_p99"] = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
report["query_ms_mean"] = latencies.reduce(0, +) / Double(latencies.count)
let queryTokens = queries.map { embedder.tokenize($0).count }
report["query_mean_tokens"] = Double(queryTokens.reduce(0, +)) / Double(max(1, queries.count))

for threads in [1, 2] {
    VectorMath.setBLASThreads(threads)
    report["sgemm_\(threads)t_gflops_3200x384x384"] = sgemmPeak(m: 3200, n: 384, k: 384)
    report["sgemm_\(threads)t_gflops_3200x1536x384"] = sgemmPeak(m: 3200, n: 1536, k: 384)
    report["sgemm_\(threads)t_gflops_3200x384x1536"] = sgemmPeak(m: 3200, n: 384, k: 1536)
    report["sgemm_\(threads)t_gflops_16x384x384"] = sgemmPeak(m: 16, n: 384, k: 384)
}

report["loadavg_end"] =
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
print(String(decoding: json, as: UTF8.self))
