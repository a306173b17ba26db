/// One document of a fused ranking, with its parts.
public struct FusedHit: Sendable, Equatable {
    /// The document's label.
    public var label: Int64
    /// The fused score (higher is better).
    public var fused: Double
    /// Its score and rank (from 1) in the vector list, if it is there.
    public var vectorScore: Float?
    public var vectorRank: Int?
    /// Its score and rank (from 1) in the keyword list, if it is there.
    public var keywordScore: Float?
    public var keywordRank: Int?
}

extension Fusion {
    /// Largest RRF rank constant accepted. Far below it RRF already ranks by the number of lists
    /// a document is in; the bound keeps labels and reports readable.
    public static let maxRRFK = 1_000_000.0

    /// Checks the parameters: RRF's `k` in (0, ``maxRRFK``], `alpha` in 0…1, `candidates` in
    /// 1…1000, each only for the method it belongs to.
    public func validate(field: String = "") throws(SearchEngineError) {
        switch method {
        case .rrf:
            if let k {
                guard k.isFinite, k > 0, k <= Self.maxRRFK else {
                    throw .invalidQuery("\(field)fusion.k must be a number in (0, \(Int(Self.maxRRFK))] (got \(k))")
                }
            }
            if alpha != nil { throw .invalidQuery("\(field)fusion.alpha belongs to method \"weighted\"") }
        case .weighted:
            if let alpha {
                guard alpha.isFinite, (0...1).contains(alpha) else {
                    throw .invalidQuery("\(field)fusion.alpha must be in 0...1 (got \(alpha))")
                }
            }
            if k != nil { throw .invalidQuery("\(field)fusion.k belongs to method \"rrf\"") }
        }
        if let candidates {
            guard SearchEngine.kRange.contains(candidates) else {
                throw .invalidQuery("\(field)fusion.candidates must be in \(SearchEngine.kRange) (got \(candidates))")
            }
        }
    }

    /// Candidates each list contributes to a query asking for `k` hits.
    public func candidateCount(k: Int) -> Int {
        max(k, candidates ?? min(SearchEngine.kRange.upperBound, max(100, k)))
    }

    /// The best `k` of the union of `vector` and `keyword` (each best first, labels distinct
    /// within a list) by this fusion. Ties go to the better of a document's ranks, then the lower
    /// label, so the order is deterministic.
    public func fuse(vector: [(label: Int64, score: Float)], keyword: [(label: Int64, score: Float)], k: Int) -> [FusedHit] {
        var hits: [Int64: FusedHit] = [:]
        hits.reserveCapacity(vector.count + keyword.count)
        for (index, hit) in vector.enumerated() {
            hits[hit.label, default: FusedHit(label: hit.label, fused: 0)].vectorScore = hit.score
            hits[hit.label]?.vectorRank = index + 1
        }
        for (index, hit) in keyword.enumerated() {
            hits[hit.label, default: FusedHit(label: hit.label, fused: 0)].keywordScore = hit.score
            hits[hit.label]?.keywordRank = index + 1
        }
        switch method {
        case .rrf:
            let constant = self.k ?? Fusion.defaultRRFK
            for label in hits.keys {
                guard let hit = hits[label] else { continue }
                var fused = 0.0
                if let rank = hit.vectorRank { fused += 1 / (constant + Double(rank)) }
                if let rank = hit.keywordRank { fused += 1 / (constant + Double(rank)) }
                hits[label]?.fused = fused
            }
        case .weighted:
            let alpha = self.alpha ?? Fusion.defaultAlpha
            let vectorRange = Self.range(vector.map(\.score))
            let keywordRange = Self.range(keyword.map(\.score))
            for label in hits.keys {
                guard let hit = hits[label] else { continue }
                let v = hit.vectorScore.map { Self.normalize($0, vectorRange) } ?? 0
                let w = hit.keywordScore.map { Self.normalize($0, keywordRange) } ?? 0
                hits[label]?.fused = alpha * v + (1 - alpha) * w
            }
        }
        let ordered = hits.values.sorted { a, b in
            if a.fused != b.fused { return a.fused > b.fused }
            let bestA = min(a.vectorRank ?? .max, a.keywordRank ?? .max)
            let bestB = min(b.vectorRank ?? .max, b.keywordRank ?? .max)
            if bestA != bestB { return bestA < bestB }
            return a.label < b.label
        }
        return Array(ordered.prefix(max(0, k)))
    }

    private static func range(_ scores: [Float]) -> (min: Double, max: Double)? {
        guard let low = scores.min(), let high = scores.max() else { return nil }
        return (Double(low), Double(high))
    }

    /// `score` scaled to 0…1 over its list (1 when every candidate scored the same).
    private static func normalize(_ score: Float, _ range: (min: Double, max: Double)?) -> Double {
        guard let range, range.max > range.min else { return 1 }
        return (Double(score) - range.min) / (range.max - range.min)
    }
}
