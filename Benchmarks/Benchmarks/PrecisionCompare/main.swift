// PrecisionCompare: a reduced-precision encoder against fp32 on real text (issue 17's gates).
//
//   .build/release/PrecisionCompare --model ../models/all-MiniLM-L6-v2 --docs DOCS.jsonl --queries QUERIES.jsonl \
//       [--n-docs 10000] [--n-queries 1000] [--precision bf16] [--extra TEXTS.jsonl]
//
// Embeds the first n documents and queries (JSONL with "text") at fp32 and at the precision,
// then reports: cosine of each text's two vectors (min, mean, the worst text), and for every
// query the overlap of its exact top-10 documents (brute-force cosine) between the fp32 and the
// reduced vectors (mean, worst, and the worst query). `--extra` adds texts to the cosine part only
// (non-English, code, long). Prints one JSON object.
//
//   .build/release/PrecisionCompare --calibrate 0.9985,0.9996 --docs DOCS.jsonl --queries QUERIES.jsonl \
//       --skip-docs 30000 --n-docs 600 --skip-queries 20000 --n-queries 400
//
// The int8 calibration: on these texts (kept apart from the ones the gates are measured on), plus
// the empty text and a 1-, 2- or 3-word prefix of each calibration query (the shortest inputs are
// the most sensitive: two special tokens and no others to average the error out), the cosine vs
// fp32 of an encoder with one dense layer in int8 and the rest in bf16, for each layer; then, the
// most sensitive first (the larger of its min and mean errors, each over the target's), layers are
// kept in bf16 until the int8 encoder's min and mean cosine reach the two targets. Prints each step
// and the set (Embedder.calibratedInt8InBF16).
import Embedder
import Foundation
import VectorMath

