import KeywordIndex

/// What to include in each hit besides id, score, title, metadata and freshness.
public enum IncludeField: String, Sendable, Codable, Equatable {
    /// The document's text.
    case text
    /// The stored vector.
    case vector
    /// Every passage of the hit's document the vector search matched, with its score (chunked
    /// collections).
    case chunks
}

/// How a text query finds its hits.
public enum SearchMode: String, Sendable, Codable, Equatable, CaseIterable {
    /// Nearest neighbours of the text's embedding (the only mode for vector and id queries).
    case vector
    /// BM25 over titles and texts (the keyword index).
    case keyword
    /// Both, fused (see ``Fusion``).
    case hybrid
}

/// How a hybrid query merges its vector and keyword candidates.
public struct Fusion: Sendable, Codable, Equatable {
    /// The fusion method.
    public enum Method: String, Sendable, Codable, Equatable {
        /// Reciprocal rank fusion: Σ 1 / (k + rank) over the lists a document is in.
        case rrf
        /// `alpha · vector + (1 − alpha) · keyword`, each score min–max normalized over the
        /// query's candidates (0 where a document is not a candidate of that list).
        case weighted
    }
    /// The method.
    public var method: Method
    /// RRF's rank constant (default 60).
    public var k: Double?
    /// Weighted fusion's vector weight, 0…1 (default 0.5).
    public var alpha: Double?
    /// Candidates taken from each list before fusing (default max(100, k of the query), at most
    /// 1000).
    public var candidates: Int?

    /// A fusion.
    public init(method: Method, k: Double? = nil, alpha: Double? = nil, candidates: Int? = nil) {
        self.method = method
        self.k = k
        self.alpha = alpha
        self.candidates = candidates
    }

    /// The default: weighted, alpha 0.5 — on the judged sets it beat RRF (k 20 and 60) and
    /// alpha 0.3 and 0.7 on nDCG@10, or tied within 0.003 (README, "Relevance").
    public static let standard = Fusion(method: .weighted, alpha: defaultAlpha)
    /// RRF's default rank constant.
    public static let defaultRRFK = 60.0
    /// Weighted fusion's default vector weight.
    public static let defaultAlpha = 0.5
}

/// A hit's scores in each list of a keyword or hybrid query, and its rank there (from 1; nil when
/// it was not among that list's candidates).
public struct HitScores: Sendable, Codable, Equatable {
    /// Similarity to the query's embedding (as `score` in vector mode); in hybrid mode given for
    /// every hit, also one the vector list did not rank.
    public var vector: Float?
    /// BM25 score (higher is better; comparable within one query only).
    public var keyword: Float?
    /// The fused score (hybrid).
    public var fused: Float?
    /// Rank among the vector candidates.
    public var vectorRank: Int?
    /// Rank among the keyword candidates.
    public var keywordRank: Int?

    /// Scores.
    public init(vector: Float? = nil, keyword: Float? = nil, fused: Float? = nil, vectorRank: Int? = nil, keywordRank: Int? = nil) {
        self.vector = vector
        self.keyword = keyword
        self.fused = fused
        self.vectorRank = vectorRank
        self.keywordRank = keywordRank
    }

    enum CodingKeys: String, CodingKey {
        case vector, keyword, fused
        case vectorRank = "vector_rank"
        case keywordRank = "keyword_rank"
    }
}

/// Which generation of a collection answers: the one serving queries, or the candidate being
/// evaluated (`quiver index --model M --candidate`).
public enum GenerationChoice: String, Sendable, Codable, Equatable, CaseIterable {
    /// The serving generation.
    case current
    /// The candidate generation, searched through an index built from its stored vectors on
    /// first use and caught up from the change feed afterwards.
    case candidate
}

