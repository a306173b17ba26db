import Foundation

/// What a collection's query log says about its search: how many questions it was asked and how
/// many found no good answer, over time; the questions asked most; the documents returned most
/// (and what users said of them); and the unanswered or low-confidence questions grouped by topic
/// — each group a candidate for an article nobody has written yet.
public struct QueryInsights: Sendable, Codable, Equatable {
    /// Start of the period (seconds since 1970).
    public var since: Double
    /// End of the period: the time of the report.
    public var until: Double
    /// Queries logged in the period (at most the log's retention).
    public var queries: Int
    /// Queries whose verdict said `answered: false`.
    public var unanswered: Int
    /// Queries whose verdict said answered, with a confidence below ``lowConfidenceBelow``.
    public var lowConfidence: Int
    /// Queries without a verdict (keyword mode, or before the collection was calibrated).
    public var withoutVerdict: Int
    /// The confidence below which an answered query counts as low-confidence.
    public var lowConfidenceBelow: Float
    /// Width of each bucket of ``overTime``, in seconds (an hour for periods up to two days, else a day).
    public var bucketSeconds: Double
    /// Counts per bucket, oldest first (empty buckets included).
    public var overTime: [Bucket]
    /// The questions asked most (case and spacing aside), most first.
    public var topQueries: [AskedQuery]
    /// The documents returned most often among the hits, most first.
    public var topDocuments: [ReturnedDocument]
    /// Unanswered and low-confidence questions grouped by topic, largest group first.
    public var gaps: [Gap]
    /// Judgments given in the period.
    public var feedback: FeedbackCounts
    /// Shadow traffic in the period, one summary per candidate generation (empty without).
    public var shadow: [ShadowSummary] = []

    enum CodingKeys: String, CodingKey {
        case since, until, queries, unanswered, gaps, feedback, shadow
        case lowConfidence = "low_confidence"
        case withoutVerdict = "without_verdict"
        case lowConfidenceBelow = "low_confidence_below"
        case bucketSeconds = "bucket_seconds"
        case overTime = "over_time"
        case topQueries = "top_queries"
        case topDocuments = "top_documents"
    }

    /// One period of ``overTime``.
    public struct Bucket: Sendable, Codable, Equatable {
        /// Its start (seconds since 1970).
        public var start: Double
        /// Queries in it.
        public var queries: Int
        /// Of which unanswered.
        public var unanswered: Int
    }

    /// A question asked repeatedly.
    public struct AskedQuery: Sendable, Codable, Equatable {
        /// Its text as logged (the latest asking's; nil when the log keeps hashes only).
        public var text: String?
        /// The key shared by its askings.
        public var key: String
        /// Times asked.
        public var count: Int
        /// Times its verdict said unanswered.
        public var unanswered: Int
        /// The last time it was asked.
        public var lastAt: Double

        enum CodingKeys: String, CodingKey {
            case text, key, count, unanswered
            case lastAt = "last_at"
        }
    }

    /// A document often among the hits.
    public struct ReturnedDocument: Sendable, Codable, Equatable {
        /// Its id.
        public var id: String
        /// Queries that returned it among their first hits.
        public var count: Int
        /// Queries that returned it first.
        public var first: Int
        /// Judgments that it helped.
        public var helpful: Int
        /// Judgments that it did not.
        public var unhelpful: Int
    }

    /// A group of unanswered or low-confidence questions about one topic.
    public struct Gap: Sendable, Codable, Equatable {
        /// Questions in the group.
        public var size: Int
        /// Of which unanswered (the rest answered with low confidence).
        public var unanswered: Int
        /// Its most central questions (closest to the group's mean embedding), distinct, at most
        /// ``QueryInsights/gapLabels``: the group's label.
        public var queries: [String]
        /// Mean verdict confidence of the group.
        public var meanConfidence: Float
        /// First and last time one of its questions was asked.
        public var firstAt: Double
        /// See ``firstAt``.
        public var lastAt: Double
        /// The document its questions' hits had first most often (what search offers for the topic).
        public var topDocument: String?

