import DocumentStore
import Embedder
import Foundation
import KeywordIndex
import QueryLog
import VectorIndex

/// Limits on one query, checked before any work is done. The engine's defaults are the widest the
/// index takes; the HTTP server passes its configured limits.
public struct QueryLimits: Sendable, Equatable {
    /// Largest `k`.
    public var maxK: Int
    /// Largest `ef`.
    public var maxEf: Int
    /// Longest query text, in UTF-8 bytes.
    public var maxTextBytes: Int
    /// Largest answer of one request (all the queries of a batch), in bytes of JSON
    /// (see ``ResponseBudget``); `Int.max` for none.
    public var maxResponseBytes: Int

    /// Limits.
    public init(
        maxK: Int = SearchEngine.kRange.upperBound, maxEf: Int = SearchEngine.efRange.upperBound, maxTextBytes: Int = 1 << 20,
        maxResponseBytes: Int = .max
    ) {
        self.maxK = maxK
        self.maxEf = maxEf
        self.maxTextBytes = maxTextBytes
        self.maxResponseBytes = maxResponseBytes
    }

    /// The engine's own limits.
    public static let engine = QueryLimits()
}

/// Embeds query text for the query path, which calls it once per request (a batch's texts
/// together). The HTTP server passes its dynamic batcher with its cache; the CLI passes
/// ``ModelQueryEmbedder``.
public protocol QueryEmbedder: Sendable {
    /// Vectors of `texts`, in order, computed with the model whose fingerprint is `fingerprint`
    /// (the one the serving generation was built with); nil when this embedder has no such model.
    func embed(_ texts: [String], fingerprint: String) async throws -> [[Float]]?
}

/// Embeds query text with the engine's own models, on the calling thread.
public struct ModelQueryEmbedder: QueryEmbedder {
    let engine: SearchEngine

    /// An embedder over `engine`'s models, including those its ``ModelProvider`` loads on demand.
    public init(engine: SearchEngine) { self.engine = engine }

    public func embed(_ texts: [String], fingerprint: String) async throws -> [[Float]]? {
        try embedNow(texts, fingerprint: fingerprint)
    }

    func embedNow(_ texts: [String], fingerprint: String) throws(SearchEngineError) -> [[Float]]? {
        guard let embedder = engine.model(fingerprint: fingerprint)?.embedder else { return nil }
        do { return try embedder.embed(texts) } catch { throw SearchEngineError(error) }
    }
}

/// Loads models the engine was not started with, when a generation needs one (a candidate's, or
/// a collection's current model after a promote): the server's `--candidate-model` folders.
public protocol ModelProvider: Sendable {
    /// The models it can load: ids and fingerprints.
    var available: [(id: String, fingerprint: String)] { get }
    /// Loads the model with `fingerprint` (seconds: the weights are read and packed); nil when it
    /// has none, or loading failed (logged).
    func load(fingerprint: String) -> EmbeddingModel?
}

/// Runs the engine's blocking work (store reads, searches) for its async calls. The server passes
/// its pool for blocking work; the default runs it inline on the calling task.
public protocol BlockingExecutor: Sendable {
    /// Runs `body` and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T
}

/// Runs blocking work on the calling task's thread.
public struct InlineExecutor: BlockingExecutor {
    /// An inline executor.
    public init() {}

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T { try body() }
}

extension QueryRequest {
    /// Checks the request against `limits` before any work: exactly one of text, vector or id; a
    /// non-empty text within `maxTextBytes`; a non-empty vector; `k` and `ef` in range. `field`
    /// prefixes the messages (`queries[3].` in a batch).
    ///
    /// - Throws: `invalidQuery`, or `limitExceeded` naming the limit.
    public func validate(limits: QueryLimits, field: String = "") throws(SearchEngineError) {
        let given = [text != nil, vector != nil, id != nil].filter { $0 }.count
        guard given == 1 else {
            throw .invalidQuery("\(field.isEmpty ? "" : "\(field.dropLast()): ")give exactly one of text, vector or id")
        }
        if let text {
            guard !text.isEmpty else { throw .invalidQuery("\(field)text must not be empty") }
            guard text.utf8.count <= limits.maxTextBytes else {
                throw .limitExceeded(limit: "max_text_bytes", value: text.utf8.count, allowed: limits.maxTextBytes)
            }
        }
        if let vector, vector.isEmpty { throw .invalidQuery("\(field)vector must not be empty") }
        try Self.validate(k: k, ef: ef, limits: limits, field: field)
        if let mode, mode != .vector, text == nil {
            throw .invalidQuery("\(field)mode \(mode.rawValue) needs a text query (vector and id queries are vector mode)")
        }
        if let fusion {
            guard effectiveMode == .hybrid else { throw .invalidQuery("\(field)fusion applies to mode hybrid only") }
            try fusion.validate(field: field)
        }
        if let verdictThreshold {
            guard text != nil, effectiveMode != .keyword else {
                throw .invalidQuery("\(field)verdict_threshold applies to text queries in vector or hybrid mode")
            }
            guard verdictThreshold.isFinite, (0...1).contains(verdictThreshold) else {
                throw .invalidQuery("\(field)verdict_threshold must be between 0 and 1 (got \(verdictThreshold))")
            }
        }
        if let minSeq, minSeq < 0 { throw .invalidQuery("\(field)min_seq must be at least 0 (got \(minSeq))") }
        if let waitMs {
            guard (0...Self.maxWaitMs).contains(waitMs) else {
                throw .invalidQuery("\(field)wait_ms must be between 0 and \(Self.maxWaitMs) (got \(waitMs))")
            }
            guard minSeq != nil || maxStalenessMs != nil else {
                throw .invalidQuery("\(field)wait_ms applies with min_seq or max_staleness_ms only")
            }
        }
        if let maxStalenessMs, !(0...Self.maxStalenessLimitMs).contains(maxStalenessMs) {
            throw .invalidQuery(
                "\(field)max_staleness_ms must be between 0 and \(Self.maxStalenessLimitMs) (got \(maxStalenessMs))")
        }
        if minSeq != nil || maxStalenessMs != nil, generation == .candidate {
            throw .invalidQuery(
                "\(field)\(minSeq != nil ? "min_seq" : "max_staleness_ms") applies to the current generation "
                    + "(a candidate is filled in the background)")
        }
    }

    /// Whether answering needs the text's embedding (a text query not in keyword mode).
    var needsEmbedding: Bool { text != nil && effectiveMode != .keyword }