/// A nearest-neighbour query: by text, by vector, or by a stored document's id ("more like this").
public struct QueryRequest: Sendable, Codable, Equatable {
    /// Text to embed with the collection's model.
    public var text: String?
    /// A query vector.
    public var vector: [Float]?
    /// A stored document whose vector is the query (the document itself is excluded).
    public var id: String?
    /// Number of hits, 1…1000. Default 10.
    public var k: Int
    /// HNSW candidate list size (≥ k); the index default when nil.
    public var ef: Int?
    /// Metadata / time filter (see `QueryFilter`).
    public var filter: QueryFilter?
    /// Extra fields per hit.
    public var include: [IncludeField]?
    /// Whether hits carry their document (title, metadata, freshness, `include`d fields). False:
    /// ids and scores only, as of the index snapshot that answered (`indexed_seq`) — no store read
    /// per hit (JSON `with_payload`, default true).
    public var withPayload: Bool
    /// How a text query searches; nil: the engine's default for text (``SearchEngine/defaultTextMode``).
    /// Vector and id queries are vector mode only.
    public var mode: SearchMode?
    /// How hybrid mode fuses (default ``Fusion/standard``: weighted, alpha 0.5).
    public var fusion: Fusion?
    /// The generation searched; nil: the current one. `candidate` answers from the candidate's
    /// vectors (documents written since it was filled are missing from it or carry their earlier
    /// vectors), its text embedded with the candidate's model.
    public var generation: GenerationChoice?
    /// Read your writes (JSON `min_seq`): the answer must come from an index covering at least
    /// this store seq (a write's `seq`). A replica behind it waits up to `waitMs` for its index
    /// to catch up, then refuses (`unavailable`, with its lag) rather than answer from older data.
    public var minSeq: Int64?
    /// Bounded staleness (JSON `max_staleness_ms`): the answer must come from an index known to
    /// hold every change committed more than this many milliseconds ago (its `lag_seconds`). A
    /// replica further behind — or one that cannot read its store — waits up to `waitMs` for
    /// a catch-up, then refuses (`unavailable`, with its lag).
    public var maxStalenessMs: Int?
    /// How long to wait for `minSeq` or `maxStalenessMs`, in milliseconds, 0…10000 (JSON
    /// `wait_ms`; default 1000).
    public var waitMs: Int?
    /// The confidence (0–1) at which the answer's verdict says `answered` (JSON
    /// `verdict_threshold`; default: the collection's setting, ``CollectionTuning``).
    public var verdictThreshold: Float?

    /// Longest `wait_ms`.
    public static let maxWaitMs = 10_000
    /// Largest `max_staleness_ms` (a day).
    public static let maxStalenessLimitMs = 86_400_000
    /// `wait_ms` when a query gives `min_seq` or `max_staleness_ms` without it.
    public static let defaultWaitMs = 1_000

    /// Creates a query.
    public init(
        text: String? = nil, vector: [Float]? = nil, id: String? = nil, k: Int = 10, ef: Int? = nil,
        filter: QueryFilter? = nil, include: [IncludeField]? = nil, withPayload: Bool = true, mode: SearchMode? = nil,
        fusion: Fusion? = nil, generation: GenerationChoice? = nil, minSeq: Int64? = nil, maxStalenessMs: Int? = nil,
        waitMs: Int? = nil, verdictThreshold: Float? = nil
    ) {
        self.verdictThreshold = verdictThreshold
        self.minSeq = minSeq
        self.maxStalenessMs = maxStalenessMs
        self.waitMs = waitMs
        self.text = text
        self.vector = vector
        self.id = id
        self.k = k
        self.ef = ef
        self.filter = filter
        self.include = include
        self.withPayload = withPayload
        self.mode = mode
        self.fusion = fusion
        self.generation = generation
    }

    /// The mode this query runs in.
    public var effectiveMode: SearchMode { mode ?? (text != nil ? SearchEngine.defaultTextMode : .vector) }

    enum CodingKeys: String, CodingKey {
        case text, vector, id, k, ef, filter, include, mode, fusion, generation
        case withPayload = "with_payload"
        case minSeq = "min_seq"
        case waitMs = "wait_ms"
        case maxStalenessMs = "max_staleness_ms"
        case verdictThreshold = "verdict_threshold"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decodeIfPresent(String.self, forKey: .text)
        vector = try c.decodeIfPresent([Float].self, forKey: .vector)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        k = try c.decodeIfPresent(Int.self, forKey: .k) ?? 10
        ef = try c.decodeIfPresent(Int.self, forKey: .ef)
        filter = try c.decodeIfPresent(QueryFilter.self, forKey: .filter)
        include = try c.decodeIfPresent([IncludeField].self, forKey: .include)
        withPayload = try c.decodeIfPresent(Bool.self, forKey: .withPayload) ?? true
        mode = try c.decodeIfPresent(SearchMode.self, forKey: .mode)
        fusion = try c.decodeIfPresent(Fusion.self, forKey: .fusion)
        generation = try c.decodeIfPresent(GenerationChoice.self, forKey: .generation)
        minSeq = try c.decodeIfPresent(Int64.self, forKey: .minSeq)
        waitMs = try c.decodeIfPresent(Int.self, forKey: .waitMs)
        maxStalenessMs = try c.decodeIfPresent(Int.self, forKey: .maxStalenessMs)
        verdictThreshold = try c.decodeIfPresent(Float.self, forKey: .verdictThreshold)
    }
}

/// "More like these, less like those": the query vector is `2·mean(positive) − mean(negative)`
/// (`mean(positive)` without negatives); the examples themselves are never returned.
public struct RecommendRequest: Sendable, Codable, Equatable {
    /// Ids of liked documents (at least one).
    public var positive: [String]
    /// Ids of disliked documents.
    public var negative: [String]?
    /// Number of hits. Default 10.
    public var k: Int
    /// HNSW candidate list size.
    public var ef: Int?
    /// Metadata / time filter.
    public var filter: QueryFilter?
    /// Extra fields per hit.
    public var include: [IncludeField]?
    /// Whether hits carry their document (see ``QueryRequest/withPayload``).
    public var withPayload: Bool

