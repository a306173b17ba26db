import DocumentStore
import Embedder
import Foundation
import Logging
import Synchronization
import VectorIndex

/// Collections of documents searchable by meaning: the API the HTTP server and the CLI call.
///
/// The engine reads and writes collections through a ``StoreCatalog`` (the embedded SQLite store
/// under a data directory by default, see docs/COLLECTIONS.md) and keeps one ``IndexFollower`` per
/// open collection, which derives its index from the store's change feed on its own thread. Every
/// method is synchronous and thread-safe; writes return after their transaction committed, and
/// are searchable when they return.
///
/// Text is always embedded with the model whose fingerprint matches the generation it is stored
/// in or compared against: a query never mixes two models' vectors.
public final class SearchEngine: Sendable {
    /// The data directory (the store's files for the SQLite catalog; derived index files always).
    public let dataDirectory: URL
    /// Models loaded now, the default (used for new collections and model changes) first; those
    /// a ``ModelProvider`` loaded on demand follow until ``releaseUnusedModels()`` drops them.
    public var models: [EmbeddingModel] { loadedModels.withLock { $0 } }
    private let loadedModels: Mutex<[EmbeddingModel]>
    /// Where models beyond the ones given at start come from when a generation needs one (the
    /// server's `--candidate-model` folders); nil: none.
    public let modelProvider: (any ModelProvider)?
    private let providerLoads = NSLock()
    /// How document writes and re-embedding schedule their forward passes: `.background` in a
    /// server, so that queries embedded meanwhile keep their latency; `.interactive` (the
    /// default) where nothing else competes, as in the CLI. Index inserts follow the same
    /// priority (see ``IndexFollower``).
    public let writePriority: Embedder.Priority
    /// Bytes of hit documents each open collection keeps for queries (``HitCache``); 0: none.
    public let hitCacheBytes: Int
    /// Whether a collection's index is loaded only when something needs it (a query, a sync)
    /// rather than when the collection opens: for a process that only embeds (`quiver worker`).
    public let indexesOnDemand: Bool
    /// The default ``hitCacheBytes``: 32 MiB per open collection.
    public static let defaultHitCacheBytes = 32 << 20
    /// The confidence at which a query's verdict says `answered` when neither the request nor the
    /// collection's settings (``CollectionTuning``) name a `verdict_threshold`.
    public static let defaultVerdictThreshold: Float = 0.5
    /// Whether a text query may start fitting its collection's verdict calibration on a thread of
    /// its own (a server: the fit outlives the query). Off for one-shot commands, which exit right
    /// after answering and must not leave a fit running into the process's exit; a calibration
    /// kept by ``CollectionHandle/calibrateVerdictNow()`` is used either way.
    public let calibratesVerdictInBackground: Bool
    /// Whether text queries are written to the query log of a collection whose settings turn it
    /// on (a server). Off for one-shot commands: the log is of live traffic.
    public let logsQueries: Bool
    /// How large one document may be; a larger one is refused on its own (the rest of its batch
    /// is written).
    public let documentLimits: DocumentLimits
    /// The cores the engine plans for (index insert threads and the parallelism of a query batch
    /// derive from it).
    public let budget: CPUBudget
    /// Where async calls run their blocking work (store reads, searches).
    public let executor: any BlockingExecutor
    /// Async query calls in progress (all collections): a hybrid query's keyword list is searched
    /// beside its embedding only when others are in flight (see `keywordPrefetch`).
    let queriesInFlight = Atomic<Int>(0)
    /// Where collections are stored.
    let catalog: any StoreCatalog
    /// Where each collection's derived files live on this machine.
    let layout: DataLayout
    let logger: Logger
    private let openCollections = Mutex<[String: IndexFollower]>([:])
    /// Most collections open at once (index in memory, follower thread running); opening one
    /// more closes the least recently used. Default 256.
    public let maxOpenCollections: Int
    /// Seconds after which an unused collection is closed by ``closeIdleCollections()``. Default 600.
    public let idleCollectionSeconds: Double
    /// Points where tests force interleavings (none are set outside tests).
    let hooks = EngineHooks()