struct Arguments {
    var model = "../models/all-MiniLM-L6-v2"
    var docs = ""
    var queries = ""
    var extra: [String] = []
    var nDocs = 10_000
    var nQueries = 1_000
    var precision = Precision.bf16
    var skipDocs = 0
    var skipQueries = 0
    var calibrate: (min: Double, mean: Double)?

    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            let value = it.next() ?? ""
            switch flag {
            case "--model": model = value
            case "--docs": docs = value
            case "--queries": queries = value
            case "--extra": extra.append(value)
            case "--n-docs": nDocs = Int(value) ?? nDocs
            case "--n-queries": nQueries = Int(value) ?? nQueries
            case "--skip-docs": skipDocs = Int(value) ?? 0
            case "--skip-queries": skipQueries = Int(value) ?? 0
            case "--calibrate":
                let parts = value.split(separator: ",").compactMap { Double($0) }
                guard parts.count == 2 else { fail("--calibrate MIN,MEAN") }
                calibrate = (parts[0], parts[1])
            case "--precision":
                guard let chosen = Precision(rawValue: value), chosen != .fp32 else { fail("--precision: bf16 or int8") }
                precision = chosen
            default: fail("unknown flag \(flag)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

func readTexts(_ path: String, limit: Int = .max, skip: Int = 0) -> [String] {
    guard let content = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    var texts: [String] = []
    for line in content.split(separator: "\n").dropFirst(skip) where texts.count < limit {
        if let text = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String {
            texts.append(text)
        }
    }
    return texts
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

/// Indices of the 10 documents most similar to `query` (vectors are normalized: dot = cosine).
func top10(_ query: [Float], _ docs: [[Float]]) -> Set<Int> {
    var scored: [(Float, Int)] = []
    scored.reserveCapacity(docs.count)
    for (index, doc) in docs.enumerated() {
        var dot: Float = 0
        for j in 0..<query.count { dot += query[j] * doc[j] }
        scored.append((dot, index))
    }
    scored.sort { $0.0 > $1.0 }
    return Set(scored.prefix(10).map(\.1))
}

let args = Arguments()
let folder = URL(fileURLWithPath: args.model)
let exact: Embedder
do { exact = try Embedder(folder: folder) } catch { fail("cannot load model: \(error)") }
let docs = readTexts(args.docs, limit: args.nDocs, skip: args.skipDocs)
let queries = readTexts(args.queries, limit: args.nQueries, skip: args.skipQueries)

if let target = args.calibrate {
    let prefixes = queries.enumerated().map { index, query in
        query.split(separator: " ").prefix(index % 3 + 1).joined(separator: " ")
    }
    let texts = docs + queries + [""] + prefixes
    let reference = try exact.embed(texts)
    func measure(_ inBF16: Set<String>) throws -> (min: Double, mean: Double) {
        let encoder = try Embedder(folder: folder, options: .init(precision: .int8, int8InBF16: inBF16))
        let cosines = zip(reference, try encoder.embed(texts)).map { cosine($0, $1) }
        return (cosines.min() ?? 0, cosines.reduce(0, +) / Double(max(1, cosines.count)))
    }
    let names = (0..<exact.config.layerCount).flatMap { layer in
        Embedder.DenseLayer.allCases.map { Embedder.DenseLayer.name(layer: layer, $0) }
    }
    var alone: [(name: String, min: Double, mean: Double)] = []
    for name in names {
        let (low, mean) = try measure(Set(names).subtracting([name]))
        alone.append((name, low, mean))
        FileHandle.standardError.write(Data("\(name) alone in int8: min \(low) mean \(mean)\n".utf8))
    }
    func severity(_ layer: (name: String, min: Double, mean: Double)) -> Double {
        Swift.max((1 - layer.min) / (1 - target.min), (1 - layer.mean) / (1 - target.mean))
    }
    let order = alone.sorted { severity($0) > severity($1) }.map(\.name)
    var kept: Set<String> = []
    var steps: [[String: Any]] = []
    var (low, mean) = try measure(kept)
    steps.append(["bf16": [String](), "min": low, "mean": mean])
    for name in order where low < target.min || mean < target.mean {
        kept.insert(name)
        (low, mean) = try measure(kept)
        steps.append(["bf16": kept.sorted(), "min": low, "mean": mean])
        FileHandle.standardError.write(Data("+ \(name) in bf16: min \(low) mean \(mean)\n".utf8))
    }
    let report: [String: Any] = [
        "texts": texts.count, "target_min": target.min, "target_mean": target.mean,
        "alone": alone.map { ["layer": $0.name, "min": $0.min, "mean": $0.mean] }, "steps": steps,
        "int8_in_bf16": kept.sorted(), "met": low >= target.min && mean >= target.mean,
    ]
    let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
    print(String(decoding: data, as: UTF8.self))
    exit(0)
}

let reduced: Embedder
do { reduced = try Embedder(folder: folder, options: .init(precision: args.precision)) } catch { fail("cannot load model: \(error)") }
let extra = args.extra.flatMap { readTexts($0) }
var report: [String: Any] = [
    "precision": args.precision.rawValue, "native": args.precision.isNative, "kernels": Kernels.active.rawValue,
    "n_docs": docs.count, "n_queries": queries.count, "n_extra": extra.count,
]
let start = Date()
let all = docs + queries + extra
let exactVectors = try exact.embed(all)
let reducedVectors = try reduced.embed(all)
let cosines = zip(exactVectors, reducedVectors).map { cosine($0, $1) }
let worst = cosines.indices.min { cosines[$0] < cosines[$1] } ?? 0
report["cosine_min"] = cosines[worst]
report["cosine_mean"] = cosines.reduce(0, +) / Double(max(1, cosines.count))
report["cosine_worst_text"] = String(all[worst].prefix(120))
let truncated = all.indices.filter { exact.tokenize(all[$0]).count == exact.pooling.maxSequenceLength }
report["n_truncated"] = truncated.count
report["cosine_min_truncated"] = truncated.map { cosines[$0] }.min() ?? 1
if !extra.isEmpty {
    let extraCosines = cosines.suffix(extra.count)
    report["cosine_min_extra"] = extraCosines.min() ?? 1
    report["cosine_mean_extra"] = extraCosines.reduce(0, +) / Double(extra.count)
}
let exactDocs = Array(exactVectors.prefix(docs.count))
let reducedDocs = Array(reducedVectors.prefix(docs.count))
var overlaps: [Double] = []
for q in 0..<queries.count {
    let a = top10(exactVectors[docs.count + q], exactDocs)
    let b = top10(reducedVectors[docs.count + q], reducedDocs)
    overlaps.append(Double(a.intersection(b).count) / 10)
}
let worstQuery = overlaps.indices.min { overlaps[$0] < overlaps[$1] } ?? 0
report["top10_overlap_mean"] = overlaps.reduce(0, +) / Double(max(1, overlaps.count))
report["top10_overlap_min"] = overlaps.isEmpty ? 0 : overlaps[worstQuery]
report["top10_overlap_worst_query"] = queries.isEmpty ? "" : queries[worstQuery]
report["queries_below_0_9"] = overlaps.filter { $0 < 0.9 }.count
report["seconds"] = Date().timeIntervalSince(start)
let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
print(String(decoding: data, as: UTF8.self))