    /// Checks `k` (at least 1, at most `maxK`) and `ef` (at least 1, at most `maxEf`).
    public static func validate(k: Int, ef: Int?, limits: QueryLimits, field: String = "") throws(SearchEngineError) {
        guard k >= 1 else { throw .invalidQuery("\(field)k must be at least 1 (got \(k))") }
        guard k <= limits.maxK else { throw .limitExceeded(limit: "max_k", value: k, allowed: limits.maxK) }
        if let ef {
            guard ef >= 1 else { throw .invalidQuery("\(field)ef must be at least 1 (got \(ef))") }
            guard ef <= limits.maxEf else { throw .limitExceeded(limit: "max_ef", value: ef, allowed: limits.maxEf) }
        }
    }
}

extension CollectionHandle {
    /// Returns once the serving index covers store seq `seq` (a `min_seq` query), waking the
    /// follower and checking every 2 ms for up to `milliseconds`; then refuses with the replica's
    /// lag. No thread is held while waiting.
    ///
    /// - Throws: `unavailable` naming `indexed_seq`, `store_seq`, the lag in changes and how long
    ///   was waited.
    func waitForIndex(atLeast seq: Int64, milliseconds: Int) async throws {
        let start = ContinuousClock.now
        let follower = self.follower
        if follower.loaded == nil { _ = try await engine.executor.run { try follower.snapshot() } }
        guard try await Self.poll(milliseconds: milliseconds, until: { covers(seq) }) else {
            let handle = self
            throw try await engine.executor.run { handle.behind(seq, since: start) }
        }
    }

    /// ``waitForIndex(atLeast:milliseconds:)`` on the calling thread (the synchronous query).
    func waitForIndexBlocking(atLeast seq: Int64, milliseconds: Int) throws(SearchEngineError) {
        let start = ContinuousClock.now
        if follower.loaded == nil { _ = try follower.snapshot() }
        guard Self.pollBlocking(milliseconds: milliseconds, until: { covers(seq) }) else { throw behind(seq, since: start) }
    }

    /// Returns once the serving index is known to hold every change committed more than
    /// `maxStalenessMs` ago (a `max_staleness_ms` query), waking the follower (whose cycle reads
    /// the store) and checking every 2 ms for up to `milliseconds`; then refuses with the lag.
    ///
    /// - Throws: `unavailable` naming the lag and the bound.
    func waitForFreshness(_ maxStalenessMs: Int, milliseconds: Int) async throws {
        guard try await Self.poll(milliseconds: milliseconds, until: { fresh(maxStalenessMs) }) else { throw stale(maxStalenessMs) }
    }

    /// ``waitForFreshness(_:milliseconds:)`` on the calling thread (the synchronous query).
    func waitForFreshnessBlocking(_ maxStalenessMs: Int, milliseconds: Int) throws(SearchEngineError) {
        guard Self.pollBlocking(milliseconds: milliseconds, until: { fresh(maxStalenessMs) }) else { throw stale(maxStalenessMs) }
    }

