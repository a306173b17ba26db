import Foundation

/// Ranking quality of one query against its judgments: what `quiver eval` reports and averages.
///
/// Judgments are graded (`grade > 0` is relevant; binary judgments are grade 1). Definitions, with
/// ranks counted from 1:
/// - nDCG@10: Σ (2^grade − 1) / log2(rank + 1) over the first 10 hits, divided by the same sum
///   for the judgments in their best order;
/// - recall@k: relevant documents in the first k hits / relevant documents;
/// - MRR@10: 1 / rank of the first relevant hit within 10, else 0;
/// - P@1: whether the first hit is relevant.
public struct RelevanceMetrics: Sendable, Codable, Equatable {
    public var ndcgAt10: Double
    public var recallAtK: Double
    public var mrrAt10: Double
    public var precisionAt1: Double

    enum CodingKeys: String, CodingKey {
        case ndcgAt10 = "ndcg@10"
        case recallAtK = "recall@k"
        case mrrAt10 = "mrr@10"
        case precisionAt1 = "p@1"
    }

    /// The metrics of `ranking` (document ids, best first) against `judgments` (id → grade).
    public init(ranking: [String], judgments: [String: Int], k: Int) {
        let relevant = judgments.filter { $0.value > 0 }
        func gain(_ grade: Int) -> Double { pow(2, Double(min(grade, 30))) - 1 }
        var dcg = 0.0
        for (index, id) in ranking.prefix(10).enumerated() {
            if let grade = relevant[id] { dcg += gain(grade) / log2(Double(index + 2)) }
        }
        var ideal = 0.0
        for (index, grade) in relevant.values.sorted(by: >).prefix(10).enumerated() {
            ideal += gain(grade) / log2(Double(index + 2))
        }
        ndcgAt10 = ideal > 0 ? dcg / ideal : 0
        let found = ranking.prefix(max(k, 0)).filter { relevant[$0] != nil }.count
        recallAtK = relevant.isEmpty ? 0 : Double(found) / Double(relevant.count)
        let first = ranking.prefix(10).firstIndex { relevant[$0] != nil }
        mrrAt10 = first.map { 1 / Double($0 + 1) } ?? 0
        precisionAt1 = ranking.first.map { relevant[$0] != nil ? 1 : 0 } ?? 0
    }

    /// Memberwise.
    public init(ndcgAt10: Double, recallAtK: Double, mrrAt10: Double, precisionAt1: Double) {
        self.ndcgAt10 = ndcgAt10
        self.recallAtK = recallAtK
        self.mrrAt10 = mrrAt10
        self.precisionAt1 = precisionAt1
    }

    /// The mean of each metric over `all` (zeros when empty).
    public static func mean(_ all: [RelevanceMetrics]) -> RelevanceMetrics {
        guard !all.isEmpty else { return RelevanceMetrics(ndcgAt10: 0, recallAtK: 0, mrrAt10: 0, precisionAt1: 0) }
        let n = Double(all.count)
        return RelevanceMetrics(
            ndcgAt10: all.map(\.ndcgAt10).reduce(0, +) / n, recallAtK: all.map(\.recallAtK).reduce(0, +) / n,
            mrrAt10: all.map(\.mrrAt10).reduce(0, +) / n, precisionAt1: all.map(\.precisionAt1).reduce(0, +) / n)
    }
}

/// One line of an evaluation file: `{"text": "...", "relevant": ["id", ...]}` or graded
/// `{"text": "...", "relevant": {"id": 2, "id2": 1}}`, with an optional `filter`. `"query"` is
/// accepted for `"text"` (the sample corpus's file uses it).
public struct JudgedQuery: Sendable, Decodable, Equatable {
    public var text: String
    /// Document id → grade (binary judgments are grade 1).
    public var judgments: [String: Int]
    public var filter: QueryFilter?

    enum CodingKeys: String, CodingKey {
        case text, query, relevant, filter
    }

    public init(text: String, judgments: [String: Int], filter: QueryFilter? = nil) {
        self.text = text
        self.judgments = judgments
        self.filter = filter
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let text = try c.decodeIfPresent(String.self, forKey: .text) ?? c.decodeIfPresent(String.self, forKey: .query),
            !text.isEmpty
        else {
            throw DecodingError.keyNotFound(
                CodingKeys.text, .init(codingPath: c.codingPath, debugDescription: "a non-empty \"text\" (or \"query\") is required"))
        }
        self.text = text
        if let ids = try? c.decode([String].self, forKey: .relevant) {
            judgments = Dictionary(ids.map { ($0, 1) }, uniquingKeysWith: max)
        } else {
            judgments = try c.decode([String: Int].self, forKey: .relevant)
        }
        guard judgments.values.contains(where: { $0 > 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .relevant, in: c, debugDescription: "needs at least one relevant id (grade > 0)")
        }
        filter = try c.decodeIfPresent(QueryFilter.self, forKey: .filter)
    }
}
