import DocumentStore
import VectorIndex

/// Settings of a new collection.
public struct CollectionOptions: Sendable, Codable, Equatable {
    /// The `model` value that makes a collection of bring-your-own vectors.
    public static let externalModel = "external"
    /// The vector lengths such a collection may have.
    public static let externalDimensions = HNSWConfiguration.dimensionRange

    /// HNSW parameters.
    public struct HNSW: Sendable, Codable, Equatable {
        /// Neighbours per node. Default 16.
        public var m: Int
        /// Candidate list size while inserting. Default 200.
        public var efConstruction: Int

        /// The defaults documented on each property.
        public init(m: Int = 16, efConstruction: Int = 200) {
            self.m = m
            self.efConstruction = efConstruction
        }

        enum CodingKeys: String, CodingKey {
            case m
            case efConstruction = "ef_construction"
        }
    }

    /// The name, `[a-z0-9][a-z0-9_-]{0,63}`.
    public var name: String
    /// Model id of one of the engine's models; nil for the engine's default model;
    /// ``externalModel`` for a collection of the caller's own vectors (no model, text cannot be
    /// embedded for it), which needs ``dimensions``.
    public var model: String?
    /// Expected dimensions (checked against the model's when given); the vector length of an
    /// ``externalModel`` collection.
    public var dimensions: Int?
    /// `cosine` (default), `dot` or `l2`.
    public var distance: String?
    /// HNSW parameters (defaults when nil).
    public var hnsw: HNSW?
    /// Most word pieces per embedded passage (`[CLS]`, `[SEP]` and title included): long texts
    /// are cut into passages of this size, each embedded and indexed. 0 turns chunking off (one
    /// vector per document from its first word pieces). Default: the model's `max_seq_length`.
    public var chunkTokens: Int?
    /// Word pieces each passage repeats from the end of the one before. Default
    /// ``Chunking/defaultOverlap``.
    public var chunkOverlap: Int?

    /// Creates options; every field but the name is optional.
    public init(
        name: String, model: String? = nil, dimensions: Int? = nil, distance: String? = nil, hnsw: HNSW? = nil,
        chunkTokens: Int? = nil, chunkOverlap: Int? = nil
    ) {
        self.chunkTokens = chunkTokens
        self.chunkOverlap = chunkOverlap
        self.name = name
        self.model = model
        self.dimensions = dimensions
        self.distance = distance
        self.hnsw = hnsw
    }
}

extension Chunking {
    /// The overlap used when none is given: none. On the PostgreSQL manual set, overlaps of 32
    /// and 64 word pieces changed nDCG@10 by −0.013…+0.010 (p ≥ 0.16) for 6 % and 22 % more
    /// passages to embed (README, "Long documents").
    public static let defaultOverlap = 0

    /// The chunking a collection of `model` gets from `tokens` and `overlap` (nil: the defaults).
    ///
    /// - Throws: `invalidQuery` for values out of range.
    public static func resolve(tokens: Int?, overlap: Int?, model: EmbeddingModel) throws(SearchEngineError) -> Chunking {
        guard let window = model.embedder?.pooling.maxSequenceLength else {
            guard (tokens ?? 0) == 0, (overlap ?? 0) == 0 else {
                throw .invalidQuery("chunk_tokens: a collection of your own vectors has no text to cut into passages")
            }
            return .off
        }
        let tokens = tokens ?? window
        guard tokens != 0 else {
            guard (overlap ?? 0) == 0 else { throw .invalidQuery("chunk_overlap needs chunk_tokens > 0") }
            return .off
        }
        // A model's window comes from its folder: never build a range that could trap.
        let smallest = min(16, window)
        guard tokens >= smallest, tokens <= window else {
            throw .invalidQuery("chunk_tokens must be 0 (off) or in \(smallest)...\(window) (the model's max_seq_length)")
        }
        let overlap = overlap ?? min(defaultOverlap, tokens / 4)
        guard overlap >= 0, overlap <= tokens / 2 else {
            throw .invalidQuery("chunk_overlap must be in 0...\(tokens / 2) (half of chunk_tokens)")
        }
        return Chunking(tokens: tokens, overlap: overlap)
    }
}

