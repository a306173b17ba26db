import Embedder
import Foundation
import Hummingbird
import Logging
import NIOPosix
import SearchEngine
import SearchServer
import Synchronization

/// The collections API: the ``SearchEngine`` served over HTTP through SearchServer's
/// ``APIModule`` plug-in point.
///
/// Lifecycle: once the server's model has loaded (`EmbeddingService.load`), the module wraps that
/// same embedder as the engine's model (the weights are loaded once; the fingerprint is hashed
/// from the model folder), opens the engine on the data directory and catches every collection's
/// index up with its store. Until then `unavailableReason` is set (`GET /ready` answers 503) and
/// the collection routes answer 503 `unavailable`. Then, if a sample corpus is configured, its
/// file exists and its collection does not, the module creates the collection and indexes the
/// file in the background; the routes serve meanwhile, `/ready` stays 503 until it is done.
/// On graceful shutdown the module stops the sample import and checkpoints every index.
public final class CollectionsModule: APIModule {
    /// A JSONL file (`{"id", "title", "text", "metadata", "updated_at"}` per line) indexed into a
    /// collection on first start.
    public struct SampleCorpus: Sendable {
        /// The JSONL file; a missing file is skipped with a log line.
        public var file: URL
        /// The collection it goes to; skipped when the collection exists (and no import of it was
        /// interrupted).
        public var collection: String
        /// Documents per write.
        public var batchSize: Int

        /// A sample corpus.
        public init(file: URL, collection: String, batchSize: Int = 64) {
            self.file = file
            self.collection = collection
            self.batchSize = max(1, batchSize)
        }
    }

    /// Where collections live and how the module starts.
    public struct Options: Sendable {
        /// The data directory (collections live in `<data>/collections`).
        public var dataDirectory: URL
        /// The model folder's fingerprint when already known (tests); nil hashes the folder the
        /// server loaded.
        public var modelFingerprint: String?
        /// The first-start sample corpus, or nil.
        public var sample: SampleCorpus?
        /// Most query texts whose vectors are kept (LRU); 0 disables the cache.
        public var queryCacheEntries: Int
        /// How document writes embed: `.background` (default) yields the cores to queries being
        /// embedded at the same time; `.interactive` competes with them as an equal.
        public var writePriority: Embedder.Priority
        /// Most collections open at once (index in memory); more close the least recently used. Default 256.
        public var maxOpenCollections: Int
        /// Seconds after which an unused collection is closed (checked every minute). Default 600.
        public var idleCollectionSeconds: Double
        /// Model folders the server may load beside its own, for candidate generations (and
        /// collections promoted to one): fingerprinted at start, loaded when a generation needs
        /// one, dropped when no open collection uses it.
        public var candidateModelFolders: [URL]
        /// The store: a `postgres://USER@HOST:PORT/DATABASE` URL, or nil for the SQLite files under
        /// `dataDirectory` (derived index files live there either way).
        public var storeURL: String?
        /// A read-only standby of `storeURL`'s database the change feed and queries read from.
        public var readStoreURL: String?
        /// How long a statement may wait for a PostgreSQL store before the call fails
        /// `unreachable`, seconds (``StoreChoice/defaultTimeoutSeconds``).
        public var storeTimeoutSeconds = StoreChoice.defaultTimeoutSeconds
        /// Bytes of hit documents each open collection keeps for queries; 0 disables it.
        public var hitCacheBytes = SearchEngine.defaultHitCacheBytes
        /// Whether documents this server's deferred writes stored are embedded here, in the
        /// background (default); false leaves them to `quiver worker` processes.
        public var embedsDeferredWrites = true

