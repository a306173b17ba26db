import Foundation

/// Coalesces concurrent embedding requests into shared forward passes.
///
/// Callers submit already-tokenized sequences and `await` their vectors. Dedicated worker threads
/// (not the Swift cooperative pool, not an event loop) take every request waiting in the queue, up
/// to a token budget, and run them as one ``Embedder/embed(tokenized:)`` call: a single short query
/// leaves most of a GEMM idle, so many queries in one pass cost little more than one.
///
/// - Waiting: a worker that finds work waits at most ``Options/maxWait`` for more, and only while
///   the recent past shows concurrency (the previous batch plus the requests that queued during it
///   were several, and fewer than that many are queued now). A lone caller never pays the wait.
/// - Back-pressure: the queue is bounded by ``Options/maxPendingRequests`` and
///   ``Options/maxPendingTokens``; a request that does not fit is rejected at once with
///   ``BatcherError/overloaded(pendingRequests:pendingTokens:)`` (the server answers 429).
/// - Cancellation: a cancelled caller still in the queue is removed and resumed with
///   ``BatcherError/cancelled``; one already in a forward pass gets its result discarded.
public final class DynamicBatcher: Sendable {
    /// Limits and timing of the batcher.
    public struct Options: Sendable, Equatable {
        /// Longest a worker waits for more requests before starting a forward pass. Default 2 ms.
        public var maxWait: Duration
        /// Most tokens (sum of sequence lengths) in one forward pass. A single request larger than
        /// this still runs, alone. Default 8192.
        public var tokenBudget: Int
        /// Most requests in one forward pass. Default 256.
        public var maxBatchRequests: Int
        /// Most requests waiting in the queue; more are rejected. Default 1024.
        public var maxPendingRequests: Int
        /// Most tokens waiting in the queue; more are rejected. Default 262,144.
        public var maxPendingTokens: Int
        /// Worker threads running forward passes. Each pass already uses BLAS's own threads, so
        /// one worker is right for a small machine. Default 1.
        public var workers: Int
        /// When `false`, every request runs as its own forward pass (no coalescing, no waiting):
        /// the baseline for measuring what batching buys. Default `true`.
        public var coalesce: Bool

        /// The defaults documented on each property.
        public init(
            maxWait: Duration = .milliseconds(2), tokenBudget: Int = 8192, maxBatchRequests: Int = 256,
            maxPendingRequests: Int = 1024, maxPendingTokens: Int = 262_144, workers: Int = 1,
            coalesce: Bool = true
        ) {
            self.maxWait = maxWait
            self.tokenBudget = tokenBudget
            self.maxBatchRequests = maxBatchRequests
            self.maxPendingRequests = maxPendingRequests
            self.maxPendingTokens = maxPendingTokens
            self.workers = workers
            self.coalesce = coalesce
        }

        /// Throws ``BatcherError/invalidOptions(_:)`` naming the first value out of range.
        public func validate() throws(BatcherError) {
            if maxWait < .zero { throw .invalidOptions("maxWait must not be negative") }
            if tokenBudget < 1 { throw .invalidOptions("tokenBudget must be ≥ 1") }
            if maxBatchRequests < 1 { throw .invalidOptions("maxBatchRequests must be ≥ 1") }
            if maxPendingRequests < 1 { throw .invalidOptions("maxPendingRequests must be ≥ 1") }
            if maxPendingTokens < 1 { throw .invalidOptions("maxPendingTokens must be ≥ 1") }
            if workers < 1 || workers > 64 { throw .invalidOptions("workers must be in 1...64") }
        }
    }

    /// Callbacks for metrics; each is called on a worker thread and must be cheap.
    public struct Observer: Sendable {
        /// After each forward pass: requests and sequences in it, their tokens, and its duration.
        public var batchCompleted: @Sendable (_ requests: Int, _ sequences: Int, _ tokens: Int, _ duration: Duration) -> Void
        /// Whenever the queue changes: requests and tokens waiting.
        public var queueChanged: @Sendable (_ requests: Int, _ tokens: Int) -> Void
        /// When a request is rejected because the queue is full.
        public var rejected: @Sendable () -> Void

        /// An observer; every callback defaults to doing nothing.
        public init(
            batchCompleted: @escaping @Sendable (Int, Int, Int, Duration) -> Void = { _, _, _, _ in },
            queueChanged: @escaping @Sendable (Int, Int) -> Void = { _, _ in },
            rejected: @escaping @Sendable () -> Void = {}
        ) {
            self.batchCompleted = batchCompleted
            self.queueChanged = queueChanged
            self.rejected = rejected
        }
    }

