import DocumentStore
import Foundation

/// One configuration an evaluation runs every judged query in.
public struct EvaluationConfiguration: Sendable, Codable, Equatable {
    /// The search mode.
    public var mode: SearchMode
    /// Hybrid's fusion (nil: the default).
    public var fusion: Fusion?
    /// The generation searched (nil: current).
    public var generation: GenerationChoice?

    /// A configuration.
    public init(mode: SearchMode, fusion: Fusion? = nil, generation: GenerationChoice? = nil) {
        self.mode = mode
        self.fusion = fusion
        self.generation = generation
    }

    /// `vector`, `keyword`, `hybrid` or `hybrid(weighted, alpha 0.3)`, followed by ` @candidate`
    /// for the candidate generation.
    public var label: String {
        let suffix = generation == .candidate ? " @candidate" : ""
        guard mode == .hybrid, let fusion else { return mode.rawValue + suffix }
        switch fusion.method {
        case .rrf: return "hybrid(rrf, k \(Self.format(fusion.k ?? Fusion.defaultRRFK)))" + suffix
        case .weighted: return "hybrid(weighted, alpha \(Self.format(fusion.alpha ?? Fusion.defaultAlpha)))" + suffix
        }
    }

    private static func format(_ value: Double) -> String {
        // `%g`: integral values without a fraction, any finite value without a trap.
        String(format: "%g", value)
    }
}

/// What `quiver eval` and `POST /v1/collections/{c}/evaluate` answer: per configuration the mean
/// metrics and latency, per query each relevant document's rank in each configuration, and each
/// configuration after the first compared with the first by a paired randomization test.
public struct EvaluationReport: Sendable, Encodable {
    /// The collection.
    public var collection: String
    /// Hits per query counted by recall@k.
    public var k: Int
    /// Number of judged queries.
    public var queryCount: Int
    /// One result per configuration, in the order asked.
    public var configurations: [ConfigurationResult]
    /// Per query detail.
    public var queries: [QueryResult]
    /// Each configuration after the first against the first, on nDCG@10.
    public var comparisons: [Comparison]

    enum CodingKeys: String, CodingKey {
        case collection, k, configurations, queries, comparisons
        case queryCount = "query_count"
    }

    /// One configuration's outcome.
    public struct ConfigurationResult: Sendable, Encodable {
        public var label: String
        public var mode: SearchMode
        public var fusion: Fusion?
        /// The generation that answered (`current`).
        public var generation: String
        /// `ndcg@10`, `recall@<k>`, `mrr@10`, `precision@1`: means over the queries.
        public var metrics: [String: Double]
        /// `p50` and `p99` of the query calls' wall time (embedding included), in ms.
        public var latencyMs: [String: Double]

        enum CodingKeys: String, CodingKey {
            case label, mode, fusion, generation, metrics
            case latencyMs = "latency_ms"
        }
    }

    /// One query's outcome in every configuration.
    public struct QueryResult: Sendable, Encodable {
        public var text: String
        /// Per configuration (same order): each judged id's rank (from 1; null when not in the
        /// first k) and the query's nDCG@10.
        public var results: [PerConfiguration]
    }

    /// One query in one configuration.
    public struct PerConfiguration: Sendable, Encodable {
        public var ranks: [String: Int?]
        public var ndcgAt10: Double

        enum CodingKeys: String, CodingKey {
            case ranks
            case ndcgAt10 = "ndcg@10"
        }
    }

    /// Configuration `b` against `a` on one metric over the same queries.
    public struct Comparison: Sendable, Encodable {
        public var a: String
        public var b: String
        public var metric: String
        /// Mean of (b − a) per query.
        public var meanDifference: Double
        /// Two-sided p-value of a paired randomization (sign-flip) test.
        public var pValue: Double
        /// Queries where b scored higher, lower, the same.
        public var better: Int
        public var worse: Int
        public var same: Int

