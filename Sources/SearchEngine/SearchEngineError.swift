import DocumentStore
import Embedder
import VectorIndex

/// Everything the engine reports to its callers. The HTTP server maps each case to a status in
/// one table; the CLI prints `description`.
public enum SearchEngineError: Error, Equatable, Sendable {
    /// A collection name breaks `[a-z0-9][a-z0-9_-]{0,63}`.
    case invalidName(String)
    /// No collection has this name.
    case collectionNotFound(String)
    /// A collection with this name exists already.
    case collectionExists(String)
    /// No live document has this id.
    case documentNotFound(collection: String, id: String)
    /// A vector's length differs from the collection's dimensions.
    case dimensionMismatch(expected: Int, actual: Int)
    /// A document in a write is invalid; `index` is its position in the request (or the input line).
    case invalidDocument(index: Int, id: String?, reason: String)
    /// A query or filter is malformed (unknown operator, bad value, k out of range, ...).
    case invalidQuery(String)
    /// A filter is malformed.
    case invalidFilter(String)
    /// A collection setting that does not exist or a value out of its range.
    case invalidSetting(String)
    /// Something named by the request that does not exist (a logged query, …).
    case notFound(String)
    /// A request exceeds a configured limit (`limit` is its name, e.g. `max_k`).
    case limitExceeded(limit: String, value: Int, allowed: Int)
    /// Text must be embedded but this engine has no model with the fingerprint the collection's
    /// generation was built with (queries never mix models).
    case modelUnavailable(collection: String, fingerprint: String)
    /// Another model change is in progress for the collection.
    case conflict(String)
    /// The embedder failed.
    case embedding(String)
    /// The document store failed (I/O, corruption, a locked database).
    case storage(String)
    /// The vector index failed.
    case index(String)
    /// A file of the data directory could not be read or written.
    case io(path: String, reason: String)
    /// A write could not be stored: the disk is full or the data folder is read-only. Nothing
    /// of it was written; reads still work.
    case insufficientStorage(String)
    /// A part the request needs is not ready yet or is being rebuilt (e.g. the keyword index
    /// before its first catch-up); retrying later can succeed.
    case unavailable(String)
}

extension SearchEngineError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidName(let name): "invalid collection name \"\(name)\" (allowed: [a-z0-9][a-z0-9_-]{0,63})"
        case .collectionNotFound(let name): "collection \"\(name)\" not found"
        case .collectionExists(let name): "collection \"\(name)\" exists already"
        case .documentNotFound(let collection, let id): "document \"\(id)\" not found in \"\(collection)\""
        case .dimensionMismatch(let expected, let actual): "vector has \(actual) dimensions, expected \(expected)"
        case .invalidDocument(let index, let id, let reason):
            "invalid document \(index)\(id.map { " (id \"\($0)\")" } ?? ""): \(reason)"
        case .invalidQuery(let reason): "invalid query: \(reason)"
        case .invalidFilter(let reason): "invalid filter: \(reason)"
        case .invalidSetting(let reason): "invalid setting: \(reason)"
        case .notFound(let reason): "not found: \(reason)"
        case .limitExceeded(let limit, let value, let allowed): "\(limit) is \(allowed) (got \(value))"
        case .modelUnavailable(let collection, let fingerprint):
            "collection \"\(collection)\" is served by model \(fingerprint.prefix(12)), which is not loaded"
        case .conflict(let reason): "conflict: \(reason)"
        case .embedding(let reason): "embedding failed: \(reason)"
        case .storage(let reason): "storage error: \(reason)"
        case .index(let reason): "index error: \(reason)"
        case .io(let path, let reason): "\(path): \(reason)"
        case .insufficientStorage(let reason): "cannot store the write: \(reason)"
        case .unavailable(let reason): "unavailable: \(reason)"
        }
    }
}

extension SearchEngineError {
    /// A store's error as the engine reports it.
    public init(_ error: DocumentStoreError) {
        switch error {
        case .full: self = .insufficientStorage("the disk holding the data folder is full")
        case .readOnly: self = .insufficientStorage("the data folder is read-only")
        case .unreachable: self = .unavailable(error.description)
        default: self = .storage(error.description)
        }
    }
    init(_ error: VectorIndexError) { self = .index("\(error)") }
    init(_ error: EmbedderError) { self = .embedding(error.description) }
}
