import Foundation
import Glibc
import Logging

/// Where everything of a data directory lives: the one place that knows the on-disk layout.
///
/// ```
/// <data>/collections/<name>/store.sqlite        the SQLite store (source of truth)
/// <data>/collections/<name>/generations/<g>/    derived index files of generation g
/// <data>/collections/<name>/CURRENT             the generation serving queries (for tools)
/// ```
/// A store on another machine (PostgreSQL) keeps only the derived files under the same folders.
public struct DataLayout: Sendable, Equatable {
    /// The data directory.
    public let dataDirectory: URL

    /// The layout of `dataDirectory`.
    public init(dataDirectory: URL) { self.dataDirectory = dataDirectory }

    /// `<data>/collections`.
    public var collectionsDirectory: URL { dataDirectory.appendingPathComponent("collections") }
    /// The files of collection `name` on this machine.
    public func collection(_ name: String) -> CollectionFiles {
        CollectionFiles(directory: collectionsDirectory.appendingPathComponent(name))
    }
}

/// The files of one collection on this machine (see ``DataLayout``).
public struct CollectionFiles: Sendable, Equatable {
    /// `<data>/collections/<name>`.
    public let directory: URL

    /// The files under `directory`.
    public init(directory: URL) { self.directory = directory }

    /// The SQLite store.
    public var storePath: String { directory.appendingPathComponent("store.sqlite").path }
    /// The folder of every index generation.
    public var generationsDirectory: URL { directory.appendingPathComponent("generations") }
    /// The folder of one index generation.
    public func generationDirectory(_ generation: Int64) -> URL { generationsDirectory.appendingPathComponent(String(generation)) }
    /// The HNSW checkpoint of one generation.
    public func indexPath(_ generation: Int64) -> String { generationDirectory(generation).appendingPathComponent("index.hnsw").path }
    /// The verdict calibration fitted for one generation (JSON; derived, refitted when absent).
    public func verdictPath(_ generation: Int64) -> String {
        generationDirectory(generation).appendingPathComponent("verdict.json").path
    }
    /// The keyword (FTS5) index, shared by every generation.
    public var keywordIndexPath: String { directory.appendingPathComponent("keyword.sqlite").path }
    /// The query log (opt-in per collection; this machine's queries only).
    public var queryLogPath: String { directory.appendingPathComponent("querylog.sqlite").path }
    /// `CURRENT`: the generation serving queries, for tools reading the folder.
    public var currentFile: String { directory.appendingPathComponent("CURRENT").path }
}

/// The collections of a data directory, one SQLite store each (see ``DataLayout``).
public struct SQLiteCatalog: StoreCatalog {
    /// The layout of the data directory.
    public let layout: DataLayout
    let logger: Logger

    /// The catalog of `layout`'s data directory, creating `<data>/collections` if missing.
    public init(layout: DataLayout, logger: Logger) throws(DocumentStoreError) {
        self.layout = layout
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: layout.collectionsDirectory, withIntermediateDirectories: true)
        } catch {
            throw .database(path: layout.collectionsDirectory.path, message: "cannot create the folder: \(error)")
        }
    }

    public func names() throws(DocumentStoreError) -> [String] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: layout.collectionsDirectory.path)
        } catch {
            throw .database(path: layout.collectionsDirectory.path, message: "cannot list the folder: \(error)")
        }
        return entries.filter { FileManager.default.fileExists(atPath: layout.collection($0).storePath) }.sorted()
    }

    public func open(_ name: String) throws(DocumentStoreError) -> (any CollectionStore)? {
        let path = layout.collection(name).storePath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let store = try DocumentStore(path: path, logger: logger)
        // A store file without settings is half-created or damaged: say which file.
        guard try store.isInitialized() else { throw .notInitialized(path: path) }
        return store
    }

    public func create(_ settings: CollectionSettings, firstGeneration: GenerationRecord) throws(DocumentStoreError)
        -> any CollectionStore
    {
        let path = layout.collection(settings.name).storePath
        if FileManager.default.fileExists(atPath: path) {
            // A store without settings or documents holds no collection: a process killed between
            // creating the file and initialising it left it (or it was emptied). It is initialised
            // now rather than blocking the name forever.
            let existing = try DocumentStore(path: path, logger: logger)
            let counts = try existing.counts()
            if try existing.isInitialized() || counts.live + counts.deleted > 0 { throw .alreadyInitialized(path: path) }
        }
        do {
            try FileManager.default.createDirectory(
                at: layout.collection(settings.name).generationsDirectory, withIntermediateDirectories: true)
        } catch {
            throw DocumentStoreError.classify(error, path: layout.collection(settings.name).directory.path)
        }
        // Built beside its final name and renamed into place once initialised: a kill at any
        // moment leaves either no store (the staging file is not a collection and is replaced by
        // the next create) or a whole one, never a store file without settings.
        let staging = path + ".creating"
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: staging + suffix) }
        let fresh = try DocumentStore(path: staging, logger: logger)
        try fresh.initialize(settings, firstGeneration: firstGeneration)
        try fresh.checkpointAndClose()
        // The empty store this replaces (if any) must not lend it its write-ahead log.
        for suffix in ["-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        guard rename(staging, path) == 0 else {
            throw .database(path: path, message: "cannot move the new store into place: \(String(cString: strerror(errno)))")
        }
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: staging + suffix) }
        Self.syncDirectory(layout.collection(settings.name).directory.path)
        return try DocumentStore(path: path, logger: logger)
    }

    /// fsync of a folder, so that a rename in it survives power loss (best effort: a folder that
    /// cannot be opened is left as it is).
    static func syncDirectory(_ path: String) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }

    public func delete(_ name: String) throws(DocumentStoreError) -> Bool {
        let directory = layout.collection(name).directory
        guard FileManager.default.fileExists(atPath: layout.collection(name).storePath) else { return false }
        do { try FileManager.default.removeItem(at: directory) } catch {
            throw DocumentStoreError.classify(error, path: directory.path)
        }
        return true
    }

    public func localFiles(_ name: String) -> CollectionFiles { layout.collection(name) }
}

extension DocumentStore: ChangeFeed, DocumentReads, DocumentWrites {}