    /// An engine over the collections of `catalog` (default: the SQLite collections under
    /// `dataDirectory`, created if missing) embedding with `models`; derived index files live
    /// under `dataDirectory` whatever the catalog.
    ///
    /// - Parameter models: at least one; the first is the default. Further models let the engine
    ///   keep answering text queries on collections not yet moved to the default model.
    /// - Parameter catalog: where the collections' stores are (e.g. a PostgreSQL database); nil:
    ///   SQLite files under `dataDirectory`.
    public init(
        dataDirectory: URL, catalog: (any StoreCatalog)? = nil, models: [EmbeddingModel],
        writePriority: Embedder.Priority = .interactive,
        budget: CPUBudget = .machine, executor: any BlockingExecutor = InlineExecutor(),
        maxOpenCollections: Int = 256, idleCollectionSeconds: Double = 600, modelProvider: (any ModelProvider)? = nil,
        documentLimits: DocumentLimits = DocumentLimits(), hitCacheBytes: Int = SearchEngine.defaultHitCacheBytes,
        calibratesVerdictInBackground: Bool = false, logsQueries: Bool = false, indexesOnDemand: Bool = false,
        logger: Logger = Logger(label: "quiver.engine")
    ) throws(SearchEngineError) {
        self.logsQueries = logsQueries
        self.indexesOnDemand = indexesOnDemand
        self.hitCacheBytes = max(0, hitCacheBytes)
        self.calibratesVerdictInBackground = calibratesVerdictInBackground
        guard !models.isEmpty else { throw .invalidQuery("an engine needs at least one model") }
        try documentLimits.validate()
        self.documentLimits = documentLimits
        self.modelProvider = modelProvider
        self.maxOpenCollections = max(1, maxOpenCollections)
        self.idleCollectionSeconds = idleCollectionSeconds
        self.dataDirectory = dataDirectory
        self.loadedModels = Mutex(models)
        self.writePriority = writePriority
        self.budget = budget
        self.executor = executor
        self.logger = logger
        layout = DataLayout(dataDirectory: dataDirectory)
        if let catalog {
            self.catalog = catalog
        } else {
            do { self.catalog = try SQLiteCatalog(layout: layout, logger: logger) } catch {
                throw .io(path: layout.collectionsDirectory.path, reason: "\(error)")
            }
        }
    }

    /// An engine with one model.
    public convenience init(
        dataDirectory: URL, model: EmbeddingModel, writePriority: Embedder.Priority = .interactive,
        logger: Logger = Logger(label: "quiver.engine")
    ) throws(SearchEngineError) {
        try self.init(dataDirectory: dataDirectory, models: [model], writePriority: writePriority, logger: logger)
    }

    deinit {
        for follower in openCollections.withLock({ Array($0.values) }) { follower.stop() }
    }

    var defaultModel: EmbeddingModel { models[0] }

    /// The files of collection `name` on this machine (its folder, index generations, `CURRENT`).
    ///
    /// - Throws: `invalidName` for a name that is not a collection name (it would be a path).
    public func files(of name: String) throws(SearchEngineError) -> CollectionFiles {
        try CollectionName.validate(name)
        return catalog.localFiles(name)
    }

    /// The model with `fingerprint`: a loaded one, else one the ``modelProvider`` loads now (it
    /// stays loaded until ``releaseUnusedModels()``); nil when neither has it.
    public func model(fingerprint: String) -> EmbeddingModel? {
        if let loaded = models.first(where: { $0.fingerprint == fingerprint }) { return loaded }
        guard let modelProvider, modelProvider.available.contains(where: { $0.fingerprint == fingerprint }) else { return nil }
        // One load at a time: callers that needed the same model meanwhile find it loaded.
        providerLoads.lock()
        defer { providerLoads.unlock() }
        if let loaded = models.first(where: { $0.fingerprint == fingerprint }) { return loaded }
        guard let provided = modelProvider.load(fingerprint: fingerprint) else { return nil }
        loadedModels.withLock { $0.append(provided) }  // (the provider logs the load)
        return provided
    }

    /// The model named `id` (its id or fingerprint) among the loaded ones and those the provider
    /// offers, loading it if needed; nil when there is none.
    public func model(named id: String) -> EmbeddingModel? {
        if let loaded = models.first(where: { $0.id == id || $0.fingerprint == id }) { return loaded }
        guard let offered = modelProvider?.available.first(where: { $0.id == id || $0.fingerprint == id }) else { return nil }
        return model(fingerprint: offered.fingerprint)
    }