        /// Options with the documented defaults.
        public init(
            dataDirectory: URL, modelFingerprint: String? = nil, sample: SampleCorpus? = nil,
            queryCacheEntries: Int = 1024, writePriority: Embedder.Priority = .background,
            maxOpenCollections: Int = 256, idleCollectionSeconds: Double = 600, candidateModelFolders: [URL] = [],
            storeURL: String? = nil, readStoreURL: String? = nil, hitCacheBytes: Int = SearchEngine.defaultHitCacheBytes,
            embedsDeferredWrites: Bool = true, storeTimeoutSeconds: Double = StoreChoice.defaultTimeoutSeconds
        ) {
            self.storeTimeoutSeconds = storeTimeoutSeconds
            self.embedsDeferredWrites = embedsDeferredWrites
            self.hitCacheBytes = hitCacheBytes
            self.storeURL = storeURL
            self.readStoreURL = readStoreURL
            self.dataDirectory = dataDirectory
            self.modelFingerprint = modelFingerprint
            self.sample = sample
            self.queryCacheEntries = queryCacheEntries
            self.writePriority = writePriority
            self.maxOpenCollections = maxOpenCollections
            self.idleCollectionSeconds = idleCollectionSeconds
            self.candidateModelFolders = candidateModelFolders
        }
    }

    struct State: Sendable {
        var engine: SearchEngine?
        var model: EmbeddingModel?
        /// Why the module is not ready although the engine may be open (sample import).
        var busy: String? = "waiting for the model to load before opening the collections"
        var failure: String?
        var stopped = false
    }

    let options: Options
    let logger: Logger
    let state = Mutex(State())
    let startup = Mutex<Task<Void, Never>?>(nil)
    let writePool: NIOThreadPool
    /// Blocking reads and searches: one thread per core of the CPU budget.
    let readPool: NIOThreadPool
    let budget = CPUBudget.machine
    let cache: QueryEmbeddingCache
    /// Generations being built in the background (`POST …/generations`).
    let builds = GenerationBuilds()
    /// Live queries answered by the candidate generation too (a collection's `shadow_rate`).
    let shadows = ShadowTraffic()
    /// Background embedding of deferred writes.
    let deferred: DeferredEmbedding
    /// The task closing idle collections every minute.
    let idleSweeper = Mutex<Task<Void, Never>?>(nil)
    /// What the quick check at start-up found (after an unclean shutdown), per collection.
    let startupProblems = Mutex<[String: [String]]>([:])
    /// The module's metrics, once its routes are added.
    let metricsBox = Mutex<CollectionMetrics?>(nil)
    var metrics: CollectionMetrics? { metricsBox.withLock { $0 } }

    /// A module over `options.dataDirectory`.
    public init(options: Options, logger: Logger = Logger(label: "quiver.collections")) {
        self.options = options
        self.logger = logger
        self.deferred = DeferredEmbedding(logger: logger)
        self.writePool = NIOThreadPool(numberOfThreads: 1)
        self.writePool.start()
        // A store on another machine (PostgreSQL) makes reads wait on round trips without using
        // a core: more threads than cores keep the cores busy meanwhile (measured in
        // BENCHMARKS.md, "PostgreSQL store").
        self.readPool = NIOThreadPool(numberOfThreads: options.storeURL == nil ? budget.readThreads : budget.readThreads * 4)
        self.readPool.start()
        self.cache = QueryEmbeddingCache(capacity: options.queryCacheEntries)
    }

    var runner: EngineRunner { EngineRunner(reads: readPool, writes: writePool, logger: logger) }

    public func addRoutes(to routes: APIRoutes, context: APIModuleContext) {
        let metrics = CollectionMetrics(metrics: context.metrics)
        metricsBox.withLock { $0 = metrics }
        context.metrics.beforeRender { [weak self] in
            guard let engine = self?.state.withLock({ $0.engine }) else { return }
            metrics.refresh(engine)
        }
        let controller = CollectionsController(module: self, context: context, metrics: metrics)
        controller.addRoutes(to: routes)
        let task = Task { [self] in
            // One document's size limits are the server's (`max_document_bytes`, `max_passages`).
            let limits = context.configuration.limits
            await start(
                service: context.embeddings, modelFolder: context.configuration.modelFolder, metrics: metrics,
                documentLimits: DocumentLimits(maxDocumentBytes: limits.maxDocumentBytes, maxPassages: limits.maxPassages))
        }
        startup.withLock { $0 = task }
    }

    public var publicUnavailableReason: String? {
        get async {
            let failed = state.withLock { $0.failure != nil && !$0.stopped }
            return failed ? "the collections are unavailable (details in the server log)" : await unavailableReason
        }
    }

