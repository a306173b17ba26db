/// A document to write: text to embed, or a precomputed vector, with optional title and metadata.
public struct DocumentInput: Sendable, Codable, Equatable {
    /// The caller's id, unique within the collection (1…1024 bytes).
    public var id: String
    /// Text to embed (embedded as `title\ntext` when a title is given).
    public var text: String?
    /// Optional title.
    public var title: String?
    /// Optional metadata; must be a JSON object.
    public var metadata: JSONValue?
    /// When the source document last changed; the time of the write when absent.
    public var updatedAt: Timestamp?
    /// A precomputed vector (bring your own); its length must match the collection.
    public var vector: [Float]?

    /// Creates a document.
    public init(
        id: String, text: String? = nil, title: String? = nil, metadata: JSONValue? = nil,
        updatedAt: Timestamp? = nil, vector: [Float]? = nil
    ) {
        self.id = id
        self.text = text
        self.title = title
        self.metadata = metadata
        self.updatedAt = updatedAt
        self.vector = vector
    }

    enum CodingKeys: String, CodingKey {
        case id, text, title, metadata, vector
        case updatedAt = "updated_at"
    }
}

/// Counts of a write and the sequence number at which it is searchable.
public struct UpsertResult: Sendable, Codable, Equatable {
    /// New documents.
    public var inserted = 0
    /// Changed documents (re-embedded, or metadata only).
    public var updated = 0
    /// Documents identical to the stored ones (skipped without embedding).
    public var unchanged = 0
    /// Deleted documents.
    public var deleted = 0
    /// Documents rejected (reported separately by the caller).
    public var failed = 0
    /// Texts embedded.
    public var embedded = 0
    /// The store sequence after the write: the write is searchable once `indexed_seq` ≥ this.
    public var seq: Int64 = 0
    /// The generation written to.
    public var generation: Int64 = 0

    /// Zero counts.
    public init() {}

    /// Adds `other`'s counts; keeps the larger seq.
    public mutating func add(_ other: UpsertResult) {
        inserted += other.inserted
        updated += other.updated
        unchanged += other.unchanged
        deleted += other.deleted
        failed += other.failed
        embedded += other.embedded
        seq = max(seq, other.seq)
        generation = max(generation, other.generation)
    }
}

/// Freshness of one hit: what no peer returns.
public struct Freshness: Sendable, Codable, Equatable {
    /// When the source document last changed.
    public var updatedAt: Timestamp
    /// When its vector was computed.
    public var embeddedAt: Timestamp?
    /// When the vector became searchable in this process's index (for vectors loaded from a
    /// checkpoint: when that checkpoint was written).
    public var indexedAt: Timestamp?
    /// The model that produced the vector.
    public var model: ModelInfo
    /// Seconds since `embeddedAt` (since `updatedAt` without an embedding time).
    public var ageSeconds: Double

    enum CodingKeys: String, CodingKey {
        case updatedAt = "updated_at"
        case embeddedAt = "embedded_at"
        case indexedAt = "indexed_at"
        case model
        case ageSeconds = "age_seconds"
    }
}

/// A stored document as returned by `document(id:)`.
public struct DocumentResult: Sendable, Codable, Equatable {
    /// The id.
    public var id: String
    /// Title.
    public var title: String?
    /// Text.
    public var text: String?
    /// Metadata.
    public var metadata: JSONValue?
    /// The vector, when asked for.
    public var vector: [Float]?
    /// Freshness.
    public var freshness: Freshness
    /// Sequence number of its last change.
    public var seq: Int64
}

/// Vectors fetched by id, each tagged with its model.
public struct VectorsResponse: Sendable, Codable, Equatable {
    /// One vector record.
    public struct Item: Sendable, Codable, Equatable {
        /// Document id.
        public var id: String
        /// The vector.
        public var vector: [Float]
        /// Model fingerprint.
        public var model: String
        /// When it was computed.
        public var embeddedAt: Timestamp?

        enum CodingKeys: String, CodingKey {
            case id, vector, model
            case embeddedAt = "embedded_at"
        }
    }

    /// Found vectors, in request order.
    public var vectors: [Item]
    /// Requested ids with no live document.
    public var missing: [String]
    /// The generation they come from.
    public var generation: Int64
    /// Its model.
    public var model: ModelInfo
    /// Next page cursor (exports only); nil on the last page.
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case vectors, missing, generation, model
        case nextCursor = "next_cursor"
    }
}
