import Foundation

/// One caller's request: its sequences and where its result goes.
///
/// `phase` and `continuation` are guarded by the batcher's lock.
final class Job: @unchecked Sendable {
    enum Phase { case new, queued, running, finished }

    let sequences: [[Int32]]
    let tokens: Int
    var phase: Phase = .new
    var continuation: CheckedContinuation<Result<[[Float]], BatcherError>, Never>?

    init(sequences: [[Int32]], tokens: Int) {
        self.sequences = sequences
        self.tokens = tokens
    }
}

/// The queue and worker bookkeeping, guarded by one condition variable (pthread-based, so thread
/// sanitizers see it).
final class BatcherState: @unchecked Sendable {
    struct Guarded {
        var queue: [Job] = []
        var pendingTokens = 0
        var isShutDown = false
        var runningWorkers = 0
        /// Callers seen at once recently: the requests of the last forward pass plus those that
        /// queued up while it ran. The waiting heuristic waits (up to `maxWait`) for this many, so
        /// closed-loop clients that get their answers together come back as one batch instead of
        /// settling into two alternating half-size batches.
        var expectedRequests = 1
    }

    let condition = NSCondition()
    /// Only touched with `condition` locked.
    var unsafe = Guarded()

    func withLock<T>(_ body: (inout Guarded) -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body(&unsafe)
    }
}

extension DynamicBatcher {
    /// Puts `job` in the queue, or resumes it at once when the queue is full, the batcher is shut
    /// down or the caller was cancelled before getting here.
    func enqueue(_ job: Job, continuation: CheckedContinuation<Result<[[Float]], BatcherError>, Never>) {
        var immediate: BatcherError?
        var depth = (0, 0)
        state.condition.lock()
        if job.phase == .finished {
            immediate = .cancelled
        } else if state.unsafe.isShutDown {
            immediate = .shutDown
        } else if !state.unsafe.queue.isEmpty,
            state.unsafe.queue.count >= options.maxPendingRequests
                || state.unsafe.pendingTokens + job.tokens > options.maxPendingTokens
        {
            immediate = .overloaded(pendingRequests: state.unsafe.queue.count, pendingTokens: state.unsafe.pendingTokens)
        } else {
            job.phase = .queued
            job.continuation = continuation
            state.unsafe.queue.append(job)
            state.unsafe.pendingTokens += job.tokens
            depth = (state.unsafe.queue.count, state.unsafe.pendingTokens)
            state.condition.signal()
        }
        if immediate != nil { job.phase = .finished }
        state.condition.unlock()
        if let immediate {
            if case .overloaded = immediate { observer.rejected() }
            continuation.resume(returning: .failure(immediate))
        } else {
            observer.queueChanged(depth.0, depth.1)
        }
    }

    /// Removes a cancelled caller's job if it has not started, or marks a job that has not
    /// reached the queue yet so that `enqueue` resumes it as cancelled. A running job finishes.
    func cancel(_ job: Job) {
        var resumed: CheckedContinuation<Result<[[Float]], BatcherError>, Never>?
        var depth = (0, 0)
        state.condition.lock()
        switch job.phase {
        case .new:
            job.phase = .finished
        case .queued:
            if let index = state.unsafe.queue.firstIndex(where: { $0 === job }) {
                state.unsafe.queue.remove(at: index)
                state.unsafe.pendingTokens -= job.tokens
            }
            job.phase = .finished
            resumed = job.continuation
            job.continuation = nil
            depth = (state.unsafe.queue.count, state.unsafe.pendingTokens)
        case .running, .finished:
            break
        }
        state.condition.unlock()
        if let resumed {
            resumed.resume(returning: .failure(.cancelled))
            observer.queueChanged(depth.0, depth.1)
        }
    }

    /// A worker thread: take a batch, run it, hand out results; until shut down and drained.
    func workerLoop() {
        state.withLock { $0.runningWorkers += 1 }
        while let batch = nextBatch() {
            run(batch)
        }
    }

    /// Blocks until there is work (then waits briefly for more) or the batcher is drained after
    /// shutdown (then returns `nil`).
    private func nextBatch() -> [Job]? {
        state.condition.lock()
        defer { state.condition.unlock() }
        while state.unsafe.queue.isEmpty {
            if state.unsafe.isShutDown {
                state.unsafe.runningWorkers -= 1
                return nil
            }
            state.condition.wait()
        }
        if options.coalesce, options.maxWait > .zero, state.unsafe.expectedRequests > 1 {
            let seconds = Double(options.maxWait.components.seconds) + Double(options.maxWait.components.attoseconds) * 1e-18
            let deadline = Date().addingTimeInterval(seconds)
            let expected = min(state.unsafe.expectedRequests, options.maxBatchRequests)
            while state.unsafe.queue.count < expected, state.unsafe.pendingTokens < options.tokenBudget,
                !state.unsafe.isShutDown, Date() < deadline
            {
                _ = state.condition.wait(until: deadline)
            }
            if state.unsafe.queue.isEmpty { return [] }  // all cancelled while waiting
        }
        var taken = 0
        var tokens = 0
        let queue = state.unsafe.queue
        while taken < queue.count {
            let job = queue[taken]
            if taken > 0 {
                if !options.coalesce || taken >= options.maxBatchRequests || tokens + job.tokens > options.tokenBudget { break }
            }
            job.phase = .running
            tokens += job.tokens
            taken += 1
        }
        let batch = Array(queue[0..<taken])
        state.unsafe.queue.removeFirst(taken)
        state.unsafe.pendingTokens -= tokens
        let depth = (state.unsafe.queue.count, state.unsafe.pendingTokens)
        observer.queueChanged(depth.0, depth.1)
        return batch
    }

    /// Runs one forward pass for `batch` and resumes every caller with its own slice, in order.
    private func run(_ batch: [Job]) {
        guard !batch.isEmpty else { return }
        let start = ContinuousClock.now
        var sequences: [[Int32]] = []
        var tokens = 0
        for job in batch {
            sequences.append(contentsOf: job.sequences)
            tokens += job.tokens
        }
        var results: [Result<[[Float]], BatcherError>] = []
        do {
            let vectors = try forward(sequences)
            if vectors.count == sequences.count {
                var offset = 0
                for job in batch {
                    results.append(.success(Array(vectors[offset..<(offset + job.sequences.count)])))
                    offset += job.sequences.count
                }
            } else {
                results = Array(
                    repeating: .failure(
                        .embedder(.invalidInput(reason: "forward pass returned \(vectors.count) vectors for \(sequences.count) sequences"))),
                    count: batch.count)
            }
        } catch {
            // One failing request must not fail the others: retry each alone.
            results = batch.map { job in
                do throws(EmbedderError) { return .success(try forward(job.sequences)) } catch { return .failure(.embedder(error)) }
            }
        }
        observer.batchCompleted(batch.count, sequences.count, tokens, ContinuousClock.now - start)
        var continuations: [CheckedContinuation<Result<[[Float]], BatcherError>, Never>?] = []
        state.withLock { guarded in
            guarded.expectedRequests = max(1, batch.count + guarded.queue.count)
            for job in batch {
                job.phase = .finished
                continuations.append(job.continuation)
                job.continuation = nil
            }
        }
        for (continuation, result) in zip(continuations, results) {
            continuation?.resume(returning: result)
        }
    }
}
