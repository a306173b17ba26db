import DocumentStore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The collections of one PostgreSQL database: the store seam's second backend.
///
/// Documents, vectors, generations and the change log of every collection live in the database
/// (see ``PostgresSchema``); each process keeps only its derived files (index generations,
/// `CURRENT`) under its own data directory, laid out as ``DataLayout`` says. Any number of
/// processes on any number of machines may open the same database.
public final class PostgresCatalog: StoreCatalog {
    /// The database.
    public let location: PostgresLocation
    /// Where this process keeps its derived files.
    public let layout: DataLayout
    let pool: PostgresPool
    /// The pool of `readLocation` (the primary's pool when there is none).
    let readPool: PostgresPool
    /// A read-only standby the change feed and queries read from, if given.
    public let readLocation: PostgresLocation?
    let logger: Logger
    /// How long a query waits for a collection's state (``ChangeFeed/statePatience``).
    public let statePatience: Duration

    /// Connects to `url`, applies missing migrations (unless `migrate` is false: then a database
    /// lacking some is refused), and keeps derived files under `layout`.
    ///
    /// - Throws: `.database` when the server cannot be reached or the URL is malformed,
    ///   `.unsupportedSchema` for a database migrated by a newer build, `.notInitialized` when
    ///   `migrate` is false and migrations are missing.
    ///
    /// - Parameter readURL: a read-only standby of that database (streaming replication): the
    ///   change feed and queries read from it, writes and what they decide by go to `url`.
    /// - Parameter requestTimeout: how long a statement may wait for the server before the call
    ///   fails `unreachable` (default 30 s).
    /// - Parameter statePatience: how long a query waits for the store's state before answering
    ///   from the last state read, with its lag (default 500 ms; ``ChangeFeed/statePatience``).
    public init(
        url: String, readURL: String? = nil, layout: DataLayout, migrate: Bool = true, requestTimeout: Duration = .seconds(30),
        statePatience: Duration = .milliseconds(500), logger: Logger
    ) throws(DocumentStoreError) {
        let timeout = TimeAmount(requestTimeout)
        self.statePatience = statePatience
        location = try PostgresLocation(url: url)
        self.layout = layout
        self.logger = logger
        pool = PostgresPool(location: location, requestTimeout: timeout, logger: logger)
        if let readURL {
            let standby = try PostgresLocation(url: readURL)
            readLocation = standby
            readPool = PostgresPool(location: standby, requestTimeout: timeout, logger: logger)
        } else {
            readLocation = nil
            readPool = pool
        }
        if migrate {
            let applied = try pool.transaction { session in try PostgresSchema.migrate(session) }
            if !applied.isEmpty { logger.info("migrated \(location) to schema version \(applied.max() ?? 0)") }
        } else if !(try pool.withSession { session in try PostgresSchema.isCurrent(session) }) {
            throw .notInitialized(path: "\(location) (run `quiver migrate --store URL`)")
        }
        do {
            try FileManager.default.createDirectory(at: layout.collectionsDirectory, withIntermediateDirectories: true)
        } catch {
            throw .database(path: layout.collectionsDirectory.path, message: "cannot create the folder: \(error)")
        }
    }

    /// The newest schema version this build knows.
    public static var schemaVersion: Int { PostgresSchema.migrations.map(\.version).max() ?? 0 }

    /// Applies missing migrations to the database at `url`; returns the versions applied.
    public static func migrate(url: String, logger: Logger) throws(DocumentStoreError) -> [Int] {
        let pool = PostgresPool(location: try PostgresLocation(url: url), capacity: 1, logger: logger)
        return try pool.transaction { session in try PostgresSchema.migrate(session) }
    }

    public func names() throws(DocumentStoreError) -> [String] {
        try pool.withSession { session in
            try session.query("SELECT name FROM quiver_collections ORDER BY name").map { try $0.get(0, String.self) }
        }
    }

    public func open(_ name: String) throws(DocumentStoreError) -> (any CollectionStore)? {
        let found = try pool.withSession { session in
            try session.query("SELECT collection_id, created_at FROM quiver_collections WHERE name = $1", binds(name)).first.map {
                (try $0.get(0, Int64.self), try $0.get(1, Double.self))
            }
        }
        guard let (id, createdAt) = found else { return nil }
        try claimLocalFiles(name, identity: identity(collectionID: id, createdAt: createdAt))
        return PostgresCollectionStore(catalog: self, collectionID: id, name: name)
    }

    /// What tells one collection from another of the same name (dropped and created again, or
    /// another database): its row id and creation time in this database.
    func identity(collectionID: Int64, createdAt: Double) -> String {
        "\(location.database)#\(collectionID)@\(createdAt)"
    }

    /// Makes this machine's derived files of `name` belong to the collection `identity`: files
    /// left by another collection of that name (dropped and created again elsewhere meanwhile)
    /// are removed, since their index would describe documents that are not the store's.
    func claimLocalFiles(_ name: String, identity: String) throws(DocumentStoreError) {
        let files = layout.collection(name)
        let marker = files.directory.appendingPathComponent("STORE")
        let recorded = try? String(contentsOf: marker, encoding: .utf8)
        guard recorded != identity else { return }
        do {
            if recorded != nil || FileManager.default.fileExists(atPath: files.generationsDirectory.path) {
                logger.warning(
                    "local index files belong to another collection of this name; removing them",
                    metadata: ["collection": "\(name)", "files": "\(recorded ?? "unmarked")", "store": "\(identity)"])
                try? FileManager.default.removeItem(at: files.directory)
            }
            try FileManager.default.createDirectory(at: files.generationsDirectory, withIntermediateDirectories: true)
            try Data(identity.utf8).write(to: marker, options: .atomic)
        } catch {
            throw .database(path: files.directory.path, message: "cannot prepare the collection's folder: \(error)")
        }
    }

    public func create(_ settings: CollectionSettings, firstGeneration: GenerationRecord) throws(DocumentStoreError)
        -> any CollectionStore
    {
        let id: Int64
        do {
            id = try pool.transaction { session in
                var values = PostgresBindings()
                values.append(settings.name)
                values.append(settings.metric)
                values.append(settings.hnswM)
                values.append(settings.hnswEfConstruction)
                values.append(settings.createdAt)
                guard
                    let id = try session.query(
                        """
                        INSERT INTO quiver_collections (name, metric, hnsw_m, hnsw_ef_construction, created_at)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING collection_id
                        """, values
                    ).first?.get(0, Int64.self)
                else { throw DocumentStoreError.alreadyInitialized(path: "\(location) collection \(settings.name)") }
                try PostgresCollectionStore.insert(firstGeneration, collectionID: id, session)
                return id
            }
        }
        try claimLocalFiles(settings.name, identity: identity(collectionID: id, createdAt: settings.createdAt))
        return PostgresCollectionStore(catalog: self, collectionID: id, name: settings.name)
    }

    public func delete(_ name: String) throws(DocumentStoreError) -> Bool {
        let deleted = try pool.withSession { session in
            try session.execute("DELETE FROM quiver_collections WHERE name = $1", binds(name)) > 0
        }
        let directory = layout.collection(name).directory
        if FileManager.default.fileExists(atPath: directory.path) {
            do { try FileManager.default.removeItem(at: directory) } catch {
                throw .database(path: directory.path, message: "cannot remove the folder: \(error)")
            }
        }
        return deleted
    }

    public func localFiles(_ name: String) -> CollectionFiles { layout.collection(name) }
}
