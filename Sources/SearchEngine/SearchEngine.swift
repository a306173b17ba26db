import DocumentStore
import Embedder
import Foundation
import Logging
import Synchronization
import VectorIndex

/// Collections of documents searchable by meaning: the API the HTTP server and the CLI call.
///
/// The engine owns a data directory (`<data>/collections/<name>/…`, see docs/COLLECTIONS.md) and
/// the models it can embed with. Every method is synchronous and thread-safe; writes return after
/// their transaction committed, and are searchable when they return.
///
/// Text is always embedded with the model whose fingerprint matches the generation it is stored
/// in or compared against: a query never mixes two models' vectors.
public final class SearchEngine: Sendable {
    /// The data directory.
    public let dataDirectory: URL
    /// Models, the default (used for new collections and model changes) first.
    public let models: [EmbeddingModel]
    /// How document writes and re-embedding schedule their forward passes: `.background` in a
    /// server, so that queries embedded meanwhile keep their latency; `.interactive` (the
    /// default) where nothing else competes, as in the CLI.
    public let writePriority: Embedder.Priority
    let logger: Logger
    private let openCollections = Mutex<[String: CollectionRuntime]>([:])

    /// An engine over `dataDirectory` (created if missing) embedding with `models`.
    ///
    /// - Parameter models: at least one; the first is the default. Further models let the engine
    ///   keep answering text queries on collections not yet moved to the default model.
    public init(
        dataDirectory: URL, models: [EmbeddingModel], writePriority: Embedder.Priority = .interactive,
        logger: Logger = Logger(label: "quiver.engine")
    ) throws(SearchEngineError) {
        guard !models.isEmpty else { throw .invalidQuery("an engine needs at least one model") }
        self.dataDirectory = dataDirectory
        self.models = models
        self.writePriority = writePriority
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: collectionsDirectory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: collectionsDirectory.path, reason: "\(error)")
        }
    }

    /// An engine with one model.
    public convenience init(
        dataDirectory: URL, model: EmbeddingModel, writePriority: Embedder.Priority = .interactive,
        logger: Logger = Logger(label: "quiver.engine")
    ) throws(SearchEngineError) {
        try self.init(dataDirectory: dataDirectory, models: [model], writePriority: writePriority, logger: logger)
    }

    var defaultModel: EmbeddingModel { models[0] }

    var collectionsDirectory: URL { dataDirectory.appendingPathComponent("collections") }

    func model(fingerprint: String) -> EmbeddingModel? { models.first { $0.fingerprint == fingerprint } }

    /// Creates a collection with the default model (or the named one).
    ///
    /// - Throws: `invalidName`, `collectionExists`, `invalidQuery` for bad options,
    ///   `dimensionMismatch` when `dimensions` differs from the model's.
    @discardableResult
    public func createCollection(_ options: CollectionOptions) throws(SearchEngineError) -> CollectionInfo {
        try CollectionName.validate(options.name)
        let model: EmbeddingModel
        if options.model == CollectionOptions.externalModel {
            // Bring-your-own vectors: no model, the caller's length.
            guard let dimensions = options.dimensions, CollectionOptions.externalDimensions.contains(dimensions) else {
                throw .invalidQuery(
                    "dimensions: a collection of your own vectors (model \"\(CollectionOptions.externalModel)\") needs "
                        + "dimensions in \(CollectionOptions.externalDimensions)")
            }
            model = .external(dimensions: dimensions)
        } else {
            guard let found = options.model.map({ id in models.first { $0.id == id || $0.fingerprint == id } }) ?? defaultModel else {
                throw .invalidQuery("unknown model \(options.model ?? "")")
            }
            if let dimensions = options.dimensions, dimensions != found.dimensions {
                throw .dimensionMismatch(expected: found.dimensions, actual: dimensions)
            }
            model = found
        }
        guard let metric = DistanceMetric(name: options.distance ?? "cosine") else {
            throw .invalidQuery("distance must be cosine, dot or l2")
        }
        let hnsw = options.hnsw ?? .init()
        do {
            try HNSWConfiguration(dimension: model.dimensions, metric: metric, m: hnsw.m, efConstruction: hnsw.efConstruction).validate()
        } catch { throw .invalidQuery("hnsw: \(error)") }
        let directory = collectionsDirectory.appendingPathComponent(options.name)
        try openCollections.withLock { (runtimes) throws(SearchEngineError) in
            let storePath = directory.appendingPathComponent("store.sqlite").path
            if runtimes[options.name] != nil { throw .collectionExists(options.name) }
            if FileManager.default.fileExists(atPath: storePath) {
                // A store without settings or documents holds no collection: a process killed
                // between creating the file and initialising it left it (or it was emptied). It is
                // initialised now rather than blocking the name forever.
                do {
                    let existing = try DocumentStore(path: storePath, logger: logger)
                    let counts = try existing.counts()
                    if try existing.isInitialized() || counts.live + counts.deleted > 0 {
                        throw SearchEngineError.collectionExists(options.name)
                    }
                } catch let error as DocumentStoreError {
                    throw SearchEngineError(error)
                } catch let error as SearchEngineError {
                    throw error
                } catch {
                    throw .storage("\(error)")
                }
            }
            do {
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent("generations"),
                    withIntermediateDirectories: true)
            } catch { throw .io(path: directory.path, reason: "\(error)") }
            let now = Date().timeIntervalSince1970
            do {
                let store = try DocumentStore(path: storePath, logger: logger)
                try store.initialize(
                    CollectionSettings(
                        name: options.name, metric: metric.name, hnswM: hnsw.m,
                        hnswEfConstruction: hnsw.efConstruction, createdAt: now),
                    firstGeneration: GenerationRecord(
                        generation: 1, modelID: model.id, modelFingerprint: model.fingerprint,
                        dimensions: model.dimensions, state: .current, createdAt: now,
                        completedAt: now))
                runtimes[options.name] = try CollectionRuntime(name: options.name, directory: directory, store: store, logger: logger)
            } catch let error as DocumentStoreError {
                throw SearchEngineError(error)
            } catch let error as SearchEngineError {
                throw error
            } catch {
                throw .storage("\(error)")
            }
        }
        logger.info("created collection", metadata: ["collection": "\(options.name)", "model": "\(model.id)"])
        return try collectionInfo(options.name)
    }

    /// The model fingerprint of the generation this process is serving for `collection`, from
    /// memory: no file or database access, so it may be called on any thread. Nil when the
    /// collection is not open or no query has loaded its index yet (then use
    /// ``servingFingerprint(collection:)``). It can lag a generation switch made by another
    /// process until the next query catches up; ``query(collection:_:embedded:)`` checks again.
    public func loadedFingerprint(collection: String) -> String? {
        openCollections.withLock { $0[collection] }?.loadedFingerprint
    }

    /// The open collection `name`, opening its store on first use.
    func runtime(_ name: String) throws(SearchEngineError) -> CollectionRuntime {
        try CollectionName.validate(name)
        return try openCollections.withLock { (runtimes) throws(SearchEngineError) in
            if let runtime = runtimes[name] { return runtime }
            let directory = collectionsDirectory.appendingPathComponent(name)
            let storePath = directory.appendingPathComponent("store.sqlite").path
            guard FileManager.default.fileExists(atPath: storePath) else { throw .collectionNotFound(name) }
            do {
                let store = try DocumentStore(path: storePath, logger: logger)
                // A store file without settings is half-created or damaged: say which file.
                guard try store.isInitialized() else { throw SearchEngineError(DocumentStoreError.notInitialized(path: storePath)) }
                let runtime = try CollectionRuntime(name: name, directory: directory, store: store, logger: logger)
                runtimes[name] = runtime
                return runtime
            } catch let error as DocumentStoreError {
                throw SearchEngineError(error)
            } catch let error as SearchEngineError {
                throw error
            } catch {
                throw .storage("\(error)")
            }
        }
    }

    /// Whether a collection exists.
    public func hasCollection(_ name: String) -> Bool {
        (try? runtime(name)) != nil
    }

    /// Names of every collection, sorted.
    public func collectionNames() throws(SearchEngineError) -> [String] {
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: collectionsDirectory.path)
        } catch { throw .io(path: collectionsDirectory.path, reason: "\(error)") }
        return entries.filter { name in
            (try? CollectionName.validate(name)) != nil
                && FileManager.default.fileExists(
                    atPath: collectionsDirectory.appendingPathComponent(name)
                        .appendingPathComponent("store.sqlite").path)
        }.sorted()
    }

    /// Every collection's description.
    public func listCollections() throws(SearchEngineError) -> [CollectionInfo] {
        var result: [CollectionInfo] = []
        for name in try collectionNames() { result.append(try collectionInfo(name)) }
        return result
    }

    /// Deletes a collection and all its files.
    public func deleteCollection(_ name: String) throws(SearchEngineError) {
        try CollectionName.validate(name)
        let directory = collectionsDirectory.appendingPathComponent(name)
        try openCollections.withLock { (runtimes) throws(SearchEngineError) in
            guard runtimes[name] != nil || FileManager.default.fileExists(atPath: directory.appendingPathComponent("store.sqlite").path)
            else { throw .collectionNotFound(name) }
            runtimes[name] = nil
            do { try FileManager.default.removeItem(at: directory) } catch { throw .io(path: directory.path, reason: "\(error)") }
        }
        logger.info("deleted collection", metadata: ["collection": "\(name)"])
    }

    /// Writes the serving index of a collection to disk (atomically), so the next open does not
    /// replay the changes since the last checkpoint.
    public func checkpoint(collection: String) throws(SearchEngineError) {
        try runtime(collection).checkpoint()
    }

    /// Checkpoints every open collection (call before shutting down).
    public func checkpointAll() throws(SearchEngineError) {
        for runtime in openCollections.withLock({ Array($0.values) }) { try runtime.checkpoint() }
    }

    /// Loads the collection's serving index and applies every committed change; returns its state.
    @discardableResult
    public func catchUp(collection: String) throws(SearchEngineError) -> IndexState {
        let (serving, state) = try runtime(collection).catchUp()
        return indexState(serving, state)
    }

    func indexState(_ serving: ServingGeneration, _ state: StoreState) -> IndexState {
        let indexed = serving.indexedSeq
        return IndexState(
            generation: serving.record.generation, indexedSeq: indexed, storeSeq: state.seq,
            pending: max(0, state.seq - indexed), lastSyncAt: state.lastSyncAt.map(Timestamp.init(seconds:)),
            vectors: serving.index.count)
    }
}