    /// Checks `met` every 2 ms (without holding a thread) until it holds — true — or
    /// `milliseconds` have passed — false.
    private static func poll(milliseconds: Int, until met: () -> Bool) async throws -> Bool {
        let start = ContinuousClock.now
        while !met() {
            if ContinuousClock.now - start >= .milliseconds(milliseconds) { return false }
            try await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// ``poll(milliseconds:until:)`` on the calling thread.
    private static func pollBlocking(milliseconds: Int, until met: () -> Bool) -> Bool {
        let start = ContinuousClock.now
        while !met() {
            if ContinuousClock.now - start >= .milliseconds(milliseconds) { return false }
            usleep(2_000)
        }
        return true
    }

    /// Whether the serving index's lag is within `maxStalenessMs`; wakes the follower when not.
    private func fresh(_ maxStalenessMs: Int) -> Bool {
        if follower.loaded != nil, let lag = follower.lagSeconds, lag * 1000 <= Double(maxStalenessMs) { return true }
        follower.wake()
        return false
    }

    /// The refusal of a `max_staleness_ms` the index did not meet.
    private func stale(_ maxStalenessMs: Int) -> SearchEngineError {
        let lag = follower.lagSeconds.map { "\(Int(($0 * 1000).rounded())) ms" } ?? "unknown"
        let failure = follower.lastCycleFailure.map { "; the follower's last cycle failed: \($0)" } ?? ""
        return .unavailable(
            "the index of \(name) is known complete only up to \(lag) ago, beyond max_staleness_ms \(maxStalenessMs)\(failure)")
    }

    /// Whether the serving index covers `seq`; wakes the follower when it does not.
    private func covers(_ seq: Int64) -> Bool {
        if (follower.loaded?.indexedSeq ?? 0) >= seq { return true }
        follower.wake()
        return false
    }

    /// The refusal of a `min_seq` the index did not reach: its lag, and whether the store itself
    /// is behind (a standby that has not replayed the write yet).
    private func behind(_ seq: Int64, since start: ContinuousClock.Instant) -> SearchEngineError {
        let indexed = follower.loaded?.indexedSeq ?? 0
        let store = follower.boundedState()?.seq ?? indexed
        let waited = ContinuousClock.now - start
        let ms = waited.components.seconds * 1000 + waited.components.attoseconds / 1_000_000_000_000_000
        return .unavailable(
            "the index of \(name) covers seq \(indexed), behind min_seq \(seq) (store_seq \(store), lag \(max(0, store - indexed)) "
                + "changes) after waiting \(ms) ms"
                + (store < seq ? "; the store itself has not reached min_seq (a standby behind its primary?)" : ""))
    }
}

extension SearchEngine {
    /// Allowed `k`.
    public static let kRange = 1...1000
    /// The mode of a text query that names none: hybrid, with ``Fusion/standard``. Chosen by
    /// measured relevance (README, "Relevance"): the best nDCG@10 on the sample corpus and on the
    /// Debian man-page set, ahead of vector-only by 0.05–0.07 (p ≤ 0.04).
    public static let defaultTextMode = SearchMode.hybrid
    /// Allowed `ef`.
    public static let efRange = 1...100_000
    /// Collections with at most this many vectors are searched exactly (a scan of 2,048
    /// 384-dim vectors takes ~0.1 ms), as are queries asking for half the collection or more.
    public static let exactSearchLimit = 2048
}

/// What one search looks for: its mode, the query vector (vector and hybrid) and text (keyword and
/// hybrid).
struct SearchInput {
    var mode: SearchMode
    var vector: [Float]?
    var text: String?
    var fusion: Fusion
    /// The keyword list of an unfiltered hybrid query, when it was searched while the text was
    /// being embedded (it is the same list: the keyword index does not depend on the model).
    var keywordHits: Result<[KeywordHit], SearchEngineError>? = nil
    /// Whether the answer carries a ``Verdict`` (text queries in vector and hybrid mode).
    var wantsVerdict = false
    /// The request's `verdict_threshold`.
    var verdictThreshold: Float? = nil
}

/// A ranked label before its document is read.
struct RankedLabel {
    var label: Int64
    var score: Float
    var scores: HitScores?
    /// In a chunked generation: the document's matching passages (number and similarity), best first.
    var passages: [(passage: Int, score: Float)]? = nil
}

/// A document found by a vector search: its best similarity and, in a chunked generation, the
/// passages that matched (best first).
struct VectorHit {
    var label: Int64
    var score: Float
    var passages: [(passage: Int, score: Float)]?
}

/// The serving generation changed between embedding a batch's texts and searching: embed again.
private struct GenerationMoved: Error {}

extension CollectionHandle {
    // MARK: The query path
    //
    // Every query — HTTP or CLI, single or batch, by text, vector or id — is validated by
    // `QueryRequest.validate`, takes one serving generation, and is answered by `answer` below.
    // Only the embedding of text differs: the synchronous call embeds with the engine's models on
    // the calling thread; the async calls use the injected `QueryEmbedder`.

    /// The `k` documents nearest to a text, a vector or a stored document, with freshness, the
    /// index state and timings. Text is embedded with the engine's model of the serving
    /// generation, on the calling thread.
    ///
    /// - Throws: `invalidQuery` (none or several of text/vector/id, bad k/ef), `limitExceeded`,
    ///   `dimensionMismatch`, `documentNotFound` (query by id), `invalidFilter`, `modelUnavailable`.
    public func query(_ request: QueryRequest, limits: QueryLimits = .engine) throws(SearchEngineError) -> QueryResponse {
        try request.validate(limits: limits)
        if let minSeq = request.minSeq {
            try waitForIndexBlocking(atLeast: minSeq, milliseconds: request.waitMs ?? QueryRequest.defaultWaitMs)
        }
        if let maxStalenessMs = request.maxStalenessMs {
            try waitForFreshnessBlocking(maxStalenessMs, milliseconds: request.waitMs ?? QueryRequest.defaultWaitMs)
        }
        return try snapshot(generation: request.generation ?? .current).answer(request, limits: limits)
    }

    /// The serving generation and the store state as of now, to answer many queries against one
    /// moment (a bulk job's chunk of lines) without reading the store state per query.
    /// `generation`: the current one (default) or the candidate (its index built on first use).
    ///
    /// - Throws: `conflict` for the candidate of a collection that has none.
    public func snapshot(generation: GenerationChoice = .current) throws(SearchEngineError) -> QuerySnapshot {
        if generation == .candidate { return try snapshot(of: try candidateServing(fill: false)) }
        let (serving, state) = try follower.snapshot()
        return QuerySnapshot(handle: self, serving: serving, state: state, generation: .current)
    }

    /// The candidate's `serving` generation with the store state as of now.
    func snapshot(of serving: ServingGeneration) throws(SearchEngineError) -> QuerySnapshot {
        do { return QuerySnapshot(handle: self, serving: serving, state: try store.state(), generation: .candidate) } catch {
            throw SearchEngineError(error)
        }
    }

    /// ``query(_:limits:)`` with text embedded by `embedder`, the blocking work on the engine's
    /// executor.
    ///
    /// - Throws: what the synchronous query throws (as `SearchEngineError`), and `embedder`'s errors.
    public func query(_ request: QueryRequest, embedder: any QueryEmbedder, limits: QueryLimits = .engine) async throws
        -> QueryResponse
    {
        try request.validate(limits: limits)
        let results = try await answer([request], embedder: embedder, inBatch: false, limits: limits)
        guard let first = results.first else { throw SearchEngineError.storage("a query produced no answer") }
        return first
    }

    /// Many queries at once: every one is validated before any work (messages name
    /// `queries[i]`), their texts are embedded in one call to `embedder`, and they are answered
    /// on up to the CPU budget's read threads in parallel. Answers are in request order.
    public func query(batch requests: [QueryRequest], embedder: any QueryEmbedder, limits: QueryLimits = .engine) async throws
        -> [QueryResponse]
    {
        for (index, request) in requests.enumerated() { try request.validate(limits: limits, field: "queries[\(index)].") }
        return try await answer(requests, embedder: embedder, inBatch: true, limits: limits)
    }

    /// Throws `limitExceeded("max_response_bytes (estimated)")` when the answers to `requests`
    /// would exceed the budget by ``ResponseBudget``'s estimate (k hits each, or the collection's
    /// size when smaller).
    static func checkEstimate(_ requests: [QueryRequest], serving: ServingGeneration, budget: ResponseBudget) throws(SearchEngineError) {
        guard budget.limit != .max else { return }
        let count = serving.index.count
        var total = 0
        for request in requests {
            var perHit = ResponseBudget.estimatedHitBytes(
                dimensions: serving.record.dimensions, include: Set(request.include ?? []), withPayload: request.withPayload)
            // Keyword and hybrid hits carry their per-list scores.
            if request.effectiveMode != .vector { perHit += ResponseBudget.scoresBytes }
            let bytes = ResponseBudget.estimate(hits: min(request.k, count), perHit: perHit)
            total = total.addingReportingOverflow(bytes).overflow ? .max : total + bytes
        }
        try budget.check(hits: 1, perHit: total)
    }

    /// Answers validated `requests`: each on the generation it names, the current one by default
    /// (`pinned`: every request on that serving generation instead, such as the candidate's).
    /// `positions` are the requests' places in the caller's batch (for error messages) and
    /// `shared` a response budget the caller's other part of the batch counts against too.
    func answer(
        _ requests: [QueryRequest], embedder: any QueryEmbedder, inBatch: Bool, limits: QueryLimits, pinned: ServingGeneration? = nil,
        positions: [Int]? = nil, shared: ResponseBudget? = nil
    ) async throws -> [QueryResponse] {
        if pinned == nil, requests.contains(where: { $0.generation == .candidate }) {
            // The candidate's index (built on first use) answers the requests that name it; the
            // others, if any, are answered as usual and the answers merged in request order.
            let handle = self
            // The held index when it covers the store, from the read pool; a build or catch-up
            // (seconds for a large collection, and serialized) on a thread of its own, so that
            // queries of every collection keep the read pool.
            let ready = try await engine.executor.run { try handle.readyCandidate() }
            let candidate: ServingGeneration
            if let ready {
                candidate = ready
            } else {
                candidate = try await SearchEngine.onOwnThread("quiver-candidate") { () throws(SearchEngineError) in
                    try handle.candidateServing(fill: false)
                }
            }
            let named = requests.indices.filter { requests[$0].generation == .candidate }
            let others = requests.indices.filter { requests[$0].generation != .candidate }
            // One response budget for the whole batch; errors name the request's own place.
            let budget = ResponseBudget(limit: limits.maxResponseBytes)
            let candidateAnswers = try await answer(
                named.map { requests[$0] }, embedder: embedder, inBatch: inBatch, limits: limits, pinned: candidate,
                positions: named, shared: budget)
            if others.isEmpty { return candidateAnswers }
            let otherAnswers = try await answer(
                others.map { requests[$0] }, embedder: embedder, inBatch: inBatch, limits: limits, pinned: nil,
                positions: others, shared: budget)
            var merged = [QueryResponse?](repeating: nil, count: requests.count)
            for (index, answer) in zip(named, candidateAnswers) { merged[index] = answer }
            for (index, answer) in zip(others, otherAnswers) { merged[index] = answer }
            return merged.compactMap { $0 }
        }
        let executor = engine.executor
        if pinned == nil, let minSeq = requests.compactMap(\.minSeq).max() {
            let wait = requests.filter { $0.minSeq != nil }.map { $0.waitMs ?? QueryRequest.defaultWaitMs }.max() ?? 0
            try await waitForIndex(atLeast: minSeq, milliseconds: wait)
        }
        if pinned == nil, let maxStalenessMs = requests.compactMap(\.maxStalenessMs).min() {
            let wait = requests.filter { $0.maxStalenessMs != nil }.map { $0.waitMs ?? QueryRequest.defaultWaitMs }.max() ?? 0
            try await waitForFreshness(maxStalenessMs, milliseconds: wait)
        }
        let budget = shared ?? ResponseBudget(limit: limits.maxResponseBytes)
        if budget.limit != .max {
            // Before any embedding or search: the serving generation from memory when it is loaded.
            let serving: ServingGeneration
            if let pinned {
                serving = pinned
            } else if let loaded = follower.loaded {
                serving = loaded
            } else {
                let follower = self.follower
                serving = try await executor.run { try follower.snapshot().0 }
            }
            try Self.checkEstimate(requests, serving: serving, budget: budget)
        }
        let textIndices = requests.indices.filter { requests[$0].needsEmbedding }
        // Unfiltered hybrid queries: their keyword lists are searched on a read thread while the
        // texts are embedded (neither needs the other) — when other queries are in flight or this
        // is a batch. A lone query is searched after its embedding: measured on this 2-core
        // machine, a search beside the encoder's two-thread forward pass slowed that pass (c=1
        // p90 +3 ms), while under concurrent load it raised hybrid throughput 25–40 %
        // (BENCHMARKS.md, "Hybrid search").
        let inFlight = engine.queriesInFlight.add(1, ordering: .relaxed).newValue
        defer { engine.queriesInFlight.subtract(1, ordering: .relaxed) }
        let keywordTask =
            inFlight > 1 || requests.count > 1
            ? keywordPrefetch(requests.indices.filter { requests[$0].effectiveMode == .hybrid && requests[$0].filter == nil }, requests)
            : nil
        var attempt = 0
        while true {
            attempt += 1
            var embedded: [Int: EmbeddedQueryText] = [:]
            if !textIndices.isEmpty {
                // The serving model from memory (no store read) when the index is loaded.
                let fingerprint: String
                if let pinned {
                    fingerprint = pinned.record.modelFingerprint
                } else if let loaded = follower.loaded {
                    fingerprint = loaded.record.modelFingerprint
                } else {
                    let follower = self.follower
                    fingerprint = try await executor.run { try follower.snapshot().0.record.modelFingerprint }
                }
                let start = DispatchTime.now()
                guard let vectors = try await embedder.embed(textIndices.map { requests[$0].text ?? "" }, fingerprint: fingerprint) else {
                    throw SearchEngineError.modelUnavailable(collection: name, fingerprint: fingerprint)
                }
                guard vectors.count == textIndices.count else {
                    throw SearchEngineError.embedding("\(vectors.count) vectors for \(textIndices.count) texts")
                }
                let ms = milliseconds(since: start)
                let prefetched = await keywordTask?.value ?? [:]
                for (index, vector) in zip(textIndices, vectors) {
                    embedded[index] = EmbeddedQueryText(vector: vector, fingerprint: fingerprint, embedMs: ms)
                    embedded[index]?.keywordHits = prefetched[index]
                }
            }
            do {
                // A fresh budget per attempt: hits read by an attempt that is thrown away are not
                // part of the answer.
                return try await run(
                    requests, embedded: embedded, inBatch: inBatch, budget: shared ?? ResponseBudget(limit: limits.maxResponseBytes),
                    pinned: pinned, positions: positions)
            } catch is GenerationMoved where attempt < 3 {
                continue
            } catch is GenerationMoved {
                throw SearchEngineError.conflict("the collection's model kept changing during the query; send it again")
            }
        }
    }

    /// The keyword lists of `requests[indices]` (unfiltered hybrid queries), searched on the
    /// engine's executor as a task of their own; nil when there are none.
    private func keywordPrefetch(_ indices: [Int], _ requests: [QueryRequest])
        -> Task<[Int: Result<[KeywordHit], SearchEngineError>], Never>?
    {
        guard !indices.isEmpty else { return nil }
        let executor = engine.executor
        let keyword = follower.keyword
        return Task {
            let lists = try? await executor.run {
                var lists: [Int: Result<[KeywordHit], SearchEngineError>] = [:]
                for index in indices {
                    let request = requests[index]
                    let depth = (request.fusion ?? .standard).candidateCount(k: request.k)
                    lists[index] = Result { () throws(SearchEngineError) in
                        try keyword.search(request.text ?? "", limit: depth, allowed: nil)
                    }
                }
                return lists
            }
            return lists ?? [:]
        }
    }

    /// Answers `requests` in contiguous chunks, one per read thread, on the engine's executor.
    private func run(
        _ requests: [QueryRequest], embedded: [Int: EmbeddedQueryText], inBatch: Bool, budget: ResponseBudget,
        pinned: ServingGeneration?, positions: [Int]?
    ) async throws -> [QueryResponse] {
        let executor = engine.executor
        let handle = self
        // Small batches are not worth a hand-off per chunk.
        let chunks = requests.count < 16 ? 1 : min(engine.budget.readThreads, requests.count)
        let size = (requests.count + chunks - 1) / max(chunks, 1)
        let ranges = stride(from: 0, to: requests.count, by: max(size, 1)).map { $0..<min($0 + size, requests.count) }
        if ranges.count <= 1 {
            return try await executor.run {
                try handle.answer(
                    requests, 0..<requests.count, embedded: embedded, inBatch: inBatch, budget: budget, pinned: pinned, positions: positions
                )
            }
        }
        return try await withThrowingTaskGroup(of: (Int, [QueryResponse]).self) { group in
            for (chunk, range) in ranges.enumerated() {
                group.addTask {
                    (
                        chunk,
                        try await executor.run {
                            try handle.answer(
                                requests, range, embedded: embedded, inBatch: inBatch, budget: budget, pinned: pinned, positions: positions)
                        }
                    )
                }
            }
            var parts = [[QueryResponse]](repeating: [], count: ranges.count)
            for try await (chunk, answers) in group { parts[chunk] = answers }
            return parts.flatMap { $0 }
        }
    }

    /// Answers `requests[range]` against one snapshot of the serving generation.
    private func answer(
        _ requests: [QueryRequest], _ range: Range<Int>, embedded: [Int: EmbeddedQueryText], inBatch: Bool, budget: ResponseBudget,
        pinned: ServingGeneration?, positions: [Int]?
    ) throws -> [QueryResponse] {
        let serving: ServingGeneration
        let state: StoreState
        if let pinned {
            serving = pinned
            do { state = try store.state() } catch { throw SearchEngineError(error) }
        } else {
            (serving, state) = try follower.snapshot()
        }
        var answers: [QueryResponse] = []
        answers.reserveCapacity(range.count)
        for index in range {
            if let text = embedded[index], text.fingerprint != serving.record.modelFingerprint { throw GenerationMoved() }
            do throws(SearchEngineError) {
                answers.append(try answer(requests[index], serving, state, embedded: embedded[index], budget: budget))
            } catch {
                throw inBatch ? Self.batchError(error, index: positions?[index] ?? index) : error
            }
        }
        return answers
    }

    /// An error of query `index` of a batch, naming it.
    static func batchError(_ error: SearchEngineError, index: Int) -> SearchEngineError {
        switch error {
        case .invalidQuery(let reason): .invalidQuery("queries[\(index)]: \(reason)")
        case .invalidFilter(let reason): .invalidFilter("queries[\(index)]: \(reason)")
        case .dimensionMismatch(let expected, let actual):
            .invalidQuery("queries[\(index)].vector: has \(actual) dimensions, the collection's vectors have \(expected)")
        default: error
        }
    }

    /// One validated query against one serving generation; `embedded` is its text's vector (nil
    /// in keyword mode).
    func answer(
        _ request: QueryRequest, _ serving: ServingGeneration, _ state: StoreState, embedded: EmbeddedQueryText?,
        budget: ResponseBudget
    ) throws(SearchEngineError) -> QueryResponse {
        let record = serving.record
        var timings = QueryTimings()
        var exclude: Set<Int64> = []
        var vector: [Float]?
        if request.needsEmbedding {
            guard let embedded, embedded.fingerprint == record.modelFingerprint else {
                throw .modelUnavailable(collection: name, fingerprint: record.modelFingerprint)
            }
            vector = embedded.vector
            timings.embedMs = embedded.embedMs
        } else if let given = request.vector {
            vector = given
        } else if let id = request.id {
            let found = try storedDocuments(ids: [id], generation: record, withVectors: true)
            guard let document = found[id], let stored = document.vector else {
                throw .documentNotFound(collection: name, id: id)
            }
            vector = stored
            exclude.insert(document.label)
        }
        let input = SearchInput(
            mode: request.effectiveMode, vector: vector, text: request.text, fusion: request.fusion ?? .standard,
            keywordHits: embedded?.keywordHits, wantsVerdict: request.text != nil && request.effectiveMode != .keyword,
            verdictThreshold: request.verdictThreshold)
        let started = DispatchTime.now()
        var response = try search(
            serving, state, input, k: request.k, ef: request.ef, filter: request.filter,
            exclude: exclude, include: Set(request.include ?? []), withPayload: request.withPayload, timings: timings,
            budget: budget)
        if engine.logsQueries, let text = request.text, !record.candidate {
            let tuning = follower.tuningCache.tuning(state.tuning)
            if tuning.logsQueries {
                response.queryID = logQuery(
                    text, request, response, vector: request.effectiveMode == .keyword ? nil : vector, tuning: tuning,
                    latencyMs: timings.embedMs + milliseconds(since: started))
            }
        }
        return response
    }

    /// Records an answered text query in the collection's query log; returns its id.
    private func logQuery(
        _ text: String, _ request: QueryRequest, _ response: QueryResponse, vector: [Float]?, tuning: CollectionTuning, latencyMs: Double
    ) -> String {
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let query = LoggedQuery(
            queryID: id, at: Date().timeIntervalSince1970, generation: response.index.generation, mode: request.effectiveMode.rawValue,
            text: text, textKey: "", k: request.k,
            hits: response.results.prefix(QueryLogFile.keptHits).map { LoggedHit(id: $0.id, score: $0.score) },
            answered: response.verdict?.answered, confidence: response.verdict?.confidence, latencyMs: latencyMs, vector: vector)
        follower.queryLogger.record(query, textMode: tuning.effectiveQueryLogText)
        return id
    }

    /// "More like these, less like those" (see `RecommendRequest`).
    public func recommend(_ request: RecommendRequest, limits: QueryLimits = .engine) throws(SearchEngineError) -> QueryResponse {
        try QueryRequest.validate(k: request.k, ef: request.ef, limits: limits)
        guard !request.positive.isEmpty else { throw .invalidQuery("positive needs at least one id") }
        let negative = request.negative ?? []
        guard request.positive.count + negative.count <= 1000 else { throw .invalidQuery("at most 1000 example ids") }
        let (serving, state) = try follower.snapshot()
        let budget = ResponseBudget(limit: limits.maxResponseBytes)
        try Self.checkEstimate(
            [QueryRequest(id: "", k: request.k, include: request.include, withPayload: request.withPayload)], serving: serving,
            budget: budget)
        let found = try storedDocuments(ids: request.positive + negative, generation: serving.record, withVectors: true)
        func mean(_ ids: [String]) throws(SearchEngineError) -> [Float] {
            var sum = [Float](repeating: 0, count: serving.record.dimensions)
            for id in ids {
                guard let vector = found[id]?.vector else { throw .documentNotFound(collection: name, id: id) }
                for i in sum.indices { sum[i] += vector[i] }
            }
            return sum.map { $0 / Float(ids.count) }
        }
        let positive = try mean(request.positive)
        var vector = positive
        if !negative.isEmpty {
            let away = try mean(negative)
            vector = zip(positive, away).map { 2 * $0 - $1 }
        }
        let exclude = Set(found.values.map(\.label))
        return try search(
            serving, state, SearchInput(mode: .vector, vector: vector, text: nil, fusion: .standard), k: request.k, ef: request.ef,
            filter: request.filter, exclude: exclude, include: Set(request.include ?? []), withPayload: request.withPayload,
            timings: QueryTimings(), budget: budget)
    }

    private func search(
        _ serving: ServingGeneration, _ state: StoreState, _ input: SearchInput, k: Int, ef: Int?,
        filter: QueryFilter?, exclude: Set<Int64>, include: Set<IncludeField>, withPayload: Bool, timings: QueryTimings,
        budget: ResponseBudget
    ) throws(SearchEngineError) -> QueryResponse {
        guard SearchEngine.kRange.contains(k) else { throw .invalidQuery("k must be in \(SearchEngine.kRange)") }
        if let ef { guard SearchEngine.efRange.contains(ef) else { throw .invalidQuery("ef must be in \(SearchEngine.efRange)") } }
        let record = serving.record
        if let vector = input.vector {
            guard vector.count == record.dimensions else {
                throw .dimensionMismatch(expected: record.dimensions, actual: vector.count)
            }
            guard vector.allSatisfy(\.isFinite) else { throw .invalidQuery("vector has a non-finite number") }
        }
        var timings = timings
        let searchStart = DispatchTime.now()
        var allowed: Set<Int64>?
        if let filter {
            let conditions = try filter.conditions()
            if !conditions.isEmpty {
                do { allowed = try store.labels(matching: conditions, generation: record.generation) } catch {
                    throw SearchEngineError(error)
                }
            }
        }
        let accepts: ((Int64) -> Bool)?
        switch (allowed, exclude.isEmpty) {
        case (nil, true): accepts = nil
        case (nil, false): accepts = { !exclude.contains($0) }
        case (let allowed?, _): accepts = { allowed.contains($0) && !exclude.contains($0) }
        }
        let metric = follower.metric
        let ranked: [RankedLabel]
        var keywordFailure: String?
        // The lists a verdict reads (text queries in vector and hybrid mode).
        var verdictLists: (vector: [(label: Int64, score: Float)], keyword: [(label: Int64, score: Float)])?
        if allowed?.isEmpty == true {
            ranked = []
        } else {
            switch input.mode {
            case .vector:
                let depth = input.wantsVerdict ? max(k, VerdictFeatures.depth) : k
                let hits = try vectorSearch(serving, input.vector ?? [], k: depth, ef: ef, accepts: accepts)
                ranked = hits.prefix(k).map {
                    RankedLabel(label: $0.label, score: $0.score, scores: nil, passages: $0.passages)
                }
                // The keyword list only for the verdict: without a keyword index, no verdict.
                if input.wantsVerdict,
                    let keyword = try? follower.keyword.search(input.text ?? "", limit: VerdictFeatures.depth, allowed: accepts)
                {
                    verdictLists = (hits.map { ($0.label, $0.score) }, keyword.map { ($0.label, $0.score) })
                }
            case .keyword:
                ranked = try follower.keyword.search(input.text ?? "", limit: k, allowed: accepts).enumerated().map {
                    RankedLabel(label: $1.label, score: $1.score, scores: HitScores(keyword: $1.score, keywordRank: $0 + 1))
                }
            case .hybrid:
                let vector = input.vector ?? []
                let depth = input.fusion.candidateCount(k: k)
                // On passages, the list is the documents of the best `depth` passages, searched
                // again only when they are fewer than k documents. Starting from 3 × depth
                // passages (as a vector query's k does) cost twice the search time for no
                // measured relevance (nDCG@10 ±0.004 on two judged sets, neither significant);
                // asking again until there were `depth` documents cost a second search for a fifth
                // of the man-page queries (BENCHMARKS.md, "Hybrid search").
                let vectorHits = try vectorSearch(
                    serving, vector, k: depth, ef: ef.map { max($0, depth) }, accepts: accepts, enough: k, passagesPerDocument: 1)
                // Without a keyword list (index not built yet, being rebuilt, failing) the query
                // is answered from the vector list alone, and the response says why.
                let keywordHits: [KeywordHit]
                let searched: Result<[KeywordHit], SearchEngineError>
                if let prefetched = input.keywordHits, accepts == nil {
                    searched = prefetched
                } else {
                    searched = Result { () throws(SearchEngineError) in
                        try follower.keyword.search(input.text ?? "", limit: depth, allowed: accepts)
                    }
                }
                switch searched {
                case .success(let hits): keywordHits = hits
                case .failure(let error):
                    keywordHits = []
                    keywordFailure = error.description
                }
                if input.wantsVerdict, keywordFailure == nil {
                    verdictLists = (vectorHits.map { ($0.label, $0.score) }, keywordHits.map { ($0.label, $0.score) })
                }
                let fused = input.fusion.fuse(
                    vector: vectorHits.map { (label: $0.label, score: $0.score) },
                    keyword: keywordHits.map { (label: $0.label, score: $0.score) }, k: k)
                let passagesByLabel = Dictionary(vectorHits.map { ($0.label, $0.passages) }, uniquingKeysWith: { first, _ in first })
                ranked = fused.map { hit in
                    // Every hit gets its similarity to the query, also one only the keyword list
                    // found: a score a client can threshold on.
                    var passages = passagesByLabel[hit.label] ?? nil
                    var similarity = hit.vectorScore
                    if similarity == nil {
                        if serving.record.chunking.isOn {
                            let scored = Self.passageScores(serving, vector, document: hit.label, metric: metric)
                            passages = scored.isEmpty ? nil : scored
                            similarity = scored.first?.score
                        } else {
                            similarity = serving.index.vector(for: UInt64(bitPattern: hit.label)).map {
                                Self.similarity(vector, $0, metric: metric)
                            }
                        }
                    }
                    return RankedLabel(
                        label: hit.label, score: Float(hit.fused),
                        scores: HitScores(
                            vector: similarity, keyword: hit.keywordScore, fused: Float(hit.fused), vectorRank: hit.vectorRank,
                            keywordRank: hit.keywordRank), passages: passages)
                }
            }
        }
        timings.searchMs = milliseconds(since: searchStart)
        var response = try respond(
            ranked, serving, state, include: include, withPayload: withPayload, timings: timings, budget: budget)
        if let keywordFailure { response.index.keywordError = keywordFailure }
        if let verdictLists {
            let threshold = input.verdictThreshold ?? follower.tuningCache.tuning(state.tuning).effectiveVerdictThreshold
            response.verdict = verdict(serving, vector: verdictLists.vector, keyword: verdictLists.keyword, threshold: threshold)
        }
        return response
    }

    /// The `k` nearest documents to `vector` with their similarity scores (exact for small
    /// collections and for k of half the collection or more). In a chunked generation the index
    /// holds passages: it is searched for `passagesPerDocument` × k passages (3: a vector query's
    /// first search usually finds its k documents), and again for twice as many until `enough`
    /// (default k) documents are found (or the index is exhausted); each document scores as its
    /// best passage. With `enough` < k the list may hold fewer than k documents.
    func vectorSearch(
        _ serving: ServingGeneration, _ vector: [Float], k: Int, ef: Int?, accepts: ((Int64) -> Bool)?, enough: Int? = nil,
        passagesPerDocument: Int = 3
    ) throws(SearchEngineError) -> [VectorHit] {
        let count = serving.index.count
        guard count > 0 else { return [] }
        let chunked = serving.record.chunking.isOn
        let predicate: ((UInt64) -> Bool)? = accepts.map { accepts in
            chunked ? { accepts(PassageLabel.document($0)) } : { accepts(Int64(bitPattern: $0)) }
        }
        let metric = follower.metric
        func score(_ hit: SearchHit) -> Float { metric == .l2 ? -hit.distance : 1 - hit.distance }
        func search(_ want: Int) throws(SearchEngineError) -> [SearchHit] {
            do {
                if count <= SearchEngine.exactSearchLimit || want * 2 >= count {
                    // Small collections are scanned: exact, and cheaper than walking a graph.
                    return try serving.index.exactSearch(vector, k: want, filter: predicate)
                }
                return try serving.index.search(vector, k: want, ef: ef.map { max($0, want) }, filter: predicate)
            } catch {
                throw SearchEngineError(error)
            }
        }
        guard chunked else {
            return try search(k).map { VectorHit(label: Int64(bitPattern: $0.label), score: score($0), passages: nil) }
        }
        // Long documents: a document's passages crowd the list, so start with 3k passages (or
        // what the caller asks for); when every document has one passage, k passages are k
        // documents.
        var want = min(count, serving.hasMultiPassageDocuments ? k * max(1, passagesPerDocument) : k)
        while true {
            let hits = try search(want)
            var order: [Int64] = []
            var passages: [Int64: [(passage: Int, score: Float)]] = [:]
            for hit in hits {
                let document = PassageLabel.document(hit.label)
                if passages[document] == nil { order.append(document) }
                passages[document, default: []].append((PassageLabel.passage(hit.label), score(hit)))
            }
            if order.count >= min(enough ?? k, k) || want >= count || hits.count < want {
                return order.prefix(k).map { document in
                    let found = passages[document] ?? []
                    return VectorHit(label: document, score: found.first?.score ?? 0, passages: found)
                }
            }
            want = min(count, want * 2)
        }
    }

    /// Every passage of `document` held by a chunked generation's index, scored against `query`,
    /// best first.
    static func passageScores(_ serving: ServingGeneration, _ query: [Float], document: Int64, metric: DistanceMetric)
        -> [(passage: Int, score: Float)]
    {
        var scored: [(passage: Int, score: Float)] = []
        var passage = 0
        while let label = PassageLabel.make(document, passage), let held = serving.index.vector(for: label) {
            scored.append((passage, similarity(query, held, metric: metric)))
            passage += 1
        }
        return scored.sorted { $0.score > $1.score }
    }

    /// The similarity score of an index-held vector to `query` as a vector search reports it:
    /// cosine similarity (the index holds cosine vectors normalized), inner product, or the negated
    /// squared distance.
    static func similarity(_ query: [Float], _ held: [Float], metric: DistanceMetric) -> Float {
        switch metric {
        case .cosine:
            var dot: Float = 0
            var norm: Float = 0
            for (q, v) in zip(query, held) {
                dot += q * v
                norm += q * q
            }
            return norm > 0 ? dot / norm.squareRoot() : 0
        case .dot:
            return zip(query, held).reduce(0) { $0 + $1.0 * $1.1 }
        case .l2:
            return -zip(query, held).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        }
    }

    /// The answer for `ranked`: ids and scores only, or each hit's document with its freshness
    /// (a document deleted since the index snapshot is left out).
    private func respond(
        _ ranked: [RankedLabel], _ serving: ServingGeneration, _ state: StoreState, include: Set<IncludeField>, withPayload: Bool,
        timings: QueryTimings, budget: ResponseBudget
    ) throws(SearchEngineError) -> QueryResponse {
        var timings = timings
        let record = serving.record
        let model = ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint)
        if !withPayload {
            // Ids and scores only, from memory (the store only before the directory is filled).
            let fetchStart = DispatchTime.now()
            let labels = ranked.map(\.label)
            var ids = follower.directory.ids(of: labels)
            if ids == nil {
                follower.wake()  // fills the directory for the next queries
                do {
                    let found = try store.documents(
                        labels: labels, generation: record.generation, dimensions: record.dimensions, withVectors: false, withText: false)
                    ids = labels.map { found[$0]?.id }
                } catch { throw SearchEngineError(error) }
            }
            var results: [QueryHit] = []
            results.reserveCapacity(ranked.count)
            for (hit, id) in zip(ranked, ids ?? []) {
                guard let id else { continue }
                try budget.charge(ResponseBudget.bareHitBytes + id.utf8.count + (hit.scores == nil ? 0 : ResponseBudget.scoresBytes))
                results.append(
                    QueryHit(
                        id: id, score: hit.score, title: nil, text: nil, metadata: nil, vector: nil, freshness: nil, scores: hit.scores))
            }
            timings.fetchMs = milliseconds(since: fetchStart)
            return QueryResponse(results: results, index: indexState(serving, state), model: model, timings: timings)
        }

        let fetchStart = DispatchTime.now()
        // Each hit's best passage: only its characters are read (the text can be megabytes).
        var passages: [Int64: Int] = [:]
        for hit in ranked { if let best = hit.passages?.first { passages[hit.label] = best.passage } }
        let (documents, passageTexts) = try hitDocuments(
            ranked.map(\.label), passages: passages, serving: serving, state: state, include: include)
        let now = Date().timeIntervalSince1970
        var results: [QueryHit] = []
        results.reserveCapacity(ranked.count)
        for hit in ranked {
            // A document deleted after the index snapshot is skipped, never returned stale.
            guard let document = documents[hit.label] else { continue }
            let (passage, chunks) = Self.passages(of: document, hit: hit, include: include, text: passageTexts[hit.label])
            try budget.charge(
                ResponseBudget.hitBytes(document, include: include) + (hit.scores == nil ? 0 : ResponseBudget.scoresBytes)
                    + ResponseBudget.passageBytes(passage, chunks: chunks?.count ?? 0))
            results.append(
                QueryHit(
                    id: document.id, score: hit.score, title: document.title,
                    text: include.contains(.text) ? document.text : nil, metadata: JSONValue.parse(document.metadata),
                    vector: include.contains(.vector) ? document.vector : nil,
                    freshness: freshness(document, serving: serving, model: model, now: now), scores: hit.scores,
                    passage: passage, chunks: chunks))
        }
        timings.fetchMs = milliseconds(since: fetchStart)
        return QueryResponse(results: results, index: indexState(serving, state), model: model, timings: timings)
    }

    /// The hits' documents and best passages: from the follower's ``HitCache`` where it can
    /// answer — the serving generation, its index exactly at `state`'s seq (below it the index
    /// is behind; above it the store may have gone back, and only a store read tells what it
    /// still holds), no text or vectors asked for — and from the store for the rest (which then
    /// go into the cache).
    private func hitDocuments(
        _ labels: [Int64], passages: [Int64: Int], serving: ServingGeneration, state: StoreState, include: Set<IncludeField>
    ) throws(SearchEngineError) -> (documents: [Int64: StoredDocument], passages: [Int64: String]) {
        let record = serving.record
        let cache = follower.hitCache
        let cacheable =
            cache.isEnabled && !include.contains(.text) && !include.contains(.vector)
            && state.current.generation == record.generation && state.seq == serving.indexedSeq
            && follower.loaded?.record.generation == record.generation
        var documents: [Int64: StoredDocument] = [:]
        var texts: [Int64: String] = [:]
        var wanted = labels
        let epoch = cache.epoch
        if cacheable {
            (documents, texts, wanted) = cache.lookup(labels: labels, passages: passages, generation: record.generation)
            if wanted.isEmpty { return (documents, texts) }
        }
        let read: (documents: [Int64: StoredDocument], passages: [Int64: String])
        do {
            read = try store.hitDocuments(
                labels: wanted, passages: passages, generation: record.generation, dimensions: record.dimensions,
                withVectors: include.contains(.vector), withText: include.contains(.text))
        } catch { throw SearchEngineError(error) }
        if cacheable {
            cache.insert(read.documents, passages: passages, texts: read.passages, generation: record.generation, epoch: epoch)
        }
        documents.merge(read.documents) { _, new in new }
        texts.merge(read.passages) { _, new in new }
        return (documents, texts)
    }

    /// The best passage of a hit in a chunked generation (`text`: its characters, read with
    /// ``DocumentReads/passageTexts(_:)``) and,
    /// with `include: ["chunks"]`, every matching passage; nil without passages (no chunking,
    /// keyword mode, a document given with its own vector).
    static func passages(of document: StoredDocument, hit: RankedLabel, include: Set<IncludeField>, text: String?)
        -> (Passage?, [PassageScore]?)
    {
        guard let matched = hit.passages, let spans = document.chunks?.spans, let best = matched.first,
            best.passage >= 0, best.passage < spans.count
        else { return (nil, nil) }
        let span = spans[best.passage]
        let passage = text.map { Passage(text: $0, start: span.start, end: span.end, score: best.score) }
        guard include.contains(.chunks) else { return (passage, nil) }
        let chunks = matched.compactMap { item -> PassageScore? in
            guard item.passage >= 0, item.passage < spans.count else { return nil }
            return PassageScore(start: spans[item.passage].start, end: spans[item.passage].end, score: item.score)
        }
        return (passage, chunks)
    }

    func freshness(_ document: StoredDocument, serving: ServingGeneration, model: ModelInfo, now: Double) -> Freshness {
        Freshness(
            updatedAt: Timestamp(seconds: document.updatedAt), embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:)),
            indexedAt: serving.indexedAt(seq: document.seq).map(Timestamp.init(seconds:)), model: model,
            ageSeconds: max(0, now - (document.embeddedAt ?? document.updatedAt)))
    }

    /// A stored document by id, with its freshness (and its vector when asked).
    public func document(id: String, includeVector: Bool = false) throws(SearchEngineError) -> DocumentResult {
        let (serving, _) = try follower.snapshot()
        let found = try storedDocuments(ids: [id], generation: serving.record, withVectors: includeVector)
        guard let document = found[id] else { throw .documentNotFound(collection: name, id: id) }
        let model = ModelInfo(id: serving.record.modelID, fingerprint: serving.record.modelFingerprint)
        return DocumentResult(
            id: document.id, title: document.title, text: document.text,
            metadata: JSONValue.parse(document.metadata), vector: document.vector,
            freshness: freshness(document, serving: serving, model: model, now: Date().timeIntervalSince1970),
            seq: document.seq)
    }
}