    /// Drops loaded models, other than the default, that no open collection's current or
    /// building (candidate) generation uses; a model needed again later is loaded again by the
    /// provider. Returns the dropped models' ids.
    @discardableResult
    public func releaseUnusedModels() -> [String] {
        guard modelProvider != nil else { return [] }
        var used: Set<String> = [defaultModel.fingerprint]
        for follower in openCollections.withLock({ Array($0.values) }) {
            if let generations = try? follower.store.generations() {
                for record in generations where record.state == .current || record.state == .building {
                    used.insert(record.modelFingerprint)
                }
            } else {
                // Unknown: keep everything this round.
                return []
            }
        }
        let dropped = loadedModels.withLock { list -> [EmbeddingModel] in
            let unused = list.dropFirst().filter { !used.contains($0.fingerprint) }
            list.removeAll { model in unused.contains { $0.fingerprint == model.fingerprint } }
            return unused
        }
        for model in dropped {
            logger.info("model released (no open collection uses it)", metadata: ["model": "\(model.id)"])
        }
        return dropped.map(\.id)
    }

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
            guard let found = options.model.map({ id in self.model(named: id) }) ?? defaultModel else {
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
        let chunking = try Chunking.resolve(tokens: options.chunkTokens, overlap: options.chunkOverlap, model: model)
        var evicted: [(String, IndexFollower)] = []
        do {
            try HNSWConfiguration(dimension: model.dimensions, metric: metric, m: hnsw.m, efConstruction: hnsw.efConstruction).validate()
        } catch { throw .invalidQuery("hnsw: \(error)") }
        try openCollections.withLock { (followers) throws(SearchEngineError) in
            if followers[options.name] != nil { throw .collectionExists(options.name) }
            let now = Date().timeIntervalSince1970
            let store: any CollectionStore
            do throws(DocumentStoreError) {
                store = try catalog.create(
                    CollectionSettings(
                        name: options.name, metric: metric.name, hnswM: hnsw.m,
                        hnswEfConstruction: hnsw.efConstruction, createdAt: now),
                    firstGeneration: GenerationRecord(
                        generation: 1, modelID: model.id, modelFingerprint: model.fingerprint,
                        dimensions: model.dimensions, state: .current, createdAt: now,
                        completedAt: now, chunking: chunking))
            } catch .alreadyInitialized {
                throw .collectionExists(options.name)
            } catch {
                throw SearchEngineError(error)
            }
            followers[options.name] = try makeFollower(options.name, store)
            evicted = Self.overCap(&followers, keeping: options.name, cap: maxOpenCollections)
        }
        for (closed, follower) in evicted { close(closed, follower, reason: "more than max_open_collections open") }
        logger.info("created collection", metadata: ["collection": "\(options.name)", "model": "\(model.id)"])
        return try collectionInfo(options.name)
    }

    /// The model fingerprint of the generation this process is serving for `collection`, from
    /// memory: no file or database access, so it may be called on any thread. Nil when the
    /// collection is not open or no query has loaded its index yet (then use
    /// ``servingFingerprint(collection:)``). It can lag a generation switch made by another
    /// process until its follower has loaded the new generation; the query path checks again.
    public func loadedFingerprint(collection: String) -> String? {
        openCollections.withLock { $0[collection] }?.loaded?.record.modelFingerprint
    }

    /// The handle of `name` when it is open already (no file or database access), else nil.
    public func openCollection(_ name: String) -> CollectionHandle? {
        guard let follower = openCollections.withLock({ $0[name] }) else { return nil }
        follower.touch()
        return CollectionHandle(name: name, engine: self, follower: follower)
    }

    /// The open collection `name`, opening its store (and starting its follower) on first use;
    /// opening one past ``maxOpenCollections`` closes the least recently used.
    func runtime(_ name: String) throws(SearchEngineError) -> IndexFollower {
        try CollectionName.validate(name)
        var evicted: [(String, IndexFollower)] = []
        let follower = try openCollections.withLock { (followers) throws(SearchEngineError) in
            if let follower = followers[name] {
                follower.touch()
                return follower
            }
            let opened: (any CollectionStore)?
            do throws(DocumentStoreError) { opened = try catalog.open(name) } catch { throw SearchEngineError(error) }
            guard let store = opened else { throw .collectionNotFound(name) }
            let follower = try makeFollower(name, store)
            followers[name] = follower
            evicted = Self.overCap(&followers, keeping: name, cap: maxOpenCollections)
            return follower
        }
        for (closed, follower) in evicted { close(closed, follower, reason: "more than max_open_collections open") }
        return follower
    }

    /// Closes every collection unused for ``idleCollectionSeconds``: its index is checkpointed and
    /// dropped from memory, its follower stopped; the next request opens it again. Returns the
    /// names closed. The server calls it every minute.
    @discardableResult
    public func closeIdleCollections(now: Double = Date().timeIntervalSince1970) -> [String] {
        let idle = openCollections.withLock { followers in
            let names = followers.filter {
                now - $0.value.lastUsed.load(ordering: .relaxed) >= idleCollectionSeconds && $0.value.pins.load(ordering: .relaxed) == 0
            }.map(\.key)
            return names.compactMap { name in followers.removeValue(forKey: name).map { (name, $0) } }
        }
        for (name, follower) in idle { close(name, follower, reason: "idle") }
        return idle.map(\.0).sorted()
    }