    /// Collections whose index checkpoint is failing (they serve from memory; writes are still
    /// stored); also published as `quiver_index_checkpoint_failing{collection}`.
    public func warnings(public: Bool) async -> [String] {
        let problems = startupProblems.withLock { $0 }
        let failures = state.withLock { $0.engine }?.checkpointFailures() ?? [:]
        metrics?.checkpointFailing(failures)
        if `public` {
            // Strangers learn that something is wrong, not which collection or file.
            var warnings: [String] = []
            if !problems.isEmpty { warnings.append("a store check after an unclean shutdown found problems (details for admin keys)") }
            if !failures.isEmpty { warnings.append("an index cannot be checkpointed; serving from memory (details for admin keys)") }
            return warnings
        }
        return problems.keys.sorted().map { name in
            "collection \(name): quick_check after an unclean shutdown found problems; run quiver check ("
                + (problems[name]?.joined(separator: "; ") ?? "") + ")"
        }
            + failures.keys.sorted().map { name in
                "collection \(name): the index cannot be checkpointed; serving from memory, retrying (\(failures[name] ?? ""))"
            }
    }

    public func otherModels() async -> [OtherModel] {
        guard let engine = state.withLock({ $0.engine }), let provider = engine.modelProvider else { return [] }
        let loaded = engine.models
        return provider.available.map { offered in
            let model = loaded.first { $0.fingerprint == offered.fingerprint }
            return OtherModel(
                id: offered.id, fingerprint: offered.fingerprint, loaded: model != nil, weightBytes: model?.embedder?.weightBytes)
        }
    }

    public var unavailableReason: String? {
        get async {
            state.withLock { state in
                if state.stopped { return "the server is shutting down" }
                if let failure = state.failure { return "the collections are unavailable: \(failure)" }
                return state.busy
            }
        }
    }

    /// The open engine and its model, or 503 `unavailable` saying why not.
    func engine() throws(APIError) -> (SearchEngine, EmbeddingModel) {
        let current = state.withLock { $0 }
        if current.stopped { throw .unavailable("the server is shutting down") }
        if let engine = current.engine, let model = current.model { return (engine, model) }
        if let failure = current.failure { throw .unavailable("the collections are unavailable: \(failure)") }
        throw .unavailable("the collections are not open yet: \(current.busy ?? "starting")")
    }

    public func shutdown() async {
        let task = startup.withLock { $0 }
        task?.cancel()
        await task?.value
        let sweeper = idleSweeper.withLock { $0 }
        sweeper?.cancel()
        await sweeper?.value
        await shadows.drain()
        let engine = state.withLock { state in
            state.stopped = true
            return state.engine
        }
        if let engine {
            engine.stopBackgroundWork()
            do {
                try await writePool.runIfActive { try engine.checkpointAll() }
                logger.info("collections checkpointed")
                // A clean shutdown: the next start skips the quick check.
                RunningMarker.release(data: options.dataDirectory)
            } catch {
                logger.error("checkpoint at shutdown failed", metadata: ["error": "\(error)"])
            }
        }
        try? await writePool.shutdownGracefully()
        try? await readPool.shutdownGracefully()
    }