extension SearchEngine {
    /// Runs `body` on a new thread and waits for it: for work of seconds (building a candidate's
    /// index, filling it, loading a model) that must not hold a thread of a pool others wait on.
    public static func onOwnThread<T: Sendable>(
        _ threadName: String, _ body: @escaping @Sendable () throws(SearchEngineError) -> T
    ) async throws(SearchEngineError) -> T {
        let result: Result<T, SearchEngineError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                ThreadControl.nameCurrentThread(threadName)
                continuation.resume(returning: Result { () throws(SearchEngineError) in try body() })
            }
            thread.start()
        }
        return try result.get()
    }
}

func milliseconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds) / 1e6
}

/// One serving generation and store state, taken by ``CollectionHandle/snapshot()``: every query
/// it answers uses that generation (its model and index — which, as for any query, keeps taking
/// the changes the follower applies) and is reported against that store state, so a chunk of
/// queries is never answered across a generation switch and costs no store-state read per query.
public struct QuerySnapshot: Sendable {
    let handle: CollectionHandle
    let serving: ServingGeneration
    let state: StoreState
    /// Which generation it is of.
    public let generation: GenerationChoice

    /// ``CollectionHandle/query(_:limits:)`` as of this snapshot: text is embedded with the
    /// engine's model of the snapshot's generation, on the calling thread.
    ///
    /// - Throws: what ``CollectionHandle/query(_:limits:)`` throws.
    public func query(_ request: QueryRequest, limits: QueryLimits = .engine) throws(SearchEngineError) -> QueryResponse {
        try request.validate(limits: limits)
        return try answer(request, limits: limits)
    }

