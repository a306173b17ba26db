@testable import VectorIndex

/// Indexes shared by several tests, built once per test run (they are the expensive part).
enum Fixtures {
    static let dimension = 384

    /// 20,000 vectors in 200 random clusters + 200 queries from the same clusters.
    static let clustered: (index: HNSWIndex, queries: [[Float]]) = {
        var data = TestData(seed: 1)
        let all = data.clustered(count: 20_200, dimension: dimension, clusters: 200)
        let base = Array(all[0..<20_000 * dimension])
        let queries = rows(Array(all.suffix(from: 20_000 * dimension)), dimension: dimension)
        return (build(base), queries)
    }()

    /// 20,000 vectors scattered around the 417 real MiniLM sentence embeddings (as near-paraphrases
    /// would be) + 200 queries drawn the same way.
    static let sentenceLike: (index: HNSWIndex, queries: [[Float]], vectors: [Float]) = {
        var data = TestData(seed: 2)
        let real = TestData.realEmbeddings()
        let all = data.clustered(count: 20_200, dimension: dimension, clusters: real.count, centers: real, spread: 0.03)
        let base = Array(all[0..<20_000 * dimension])
        let queries = rows(Array(all.suffix(from: 20_000 * dimension)), dimension: dimension)
        return (build(base), queries, base)
    }()

    static func build(_ base: [Float], metric: DistanceMetric = .cosine) -> HNSWIndex {
        let n = base.count / dimension
        do {
            let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: dimension, metric: metric), capacity: n)
            try index.add(contentsOf: base, labels: (0..<n).map { UInt64($0) }, threads: 2)
            return index
        } catch {
            preconditionFailure("fixture build failed: \(error). This is a bug.")
        }
    }
}