        enum CodingKeys: String, CodingKey {
            case a, b, metric, better, worse, same
            case meanDifference = "mean_difference"
            case pValue = "p_value"
        }
    }
}

/// The paired randomization test `quiver eval` uses: under the null hypothesis the sign of each
/// query's difference is a coin flip; the p-value is the share of `rounds` random sign
/// assignments whose mean is at least as far from 0 as the observed one (with the observed
/// assignment counted, so never 0). Seeded, so a report is reproducible.
public enum PairedRandomizationTest {
    /// Two-sided p-value for the paired differences `differences`.
    public static func pValue(_ differences: [Double], rounds: Int = 10_000, seed: UInt64 = 0x5155_4956_4552) -> Double {
        let nonZero = differences.filter { $0 != 0 }
        guard !nonZero.isEmpty, rounds > 0 else { return 1 }
        let observed = abs(nonZero.reduce(0, +))
        var state = seed
        var atLeast = 0
        for _ in 0..<rounds {
            var sum = 0.0
            var bits: UInt64 = 0
            for (index, difference) in nonZero.enumerated() {
                if index % 64 == 0 { bits = splitMix(&state) }
                sum += (bits >> UInt64(index % 64)) & 1 == 0 ? difference : -difference
            }
            // A tolerance so that float rounding cannot hide an assignment equal to the observed.
            if abs(sum) >= observed - 1e-12 { atLeast += 1 }
        }
        return Double(atLeast + 1) / Double(rounds + 1)
    }

    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension CollectionHandle {
    /// Runs every query of `judged` in every configuration (one query at a time, as a user's
    /// would arrive), and reports metrics, latency, per-query ranks and paired comparisons.
    ///
    /// - Throws: `invalidQuery` for no configurations or a bad `k`, and what a query throws.
    public func evaluate(
        _ judged: [JudgedQuery], configurations: [EvaluationConfiguration], k: Int = 10, ef: Int? = nil,
        embedder: any QueryEmbedder, limits: QueryLimits = .engine
    ) async throws -> EvaluationReport {
        guard !configurations.isEmpty else { throw SearchEngineError.invalidQuery("give at least one configuration") }
        guard SearchEngine.kRange.contains(k) else { throw SearchEngineError.invalidQuery("k must be in \(SearchEngine.kRange)") }
        // nDCG@10 and MRR@10 need ten hits even when k is smaller, within the server's k limit.
        let fetch = min(max(k, 10), max(k, limits.maxK))
        var metrics: [[RelevanceMetrics]] = []
        var latencies: [[Double]] = []
        var perQuery = [[EvaluationReport.PerConfiguration]](repeating: [], count: judged.count)
        // The candidate's index, built once for the whole evaluation (after embedding what
        // changed since it was filled).
        var candidate: ServingGeneration?
        if configurations.contains(where: { $0.generation == .candidate }) {
            let handle = self
            // Embedding what changed and building the index take seconds: off the read pool.
            candidate = try await SearchEngine.onOwnThread("quiver-candidate") { () throws(SearchEngineError) in
                try handle.candidateServing(fill: true)
            }
        }
        for configuration in configurations {
            var configurationMetrics: [RelevanceMetrics] = []
            var configurationLatencies: [Double] = []
            for (index, query) in judged.enumerated() {
                let request = QueryRequest(
                    text: query.text, k: fetch, ef: ef, filter: query.filter, withPayload: false, mode: configuration.mode,
                    fusion: configuration.mode == .hybrid ? configuration.fusion : nil)
                let start = DispatchTime.now()
                let response: QueryResponse
                try request.validate(limits: limits)
                let pinned = configuration.generation == .candidate ? candidate : nil
                let answers = try await answer([request], embedder: embedder, inBatch: false, limits: limits, pinned: pinned)
                guard let answer = answers.first else { throw SearchEngineError.storage("a query produced no answer") }
                response = answer
                configurationLatencies.append(milliseconds(since: start))
                let ranking = response.results.map(\.id)
                let measured = RelevanceMetrics(ranking: ranking, judgments: query.judgments, k: k)
                configurationMetrics.append(measured)
                var ranks: [String: Int?] = [:]
                for id in query.judgments.keys {
                    let rank = ranking.firstIndex(of: id).map { $0 + 1 }
                    ranks[id] = rank.flatMap { $0 <= k ? $0 : nil }
                }
                perQuery[index].append(EvaluationReport.PerConfiguration(ranks: ranks, ndcgAt10: measured.ndcgAt10))
            }
            metrics.append(configurationMetrics)
            latencies.append(configurationLatencies)
        }
        let results = configurations.indices.map { index in
            let mean = RelevanceMetrics.mean(metrics[index])
            return EvaluationReport.ConfigurationResult(
                label: configurations[index].label, mode: configurations[index].mode, fusion: configurations[index].fusion,
                generation: (configurations[index].generation ?? .current).rawValue,
                metrics: [
                    "ndcg@10": mean.ndcgAt10, "recall@\(k)": mean.recallAtK, "mrr@10": mean.mrrAt10, "precision@1": mean.precisionAt1,
                ],
                latencyMs: ["p50": Self.percentile(latencies[index], 0.5), "p99": Self.percentile(latencies[index], 0.99)])
        }
        var comparisons: [EvaluationReport.Comparison] = []
        for index in configurations.indices.dropFirst() {
            let differences = zip(metrics[index], metrics[0]).map { $0.ndcgAt10 - $1.ndcgAt10 }
            comparisons.append(
                EvaluationReport.Comparison(
                    a: configurations[0].label, b: configurations[index].label, metric: "ndcg@10",
                    meanDifference: differences.isEmpty ? 0 : differences.reduce(0, +) / Double(differences.count),
                    pValue: PairedRandomizationTest.pValue(differences), better: differences.filter { $0 > 0 }.count,
                    worse: differences.filter { $0 < 0 }.count, same: differences.filter { $0 == 0 }.count))
        }
        return EvaluationReport(
            collection: name, k: k, queryCount: judged.count, configurations: results,
            queries: zip(judged, perQuery).map { EvaluationReport.QueryResult(text: $0.text, results: $1) }, comparisons: comparisons)
    }

    /// The candidate generation as a serving generation (its index built on first use, then
    /// caught up; see `IndexFollower.candidate`). With `fill`, documents changed since it was
    /// filled are first embedded with its model (an evaluation); without, it answers from the
    /// vectors it holds (a query naming the candidate: documents written since the fill are
    /// missing from it or carry their earlier vectors until an evaluation or the promote embeds them).
    ///
    /// - Throws: `conflict` when there is no candidate, `modelUnavailable` when documents need
    ///   embedding and its model is not loaded.
    func candidateServing(fill: Bool, batchSize: Int = 256) throws(SearchEngineError) -> ServingGeneration {
        let record = try existingCandidate()
        // (A fill that embeds anything drops the held index: its vectors carry no change seq.)
        if fill { _ = try self.fill(record, batchSize: batchSize, progress: nil) }
        return try follower.candidate(record)
    }

    /// The held candidate index when it already covers the store (no build or catch-up needed),
    /// else nil.
    ///
    /// - Throws: `conflict` when there is no candidate.
    func readyCandidate() throws(SearchEngineError) -> ServingGeneration? {
        let record = try existingCandidate()
        let seq: Int64
        do { seq = try store.state().seq } catch { throw SearchEngineError(error) }
        return follower.heldCandidate(generation: record.generation, coveringSeq: seq)
    }

    /// The candidate's record; without one, its held index (if any) is dropped and the answer
    /// is `conflict`.
    private func existingCandidate() throws(SearchEngineError) -> GenerationRecord {
        guard let record = try candidateRecord() else {
            follower.dropCandidate()
            throw .conflict("collection \(name) has no candidate generation")
        }
        return record
    }

    /// The `p` quantile of `values` (nearest rank); 0 when empty.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
    }
}
