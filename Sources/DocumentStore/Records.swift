import Foundation

/// Settings and counters of a collection (the store's single `collection` row).
public struct CollectionSettings: Sendable, Codable, Equatable {
    /// The collection's name.
    public var name: String
    /// `cosine`, `dot` or `l2`.
    public var metric: String
    /// HNSW neighbours per node.
    public var hnswM: Int
    /// HNSW candidate list size while inserting.
    public var hnswEfConstruction: Int
    /// The last change sequence number handed out (0 for an empty collection).
    public var seq: Int64
    /// When the collection was created (seconds since 1970).
    public var createdAt: Double
    /// When the last full sync or ingest run finished (seconds since 1970).
    public var lastSyncAt: Double?
    /// The settings a collection's owner may change at any time (a JSON object whose meaning the
    /// engine owns: the verdict threshold, …); nil when none was ever set.
    public var tuning: String?

    /// Creates settings; `seq` starts at 0.
    public init(
        name: String, metric: String, hnswM: Int, hnswEfConstruction: Int, seq: Int64 = 0,
        createdAt: Double, lastSyncAt: Double? = nil, tuning: String? = nil
    ) {
        self.tuning = tuning
        self.name = name
        self.metric = metric
        self.hnswM = hnswM
        self.hnswEfConstruction = hnswEfConstruction
        self.seq = seq
        self.createdAt = createdAt
        self.lastSyncAt = lastSyncAt
    }
}

/// Where a generation is in its life.
public enum GenerationState: String, Sendable, Codable {
    /// Being filled with vectors of a new model; not served.
    case building
    /// Serves queries.
    case current
    /// The one before `current`, kept for rollback until the next switch.
    case previous
}

/// One index generation: the vectors of one model.
public struct GenerationRecord: Sendable, Codable, Equatable {
    /// Number, increasing from 1.
    public var generation: Int64
    /// A human-readable model name (e.g. the model folder's name).
    public var modelID: String
    /// The fingerprint of the model's weights, tokenizer and pooling.
    public var modelFingerprint: String
    /// Length of every vector.
    public var dimensions: Int
    /// Where the generation is in its life.
    public var state: GenerationState
    /// When it was created.
    public var createdAt: Double
    /// When it became current.
    public var completedAt: Double?
    /// A building generation held for evaluation: it is switched in only by an explicit promote.
    public var candidate: Bool
    /// How documents are cut into passages before embedding: 0 tokens is one vector per document
    /// (its first `max_seq_length` word pieces).
    public var chunking: Chunking

    /// Creates a record.
    public init(
        generation: Int64, modelID: String, modelFingerprint: String, dimensions: Int, state: GenerationState,
        createdAt: Double, completedAt: Double?, candidate: Bool = false, chunking: Chunking = .off
    ) {
        self.candidate = candidate
        self.chunking = chunking
        self.generation = generation
        self.modelID = modelID
        self.modelFingerprint = modelFingerprint
        self.dimensions = dimensions
        self.state = state
        self.createdAt = createdAt
        self.completedAt = completedAt
    }
}

/// How a generation cuts documents into passages (chunks) before embedding.
public struct Chunking: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    /// Most word pieces per embedded passage, counting `[CLS]`, `[SEP]` and the title; 0 = off
    /// (one vector per document, from its first word pieces).
    public var tokens: Int
    /// Word pieces a passage repeats from the end of the one before (whole sentences).
    public var overlap: Int

    /// No chunking: one vector per document.
    public static let off = Chunking(tokens: 0, overlap: 0)

    /// A chunking setting.
    public init(tokens: Int, overlap: Int) {
        self.tokens = tokens
        self.overlap = overlap
    }

    /// Whether documents are cut into passages.
    public var isOn: Bool { tokens > 0 }

    public var description: String { isOn ? "\(tokens)/\(overlap)" : "off" }
}

/// Where a passage is in its document's text: offsets in Unicode scalars (code points), `start`
/// inclusive, `end` exclusive.
public struct ChunkSpan: Sendable, Codable, Equatable, Hashable {
    /// First scalar of the passage.
    public var start: Int
    /// One past its last scalar.
    public var end: Int

