import Foundation
import Synchronization
import Testing

@testable import Embedder

@Suite("Dynamic batcher")
struct DynamicBatcherTests {
    /// A forward function that blocks until released, so tests can hold the worker busy.
    final class Gate: Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        let entered = Atomic<Int>(0)

        var forward: DynamicBatcher.Forward {
            { [self] (sequences: [[Int32]]) throws(EmbedderError) -> [[Float]] in
                entered.add(1, ordering: .sequentiallyConsistent)
                semaphore.wait()
                return sequences.map { [Float($0.count)] }
            }
        }

        func release(_ count: Int) {
            for _ in 0..<count { semaphore.signal() }
        }
    }

    /// Records every batch's request count.
    final class BatchLog: Sendable {
        let sizes = Mutex<[Int]>([])
        var observer: DynamicBatcher.Observer {
            DynamicBatcher.Observer(batchCompleted: { [self] requests, _, _, _ in sizes.withLock { $0.append(requests) } })
        }
    }

    static func waitUntil(_ condition: () -> Bool) async {
        for _ in 0..<2000 where !condition() {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("results through the batcher equal direct embed results, per request and in order")
    func equalsDirect() async throws {
        let embedder = try TestModel.embedder()
        let sequences = BatchingTests.sample()
        let direct = try embedder.embed(tokenized: sequences)
        let log = BatchLog()
        let batcher = try DynamicBatcher(embedder: embedder, options: .init(maxWait: .milliseconds(5)), observer: log.observer)
        // Requests of 1, 2 and 3 sequences, submitted concurrently.
        var requests: [Range<Int>] = []
        var start = 0
        while start < sequences.count {
            let end = min(sequences.count, start + 1 + requests.count % 3)
            requests.append(start..<end)
            start = end
        }
        let results = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            for (index, range) in requests.enumerated() {
                group.addTask { (index, try await batcher.embed(tokenized: Array(sequences[range]))) }
            }
            var all = [[[Float]]](repeating: [], count: requests.count)
            for try await (index, vectors) in group { all[index] = vectors }
            return all
        }
        for (range, vectors) in zip(requests, results) {
            #expect(vectors.count == range.count)
            for (offset, vector) in vectors.enumerated() {
                #expect(cosine(vector, direct[range.lowerBound + offset]) >= 0.999999)
            }
        }
        #expect(log.sizes.withLock { $0.reduce(0, +) } == requests.count)
        await batcher.shutdown()
    }

    @Test("64 concurrent single-query callers share forward passes and each gets its own vector")
    func concurrentCallersCoalesce() async throws {
        let embedder = try TestModel.embedder()
        let sequences = Array(BatchingTests.sample().prefix(40)) + Array(Golden.tokens.prefix(24).map(\.ids))
        let direct = try sequences.map { try embedder.embed(tokenized: [$0])[0] }
        let log = BatchLog()
        let batcher = try DynamicBatcher(embedder: embedder, options: .init(), observer: log.observer)
        let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, sequence) in sequences.enumerated() {
                group.addTask { (index, try await batcher.embed(tokenized: [sequence])[0]) }
            }
            var all = [[Float]](repeating: [], count: sequences.count)
            for try await (index, vector) in group { all[index] = vector }
            return all
        }
        for (vector, expected) in zip(results, direct) {
            #expect(cosine(vector, expected) >= 0.999999)
        }
        let sizes = log.sizes.withLock { $0 }
        #expect(sizes.reduce(0, +) == sequences.count)
        #expect(sizes.count < sequences.count, "some requests should have shared a forward pass: \(sizes)")
        await batcher.shutdown()
    }

    @Test("a full queue rejects at once with .overloaded, and the queued requests still complete")
    func overloadRejects() async throws {
        let gate = Gate()
        var rejections = 0
        let rejectedCount = Atomic<Int>(0)
        let batcher = try DynamicBatcher(
            forward: gate.forward, maxSequenceLength: 8, vocabularySize: 100,
            options: .init(maxWait: .zero, maxPendingRequests: 2, maxPendingTokens: 1000),
            observer: .init(rejected: { rejectedCount.add(1, ordering: .relaxed) }))
        // The first request occupies the worker; two more fill the queue.
        let first = Task { try await batcher.embed(tokenized: [[1, 2]]) }
        await Self.waitUntil { gate.entered.load(ordering: .sequentiallyConsistent) == 1 }
        let queued = (0..<2).map { _ in Task { try await batcher.embed(tokenized: [[1, 2, 3]]) } }
        await Self.waitUntil { batcher.queueDepth.requests == 2 }
        #expect(batcher.queueDepth.requests == 2)
        do {
            _ = try await batcher.embed(tokenized: [[4]])
            Issue.record("expected .overloaded")
        } catch {
            #expect(error == .overloaded(pendingRequests: 2, pendingTokens: 6))
            rejections += 1
        }
        #expect(rejections == 1)
        #expect(rejectedCount.load(ordering: .relaxed) == 1)
        gate.release(100)
        #expect(try await first.value == [[2]])
        for task in queued { #expect(try await task.value == [[3]]) }
        await batcher.shutdown()
    }

    @Test("a cancelled caller still in the queue is removed and gets .cancelled")
    func cancellation() async throws {
        let gate = Gate()
        let batcher = try DynamicBatcher(
            forward: gate.forward, maxSequenceLength: 8, vocabularySize: 100, options: .init(maxWait: .zero))
        let first = Task { try await batcher.embed(tokenized: [[1]]) }
        await Self.waitUntil { gate.entered.load(ordering: .sequentiallyConsistent) == 1 }
        let victim = Task { () async throws(BatcherError) -> [[Float]] in try await batcher.embed(tokenized: [[1, 2]]) }
        await Self.waitUntil { batcher.queueDepth.requests == 1 }
        victim.cancel()
        await #expect(throws: BatcherError.cancelled) { try await victim.value }
        #expect(batcher.queueDepth.requests == 0)
        #expect(batcher.queueDepth.tokens == 0)
        gate.release(100)
        #expect(try await first.value == [[1]])
        await batcher.shutdown()
    }

    @Test("invalid sequences are rejected before queueing; a failing batch does not fail its neighbours")
    func invalidInput() async throws {
        let embedder = try TestModel.embedder()
        let batcher = try DynamicBatcher(embedder: embedder)
        await #expect(throws: BatcherError.self) { try await batcher.embed(tokenized: [[]]) }
        await #expect(throws: BatcherError.self) { try await batcher.embed(tokenized: [[101, -5, 102]]) }
        await #expect(throws: BatcherError.self) { try await batcher.embed(tokenized: [[Int32](repeating: 1000, count: 300)]) }
        #expect(try await batcher.embed(tokenized: []).isEmpty)
        let good = try await batcher.embed(tokenized: [[101, 7592, 102]])
        #expect(good.count == 1 && good[0].count == embedder.dimension)

        // A forward function that fails on one poisoned sequence: the retry isolates it.
        let isolating = try DynamicBatcher(
            forward: { (sequences: [[Int32]]) throws(EmbedderError) -> [[Float]] in
                if sequences.contains([7]) { throw .invalidInput(reason: "poison") }
                return sequences.map { [Float($0.count)] }
            },
            maxSequenceLength: 8, vocabularySize: 100, options: .init(maxWait: .milliseconds(20)))
        async let poisoned = try? isolating.embed(tokenized: [[7]])
        async let healthy = isolating.embed(tokenized: [[1, 2]])
        #expect(await poisoned == nil)
        #expect(try await healthy == [[2]])
        await batcher.shutdown()
        await isolating.shutdown()
    }

    @Test("with coalescing off every forward pass serves exactly one request")
    func noCoalescing() async throws {
        let log = BatchLog()
        let batcher = try DynamicBatcher(
            forward: { (sequences: [[Int32]]) throws(EmbedderError) -> [[Float]] in sequences.map { [Float($0.count)] } },
            maxSequenceLength: 8, vocabularySize: 100, options: .init(coalesce: false), observer: log.observer)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for length in 1...32 {
                group.addTask {
                    let result = try await batcher.embed(tokenized: [[Int32](repeating: 1, count: length % 8 + 1)])
                    #expect(result == [[Float(length % 8 + 1)]])
                }
            }
            try await group.waitForAll()
        }
        #expect(log.sizes.withLock { $0 } == [Int](repeating: 1, count: 32))
        await batcher.shutdown()
    }

    @Test("after shutdown new requests get .shutDown; options are validated")
    func shutdownAndOptions() async throws {
        let batcher = try DynamicBatcher(
            forward: { (sequences: [[Int32]]) throws(EmbedderError) -> [[Float]] in sequences.map { _ in [0] } },
            maxSequenceLength: 8, vocabularySize: 100, options: .init())
        #expect(try await batcher.embed(tokenized: [[1]]) == [[0]])
        await batcher.shutdown()
        await #expect(throws: BatcherError.shutDown) { try await batcher.embed(tokenized: [[1]]) }
        #expect(throws: BatcherError.self) { try DynamicBatcher.Options(tokenBudget: 0).validate() }
        #expect(throws: BatcherError.self) { try DynamicBatcher.Options(workers: 0).validate() }
        #expect(throws: BatcherError.self) { try DynamicBatcher.Options(maxWait: .milliseconds(-1)).validate() }
    }
}
