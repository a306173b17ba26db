import Testing

@testable import VectorIndex

@Suite("HNSW index")
struct HNSWIndexTests {
    @Test("configuration validates its parameters")
    func configuration() {
        #expect(throws: VectorIndexError.invalidParameter(name: "m", value: 1, allowed: HNSWConfiguration.mRange)) {
            try HNSWIndex(configuration: HNSWConfiguration(dimension: 8, m: 1))
        }
        #expect(throws: VectorIndexError.invalidParameter(name: "dimension", value: 0, allowed: HNSWConfiguration.dimensionRange)) {
            try HNSWConfiguration(dimension: 0).validate()
        }
        #expect(throws: Never.self) { try HNSWConfiguration(dimension: 384).validate() }
    }

    @Test("recall@10 ≥ 0.99 vs brute force on 20,000 clustered vectors at the default ef")
    func recallClustered() throws {
        let (index, queries) = Fixtures.clustered
        #expect(index.count == 20_000)
        let r = try recall(index, queries: queries)
        #expect(r >= 0.99, "recall \(r)")
    }

    @Test("recall@10 ≥ 0.99 on 20,000 vectors around real sentence embeddings")
    func recallSentenceLike() throws {
        let (index, queries, _) = Fixtures.sentenceLike
        let r = try recall(index, queries: queries)
        #expect(r >= 0.99, "recall \(r)")
    }

    @Test("bad vectors and queries are errors, not crashes")
    func errors() throws {
        let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: 4))
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 4, actual: 3)) { try index.add([1, 2, 3], label: 1) }
        #expect(throws: VectorIndexError.nonFiniteVector(label: 7)) { try index.add([1, .nan, 0, 0], label: 7) }
        #expect(throws: VectorIndexError.labelNotFound(9)) { try index.remove(9) }
        #expect(throws: VectorIndexError.labelNotFound(9)) { try index.update([1, 0, 0, 0], label: 9) }
        #expect(throws: VectorIndexError.nonFiniteQuery) { try index.search([.infinity, 0, 0, 0], k: 1) }
        #expect(throws: VectorIndexError.invalidSearchParameter(name: "k", value: 0)) { try index.search([1, 0, 0, 0], k: 0) }
        #expect(throws: VectorIndexError.batchSizeMismatch(labels: 2, vectors: 1)) {
            try index.add(contentsOf: [1, 0, 0, 0], labels: [1, 2])
        }
        #expect(try index.search([1, 0, 0, 0], k: 3).isEmpty)
        #expect(index.count == 0)
    }

    @Test("graph search equals exact search when ef covers the index: nearest first, ties by label")
    func tiesAndOrder() throws {
        // 10 distinct vectors, 4 copies each under scattered labels: many exactly equal distances,
        // so dropping the ef − k farthest candidates must keep the ties for the label order.
        var data = TestData(seed: 11)
        let distinct = rows(data.clustered(count: 10, dimension: 16, clusters: 3), dimension: 16)
        var flat: [Float] = []
        var labels: [UInt64] = []
        for copy in 0..<4 {
            for (i, v) in distinct.enumerated() {
                flat += v
                labels.append(UInt64((copy * 10 + i) * 7 % 40))
            }
        }
        let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: 16, metric: .dot))
        try index.add(contentsOf: flat, labels: labels, threads: 1)
        let queries = distinct + rows(data.clustered(count: 10, dimension: 16, clusters: 3), dimension: 16)
        for q in queries {
            // All 40 from the scan, in (distance, label) order: the canonical answer.
            let all = try index.exactSearch(q, k: 40)
            #expect(all.count == 40)
            #expect(all == all.sorted { ($0.distance, $0.label) < ($1.distance, $1.label) })
            for k in [1, 3, 6, 10] {
                #expect(try index.search(q, k: k, ef: 64) == Array(all.prefix(k)))
            }
        }
    }

    @Test("every metric finds the exact nearest on a small set", arguments: DistanceMetric.allCases)
    func metrics(metric: DistanceMetric) throws {
        var data = TestData(seed: 5)
        let flat = data.clustered(count: 2_000, dimension: 32, clusters: 20).enumerated().map { i, x in
            metric == .cosine ? x : x * Float(1 + i % 3)
        }
        let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: 32, metric: metric))
        try index.add(contentsOf: flat, labels: (0..<2_000).map { UInt64($0) * 3 })
        let queries = rows(data.clustered(count: 50, dimension: 32, clusters: 20), dimension: 32)
        #expect(try recall(index, queries: queries, ef: 100) >= 0.99)
        let first = Array(flat[0..<32])
        let hit = try index.search(first, k: 1, ef: 100)
        #expect(hit.first?.label == 0 || metric == .dot)
    }

    @Test("removed labels are never returned and recall holds after removing 10%")
    func removal() throws {
        let (_, queries, vectors) = Fixtures.sentenceLike
        let index = Fixtures.build(Array(vectors[0..<10_000 * Fixtures.dimension]))
        let removed = Set((0..<10_000).filter { $0 % 10 == 3 }.map { UInt64($0) })
        for label in removed { try index.remove(label) }
        #expect(index.count == 9_000)
        #expect(!index.contains(3))
        for q in queries {
            let hits = try index.search(q, k: 10)
            #expect(hits.allSatisfy { !removed.contains($0.label) })
            #expect(try index.exactSearch(q, k: 10).allSatisfy { !removed.contains($0.label) })
        }
        let r = try recall(index, queries: queries)
        #expect(r >= 0.99, "recall after removal \(r)")

        // Updates: move 500 labels onto other vectors; searches find them at their new place.
        for i in 0..<500 {
            let label = UInt64(i * 20)
            let source = 9_999 - i
            try index.update(Array(vectors[source * Fixtures.dimension..<(source + 1) * Fixtures.dimension]), label: label)
        }
        #expect(index.count == 9_000)
        let probe = 9_999 - 7
        let moved = try index.search(Array(vectors[probe * Fixtures.dimension..<(probe + 1) * Fixtures.dimension]), k: 2)
        #expect(Set(moved.map(\.label)).contains(140))
        let r2 = try recall(index, queries: queries)
        #expect(r2 >= 0.99, "recall after updates \(r2)")

        let compact = try index.compacted()
        #expect(compact.count == 9_000)
        #expect(try recall(compact, queries: queries) >= 0.99)
    }

    @Test("replacing a vector with the same vector adds no node; a different one tombstones the old")
    func sameVectorUpdate() throws {
        for metric in DistanceMetric.allCases {
            let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: 4, metric: metric, m: 8, efConstruction: 32))
            try index.add(contentsOf: [1, 2, 3, 4, 4, 3, 2, 1], labels: [7, 8])
            try index.update([1, 2, 3, 4], label: 7)
            try index.add(contentsOf: [4, 3, 2, 1], labels: [8])
            #expect(index.count == 2 && index.removedCount == 0, "\(metric)")
            try index.update([1, 2, 3, 5], label: 7)
            #expect(index.count == 2 && index.removedCount == 1, "\(metric)")
            #expect(index.vector(for: 7).map { $0[3] > $0[2] } == true, "\(metric): the new vector is served")
            // -0.0 and 0.0 differ in bits: stored bit-exact, so it counts as a change.
            try index.update([0, 1, 1, 1], label: 8)
            try index.update([-0.0, 1, 1, 1], label: 8)
            #expect(index.removedCount == 3, "\(metric)")
        }
    }

    @Test("filtered search returns k matching results, at every selectivity")
    func filtered() throws {
        let (index, queries) = Fixtures.clustered
        for modulus in [2, 10, 100, 5_000] as [UInt64] {
            var hits = 0
            var total = 0
            for q in queries.prefix(50) {
                let found = try index.search(q, k: 10) { $0 % modulus == 1 }
                let truth = try index.exactSearch(q, k: 10) { $0 % modulus == 1 }
                #expect(found.allSatisfy { $0.label % modulus == 1 })
                #expect(found.count == min(10, truth.count))
                hits += Set(found.map(\.label)).intersection(truth.map(\.label)).count
                total += truth.count
            }
            #expect(Double(hits) / Double(total) >= 0.98, "filter 1/\(modulus): recall \(Double(hits) / Double(total))")
        }
    }
}