    /// Creates a request.
    public init(
        positive: [String], negative: [String]? = nil, k: Int = 10, ef: Int? = nil,
        filter: QueryFilter? = nil, include: [IncludeField]? = nil, withPayload: Bool = true
    ) {
        self.positive = positive
        self.negative = negative
        self.k = k
        self.ef = ef
        self.filter = filter
        self.include = include
        self.withPayload = withPayload
    }

    enum CodingKeys: String, CodingKey {
        case positive, negative, k, ef, filter, include
        case withPayload = "with_payload"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        positive = try c.decode([String].self, forKey: .positive)
        negative = try c.decodeIfPresent([String].self, forKey: .negative)
        k = try c.decodeIfPresent(Int.self, forKey: .k) ?? 10
        ef = try c.decodeIfPresent(Int.self, forKey: .ef)
        filter = try c.decodeIfPresent(QueryFilter.self, forKey: .filter)
        include = try c.decodeIfPresent([IncludeField].self, forKey: .include)
        withPayload = try c.decodeIfPresent(Bool.self, forKey: .withPayload) ?? true
    }
}

/// One hit.
public struct QueryHit: Sendable, Codable, Equatable {
    /// Document id.
    public var id: String
    /// Similarity: `1 − distance` for cosine and dot (cosine similarity / inner product), the
    /// negated squared distance for l2. Higher is nearer.
    public var score: Float
    /// Title.
    public var title: String?
    /// Text (when included).
    public var text: String?
    /// Metadata.
    public var metadata: JSONValue?
    /// Vector (when included).
    public var vector: [Float]?
    /// Freshness (nil when the query asked for no payload).
    public var freshness: Freshness?
    /// The parts of `score` in keyword and hybrid mode (nil in vector mode).
    public var scores: HitScores? = nil
    /// The passage of a chunked collection's document that matched best (vector and hybrid mode,
    /// with the payload).
    public var passage: Passage? = nil
    /// Every passage of the document among the vector search's matches, best first (with
    /// `include: ["chunks"]`).
    public var chunks: [PassageScore]? = nil
}

/// The matching passage of a hit: its text and where it is in the document's text, as Unicode
/// scalar (code point) offsets, `start` inclusive, `end` exclusive.
public struct Passage: Sendable, Codable, Equatable {
    /// The passage's text (the document's text from `start` to `end`).
    public var text: String
    /// Offset of its first character.
    public var start: Int
    /// Offset one past its last character.
    public var end: Int
    /// Its similarity to the query.
    public var score: Float
}

/// One matching passage of a hit (`include: ["chunks"]`).
public struct PassageScore: Sendable, Codable, Equatable {
    /// Offset of its first character (Unicode scalars).
    public var start: Int
    /// Offset one past its last character.
    public var end: Int
    /// Its similarity to the query.
    public var score: Float
}

/// Where a query's time went, in milliseconds.
public struct QueryTimings: Sendable, Codable, Equatable {
    /// Embedding the query text (0 for vector/id queries).
    public var embedMs: Double = 0
    /// The HNSW search (and the filter's label lookup).
    public var searchMs: Double = 0
    /// Fetching the hits' documents from the store.
    public var fetchMs: Double = 0

    enum CodingKeys: String, CodingKey {
        case embedMs = "embed_ms"
        case searchMs = "search_ms"
        case fetchMs = "fetch_ms"
    }
}

/// The answer to a query or recommendation.
public struct QueryResponse: Sendable, Codable, Equatable {
    /// Hits, nearest first.
    public var results: [QueryHit]
    /// The index state that answered.
    public var index: IndexState
    /// The model of the generation that answered (every hit's vector is from it).
    public var model: ModelInfo
    /// Timings.
    public var timings: QueryTimings
    /// Whether a good answer was found (text queries in vector and hybrid mode, on the current
    /// generation, once its calibration is fitted; see ``Verdict``).
    public var verdict: Verdict? = nil
    /// The id under which the query was logged (a text query to a collection whose query log is
    /// on), for feedback on its hits; nil otherwise.
    public var queryID: String? = nil

    enum CodingKeys: String, CodingKey {
        case results, index, model, timings, verdict
        case queryID = "query_id"
    }
}

/// A query text embedded by the caller, with the fingerprint of the model that embedded it.
public struct EmbeddedQueryText: Sendable, Equatable {
    /// The text's vector.
    public var vector: [Float]
    /// Fingerprint of the model that produced it.
    public var fingerprint: String
    /// Time spent embedding it, in milliseconds (reported as `timings.embed_ms`).
    public var embedMs: Double
    /// An unfiltered hybrid query's keyword list, searched while the text was being embedded.
    var keywordHits: Result<[KeywordHit], SearchEngineError>? = nil

    /// Creates an embedded query text.
    public init(vector: [Float], fingerprint: String, embedMs: Double) {
        self.vector = vector
        self.fingerprint = fingerprint
        self.embedMs = embedMs
    }
}
