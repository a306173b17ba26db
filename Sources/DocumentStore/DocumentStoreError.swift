/// Everything that can go wrong in the document store.
public enum DocumentStoreError: Error, Equatable, Sendable {
    /// SQLite reported an error (I/O, a violated constraint, a locked or unreadable database).
    case database(path: String, message: String)
    /// A stored value breaks an invariant the schema cannot express (e.g. a vector blob whose
    /// length is not `4 × dimensions`): the file was damaged or written by something else.
    case corrupted(path: String, reason: String)
    /// The store has no collection row: it was never initialised with `initialize(...)`.
    case notInitialized(path: String)
    /// The store was initialised already, possibly with other settings.
    case alreadyInitialized(path: String)
    /// No generation with this number exists.
    case generationNotFound(Int64)
    /// A generation switch was asked for while some live documents still lack a vector in it.
    case generationIncomplete(generation: Int64, missing: Int)
    /// The store file was written by a newer schema this build does not know.
    case unsupportedSchema(path: String, reason: String)
    /// A write named a generation that is no longer `current` or `building` when its transaction
    /// ran (a generation switch or a replaced model change came in between): nothing was written;
    /// the caller picks its target generation again.
    case generationNotWritable(generation: Int64)
}

extension DocumentStoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .database(let path, let message): "database error in \(path): \(message)"
        case .corrupted(let path, let reason): "corrupted store \(path): \(reason)"
        case .notInitialized(let path): "store \(path) has no collection settings"
        case .alreadyInitialized(let path): "store \(path) is initialised already"
        case .generationNotFound(let generation): "generation \(generation) does not exist"
        case .generationIncomplete(let generation, let missing):
            "generation \(generation) still lacks vectors for \(missing) documents"
        case .unsupportedSchema(let path, let reason): "unsupported schema in \(path): \(reason)"
        case .generationNotWritable(let generation): "generation \(generation) is no longer current or building"
        }
    }
}
