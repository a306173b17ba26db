import SearchEngine

/// `POST /v1/collections`.
struct CreateCollectionBody: Decodable {
    struct HNSW: Decodable {
        let m: Int?
        let efConstruction: Int?
        enum CodingKeys: String, CodingKey {
            case m
            case efConstruction = "ef_construction"
        }
    }
    let name: String
    let model: String?
    let dimensions: Int?
    let distance: String?
    let hnsw: HNSW?
    let chunkTokens: Int?
    let chunkOverlap: Int?

    enum CodingKeys: String, CodingKey {
        case name, model, dimensions, distance, hnsw
        case chunkTokens = "chunk_tokens"
        case chunkOverlap = "chunk_overlap"
    }
}

/// `POST /v1/collections/{c}/feedback`.
struct FeedbackBody: Decodable {
    let queryID: String
    let id: String
    let helpful: Bool

    enum CodingKeys: String, CodingKey {
        case id, helpful
        case queryID = "query_id"
    }
}

/// The answer to `POST /v1/collections/{c}/feedback`.
struct FeedbackRecorded: Encodable {
    let queryID: String
    let id: String
    let helpful: Bool
    let recorded = true

    enum CodingKeys: String, CodingKey {
        case id, helpful, recorded
        case queryID = "query_id"
    }
}

/// `PUT /v1/collections/{c}/documents`.
struct DocumentsBody: Decodable {
    let documents: [DocumentInput]
    /// Accepted for clients that ask to wait: every write that embeds is searchable when the
    /// response is sent.
    let wait: Bool?
    /// Store the texts now and embed them later (in this server's background, or by `quiver
    /// worker` processes): the answer comes at once, with the documents counted in `pending`.
    let deferEmbedding: Bool?

    enum CodingKeys: String, CodingKey {
        case documents, wait
        case deferEmbedding = "defer_embedding"
    }
}

/// `POST /v1/collections/{c}/recommend`; `k` defaults to 10.
struct RecommendBody: Decodable {
    let positive: [String]
    let negative: [String]?
    let k: Int?
    let ef: Int?
    let filter: QueryFilter?
    let include: [IncludeField]?
    let withPayload: Bool?

    enum CodingKeys: String, CodingKey {
        case positive, negative, k, ef, filter, include
        case withPayload = "with_payload"
    }
}

/// `POST /v1/collections/{c}/evaluate`: judged queries (the lines of a `quiver eval` file) and
/// the configurations to run them in (default: vector mode).
struct EvaluateBody: Decodable {
    /// Judged queries; or nil with `judgments: "feedback"`.
    let queries: [JudgedQuery]?
    /// `"feedback"`: the judged queries are the query log's feedback (instead of `queries`).
    let judgments: String?
    let configurations: [EvaluationConfiguration]?
    let k: Int?
    let ef: Int?

    /// Most judged queries in one request.
    static let maxQueries = 10_000
    /// Most configurations in one request.
    static let maxConfigurations = 8
    /// Most query runs (queries × configurations) in one request.
    static let maxRuns = 20_000
}

/// `POST /v1/collections/{c}/query/batch`.
struct BatchQueryBody: Decodable {
    let queries: [QueryRequest]
}

/// `POST /v1/collections/{c}/vectors`.
struct VectorIDsBody: Decodable {
    let ids: [String]
    /// Every passage's vector too (chunked collections).
    let chunks: Bool?
}

/// `GET /v1/collections`.
struct CollectionList: Encodable {
    let collections: [CollectionInfo]
}

/// `DELETE /v1/collections/{c}`.
struct CollectionDeleted: Encodable {
    let name: String
    let deleted: Bool
}

/// The answer to a document write (upsert or delete).
struct WriteResponse: Encodable {
    let inserted: Int
    let updated: Int
    let unchanged: Int
    let deleted: Int
    /// Documents refused on their own (over `max_document_bytes` or `max_passages`), listed in
    /// `rejected`; the rest was written. Any other invalid document rejects the write whole
    /// (422 naming it).
    let failed: Int
    let rejected: [RejectedDocument]
    let embedded: Int
    /// Documents stored for later embedding (`defer_embedding`): not searchable by meaning until
    /// embedded (a changed one by its old text's vector meanwhile).
    let pending: Int
    /// The store sequence after the write; searchable once `index.indexed_seq` ≥ `seq`.
    let seq: Int64
    let generation: Int64
    /// Whether the write is searchable now: it went to the generation serving queries and the
    /// index covers its seq. False while a model change is in progress (writes then go to the
    /// building generation, searchable once it becomes current), and no document is pending.
    let searchable: Bool
    let index: IndexState

    init(_ result: UpsertResult, index: IndexState) {
        inserted = result.inserted
        updated = result.updated
        unchanged = result.unchanged
        deleted = result.deleted
        failed = result.failed
        rejected = result.rejected
        embedded = result.embedded
        pending = result.pending
        seq = result.seq
        generation = result.generation
        searchable = index.generation == result.generation && index.indexedSeq >= result.seq && result.pending == 0
        self.index = index
    }

    enum CodingKeys: String, CodingKey {
        case inserted, updated, unchanged, deleted, failed, rejected, embedded, pending, seq, generation, searchable, index
    }
}

/// `POST /v1/collections/{c}/query/batch`.
struct BatchQueryResponse: Encodable {
    let results: [QueryResponse]
}

/// One line of the NDJSON vector export.
struct VectorLine: Encodable {
    let id: String
    let vector: [Float]
    let model: String
    let embeddedAt: Timestamp?
    let chunks: [VectorsResponse.PassageVector]?
    enum CodingKeys: String, CodingKey {
        case id, vector, model, chunks
        case embeddedAt = "embedded_at"
    }
}
