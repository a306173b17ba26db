import ArgumentParser
import CollectionsAPI
import Embedder
import Foundation
import Hummingbird
import Logging
import SearchEngine
import SearchServer
import VectorMath

/// `quiver serve`: the HTTP server (embeddings, tokenize, collections, health, metrics).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (see openapi.yaml).")

    @Option(help: "Address to bind (0.0.0.0 for every interface).") var host = "127.0.0.1"
    @Option(help: "TCP port (0 picks a free one).") var port = 8080
    @Option(help: "Model folder (Hugging Face / sentence-transformers layout).") var model = "models/all-MiniLM-L6-v2"
    @Option(help: "Model id reported by the API (default: the model folder's name; @bf16 or @int8 is appended at those precisions).")
    var modelID: String?
    @Option(
        help: ArgumentHelp(
            "The encoder's arithmetic: fp32 (exact), bf16 (bf16 dense layers, fp32 accumulation) or int8 (int8 dense layers, exact int32 sums; the calibrated layers stay bf16).",
            discussion: "Part of the model: collections made at another precision need it as a --candidate-model to be served."))
    var precision: Precision = .fp32
    @Option(
        name: .customLong("candidate-model"),
        help: """
            Another model folder this server may use for candidate generations (and collections promoted to it): \
            fingerprinted at start, loaded when a generation needs it, dropped when no open collection uses it. Repeatable.
            """)
    var candidateModels: [String] = []
    @Option(help: "Data directory (collections live in DIR/collections).") var data = "var/data"
    @Option(
        help: ArgumentHelp(
            "Store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: SQLite files under --data).",
            discussion: "With a PostgreSQL store, --data keeps only this server's derived index files."))
    var store: String?
    @Option(
        help: ArgumentHelp(
            "A read-only standby of --store's database (streaming replication) to follow and query from.",
            discussion: "Writes still go to --store; a query's min_seq waits for the standby and this server's index."))
    var readStore: String?
    @Option(
        help: ArgumentHelp(
            "Seconds a PostgreSQL statement may wait for the server before the request fails 503 (0.1 to 3600).",
            discussion: "Raise it for statements that are long by nature (dropping a collection of millions of documents)."))
    var storeTimeout: Double = StoreChoice.defaultTimeoutSeconds
    @Option(
        help:
            "JSONL file indexed into --sample-collection on first start when that collection does not exist (skipped if the file is missing)."
    )
    var sample = "data/help-center.jsonl"
    @Option(help: "Collection the --sample file goes to.") var sampleCollection = "help-center"
    @Flag(help: "Do not import the sample corpus.") var noSample = false
    @Option(help: "Query texts whose vectors are cached (LRU); 0 disables the cache.") var queryCache = 1024
    @Option(
        help: ArgumentHelp(
            "MiB of hit documents (titles, metadata, passages) each open collection keeps for queries; 0 disables it.",
            discussion: "Exact: every change the index applies drops its document. Saves a store read per query."))
    var hitCacheMb = 32
    @Flag(
        help: ArgumentHelp(
            "Leave documents of deferred writes (\"defer_embedding\": true) to quiver worker processes.",
            discussion: "By default this server embeds them in the background after each such write."))
    var noEmbedDeferred = false
    @Option(help: "Admin API key (reads and writes). Repeatable.") var apiKey: [String] = []
    @Option(help: "Read-only API key. Repeatable.") var readApiKey: [String] = []
    @Option(
        help: "File of 'admin:KEY' / 'read:KEY' lines (or set QUIVER_API_KEYS='admin:KEY,read:KEY'; unlike --api-key, neither shows in ps)."
    )
    var apiKeysFile: String?
    @Flag(help: "Run every embedding request as its own forward pass (no dynamic batching).") var noBatching = false
    @Option(help: "Longest wait for more requests before a forward pass, in milliseconds.") var batchWaitMs = 2.0
    @Option(help: "Most tokens in one batched forward pass.") var batchTokenBudget = 8192
    @Option(help: "Worker threads running forward passes.") var embedWorkers = 1
    @Flag(help: "Embed document writes at normal priority instead of yielding the cores to queries (background, nice 19).")
    var interactiveWrites = false
    @Option(help: "Largest request body, in bytes.") var maxBodyBytes = 4 << 20
    @Option(help: "Most inputs per embedding/tokenize request.") var maxBatchInputs = 256
    @Option(help: "Longest embedding/tokenize/query text, in UTF-8 bytes.") var maxTextBytes = 65_536
    @Option(help: "Largest document (title + text, UTF-8 bytes) a write accepts; larger ones are refused one by one.")
    var maxDocumentBytes = 4 << 20
    @Option(help: "Most passages one document may be cut into in a chunked collection (at most 1024).")
    var maxPassages = 1024
    @Option(help: "Largest k per query.") var maxK = 1_000
    @Option(help: "Largest ef per query.") var maxEf = 4_096
    @Option(help: "Most requests in flight before 429.") var maxConcurrentRequests = 512
    @Option(help: "Most embedding requests queued before 429.") var maxQueuedRequests = 1_024
    @Option(help: "Most tokens queued before 429.") var maxQueuedTokens = 262_144
    @Option(help: "Largest answer in bytes (estimated before the work, then counted); over it is a 413.")
    var maxResponseBytes = 32 << 20
    @Option(help: "Most ids per POST .../vectors and vectors per export page (at most 10000).") var maxVectorIds = 10_000
    @Option(help: "Most open connections; more wait in the listen backlog.") var maxConnections = 1_024
    @Option(help: "Seconds a connection may sit idle before it is closed.") var idleTimeout = 60
    @Option(help: "Seconds a request body may take to arrive; slower is a 408.") var bodyTimeout = 30
    @Option(help: "Bytes of request bodies all requests may hold at once; more is a 429.") var maxBufferedBodyBytes = 256 << 20
    @Option(help: "Most collections open at once (index in memory); more close the least recently used.")
    var maxOpenCollections = 256
    @Option(help: "Seconds after which an unused collection is closed (its index leaves memory).")
    var idleCollectionSeconds = 600
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Host name requests may use besides loopback names (DNS-rebinding guard). Repeatable.")
    var allowedHost: [String] = []
    @Option(help: "Browser origin allowed to call the API (CORS), or '*'. Repeatable. Default: none.")
    var corsOrigin: [String] = []
    @Flag(help: "Allow a non-loopback --host without API keys (anyone who can reach the port can write).")
    var insecureNoAuth = false
    @Flag(help: "Do not serve the web console at / (the API is unchanged).") var noConsole = false

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown --log-level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        guard batchWaitMs.isFinite, (0...1000).contains(batchWaitMs) else {
            throw ValidationError("--batch-wait-ms must be in 0...1000")
        }
        var keys = APIKeys()
        do {
            for key in apiKey { try keys.add(key, role: .admin) }
            for key in readApiKey { try keys.add(key, role: .read) }
            if let apiKeysFile { try keys.load(file: URL(fileURLWithPath: apiKeysFile)) }
            // Keys in the environment do not show in `ps` as --api-key does.
            if let fromEnvironment = ProcessInfo.processInfo.environment["QUIVER_API_KEYS"] {
                try keys.load(environmentValue: fromEnvironment)
            }
        } catch {
            throw CLIError("\(error)")
        }
        let configuration = ServerConfiguration(
            host: host, port: port, modelFolder: URL(fileURLWithPath: model), modelID: modelID,
            dataFolder: URL(fileURLWithPath: data),
            limits: .init(
                maxBodyBytes: maxBodyBytes, maxBatchInputs: maxBatchInputs, maxTextBytes: maxTextBytes, maxK: maxK,
                maxEf: maxEf, maxConcurrentRequests: maxConcurrentRequests, maxQueuedRequests: maxQueuedRequests,
                maxQueuedTokens: maxQueuedTokens, maxResponseBytes: maxResponseBytes, maxVectorIDs: maxVectorIds,
                maxConnections: maxConnections, idleTimeoutSeconds: idleTimeout, bodyTimeoutSeconds: bodyTimeout,
                maxBufferedBodyBytes: maxBufferedBodyBytes, maxDocumentBytes: maxDocumentBytes, maxPassages: maxPassages),
            batching: .init(
                maxWait: .microseconds(Int64((batchWaitMs * 1000).rounded())), tokenBudget: batchTokenBudget,
                maxPendingRequests: maxQueuedRequests, maxPendingTokens: maxQueuedTokens, workers: embedWorkers,
                coalesce: !noBatching),
            apiKeys: keys, browser: BrowserPolicy(allowedHosts: allowedHost, corsOrigins: corsOrigin), console: !noConsole,
            precision: precision)
        guard queryCache >= 0 else { throw ValidationError("--query-cache must be 0 or more") }
        guard StoreChoice.timeoutRange.contains(storeTimeout) else {
            throw ValidationError("--store-timeout must be between 0.1 and 3600 seconds")
        }
        guard (0...65_536).contains(hitCacheMb) else { throw ValidationError("--hit-cache-mb must be between 0 and 65536") }
        guard maxOpenCollections >= 1 else { throw ValidationError("--max-open-collections must be at least 1") }
        guard idleCollectionSeconds >= 1 else { throw ValidationError("--idle-collection-seconds must be at least 1") }
        // A --candidate-model that is not a model folder stops the start here, not later as a
        // collections module that stays unavailable.
        var candidateIDs: Set<String> = []
        for folder in candidateModels {
            let url = URL(fileURLWithPath: folder)
            // Its configuration only: the collections module fingerprints it (hashes the weights) once.
            do { _ = try EmbeddingModel.pooling(folder: url) } catch {
                throw ValidationError("--candidate-model \(folder) is not a usable model folder: \(error)")
            }
            let id = url.standardizedFileURL.lastPathComponent
            guard candidateIDs.insert(id).inserted else {
                throw ValidationError("--candidate-model: two folders named \"\(id)\" (a model is named by its folder's name)")
            }
        }
        // The sample collection's folder is created before the engine opens it: a name such as
        // "../../tmp/x" must be refused first.
        if !noSample {
            do { try CollectionName.validate(sampleCollection) } catch { throw ValidationError("--sample-collection: \(error)") }
        }
        if !BrowserPolicy.isLoopback(bindAddress: host), !keys.isEnabled, !insecureNoAuth {
            throw ValidationError(
                "--host \(host) listens beyond this machine, and without API keys anyone who reaches the port can "
                    + "write and delete: give --api-key / --api-keys-file, or --insecure-no-auth to accept that")
        }
        let logger = Logger(label: "quiver.server")
        logger.info(
            "starting",
            metadata: [
                "host": "\(host)", "port": "\(port)", "model": "\(model)", "batching": "\(!noBatching)",
                "api_keys": "\(keys)", "data": "\(data)", "store": "\(StoreChoice.describe(store))", "allowed_hosts": "\(allowedHost)",
                "cors_origins": "\(corsOrigin)",
                "kernels": "\(Kernels.active.rawValue)", "cpu": "\(Kernels.cpuFeatures.joined(separator: ","))",
                "precision": "\(precision.rawValue)\(precision != .fp32 && !precision.isNative ? " (avx2 twin)" : "")",
            ])
        let collections = CollectionsModule(
            options: .init(
                dataDirectory: URL(fileURLWithPath: data),
                sample: noSample ? nil : .init(file: URL(fileURLWithPath: sample), collection: sampleCollection),
                queryCacheEntries: queryCache, writePriority: interactiveWrites ? .interactive : .background,
                maxOpenCollections: maxOpenCollections, idleCollectionSeconds: Double(idleCollectionSeconds),
                candidateModelFolders: candidateModels.map { URL(fileURLWithPath: $0) }, storeURL: store, readStoreURL: readStore,
                hitCacheBytes: hitCacheMb << 20, embedsDeferredWrites: !noEmbedDeferred, storeTimeoutSeconds: storeTimeout),
            logger: Logger(label: "quiver.collections"))
        let app: QuiverApplication
        do {
            app = try buildApplication(configuration: configuration, modules: [collections], logger: logger)
        } catch {
            throw CLIError("\(error)")
        }
        try await app.runService()
    }
}
