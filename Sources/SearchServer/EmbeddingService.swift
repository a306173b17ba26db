import Embedder
import Foundation
import Logging
import Synchronization
import VectorMath

/// The model as the HTTP layer sees it: loads it off the request path, reports readiness, and
/// turns validated texts into vectors through the dynamic batcher.
public final class EmbeddingService: Sendable {
    enum State: Sendable {
        case loading
        case ready(Embedder, DynamicBatcher)
        case failed(String)
        case stopped
    }

    /// The model id reported in responses (with `@bf16` or `@int8` at those precisions).
    public let modelID: String
    /// The precision ``load(folder:logger:)`` loads the model at.
    public let precision: Precision
    let batching: DynamicBatcher.Options
    let observer: DynamicBatcher.Observer
    private let state = Mutex<State>(.loading)

    /// A service whose model is not loaded yet; call ``load(folder:logger:)`` or ``use(_:)``.
    public init(
        modelID: String, batching: DynamicBatcher.Options, observer: DynamicBatcher.Observer = .init(), precision: Precision = .fp32
    ) {
        self.modelID = modelID
        self.precision = precision
        self.batching = batching
        self.observer = observer
    }

    /// `true` once the model is loaded and serving.
    public var isReady: Bool {
        state.withLock { if case .ready = $0 { true } else { false } }
    }

    /// Why the service is not ready, without the failure's details (`nil` when it is ready).
    public var publicUnavailableReason: String? {
        state.withLock {
            if case .failed = $0 { return "the model failed to load (details in the server log)" }
            return nil
        } ?? unavailableReason
    }

    /// Why the service is not ready (`nil` when it is).
    public var unavailableReason: String? {
        state.withLock {
            switch $0 {
            case .loading: "the model is still loading"
            case .ready: nil
            case .failed(let reason): "the model failed to load: \(reason)"
            case .stopped: "the server is shutting down"
            }
        }
    }

    /// Serves `embedder` (already loaded) and starts its batcher.
    public func use(_ embedder: Embedder) throws(BatcherError) {
        let batcher = try DynamicBatcher(embedder: embedder, options: batching, observer: observer)
        state.withLock { $0 = .ready(embedder, batcher) }
    }

    /// Loads the model folder on a thread of its own (loading maps and converts the weights, which
    /// must not hold up the server's threads), then serves it.
    public func load(folder: URL, logger: Logger) async {
        let start = ContinuousClock.now
        let loaded: Result<Embedder, EmbedderError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    returning: Result { () throws(EmbedderError) in try Embedder(folder: folder, options: .init(precision: self.precision))
                    })
            }
            thread.name = "quiver-model-load"
            thread.start()
        }
        do {
            let embedder = try loaded.get()
            try use(embedder)
            logger.info(
                "model loaded",
                metadata: [
                    "model": "\(modelID)", "dimensions": "\(embedder.dimension)", "precision": "\(embedder.precision.rawValue)",
                    "max_sequence_length": "\(embedder.pooling.maxSequenceLength)",
                    "seconds": "\((ContinuousClock.now - start).components.seconds)",
                ])
        } catch {
            logger.error("model failed to load", metadata: ["folder": "\(folder.path)", "error": "\(error)"])
            state.withLock { $0 = .failed("\(error)") }
        }
    }

    /// Waits until the model is loaded and returns it; throws `.unavailable` when loading failed,
    /// the service stopped, or the calling task was cancelled.
    public func loadedEmbedder(pollInterval: Duration = .milliseconds(20)) async throws(APIError) -> Embedder {
        while true {
            let current = state.withLock { $0 }
            switch current {
            case .ready(let embedder, _):
                return embedder
            case .loading:
                do { try await Task.sleep(for: pollInterval) } catch { throw .unavailable("cancelled while waiting for the model") }
            case .failed, .stopped:
                throw .unavailable(unavailableReason ?? "the model is not available")
            }
        }
    }

    /// Stops taking requests and lets queued forward passes finish.
    public func shutdown() async {
        let batcher: DynamicBatcher? = state.withLock { current in
            defer { current = .stopped }
            if case .ready(_, let batcher) = current { return batcher }
            return nil
        }
        await batcher?.shutdown()
    }

    /// The loaded model, or `.unavailable` (503) while loading, after a failure or when stopping.
    public func embedder() throws(APIError) -> Embedder {
        try components().0
    }

    func components() throws(APIError) -> (Embedder, DynamicBatcher) {
        let current = state.withLock { $0 }
        switch current {
        case .ready(let embedder, let batcher): return (embedder, batcher)
        default: throw .unavailable(unavailableReason ?? "the model is not available")
        }
    }

    /// Token ids of each text (with `[CLS]`/`[SEP]`). When `truncate` is `false`, a text longer
    /// than the model's maximum is an ``APIError/inputTooLong(index:tokens:allowed:)``.
    public func tokenize(_ texts: [String], truncate: Bool) throws(APIError) -> [[Int32]] {
        let embedder = try embedder()
        let limit = embedder.pooling.maxSequenceLength
        var result: [[Int32]] = []
        result.reserveCapacity(texts.count)
        for (index, text) in texts.enumerated() {
            if truncate {
                result.append(embedder.tokenizer.encode(text, maxLength: limit))
            } else {
                // One id past the limit is enough to know the text is too long.
                let ids = embedder.tokenizer.encode(text, maxLength: limit + 1)
                if ids.count > limit { throw .inputTooLong(index: index, tokens: ids.count, allowed: limit) }
                result.append(ids)
            }
        }
        return result
    }

    /// Vectors for already-tokenized sequences, through the batcher (or one forward pass per
    /// request when batching is off).
    public func embed(tokenized sequences: [[Int32]]) async throws(APIError) -> [[Float]] {
        let (_, batcher) = try components()
        do {
            return try await batcher.embed(tokenized: sequences)
        } catch {
            throw APIError.fromBatcher(error)
        }
    }
}

extension EmbeddingService {
    /// The model's sequences for request inputs: texts are tokenized; token arrays (vocabulary
    /// ids of this model) are checked and get `[CLS]`/`[SEP]` added unless they start with `[CLS]`.
    func sequences(for inputs: TextInputs, truncate: Bool) throws(APIError) -> [[Int32]] {
        switch inputs {
        case .texts(let texts, _):
            return try tokenize(texts, truncate: truncate)
        case .tokens(let arrays, _):
            let embedder = try embedder()
            let tokenizer = embedder.tokenizer
            let limit = embedder.pooling.maxSequenceLength
            let vocabulary = embedder.config.vocabularySize
            var result: [[Int32]] = []
            result.reserveCapacity(arrays.count)
            for (index, ids) in arrays.enumerated() {
                var sequence: [Int32] = []
                sequence.reserveCapacity(ids.count + 2)
                let wrap = ids.first != Int(tokenizer.clsID)
                if wrap { sequence.append(tokenizer.clsID) }
                for id in ids {
                    guard id >= 0, id < vocabulary, let small = Int32(exactly: id) else {
                        throw .invalidRequest("input[\(index)] has token id \(id) outside the vocabulary 0..<\(vocabulary)")
                    }
                    sequence.append(small)
                }
                if wrap { sequence.append(tokenizer.sepID) }
                if sequence.count > limit {
                    guard truncate else { throw .inputTooLong(index: index, tokens: sequence.count, allowed: limit) }
                    sequence.removeLast(sequence.count - limit + 1)
                    sequence.append(tokenizer.sepID)
                }
                result.append(sequence)
            }
            return result
        }
    }
}
