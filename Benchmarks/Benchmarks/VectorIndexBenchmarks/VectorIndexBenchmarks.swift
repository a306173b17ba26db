import Benchmark
import Foundation
import VectorIndex

/// Seeded clustered unit vectors (SplitMix64 + Box–Muller), row-major.
func clusteredVectors(count: Int, dimension: Int, clusters: Int, seed: UInt64) -> [Float] {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func gaussian() -> Float {
        let u = Double((next() >> 11) + 1) * 0x1.0p-53
        let v = Double(next() >> 11) * 0x1.0p-53
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
    let centers = (0..<clusters).map { _ in (0..<dimension).map { _ in gaussian() } }
    var out: [Float] = []
    out.reserveCapacity(count * dimension)
    for _ in 0..<count {
        let c = centers[Int(next() % UInt64(clusters))]
        var v = c.map { $0 + 0.35 * gaussian() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { $0 / norm }
        out.append(contentsOf: v)
    }
    return out
}

let dimension = 384

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(5)
    )

    // Search on a 20,000-vector graph built once in setup.
    var index: HNSWIndex?
    var queries: [[Float]] = []
    Benchmark("search k=10 ef=64 (20k x 384)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        guard let index else { return }
        for i in benchmark.scaledIterations {
            blackHole(try index.search(queries[i % queries.count], k: 10, ef: 64))
        }
    } setup: {
        let flat = clusteredVectors(count: 20_000, dimension: dimension, clusters: 200, seed: 1)
        let built = try HNSWIndex(configuration: HNSWConfiguration(dimension: dimension), capacity: 20_000)
        try built.add(contentsOf: flat, labels: (0..<20_000).map { UInt64($0) })
        index = built
        let q = clusteredVectors(count: 1_000, dimension: dimension, clusters: 200, seed: 1_001)
        queries = (0..<1_000).map { Array(q[$0 * dimension..<($0 + 1) * dimension]) }
    }

    // Insert: 2,000 vectors one at a time into a fresh index, one thread.
    let inserts = clusteredVectors(count: 2_000, dimension: dimension, clusters: 50, seed: 7)
    Benchmark("insert 2,000 (one thread)", configuration: .init(maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            let fresh = try HNSWIndex(configuration: HNSWConfiguration(dimension: dimension), capacity: 2_000)
            benchmark.startMeasurement()
            try fresh.add(contentsOf: inserts, labels: (0..<2_000).map { UInt64($0) }, threads: 1)
            benchmark.stopMeasurement()
            blackHole(fresh)
        }
    }
}