/// The model behind a generation.
public struct ModelInfo: Sendable, Codable, Equatable {
    /// Readable model name.
    public var id: String
    /// Fingerprint of weights, tokenizer and pooling.
    public var fingerprint: String
}

/// One index generation as reported.
public struct GenerationInfo: Sendable, Codable, Equatable {
    /// Generation number.
    public var generation: Int64
    /// `building`, `current` or `previous`.
    public var state: String
    /// The model of its vectors.
    public var model: ModelInfo
    /// Length of its vectors.
    public var dimensions: Int
    /// Live documents still lacking an up-to-date vector in it: always for a building generation;
    /// for the current one only when deferred writes wait for a worker (absent otherwise).
    public var pending: Int?
    /// True for a building generation held for evaluation (`quiver index --candidate`), switched
    /// in only by a promote; absent otherwise.
    public var candidate: Bool? = nil
    /// How its documents are cut into passages.
    public var chunking: ChunkingInfo = ChunkingInfo(.off)
}

/// A generation's chunking as reported: `chunk_tokens` (0 = off) and `chunk_overlap`.
public struct ChunkingInfo: Sendable, Codable, Equatable {
    /// Most word pieces per passage; 0 when documents are not cut.
    public var chunkTokens: Int
    /// Word pieces repeated between passages.
    public var chunkOverlap: Int

    /// The report of `chunking`.
    public init(_ chunking: Chunking) {
        chunkTokens = chunking.tokens
        chunkOverlap = chunking.overlap
    }

    enum CodingKeys: String, CodingKey {
        case chunkTokens = "chunk_tokens"
        case chunkOverlap = "chunk_overlap"
    }
}

/// The index state attached to every query response and collection report.
public struct IndexState: Sendable, Codable, Equatable {
    /// The generation that answered.
    public var generation: Int64
    /// The store sequence the index covers.
    public var indexedSeq: Int64
    /// The store's last sequence number.
    public var storeSeq: Int64
    /// Changes committed but not yet searchable (`storeSeq − indexedSeq`).
    public var pending: Int64
    /// When the last sync run finished.
    public var lastSyncAt: Timestamp?
    /// Vectors in the serving index.
    public var vectors: Int
    /// The store sequence the keyword index covers (it catches up right after the vector index;
    /// nil where it is not known).
    public var keywordIndexedSeq: Int64? = nil
    /// Why the keyword index could not answer in full (not built yet, a failed catch-up, a damaged
    /// file being rebuilt); nil when it is healthy. A hybrid query that got no keyword list says
    /// so here and answered from its vector list alone.
    public var keywordError: String? = nil
    /// Seconds since the index was last known to hold every committed change: every change
    /// committed more than this long ago is searchable. Grows while the store cannot be read;
    /// nil where it is not known.
    public var lagSeconds: Double? = nil

    enum CodingKeys: String, CodingKey {
        case generation, vectors
        case lagSeconds = "lag_seconds"
        case indexedSeq = "indexed_seq"
        case keywordIndexedSeq = "keyword_indexed_seq"
        case keywordError = "keyword_error"
        case storeSeq = "store_seq"
        case pending
        case lastSyncAt = "last_sync_at"
    }

    /// What is known without asking the index: a write committed at `storeSeq` in `generation`,
    /// not (known to be) searchable yet.
    public static func unknown(generation: Int64, storeSeq: Int64) -> IndexState {
        IndexState(generation: generation, indexedSeq: 0, storeSeq: storeSeq, pending: storeSeq, lastSyncAt: nil, vectors: 0)
    }
}

