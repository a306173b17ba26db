/// What to include in each hit besides id, score, title, metadata and freshness.
public enum IncludeField: String, Sendable, Codable, Equatable {
    /// The document's text.
    case text
    /// The stored vector.
    case vector
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

    /// Creates a query.
    public init(
        text: String? = nil, vector: [Float]? = nil, id: String? = nil, k: Int = 10, ef: Int? = nil,
        filter: QueryFilter? = nil, include: [IncludeField]? = nil, withPayload: Bool = true
    ) {
        self.text = text
        self.vector = vector
        self.id = id
        self.k = k
        self.ef = ef
        self.filter = filter
        self.include = include
        self.withPayload = withPayload
    }

    enum CodingKeys: String, CodingKey {
        case text, vector, id, k, ef, filter, include
        case withPayload = "with_payload"
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
}

/// A query text embedded by the caller, with the fingerprint of the model that embedded it.
public struct EmbeddedQueryText: Sendable, Equatable {
    /// The text's vector.
    public var vector: [Float]
    /// Fingerprint of the model that produced it.
    public var fingerprint: String
    /// Time spent embedding it, in milliseconds (reported as `timings.embed_ms`).
    public var embedMs: Double

    /// Creates an embedded query text.
    public init(vector: [Float], fingerprint: String, embedMs: Double) {
        self.vector = vector
        self.fingerprint = fingerprint
        self.embedMs = embedMs
    }
}
