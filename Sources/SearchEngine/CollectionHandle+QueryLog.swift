import DocumentStore
import Foundation
import QueryLog

extension CollectionHandle {
    /// Longest accepted `query_id`.
    static let maxQueryIDLength = 64
    /// Most logged queries one report reads (the newest of its period).
    public static let maxInsightQueries = 100_000
    /// How far above the verdict threshold an answered query still counts as low-confidence in
    /// the insights.
    public static let lowConfidenceMargin: Float = 0.15

    /// Records a user's judgment of hit `id` of the logged query `queryID` (the latest judgment
    /// of a query and document wins). The document need not have been among the hits: a user
    /// may point at the one that should have been.
    ///
    /// - Throws: `invalidQuery` for a malformed query id or document id; `notFound` when the query
    ///   is not in the log (never logged — the collection's query log is off —, or past its
    ///   retention); storage errors.
    public func addFeedback(queryID: String, id: String, helpful: Bool) throws(SearchEngineError) {
        guard !queryID.isEmpty, queryID.utf8.count <= Self.maxQueryIDLength, !queryID.contains("\u{0}") else {
            throw .invalidQuery("query_id must be the query_id of a query's answer (1 to \(Self.maxQueryIDLength) characters)")
        }
        guard !id.isEmpty, id.utf8.count <= 1024, !id.contains("\u{0}") else {
            throw .invalidQuery("id must be a document id (1 to 1024 bytes, no NUL)")
        }
        let judgment = Feedback(queryID: queryID, id: id, helpful: helpful, at: Date().timeIntervalSince1970)
        let tuning = try self.tuning()
        let added = try follower.queryLogger.withFile(tuning) { (log) throws(QueryLogError) in try log.addFeedback(judgment) }
        guard added == true else {
            throw .notFound(
                "query_id \"\(queryID)\" is not in the query log of \"\(name)\" (the log is off, or the query is past its retention)")
        }
    }

    /// The report of the collection's query log from `since` (seconds since 1970; default: seven
    /// days ago) to now: see ``QueryInsights``. An empty report when nothing was logged.
    ///
    /// - Throws: `invalidQuery` for a `since` that is not a time before now; storage errors.
    public func insights(since: Double? = nil) throws(SearchEngineError) -> QueryInsights {
        let now = Date().timeIntervalSince1970
        let since = since ?? now - 7 * 86_400
        guard since.isFinite, since >= 0, since <= now else {
            throw .invalidQuery("since must be a time before now (seconds since 1970, or an ISO 8601 date)")
        }
        let tuning = try self.tuning()
        let read = try follower.queryLogger.withFile(tuning) { (log) throws(QueryLogError) in
            (
                try log.queries(since: since, limit: Self.maxInsightQueries), try log.feedback(since: since),
                try log.shadow(since: since, limit: Self.maxInsightQueries)
            )
        }
        return QueryInsights.make(
            queries: read?.0 ?? [], feedback: read?.1 ?? [], since: since, until: now,
            lowConfidenceBelow: min(1, tuning.effectiveVerdictThreshold + Self.lowConfidenceMargin), shadow: read?.2 ?? [])
    }

    /// Judged queries from the feedback in the query log: one per question (case and spacing
    /// aside) with a text, its documents judged helpful more often than not as relevant (grade
    /// 1). Questions without a helpful document are left out (they have nothing to rank), as are
    /// questions logged as hashes (there is no text to run again). Also returns how many questions
    /// with feedback were left out.
    public func feedbackJudgments() throws(SearchEngineError) -> (queries: [JudgedQuery], skipped: Int) {
        let tuning = try self.tuning()
        let read = try follower.queryLogger.withFile(tuning) { (log) throws(QueryLogError) -> [(LoggedQuery, Feedback)] in
            var out: [(LoggedQuery, Feedback)] = []
            var known: [String: LoggedQuery?] = [:]
            for judgment in try log.feedback(since: 0) {
                if known[judgment.queryID] == nil { known[judgment.queryID] = .some(try log.query(judgment.queryID)) }
                if let query = known[judgment.queryID] ?? nil { out.append((query, judgment)) }
            }
            return out
        }
        var votes: [String: (text: String?, at: Double, ids: [String: Int])] = [:]
        for (query, judgment) in read ?? [] {
            var entry = votes[query.textKey] ?? (nil, 0, [:])
            if query.at >= entry.at, let text = query.text {
                entry.text = text
                entry.at = query.at
            }
            entry.ids[judgment.id, default: 0] += judgment.helpful ? 1 : -1
            votes[query.textKey] = entry
        }
        var judged: [JudgedQuery] = []
        var skipped = 0
        for key in votes.keys.sorted() {
            guard let entry = votes[key] else { continue }
            let relevant = entry.ids.filter { $0.value > 0 }.mapValues { _ in 1 }
            guard let text = entry.text, !text.isEmpty, !relevant.isEmpty else {
                skipped += 1
                continue
            }
            judged.append(JudgedQuery(text: text, judgments: relevant))
        }
        return (judged, skipped)
    }
}

extension CollectionHandle {
    /// Whether this live query should also be answered by the candidate generation: drawn at
    /// random at the collection's `shadow_rate` (as last read with the store state).
    public func drawsShadow() -> Bool {
        let rate = follower.tuningCache.current.effectiveShadowRate
        return rate > 0 && Double.random(in: 0..<1) < rate
    }

    /// Answers `request`, a text query the current generation answered as `answer`, on the
    /// candidate generation too (same text, mode, k and filter; hits without payload), and
    /// records the two first tens for the insights' shadow summary. Nothing happens without a
    /// candidate, for a query that named the candidate, or when the candidate cannot answer
    /// (its model not loadable here): shadow traffic never fails anything. Answers whether a
    /// comparison was recorded.
    @discardableResult
    public func shadow(_ request: QueryRequest, answer: QueryResponse, embedder: any QueryEmbedder, limits: QueryLimits) async -> Bool {
        guard request.text != nil, request.generation != .candidate else { return false }
        var shadow = request
        shadow.generation = .candidate
        shadow.withPayload = false
        shadow.include = nil
        shadow.minSeq = nil
        shadow.maxStalenessMs = nil
        shadow.verdictThreshold = nil
        guard let candidate = try? await query(shadow, embedder: embedder, limits: limits) else { return false }
        let hits = { (response: QueryResponse) in
            response.results.prefix(QueryLogFile.keptHits).map { LoggedHit(id: $0.id, score: $0.score) }
        }
        follower.queryLogger.record(
            shadow: ShadowComparison(
                at: Date().timeIntervalSince1970, queryID: answer.queryID, currentGeneration: answer.index.generation,
                candidateGeneration: candidate.index.generation, current: hits(answer), candidate: hits(candidate)))
        return true
    }
}
