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

    /// Creates settings; `seq` starts at 0.
    public init(
        name: String, metric: String, hnswM: Int, hnswEfConstruction: Int, seq: Int64 = 0,
        createdAt: Double, lastSyncAt: Double? = nil
    ) {
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

    /// Creates a record.
    public init(
        generation: Int64, modelID: String, modelFingerprint: String, dimensions: Int, state: GenerationState,
        createdAt: Double, completedAt: Double?, candidate: Bool = false
    ) {
        self.candidate = candidate
        self.generation = generation
        self.modelID = modelID
        self.modelFingerprint = modelFingerprint
        self.dimensions = dimensions
        self.state = state
        self.createdAt = createdAt
        self.completedAt = completedAt
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

    /// Creates a write.
    public init(
        id: String, title: String?, text: String?, metadata: String?, updatedAt: Double,
        contentHash: [UInt8], vector: [Float]?, embeddedAt: Double
    ) {
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
}
