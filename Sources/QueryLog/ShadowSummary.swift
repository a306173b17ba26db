import Foundation

/// How a candidate generation answered live traffic next to the current one (shadow queries):
/// how much the two agree, and — where users judged the current answers — which ranks the
/// documents they found helpful higher.
public struct ShadowSummary: Sendable, Codable, Equatable {
    /// The candidate generation.
    public var candidateGeneration: Int64
    /// The current generation it was compared with (the latest, if it changed in the period).
    public var currentGeneration: Int64
    /// Live queries answered by both.
    public var queries: Int
    /// Mean overlap@10: documents in both first tens over the longer of the two lists (1 when
    /// both answered the same documents, in any order).
    public var meanOverlap: Double
    /// The 10th, 50th and 90th percentile of overlap@10.
    public var overlapP10: Double
    /// See ``overlapP10``.
    public var overlapP50: Double
    /// See ``overlapP10``.
    public var overlapP90: Double
    /// Share of queries whose first hit is the same document.
    public var sameFirst: Double
    /// Mean of the candidate's top score minus the current one's (on each generation's own scale:
    /// comparable only when both have the same model).
    public var meanTopScoreDelta: Double
    /// Queries whose logged query has feedback naming a helpful document (the judged subset).
    public var judged: Int
    /// Mean nDCG@10 of the current generation's lists on the judged subset (helpful documents as
    /// relevant); nil without one.
    public var ndcgCurrent: Double?
    /// The same for the candidate's lists.
    public var ndcgCandidate: Double?

    enum CodingKeys: String, CodingKey {
        case queries, judged
        case candidateGeneration = "candidate_generation"
        case currentGeneration = "current_generation"
        case meanOverlap = "mean_overlap_at_10"
        case overlapP10 = "overlap_p10"
        case overlapP50 = "overlap_p50"
        case overlapP90 = "overlap_p90"
        case sameFirst = "same_first"
        case meanTopScoreDelta = "mean_top_score_delta"
        case ndcgCurrent = "ndcg_current"
        case ndcgCandidate = "ndcg_candidate"
    }

    /// One summary per candidate generation in `comparisons`, newest candidate first; `feedback`
    /// gives the judged subset (a document judged helpful more often than not is relevant).
    public static func make(_ comparisons: [ShadowComparison], feedback: [Feedback]) -> [ShadowSummary] {
        var votes: [String: [String: Int]] = [:]
        for judgment in feedback { votes[judgment.queryID, default: [:]][judgment.id, default: 0] += judgment.helpful ? 1 : -1 }
        var byCandidate: [Int64: [ShadowComparison]] = [:]
        for comparison in comparisons { byCandidate[comparison.candidateGeneration, default: []].append(comparison) }
        return byCandidate.keys.sorted(by: >).compactMap { generation in
            guard let rows = byCandidate[generation], let last = rows.last else { return nil }
            var overlaps: [Double] = []
            var same = 0
            var delta = 0.0
            var ndcg: (current: Double, candidate: Double, count: Int) = (0, 0, 0)
            for row in rows {
                let current = row.current.prefix(10).map(\.id)
                let candidate = row.candidate.prefix(10).map(\.id)
                let longer = max(current.count, candidate.count)
                overlaps.append(longer == 0 ? 1 : Double(Set(current).intersection(candidate).count) / Double(longer))
                if current.first == candidate.first { same += 1 }
                delta += Double((row.candidate.first?.score ?? 0) - (row.current.first?.score ?? 0))
                if let id = row.queryID, let judged = votes[id] {
                    let relevant = Set(judged.filter { $0.value > 0 }.keys)
                    if !relevant.isEmpty {
                        ndcg.current += ndcgAt10(current, relevant: relevant)
                        ndcg.candidate += ndcgAt10(candidate, relevant: relevant)
                        ndcg.count += 1
                    }
                }
            }
            let sorted = overlaps.sorted()
            func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
            let n = Double(rows.count)
            return ShadowSummary(
                candidateGeneration: generation, currentGeneration: last.currentGeneration, queries: rows.count,
                meanOverlap: overlaps.reduce(0, +) / n, overlapP10: quantile(0.1), overlapP50: quantile(0.5), overlapP90: quantile(0.9),
                sameFirst: Double(same) / n, meanTopScoreDelta: delta / n, judged: ndcg.count,
                ndcgCurrent: ndcg.count > 0 ? ndcg.current / Double(ndcg.count) : nil,
                ndcgCandidate: ndcg.count > 0 ? ndcg.candidate / Double(ndcg.count) : nil)
        }
    }

    /// Binary nDCG@10 of `ranked` with `relevant` documents.
    static func ndcgAt10(_ ranked: [String], relevant: Set<String>) -> Double {
        var dcg = 0.0
        for (rank, id) in ranked.prefix(10).enumerated() where relevant.contains(id) { dcg += 1 / log2(Double(rank + 2)) }
        let ideal = (0..<min(10, relevant.count)).reduce(0.0) { $0 + 1 / log2(Double($1 + 2)) }
        return ideal > 0 ? dcg / ideal : 0
    }
}
