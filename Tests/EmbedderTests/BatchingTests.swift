import Foundation
import Testing

@testable import Embedder

@Suite("Batching and concurrency")
struct BatchingTests {
    /// A spread of real sequences: short, long and truncated-at-256 ones.
    static func sample() -> [[Int32]] {
        let ids = Golden.tokens.map(\.ids)
        let byLength = ids.sorted { $0.count < $1.count }
        let picks = stride(from: 0, to: byLength.count, by: max(1, byLength.count / 40)).map { byLength[$0] }
        return picks + [ids[0], ids[ids.count - 1]]
    }

    @Test("a text alone and inside any batch gives the same vector (cosine ≥ 0.999999)", arguments: [2, 64, 300, 4096])
    func batchInvariance(tokenBudget: Int) throws {
        let shared = try TestModel.embedder()
        let sequences = Self.sample()
        let alone = try sequences.map { try shared.embed(tokenized: [$0])[0] }
        let batched = try Embedder(folder: TestModel.folder, options: .init(tokenBudget: tokenBudget, maxBatchSize: 17))
        let together = try batched.embed(tokenized: sequences.reversed()).reversed()
        for (a, b) in zip(alone, together) {
            #expect(cosine(a, b) >= 0.999999)
        }
    }

    @Test(
        "small calls: one pass run by the team and one pass per worker give the same vectors",
        arguments: [2, 5, 10])
    func columnSplitMatchesPerWorkerPasses(count: Int) throws {
        // Short sequences (queries), few enough to fall under columnSplitTokens.
        let short = Self.sample().filter { $0.count <= 24 }.prefix(count).map { $0 }
        try #require(short.count == count)
        let perWorker = try Embedder(folder: TestModel.folder, options: .init(workers: 2, columnSplitTokens: 0))
        let split = try Embedder(folder: TestModel.folder, options: .init(workers: 2, columnSplitTokens: 100_000))
        #expect(perWorker.planBatches(short).count >= 2, "one pass per worker at least")
        #expect(split.planBatches(short).count == 1)
        // The team on OpenBLAS column blocks instead of the packed GEMM.
        let splitBLAS = try Embedder(
            folder: TestModel.folder, options: .init(workers: 2, columnSplitTokens: 100_000, packedGEMMTokens: 0))
        let a = try perWorker.embed(tokenized: short)
        for b in [try split.embed(tokenized: short), try splitBLAS.embed(tokenized: short)] {
            for (x, y) in zip(a, b) {
                #expect(cosine(x, y) >= 0.999999)
                #expect(maxAbsDiff(x, y) < 1e-5)
            }
        }
    }

    @Test("background calls: the same vectors as interactive ones, computed on nice-19 threads, alongside interactive calls")
    func backgroundPriority() async throws {
        let embedder = try Embedder(folder: TestModel.folder, options: .init(tokenBudget: 300, workers: 2))
        let sequences = Self.sample()
        let interactive = try embedder.embed(tokenized: sequences)
        let background = try embedder.embed(tokenized: sequences, priority: .background)
        #expect(background == interactive, "same passes, same arithmetic")
        let one = try embedder.embed(tokenized: [sequences[0]], priority: .background)
        #expect(cosine(one[0], interactive[0]) >= 0.999999)
        #expect(try embedder.embed(tokenized: [], priority: .background).isEmpty)

        // The threads: named quiver-bg-N, at nice 19 (field 19 of /proc/self/task/TID/stat); this
        // embedder's two at least (other suites' servers have their own). Listing /proc/self/task
        // while other tests start and end threads can miss entries: a few tries.
        func backgroundNices() -> [Int] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return tasks.compactMap { task -> Int? in
                guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                    name.hasPrefix("quiver-bg-"),
                    let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")  // fields[0] is field 3
                return fields.count > 16 ? Int(fields[16]) : nil
            }
        }
        var nices = backgroundNices()
        for _ in 0..<50 where nices.count < 2 {
            try await Task.sleep(for: .milliseconds(20))
            nices = backgroundNices()
        }
        #expect(nices.count >= 2 && nices.allSatisfy { $0 == 19 }, "\(nices)")

        // Background and interactive calls at once from several threads: each gets its own vectors.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for round in 0..<6 {
                group.addTask {
                    let priority: Embedder.Priority = round % 2 == 0 ? .background : .interactive
                    let part = Array(sequences[(round * 3)..<(round * 3 + 5)])
                    let vectors = try embedder.embed(tokenized: part, priority: priority)
                    return zip(vectors, interactive[(round * 3)..<(round * 3 + 5)]).allSatisfy { cosine($0, $1) >= 0.999999 }
                }
            }
            for try await matched in group { #expect(matched) }
        }
    }

    @Test("the packed GEMM and OpenBLAS give the same vectors, whatever the pass size", arguments: [64, 4096])
    func packedMatchesBLAS(tokenBudget: Int) throws {
        let sequences = Self.sample()
        let blas = try Embedder(folder: TestModel.folder, options: .init(tokenBudget: tokenBudget, packedGEMMTokens: 0))
        let packed = try Embedder(
            folder: TestModel.folder, options: .init(tokenBudget: tokenBudget, packedGEMMTokens: 1_000_000))
        let a = try blas.embed(tokenized: sequences)
        let b = try packed.embed(tokenized: sequences)
        for (x, y) in zip(a, b) {
            #expect(cosine(x, y) >= 0.999999)
            #expect(maxAbsDiff(x, y) < 1e-5)
        }
    }

    @Test("lone queries from many threads at once: the team or, while it is busy, the caller alone")
    func concurrentLoneQueries() async throws {
        let embedder = try TestModel.embedder()
        let short = Self.sample().filter { $0.count <= 40 }
        try #require(short.count >= 8)
        let solo = try Embedder(folder: TestModel.folder, options: .init(workers: 1))
        let expected = try short.map { try solo.embed(tokenized: [$0])[0] }
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var bad = 0
                    for round in 0..<20 {
                        let i = (worker * 7 + round) % short.count
                        let vector = try embedder.embed(tokenized: [short[i]])[0]
                        if cosine(vector, expected[i]) < 0.999999 || maxAbsDiff(vector, expected[i]) >= 1e-5 { bad += 1 }
                    }
                    return bad
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test("concurrent callers get the same vectors as one caller")
    func concurrentCallers() async throws {
        let embedder = try TestModel.embedder()
        let sequences = Self.sample()
        let serial = try embedder.embed(tokenized: sequences)
        let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            for worker in 0..<6 {
                group.addTask {
                    let rotated = Array(sequences[worker...] + sequences[..<worker])
                    return (worker, try embedder.embed(tokenized: rotated))
                }
            }
            var all: [(Int, [[Float]])] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 6)
        for (worker, vectors) in results {
            for (i, vector) in vectors.enumerated() {
                let original = serial[(i + worker) % sequences.count]
                #expect(cosine(vector, original) >= 0.999999)
            }
        }
    }
}