    /// Answers a validated request, its text embedded here with the engine's model.
    func answer(_ request: QueryRequest, limits: QueryLimits) throws(SearchEngineError) -> QueryResponse {
        var embedded: EmbeddedQueryText?
        if let text = request.text, request.needsEmbedding {
            let start = DispatchTime.now()
            let fingerprint = serving.record.modelFingerprint
            guard let vector = try ModelQueryEmbedder(engine: handle.engine).embedNow([text], fingerprint: fingerprint)?.first
            else {
                throw .modelUnavailable(collection: handle.name, fingerprint: fingerprint)
            }
            embedded = EmbeddedQueryText(vector: vector, fingerprint: fingerprint, embedMs: milliseconds(since: start))
        }
        return try answer(request, embedded: embedded, limits: limits)
    }

    /// Answers a validated request whose text (if it needs one) was embedded by the caller with
    /// this snapshot's model.
    func answer(_ request: QueryRequest, embedded: EmbeddedQueryText?, limits: QueryLimits) throws(SearchEngineError)
        -> QueryResponse
    {
        guard (request.generation ?? .current) == generation else {
            throw .invalidQuery(
                "generation: this query names the \((request.generation ?? .current).rawValue) generation, not the \(generation.rawValue) one being searched"
            )
        }
        let budget = ResponseBudget(limit: limits.maxResponseBytes)
        try CollectionHandle.checkEstimate([request], serving: serving, budget: budget)
        return try handle.answer(request, serving, state, embedded: embedded, budget: budget)
    }
}