    /// Waits for the model, opens the engine with it, catches every collection up, then imports
    /// the sample corpus.
    func start(service: EmbeddingService, modelFolder: URL, metrics: CollectionMetrics, documentLimits: DocumentLimits) async {
        let embedder: Embedder
        do {
            embedder = try await service.loadedEmbedder()
        } catch {
            state.withLock { $0.failure = error.message }
            return
        }
        state.withLock { $0.busy = "opening the collections and catching their indexes up" }
        let options = options
        let logger = logger
        let modelID = service.modelID
        let start = ContinuousClock.now
        let opened: (SearchEngine, EmbeddingModel, [CollectionInfo])
        do {
            opened = try await runner.write { () throws(SearchEngineError) in
                let fingerprint: String
                if let known = options.modelFingerprint {
                    fingerprint = known
                } else {
                    fingerprint = try EmbeddingModel.fingerprint(
                        folder: modelFolder, pooling: embedder.pooling, precision: embedder.precision)
                }
                let model = EmbeddingModel(id: modelID, fingerprint: fingerprint, embedder: embedder)
                if RunningMarker.claim(data: options.dataDirectory) {
                    // The last server on this folder did not shut down cleanly: a structural check
                    // of every store before serving (`quiver check` does the full one).
                    let problems = try DataCheck.quick(data: options.dataDirectory)
                    logger.warning(
                        "the previous shutdown was not clean; quick_check of every store done",
                        metadata: ["problems": "\(problems.isEmpty ? "none" : "\(problems)")"])
                    self.startupProblems.withLock { $0 = problems }
                }
                let shelf =
                    options.candidateModelFolders.isEmpty
                    ? nil : try ModelShelf(folders: options.candidateModelFolders, logger: logger)
                let catalog = try StoreChoice.catalog(
                    url: options.storeURL, readURL: options.readStoreURL, timeout: options.storeTimeoutSeconds,
                    data: options.dataDirectory, logger: logger)
                let engine = try SearchEngine(
                    dataDirectory: options.dataDirectory, catalog: catalog, models: [model], writePriority: options.writePriority,
                    budget: self.budget, executor: ThreadPoolExecutor(pool: self.readPool),
                    maxOpenCollections: options.maxOpenCollections, idleCollectionSeconds: options.idleCollectionSeconds,
                    modelProvider: shelf, documentLimits: documentLimits, hitCacheBytes: options.hitCacheBytes,
                    calibratesVerdictInBackground: true, logsQueries: true, logger: logger)
                var infos: [CollectionInfo] = []
                for name in try engine.collectionNames() {
                    // One damaged collection (its store unreadable) must not keep the others from
                    // being served: it is logged here, and its own routes answer with the error
                    // naming the file.
                    do {
                        try engine.catchUp(collection: name)
                        infos.append(try engine.collectionInfo(name))
                    } catch {
                        logger.error(
                            "collection cannot be opened; serving the others",
                            metadata: [
                                "collection": "\(name)", "error": "\(error)",
                            ])
                    }
                }
                return (engine, model, infos)
            }
        } catch {
            logger.error(
                "cannot open the collections",
                metadata: [
                    "data": "\(options.dataDirectory.path)", "store": "\(StoreChoice.describe(options.storeURL))",
                    "error": "\(error.message)",
                ])
            state.withLock { $0.failure = error.message }
            return
        }
        let (engine, model, infos) = opened
        for info in infos { metrics.update(info) }
        // Documents deferred writes left pending (a restart while they waited) are embedded now.
        if options.embedsDeferredWrites { deferred.sweep(infos.map(\.name), engine: engine) }
        logger.info(
            "collections open",
            metadata: [
                "data": "\(options.dataDirectory.path)", "store": "\(StoreChoice.describe(options.storeURL))",
                "collections": "\(infos.count)",
                "documents": "\(infos.reduce(0) { $0 + $1.documents })", "model": "\(model.id)",
                "fingerprint": "\(model.fingerprint.prefix(12))",
                "seconds": "\((ContinuousClock.now - start).components.seconds)",
            ])
        state.withLock { state in
            state.engine = engine
            state.model = model
            // With a sample corpus configured, /ready waits for it (set in the same step, so that
            // no probe sees the module ready in between).
            state.busy = options.sample.map { "checking the sample corpus for \"\($0.collection)\"" }
        }
        let sweeper = Task { [runner] in
            // Unused collections are closed (checkpointed, index dropped from memory).
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(60))
                if Task.isCancelled { break }
                // On the read pool: writes never wait behind it. Models no open collection uses
                // any more (a candidate discarded or closed) are dropped after.
                _ = try? await runner.read { () throws(SearchEngineError) in
                    engine.closeIdleCollections()
                    engine.releaseUnusedModels()
                }
            }
        }
        idleSweeper.withLock { $0 = sweeper }
        if let sample = options.sample {
            await SampleImport(module: self, engine: engine, sample: sample, metrics: metrics).run()
            setBusy(nil)
        }
    }

    func setBusy(_ reason: String?) {
        state.withLock { $0.busy = reason }
    }
}
