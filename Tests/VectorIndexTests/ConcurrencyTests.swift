import Testing

@testable import VectorIndex

@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("searches run safely while writers add, update and remove")
    func searchWhileAdding() async throws {
        let dimension = 32
        var data = TestData(seed: 21)
        let flat = data.clustered(count: 6_000, dimension: dimension, clusters: 30)
        let vectors = rows(flat, dimension: dimension)
        let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: dimension, m: 8, efConstruction: 64), capacity: 64)
        try index.add(contentsOf: Array(flat[0..<1_000 * dimension]), labels: (0..<1_000).map { UInt64($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Batch add (two threads inside) that grows the storage several times.
                try index.add(
                    contentsOf: Array(flat[1_000 * dimension..<4_000 * dimension]),
                    labels: (1_000..<4_000).map { UInt64($0) })
            }
            group.addTask {
                for i in 4_000..<6_000 { try index.add(vectors[i], label: UInt64(i)) }
                for i in stride(from: 0, to: 1_000, by: 5) { try index.remove(UInt64(i)) }
                for i in stride(from: 1, to: 1_000, by: 5) { try index.update(vectors[5_999 - i], label: UInt64(i)) }
            }
            for reader in 0..<3 {
                group.addTask {
                    for i in 0..<400 {
                        let hits = try index.search(vectors[(i * 7 + reader) % 6_000], k: 5, ef: 32)
                        #expect(hits.count <= 5)
                        #expect(Set(hits.map(\.label)).count == hits.count)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(index.count == 6_000 - 200)
        #expect(try index.search(vectors[5_000], k: 1, ef: 64).first?.label == 5_000)
    }
}
