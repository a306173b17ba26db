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
    /// Documents stored for a worker to embed (a deferred write): not searchable by their new
    /// text until then (a changed document keeps its old vector meanwhile).
    public var pending = 0
    /// The store sequence after the write: the write is searchable once `indexed_seq` ≥ this.
    public var seq: Int64 = 0
    /// The generation written to.
    public var generation: Int64 = 0
    /// Documents refused on their own (too large), by their place in the call; the others were
    /// written. Counted in `failed`.
    public var rejected: [RejectedDocument] = []

    /// Zero counts.
    public init() {}

    /// Adds `other`'s counts; keeps the larger seq.
    public mutating func add(_ other: UpsertResult) {
        inserted += other.inserted
        updated += other.updated
        unchanged += other.unchanged
        deleted += other.deleted
        failed += other.failed
        rejected += other.rejected
        embedded += other.embedded
        pending += other.pending
        seq = max(seq, other.seq)
        generation = max(generation, other.generation)
    }
}

/// A document a write refused while writing the rest of its batch.
public struct RejectedDocument: Sendable, Codable, Equatable {
    /// Its place in the call's documents (0-based).
    public var index: Int
    /// Its id.
    public var id: String
    /// Why.
    public var reason: String
}

/// Size limits of one document; both are
/// listed in `GET /v1/info`.
public struct DocumentLimits: Sendable, Codable, Equatable {
    /// Most UTF-8 bytes of a document's title and text together. Default 4 MiB (the server's
    /// default largest request body).
    public var maxDocumentBytes: Int
    /// Most passages a document may be cut into in a chunked collection (at most 1,024: the
    /// index label has 10 bits for the passage). Default 1,024.
    public var maxPassages: Int

    /// Limits; the defaults are documented on each property.
    public init(maxDocumentBytes: Int = 4 << 20, maxPassages: Int = 1024) {
        self.maxDocumentBytes = maxDocumentBytes
        self.maxPassages = maxPassages
    }

    /// Throws `invalidQuery` for limits out of range.
    public func validate() throws(SearchEngineError) {
        guard maxDocumentBytes >= 1 else { throw .invalidQuery("max_document_bytes must be positive") }
        guard (1...PassageLabel.limit).contains(maxPassages) else {
            throw .invalidQuery("max_passages must be in 1...\(PassageLabel.limit)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case maxDocumentBytes = "max_document_bytes"
        case maxPassages = "max_passages"
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
        /// With `chunks`: every passage's vector with its offsets (chunked collections; nil
        /// otherwise). `vector` is then the document's pooled vector.
        public var chunks: [PassageVector]? = nil

        enum CodingKeys: String, CodingKey {
            case id, vector, model, chunks
            case embeddedAt = "embedded_at"
        }
    }

    /// One passage's vector: where the passage is in the text (Unicode scalar offsets) and its vector.
    public struct PassageVector: Sendable, Codable, Equatable {
        /// Offset of its first character.
        public var start: Int
        /// Offset one past its last character.
        public var end: Int
        /// Its vector.
        public var vector: [Float]
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