    /// A span.
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}

/// A document's passages in one generation: their spans and one vector per span, row by row.
public struct ChunkVectors: Sendable, Equatable {
    /// Spans, in text order.
    public var spans: [ChunkSpan]
    /// `spans.count × dimensions` floats.
    public var flat: [Float]

    /// Chunk vectors.
    public init(spans: [ChunkSpan], flat: [Float]) {
        self.spans = spans
        self.flat = flat
    }
}

/// A vector computed for a building generation (see ``DocumentWrites/writeGenerationVectors(generation:_:embeddedAt:)``).
public struct GenerationVector: Sendable {
    /// The document's label.
    public var label: Int64
    /// The document seq the vector was computed from (stored only if the document is unchanged).
    public var sourceSeq: Int64
    /// The content hash it was computed from.
    public var contentHash: [UInt8]
    /// The document's vector.
    public var vector: [Float]
    /// Its passages' vectors, in a chunked generation.
    public var chunks: ChunkVectors?

    /// A generation vector.
    public init(label: Int64, sourceSeq: Int64, contentHash: [UInt8], vector: [Float], chunks: ChunkVectors? = nil) {
        self.label = label
        self.sourceSeq = sourceSeq
        self.contentHash = contentHash
        self.vector = vector
        self.chunks = chunks
    }
}

/// A document write: content, metadata and, unless only metadata changed, its new vector.
public struct DocumentWrite: Sendable {
    /// The caller's id (unique within the collection).
    public var id: String
    /// Optional title.
    public var title: String?
    /// Text (may be nil for bring-your-own-vector documents).
    public var text: String?
    /// Metadata as a JSON object's text, or nil.
    public var metadata: String?
    /// When the source document last changed (seconds since 1970).
    public var updatedAt: Double
    /// SHA-256 of the content and the model fingerprint (32 bytes).
    public var contentHash: [UInt8]
    /// The new vector, or nil to keep the stored one (metadata-only change).
    public var vector: [Float]?
    /// When `vector` was computed.
    public var embeddedAt: Double
    /// The passages' vectors in a chunked generation (with `vector`, which is then their pooled
    /// document vector).
    public var chunks: ChunkVectors?
    /// Stores the document now and leaves its embedding to a worker (`vector` is nil): the
    /// document is written (a new one too) with a new seq, and no vector row is touched, so it
    /// stays stale in every generation until a worker stores its vector (see
    /// ``DocumentWrites/claimStale(generation:afterLabel:limit:embeddedAt:embed:)``). A document
    /// that had a vector keeps serving it meanwhile.
    public var pending: Bool

    /// Creates a write.
    public init(
        id: String, title: String?, text: String?, metadata: String?, updatedAt: Double,
        contentHash: [UInt8], vector: [Float]?, embeddedAt: Double, chunks: ChunkVectors? = nil, pending: Bool = false
    ) {
        self.chunks = chunks
        self.pending = pending
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
        self.updatedAt = updatedAt
        self.contentHash = contentHash
        self.vector = vector
        self.embeddedAt = embeddedAt
    }
}

/// What the store holds for an id, as needed to decide whether an input document changed.
public struct ExistingDocument: Sendable, Equatable {
    /// The stable label.
    public var label: Int64
    /// Whether the row is a tombstone.
    public var deleted: Bool
    /// The content hash of the vector in the asked generation, if it has one.
    public var contentHash: [UInt8]?
    /// Stored metadata text.
    public var metadata: String?
    /// Stored `updated_at`.
    public var updatedAt: Double

    /// A record (a store backend's read).
    public init(label: Int64, deleted: Bool, contentHash: [UInt8]?, metadata: String?, updatedAt: Double) {
        self.label = label
        self.deleted = deleted
        self.contentHash = contentHash
        self.metadata = metadata
        self.updatedAt = updatedAt
    }
}