        enum CodingKeys: String, CodingKey {
            case size, unanswered, queries
            case meanConfidence = "mean_confidence"
            case firstAt = "first_at"
            case lastAt = "last_at"
            case topDocument = "top_document"
        }
    }

    /// Judgments counted.
    public struct FeedbackCounts: Sendable, Codable, Equatable {
        /// Helpful.
        public var helpful: Int
        /// Not helpful.
        public var unhelpful: Int
    }

    /// Entries of each list reported.
    public static let listLength = 20
    /// Questions labelling each gap.
    public static let gapLabels = 3
    /// Cosine similarity at or above which a question joins a group (its embedding against the
    /// group's mean). A setting chosen, not tuned by measurement (the README says so).
    public static let groupSimilarity: Float = 0.6
    /// Most questions grouped (the newest): grouping costs questions × groups × dimensions.
    public static let maxGrouped = 5000

    /// The report of `queries` (oldest first) and `feedback` over `since...until`.
    public static func make(
        queries: [LoggedQuery], feedback: [Feedback], since: Double, until: Double, lowConfidenceBelow: Float,
        shadow: [ShadowComparison] = []
    ) -> QueryInsights {
        var unanswered = 0
        var low = 0
        var without = 0
        var isGap: [Bool] = []
        isGap.reserveCapacity(queries.count)
        for query in queries {
            switch query.answered {
            case nil:
                without += 1
                isGap.append(false)
            case false?:
                unanswered += 1
                isGap.append(true)
            case true?:
                let weak = (query.confidence ?? 1) < lowConfidenceBelow
                if weak { low += 1 }
                isGap.append(weak)
            }
        }
        let span = max(0, until - since)
        let bucketSeconds: Double = span <= 2 * 86_400 ? 3_600 : 86_400
        let first = (since / bucketSeconds).rounded(.down) * bucketSeconds
        let bucketCount = (bucketIndex(until, first: first, width: bucketSeconds) ?? 0) + 1
        var buckets = (0..<bucketCount).map { Bucket(start: first + Double($0) * bucketSeconds, queries: 0, unanswered: 0) }
        for query in queries {
            guard let index = bucketIndex(query.at, first: first, width: bucketSeconds), buckets.indices.contains(index) else { continue }
            buckets[index].queries += 1
            if query.answered == false { buckets[index].unanswered += 1 }
        }

        var asked: [String: AskedQuery] = [:]
        for query in queries {
            var entry = asked[query.textKey] ?? AskedQuery(text: nil, key: query.textKey, count: 0, unanswered: 0, lastAt: query.at)
            entry.count += 1
            if query.answered == false { entry.unanswered += 1 }
            if query.at >= entry.lastAt || entry.text == nil {
                entry.lastAt = max(entry.lastAt, query.at)
                if let text = query.text { entry.text = text }
            }
            asked[query.textKey] = entry
        }
        let topQueries = asked.values.sorted { ($0.count, $0.lastAt, $1.key) > ($1.count, $1.lastAt, $0.key) }.prefix(listLength)

        var documents: [String: ReturnedDocument] = [:]
        for query in queries {
            for (rank, hit) in query.hits.enumerated() {
                var entry = documents[hit.id] ?? ReturnedDocument(id: hit.id, count: 0, first: 0, helpful: 0, unhelpful: 0)
                entry.count += 1
                if rank == 0 { entry.first += 1 }
                documents[hit.id] = entry
            }
        }
        var counts = FeedbackCounts(helpful: 0, unhelpful: 0)
        for judgment in feedback {
            if judgment.helpful { counts.helpful += 1 } else { counts.unhelpful += 1 }
            guard var entry = documents[judgment.id] else { continue }
            if judgment.helpful { entry.helpful += 1 } else { entry.unhelpful += 1 }
            documents[judgment.id] = entry
        }
        let topDocuments = documents.values.sorted { ($0.count, $0.first, $1.id) > ($1.count, $1.first, $0.id) }.prefix(listLength)

        let candidates = zip(queries, isGap).filter { $1 && $0.vector != nil }.map(\.0).suffix(maxGrouped)
        let gaps = group(Array(candidates)).prefix(listLength)
        return QueryInsights(
            since: since, until: until, queries: queries.count, unanswered: unanswered, lowConfidence: low, withoutVerdict: without,
            lowConfidenceBelow: lowConfidenceBelow, bucketSeconds: bucketSeconds, overTime: buckets, topQueries: Array(topQueries),
            topDocuments: Array(topDocuments), gaps: Array(gaps), feedback: counts, shadow: ShadowSummary.make(shadow, feedback: feedback))
    }

