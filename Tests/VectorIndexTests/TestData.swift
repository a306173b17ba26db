import Foundation

@testable import VectorIndex

/// Seeded test vectors: clusters of normalized vectors with a few strong directions per cluster,
/// which is how sentence embeddings look (many near-duplicates, uneven density). Optionally the
/// cluster centres are the 417 real MiniLM embeddings committed for the embedder tests.
struct TestData {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func gaussian() -> Float {
        // Box–Muller; `unit()` is in (0, 1], so the log is finite.
        let u = rng.unit()
        let v = rng.unit()
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }

    func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    /// `count` clustered unit vectors (row-major), around `centers` or around random centres.
    mutating func clustered(count: Int, dimension: Int, clusters: Int, centers given: [[Float]]? = nil, spread: Float = 0.12) -> [Float] {
        var centers: [[Float]] = given ?? []
        if centers.isEmpty {
            for _ in 0..<clusters { centers.append(normalized((0..<dimension).map { _ in gaussian() })) }
        }
        var axes: [[[Float]]] = []
        for _ in centers.indices {
            var set: [[Float]] = []
            for _ in 0..<6 { set.append((0..<dimension).map { _ in gaussian() * spread }) }
            axes.append(set)
        }
        var out: [Float] = []
        out.reserveCapacity(count * dimension)
        for _ in 0..<count {
            let c = Int(rng.next() % UInt64(centers.count))
            var v = centers[c]
            for axis in axes[c] {
                let w = gaussian()
                for d in 0..<dimension { v[d] += w * axis[d] }
            }
            for d in 0..<dimension { v[d] += 0.03 * gaussian() }
            out.append(contentsOf: normalized(v))
        }
        return out
    }

    /// The real sentence embeddings committed with the embedder tests (384-d, normalized).
    static func realEmbeddings() -> [[Float]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../EmbedderTests/Fixtures/minilm-embeddings.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let values = object["embedding"] as? [Double]
            else { return nil }
            return values.map { Float($0) }
        }
    }
}

/// Rows of a row-major matrix.
func rows(_ flat: [Float], dimension: Int) -> [[Float]] {
    (0..<flat.count / dimension).map { Array(flat[$0 * dimension..<($0 + 1) * dimension]) }
}

/// Mean recall@k of `index.search` against `index.exactSearch` over `queries`.
func recall(_ index: HNSWIndex, queries: [[Float]], k: Int = 10, ef: Int? = nil) throws -> Double {
    var hits = 0
    var total = 0
    for q in queries {
        let truth = Set(try index.exactSearch(q, k: k).map(\.label))
        let found = try index.search(q, k: k, ef: ef).map(\.label)
        hits += found.filter { truth.contains($0) }.count
        total += truth.count
    }
    return total == 0 ? 1 : Double(hits) / Double(total)
}