    /// The function that turns a flat list of sequences into vectors (``Embedder/embed(tokenized:)``).
    typealias Forward = @Sendable ([[Int32]]) throws(EmbedderError) -> [[Float]]

    /// The batcher's options.
    public let options: Options
    let forward: Forward
    let maxSequenceLength: Int
    let vocabularySize: Int
    let observer: Observer
    let state: BatcherState

    /// A batcher over `embedder`, starting `options.workers` worker threads at once.
    public convenience init(embedder: Embedder, options: Options = Options(), observer: Observer = Observer()) throws(BatcherError) {
        try self.init(
            forward: { (sequences: [[Int32]]) throws(EmbedderError) in try embedder.embed(tokenized: sequences) },
            maxSequenceLength: embedder.pooling.maxSequenceLength, vocabularySize: embedder.config.vocabularySize,
            options: options, observer: observer)
    }

    /// A batcher over any forward function (tests use slow or failing ones).
    init(
        forward: @escaping Forward, maxSequenceLength: Int, vocabularySize: Int,
        options: Options, observer: Observer = Observer()
    ) throws(BatcherError) {
        try options.validate()
        self.options = options
        self.forward = forward
        self.maxSequenceLength = maxSequenceLength
        self.vocabularySize = vocabularySize
        self.observer = observer
        self.state = BatcherState()
        for index in 0..<options.workers {
            let thread = Thread { [self] in
                ThreadControl.nameCurrentThread("quiver-embed-\(index)")
                self.workerLoop()
            }
            thread.start()
        }
    }

    /// Requests and tokens waiting for a worker right now.
    public var queueDepth: (requests: Int, tokens: Int) {
        state.withLock { ($0.queue.count, $0.pendingTokens) }
    }

    /// One vector per sequence, in order, computed in a forward pass shared with other callers.
    ///
    /// Each sequence must be non-empty, at most the model's maximum length, with ids inside the
    /// vocabulary (checked here so one bad request cannot fail a shared batch).
    public func embed(tokenized sequences: [[Int32]]) async throws(BatcherError) -> [[Float]] {
        try validate(sequences)
        if sequences.isEmpty { return [] }
        var tokens = 0
        for sequence in sequences { tokens += sequence.count }
        let job = Job(sequences: sequences, tokens: tokens)
        let result: Result<[[Float]], BatcherError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                enqueue(job, continuation: continuation)
            }
        } onCancel: {
            cancel(job)
        }
        return try result.get()
    }

    /// Stops accepting requests, lets the workers finish everything queued, then ends the threads.
    /// Waits for in-flight forward passes to complete.
    public func shutdown() async {
        state.withLock { guarded in
            guarded.isShutDown = true
            state.condition.broadcast()
        }
        while state.withLock({ $0.runningWorkers > 0 }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func validate(_ sequences: [[Int32]]) throws(BatcherError) {
        for (index, sequence) in sequences.enumerated() {
            guard !sequence.isEmpty, sequence.count <= maxSequenceLength else {
                throw .invalidInput("sequence \(index) has \(sequence.count) tokens; allowed 1...\(maxSequenceLength)")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                throw .invalidInput("sequence \(index) has token id \(bad) outside the vocabulary 0..<\(vocabularySize)")
            }
        }
    }
}

/// Why a batched embedding request did not produce vectors.
public enum BatcherError: Error, Equatable, Sendable {
    /// The queue is full; retry later (HTTP 429).
    case overloaded(pendingRequests: Int, pendingTokens: Int)
    /// The caller's task was cancelled before its forward pass.
    case cancelled
    /// The batcher is shutting down and takes no new work (HTTP 503).
    case shutDown
    /// A sequence is empty, too long or has an id outside the vocabulary.
    case invalidInput(String)
    /// The options are out of range.
    case invalidOptions(String)
    /// The forward pass failed.
    case embedder(EmbedderError)
}

extension BatcherError: CustomStringConvertible {
    /// A one-line explanation for logs and error messages.
    public var description: String {
        switch self {
        case .overloaded(let requests, let tokens):
            "embedding queue is full (\(requests) requests, \(tokens) tokens waiting)"
        case .cancelled: "the request was cancelled"
        case .shutDown: "the embedder is shutting down"
        case .invalidInput(let reason): "invalid input: \(reason)"
        case .invalidOptions(let reason): "invalid batcher options: \(reason)"
        case .embedder(let error): "\(error)"
        }
    }
}