    /// Removes the least recently used followers (never `keeping`) while more than `cap` are open;
    /// returns them, to be closed outside the lock.
    private static func overCap(_ followers: inout [String: IndexFollower], keeping: String, cap: Int) -> [(String, IndexFollower)] {
        var evicted: [(String, IndexFollower)] = []
        while followers.count > cap {
            // A pinned collection (a generation being built or switched) is not closed.
            let candidates = followers.filter { $0.key != keeping && $0.value.pins.load(ordering: .relaxed) == 0 }
            guard
                let oldest = candidates.min(by: { $0.value.lastUsed.load(ordering: .relaxed) < $1.value.lastUsed.load(ordering: .relaxed) })
            else { break }
            followers.removeValue(forKey: oldest.key)
            evicted.append((oldest.key, oldest.value))
        }
        return evicted
    }

    /// Names of the collections open now.
    public var openCollectionNames: [String] { openCollections.withLock { $0.keys.sorted() } }

    /// Checkpoints and stops a follower already removed from the open set.
    private func close(_ name: String, _ follower: IndexFollower, reason: String) {
        do { try follower.sync(checkpoint: true) } catch {
            logger.warning("closing a collection without a checkpoint", metadata: ["collection": "\(name)", "error": "\(error)"])
        }
        follower.stop()
        logger.info("closed collection", metadata: ["collection": "\(name)", "reason": "\(reason)"])
    }

    private func makeFollower(_ name: String, _ store: any CollectionStore) throws(SearchEngineError) -> IndexFollower {
        try IndexFollower(
            name: name, store: store, files: catalog.localFiles(name), budget: budget,
            background: writePriority == .background, onDemand: indexesOnDemand, hitCacheBytes: hitCacheBytes, logger: logger,
            hooks: hooks)
    }

    /// Whether a collection exists.
    public func hasCollection(_ name: String) -> Bool {
        (try? runtime(name)) != nil
    }

    /// Names of every collection, sorted.
    public func collectionNames() throws(SearchEngineError) -> [String] {
        do { return try catalog.names().filter { (try? CollectionName.validate($0)) != nil } } catch {
            throw SearchEngineError(error)
        }
    }

    /// Every collection's description.
    public func listCollections() throws(SearchEngineError) -> [CollectionInfo] {
        var result: [CollectionInfo] = []
        for name in try collectionNames() { result.append(try collectionInfo(name)) }
        return result
    }

    /// Deletes a collection and all its files (its follower is stopped first).
    public func deleteCollection(_ name: String) throws(SearchEngineError) {
        try CollectionName.validate(name)
        try openCollections.withLock { (followers) throws(SearchEngineError) in
            followers.removeValue(forKey: name)?.stop()
            let existed: Bool
            do throws(DocumentStoreError) { existed = try catalog.delete(name) } catch { throw SearchEngineError(error) }
            guard existed else { throw .collectionNotFound(name) }
        }
        logger.info("deleted collection", metadata: ["collection": "\(name)"])
    }

    /// Open collections whose index checkpoint failed last time (disk full, read-only folder),
    /// with the reason. Their indexes serve from memory; checkpoints are retried.
    public func checkpointFailures() -> [String: String] {
        var failures: [String: String] = [:]
        for (name, follower) in openCollections.withLock({ $0 }) {
            if let failure = follower.checkpointFailure { failures[name] = failure }
        }
        return failures
    }

    /// Checkpoints every open collection (call before shutting down).
    public func checkpointAll() throws(SearchEngineError) {
        for follower in openCollections.withLock({ Array($0.values) }) { try follower.sync(checkpoint: true) }
    }

    /// Stops background work that is not the index's own (verdict calibrations in progress), and
    /// waits up to `seconds` for it: call before a process exits.
    public func stopBackgroundWork(waitSeconds seconds: Double = 10) {
        for follower in openCollections.withLock({ Array($0.values) }) { follower.verdictCalibrator.cancel(waitSeconds: seconds) }
    }

    /// The engine's models and every collection.
    public func info() throws(SearchEngineError) -> EngineInfo {
        EngineInfo(
            dataDirectory: dataDirectory.path,
            models: models.map { ModelInfo(id: $0.id, fingerprint: $0.fingerprint) },
            collections: try listCollections())
    }
}

/// Callbacks tests use to force an interleaving deterministically; all nil in production.
final class EngineHooks: Sendable {
    /// Called by `upsert` after embedding, right before the write transaction, with the target
    /// generation.
    let beforeWriteCommit = Mutex<(@Sendable (Int64) -> Void)?>(nil)
    /// Called by every index follower's thread before each cycle, with the collection's name (a
    /// test holds a follower back with it).
    let beforeFollowerCycle = Mutex<(@Sendable (String) -> Void)?>(nil)
}