/// A stored document, as returned by reads.
public struct StoredDocument: Sendable, Equatable {
    /// The stable label (HNSW label).
    public var label: Int64
    /// The caller's id.
    public var id: String
    /// Title.
    public var title: String?
    /// Text.
    public var text: String?
    /// Metadata JSON text.
    public var metadata: String?
    /// When the source document last changed.
    public var updatedAt: Double
    /// Sequence number of the last change.
    public var seq: Int64
    /// When the vector in the asked generation was computed (nil without one).
    public var embeddedAt: Double?
    /// The vector in the asked generation (only when asked for).
    public var vector: [Float]?
    /// The passages of a chunked generation: spans whenever the vector row has them (nil in a
    /// generation without chunking), their vectors only when vectors were asked for.
    public var chunks: ChunkVectors? = nil

    /// A document (a store backend's read).
    public init(
        label: Int64, id: String, title: String?, text: String?, metadata: String?, updatedAt: Double, seq: Int64,
        embeddedAt: Double?, vector: [Float]?, chunks: ChunkVectors? = nil
    ) {
        self.label = label
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
        self.updatedAt = updatedAt
        self.seq = seq
        self.embeddedAt = embeddedAt
        self.vector = vector
        self.chunks = chunks
    }
}

/// One change for an index catching up: a document's label and id, whether it is now deleted, and
/// its vector in the asked generation (nil if it has none there).
public struct DocumentChange: Sendable {
    /// The stable label.
    public var label: Int64
    /// The caller's id.
    public var id: String
    /// The change's sequence number.
    public var seq: Int64
    /// Whether the document is deleted.
    public var deleted: Bool
    /// Its vector in the generation, if any.
    public var vector: [Float]?
    /// Its passages' vectors in a chunked generation (spans and `count × dimensions` floats).
    public var chunks: ChunkVectors? = nil

    /// A change (a store backend's read).
    public init(label: Int64, id: String, seq: Int64, deleted: Bool, vector: [Float]?, chunks: ChunkVectors? = nil) {
        self.label = label
        self.id = id
        self.seq = seq
        self.deleted = deleted
        self.vector = vector
        self.chunks = chunks
    }
}

/// One change for a text index catching up (the keyword index): a document's label, whether it is
/// now deleted, and its title and text (nil and empty for a deleted one).
public struct TextChange: Sendable, Equatable {
    /// The stable label.
    public var label: Int64
    /// The change's sequence number.
    public var seq: Int64
    /// Whether the document is deleted.
    public var deleted: Bool
    /// Its title.
    public var title: String?
    /// Its text ("" for a deleted document).
    public var text: String

    /// A change.
    public init(label: Int64, seq: Int64, deleted: Bool, title: String?, text: String) {
        self.label = label
        self.seq = seq
        self.deleted = deleted
        self.title = title
        self.text = text
    }
}

/// Counts of one write transaction.
public struct WriteOutcome: Sendable, Equatable {
    /// New ids (or ids that had been deleted).
    public var inserted = 0
    /// Existing live ids that were rewritten.
    public var updated = 0
    /// Ids that were live and are now tombstones.
    public var deleted = 0
    /// The collection's `seq` after the transaction.
    public var seq: Int64 = 0

    /// Zero counts.
    public init() {}
}

/// What a query needs to know about the store, read in one transaction.
public struct StoreState: Sendable, Equatable {
    /// The generation serving queries.
    public var current: GenerationRecord
    /// The last change sequence number.
    public var seq: Int64
    /// When the last sync run finished.
    public var lastSyncAt: Double?
    /// The collection's changeable settings as stored (``CollectionSettings/tuning``): read with
    /// the state, so every process serving the collection applies a change at its next read.
    public var tuning: String?
    /// The history the last change was written on, for a store whose history can fork (a
    /// PostgreSQL timeline: a promoted standby starts a new one); nil for one that cannot, or
    /// before any write recorded one. See ``ChangeFeed/forkSeq(afterTimeline:)``.
    public var timeline: Int64?

    /// A state (a store backend's read).
    public init(current: GenerationRecord, seq: Int64, lastSyncAt: Double?, tuning: String? = nil, timeline: Int64? = nil) {
        self.tuning = tuning
        self.timeline = timeline
        self.current = current
        self.seq = seq
        self.lastSyncAt = lastSyncAt
    }
}
