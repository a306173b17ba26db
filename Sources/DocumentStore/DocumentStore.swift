import Foundation
import GRDB
import Logging

/// The source of truth of one collection: a SQLite database (WAL, `synchronous = FULL`) holding
/// documents, their vectors per generation, a change sequence and the collection's settings.
///
/// Every write is one transaction; when a write method returns, the change is durable. Reads run
/// concurrently with writes (WAL snapshots). Several processes may open the same file; SQLite
/// serialises their writers (a busy writer waits up to `busyTimeout`).
public final class DocumentStore: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    let logger: Logger

    /// How long a writer waits for another process's write transaction. Default 30 s.
    public static let busyTimeout: TimeInterval = 30

    /// Opens (creating if needed) the store at `path` and runs its migrations.
    ///
    /// - Throws: `DocumentStoreError.database` when the file cannot be opened or migrated,
    ///   `.unsupportedSchema` when it was written by a newer version.
    public init(path: String, logger: Logger) throws(DocumentStoreError) {
        self.path = path
        self.logger = logger
        var configuration = Configuration()
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "quiver.store"
        // A store on a read-only file system is opened read-only: it serves reads and refuses
        // writes with `.readOnly`. SQLite reads a WAL database read-only only when its -wal and
        // -shm files exist (left by a process that did not close it); after a clean close they are
        // gone and cannot be created, so the file is opened as immutable (a URI; Debian's SQLite
        // takes URI file names), which is what a read-only file system is.
        let readOnly = FileSystemSpace.state(of: path) == .readOnly
        configuration.readonly = readOnly
        var openPath = path
        if readOnly, !FileManager.default.fileExists(atPath: path + "-wal"), Self.sqliteTakesURIs {
            let escaped = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
            openPath = "file:\(escaped)?immutable=1"
        } else {
            configuration.prepareDatabase { db in
                // FULL: a committed transaction survives power loss, not only a process crash.
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
        }
        do {
            pool = try DatabasePool(path: openPath, configuration: configuration)
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
        do {
            let migrator = StoreSchema.migrator
            let known = Set(migrator.migrations)
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw DocumentStoreError.unsupportedSchema(path: path, reason: "unknown migration \(unknown)")
            }
            // Only a store with migrations to apply is written to: an up-to-date store on a
            // read-only folder opens and serves reads.
            if !known.isSubset(of: Set(applied)) {
                guard !configuration.readonly else { throw DocumentStoreError.readOnly(path: path) }
                try migrator.migrate(pool)
            }
        } catch let error as DocumentStoreError {
            throw error
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
    }

    /// Whether this SQLite reads `file:` URIs in file names (compiled with `SQLITE_USE_URI`, as
    /// Debian's is); GRDB does not pass `SQLITE_OPEN_URI`.
    static let sqliteTakesURIs: Bool = {
        guard let queue = try? DatabaseQueue() else { return false }
        let options = (try? queue.read { db in try String.fetchAll(db, sql: "PRAGMA compile_options") }) ?? []
        return options.contains("USE_URI") || options.contains("USE_URI=1")
    }()

    /// Runs `body` in a read transaction, mapping database errors.
    func read<T>(_ body: (Database) throws -> T) throws(DocumentStoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as DocumentStoreError {
            throw error
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
    }

    /// Runs `body` in an immediate write transaction, mapping database errors.
    func write<T>(_ body: (Database) throws -> T) throws(DocumentStoreError) -> T {
        do {
            return try pool.write(body)
        } catch let error as DocumentStoreError {
            throw error
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
    }

    /// Writes the settings and the first generation of a new collection.
    ///
    /// - Throws: `.alreadyInitialized` if the store has settings already.
    public func initialize(_ settings: CollectionSettings, firstGeneration: GenerationRecord) throws(DocumentStoreError) {
        try write { db in
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM collection") ?? 0 > 0 {
                throw DocumentStoreError.alreadyInitialized(path: path)
            }
            try db.execute(
                sql: """
                    INSERT INTO collection (singleton, name, metric, hnsw_m, hnsw_ef_construction, seq, created_at, last_sync_at)
                    VALUES (1, ?, ?, ?, ?, 0, ?, NULL)
                    """,
                arguments: [settings.name, settings.metric, settings.hnswM, settings.hnswEfConstruction, settings.createdAt])
            try Self.insert(firstGeneration, db)
        }
    }

    /// Whether the store has been initialised.
    public func isInitialized() throws(DocumentStoreError) -> Bool {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM collection") ?? 0 > 0 }
    }

    /// The collection's settings and counters.
    public func settings() throws(DocumentStoreError) -> CollectionSettings {
        try read { db in try self.settings(db) }
    }

    func settings(_ db: Database) throws -> CollectionSettings {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT name, metric, hnsw_m, hnsw_ef_construction, seq, created_at, last_sync_at, tuning FROM collection
                    """)
        else { throw DocumentStoreError.notInitialized(path: path) }
        return CollectionSettings(
            name: try row.decode(atIndex: 0), metric: try row.decode(atIndex: 1), hnswM: try row.decode(atIndex: 2),
            hnswEfConstruction: try row.decode(atIndex: 3), seq: try row.decode(atIndex: 4),
            createdAt: try row.decode(atIndex: 5), lastSyncAt: try row.decode(atIndex: 6), tuning: try row.decode(atIndex: 7))
    }

    /// The current generation, the last sequence number and the last sync time, read in one
    /// transaction (what every query needs to know about the store).
    public func state() throws(DocumentStoreError) -> StoreState {
        try read { db in
            // Every query reads this: cached statements skip re-parsing the SQL each time.
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, last_sync_at, tuning FROM collection")) else {
                throw DocumentStoreError.notInitialized(path: path)
            }
            guard let current = try Self.generations(db).first(where: { $0.state == .current }) else {
                throw DocumentStoreError.notInitialized(path: path)
            }
            return StoreState(
                current: current, seq: try row.decode(atIndex: 0), lastSyncAt: try row.decode(atIndex: 1),
                tuning: try row.decode(atIndex: 2))
        }
    }

    /// Records the end of a sync run.
    public func markSynced(at time: Double) throws(DocumentStoreError) {
        try write { db in try db.execute(sql: "UPDATE collection SET last_sync_at = ?", arguments: [time]) }
    }

    public func updateTuning(_ change: (String?) -> String?) throws(DocumentStoreError) -> String? {
        try write { db in
            let stored = try String?.fetchOne(db, sql: "SELECT tuning FROM collection") ?? nil
            let json = change(stored)
            try db.execute(sql: "UPDATE collection SET tuning = ?", arguments: [json])
            return json
        }
    }

    /// Live and deleted document counts.
    public func counts() throws(DocumentStoreError) -> (live: Int, deleted: Int) {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted), 0) FROM documents")
            return (try row?.decode(atIndex: 0) ?? 0, try row?.decode(atIndex: 1) ?? 0)
        }
    }

    /// A vector blob (see ``StoredBlob``).
    static func blob(_ vector: [Float]) -> Data { Data(StoredBlob.bytes(vector)) }

    /// A spans blob (see ``StoredBlob``).
    static func spansBlob(_ spans: [ChunkSpan]) -> Data { Data(StoredBlob.bytes(spans)) }

    /// Decodes a row's passages: its spans blob and chunk vectors blob, which must hold one vector
    /// of `dimensions` per span (nil when the row has none).
    func chunks(spans: Data?, vectors: Data?, dimensions: Int, withVectors: Bool) throws -> ChunkVectors? {
        func withBytes<T>(_ data: Data?, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
            guard let data else { return try body(nil) }
            return try data.withUnsafeBytes { try body($0) }
        }
        return try withBytes(spans) { spans in
            try withBytes(vectors) { vectors in
                try StoredBlob.chunks(spans: spans, vectors: vectors, dimensions: dimensions, withVectors: withVectors, path: path)
            }
        }
    }

    /// Decodes a vector blob, checking its length against `dimensions` when given.
    func vector(_ data: Data, dimensions: Int?) throws -> [Float] {
        guard let floats = data.withUnsafeBytes({ StoredBlob.floats($0, dimensions: dimensions) }) else {
            throw DocumentStoreError.corrupted(path: path, reason: "vector blob of \(data.count) bytes")
        }
        return floats
    }
}