/// A collection's description: settings, counts, model, generations and freshness.
public struct CollectionInfo: Sendable, Codable, Equatable {
    /// The name.
    public var name: String
    /// Live documents.
    public var documents: Int
    /// Tombstones kept for catching-up indexes.
    public var tombstones: Int
    /// Vector length of the current generation.
    public var dimensions: Int
    /// `cosine`, `dot` or `l2`.
    public var distance: String
    /// HNSW parameters.
    public var hnsw: CollectionOptions.HNSW
    /// The model of the current generation.
    public var model: ModelInfo
    /// Every generation (building, current, previous).
    public var generations: [GenerationInfo]
    /// Index state.
    public var index: IndexState
    /// When it was created.
    public var createdAt: Timestamp
    /// The generation a server is building in the background for it (`POST …/generations`), or
    /// the outcome of the last one; nil when none was started by this process.
    public var build: GenerationBuild? = nil
    /// The verdict's calibration for the serving generation (nil until a text query asked for a
    /// verdict and the fit, in the background, is done).
    public var verdict: VerdictCalibration? = nil
    /// Why the last verdict calibration failed (too few documents, no keyword index), if it did.
    public var verdictError: String? = nil
    /// The settings its owner may change at any time (`PATCH /v1/collections/{c}`), every one
    /// shown with the value in force.
    public var settings: CollectionSettingsReport = CollectionSettingsReport(CollectionTuning())

    enum CodingKeys: String, CodingKey {
        case name, documents, tombstones, dimensions, distance, hnsw, model, generations, index, build, verdict, settings
        case createdAt = "created_at"
        case verdictError = "verdict_error"
    }
}

/// A collection's changeable settings as reported: the value in force of each (the default where
/// none was set).
public struct CollectionSettingsReport: Sendable, Codable, Equatable {
    /// The confidence at which a query's verdict says `answered`.
    public var verdictThreshold: Float
    /// Whether a server logs the collection's text queries.
    public var queryLog: Bool
    /// How a logged query's text is kept: `plain`, `redact` or `hash`.
    public var queryLogText: String
    /// Days a logged query is kept.
    public var queryLogRetentionDays: Int
    /// Most queries the log keeps.
    public var queryLogMaxQueries: Int
    /// Share of live text queries also answered by the candidate generation (shadow traffic).
    public var shadowRate: Double

    /// The report of `tuning`.
    public init(_ tuning: CollectionTuning) {
        verdictThreshold = tuning.effectiveVerdictThreshold
        queryLog = tuning.logsQueries
        queryLogText = tuning.effectiveQueryLogText.rawValue
        queryLogRetentionDays = tuning.effectiveRetentionDays
        queryLogMaxQueries = tuning.effectiveMaxLoggedQueries
        shadowRate = tuning.effectiveShadowRate
    }

    /// The same names as the settings themselves.
    typealias CodingKeys = CollectionTuning.CodingKeys
}

/// A generation built in the background (the server's `POST /v1/collections/{c}/generations`).
public struct GenerationBuild: Sendable, Codable, Equatable {
    /// The generation.
    public var generation: Int64
    /// Its model's id.
    public var model: String
    /// Held for evaluation (switched in only by a promote) rather than switched in when filled.
    public var candidate: Bool
    /// `running`, `finished` or `failed`.
    public var state: String
    /// Documents embedded so far, of `total` when the build started.
    public var done: Int
    /// Documents that needed embedding when it started.
    public var total: Int
    /// Why it failed (`failed` only).
    public var error: String?
    /// When it started.
    public var startedAt: Timestamp
    /// When it finished or failed.
    public var finishedAt: Timestamp?

    /// A build record.
    public init(
        generation: Int64, model: String, candidate: Bool, state: String, done: Int = 0, total: Int = 0, error: String? = nil,
        startedAt: Timestamp, finishedAt: Timestamp? = nil
    ) {
        self.generation = generation
        self.model = model
        self.candidate = candidate
        self.state = state
        self.done = done
        self.total = total
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case generation, model, candidate, state, done, total, error
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }
}

/// The engine's description: its models and collections.
public struct EngineInfo: Sendable, Codable, Equatable {
    /// The data directory.
    public var dataDirectory: String
    /// Models loaded, the default first.
    public var models: [ModelInfo]
    /// Every collection.
    public var collections: [CollectionInfo]

    enum CodingKeys: String, CodingKey {
        case dataDirectory = "data_directory"
        case models, collections
    }
}

extension DistanceMetric {
    init?(name: String) {
        switch name {
        case "cosine": self = .cosine
        case "dot": self = .dot
        case "l2": self = .l2
        default: return nil
        }
    }

    var name: String {
        switch self {
        case .cosine: "cosine"
        case .dot: "dot"
        case .l2: "l2"
        }
    }
}