    /// Groups `queries` (each with a vector) by topic: in time order, each joins the group whose
    /// mean embedding is most similar if that similarity is at least ``groupSimilarity``, else
    /// starts a group. Largest first.
    static func group(_ queries: [LoggedQuery]) -> [Gap] {
        var sums: [[Float]] = []
        var members: [[Int]] = []
        var units: [[Float]] = []
        for (index, query) in queries.enumerated() {
            guard let unit = normalized(query.vector ?? []) else {
                units.append([])
                continue
            }
            units.append(unit)
            var best = -1
            var bestSimilarity: Float = -2
            for (group, sum) in sums.enumerated() where sum.count == unit.count {
                guard let centre = normalized(sum) else { continue }
                let similarity = dot(centre, unit)
                if similarity > bestSimilarity {
                    bestSimilarity = similarity
                    best = group
                }
            }
            if best >= 0, bestSimilarity >= groupSimilarity {
                for j in unit.indices { sums[best][j] += unit[j] }
                members[best].append(index)
            } else {
                sums.append(unit)
                members.append([index])
            }
        }
        var gaps: [Gap] = []
        for (group, indices) in members.enumerated() {
            guard let centre = normalized(sums[group]) else { continue }
            let ranked = indices.sorted { dot(units[$0], centre) > dot(units[$1], centre) }
            var labels: [String] = []
            var seen = Set<String>()
            for index in ranked where labels.count < gapLabels {
                let query = queries[index]
                guard seen.insert(query.textKey).inserted else { continue }
                labels.append(query.text ?? query.textKey)
            }
            var firstHits: [String: Int] = [:]
            for index in indices { if let id = queries[index].hits.first?.id { firstHits[id, default: 0] += 1 } }
            let confidences = indices.compactMap { queries[$0].confidence }
            gaps.append(
                Gap(
                    size: indices.count, unanswered: indices.filter { queries[$0].answered == false }.count, queries: labels,
                    meanConfidence: confidences.isEmpty ? 0 : confidences.reduce(0, +) / Float(confidences.count),
                    firstAt: indices.map { queries[$0].at }.min() ?? 0, lastAt: indices.map { queries[$0].at }.max() ?? 0,
                    topDocument: firstHits.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key))
        }
        return gaps.sorted { ($0.size, $0.lastAt) > ($1.size, $1.lastAt) }
    }

    /// Which bucket `time` falls in (nil before the first; at most the 10,000th): never a trap,
    /// whatever the times.
    static func bucketIndex(_ time: Double, first: Double, width: Double) -> Int? {
        let raw = ((time - first) / width).rounded(.down)
        guard raw.isFinite, raw >= 0 else { return nil }
        return Int(min(raw, 9_999))
    }

    static func normalized(_ vector: [Float]) -> [Float]? {
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm.isFinite, norm > 0 else { return nil }
        return vector.map { $0 / norm }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return -2 }
        var sum: Float = 0
        for i in a.indices { sum += a[i] * b[i] }
        return sum
    }
}
