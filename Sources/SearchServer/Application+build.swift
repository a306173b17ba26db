import Embedder
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOPosix
import ServiceLifecycle

/// The type of the application ``buildApplication(configuration:embedder:modules:logger:)`` returns.
public typealias QuiverApplication = Application<RouterResponder<QuiverRequestContext>>

/// Builds the HTTP application: middleware, the built-in routes, every module's routes, and a
/// lifecycle service that loads the model (unless `embedder` is given) and, on graceful shutdown,
/// drains the embedding queue and shuts the modules down.
///
/// - Parameters:
///   - configuration: address, model, limits, batching and keys; validated here.
///   - embedder: an already-loaded model (tests); `nil` loads `configuration.modelFolder` in the
///     background, with `/ready` answering 503 until it is loaded.
///   - modules: further APIs (collections) added as route groups.
///   - logger: where the server and request logs go.
public func buildApplication(
    configuration: ServerConfiguration,
    embedder: Embedder? = nil,
    modules: [any APIModule] = [],
    logger: Logger = Logger(label: "quiver.server")
) throws(ConfigurationError) -> QuiverApplication {
    try configuration.validate()
    let metrics = ServerMetrics()
    metrics.recordModel(id: configuration.modelID, precision: configuration.precision.rawValue)
    let service = EmbeddingService(
        modelID: configuration.modelID, batching: configuration.batching, observer: metrics.batcherObserver,
        precision: configuration.precision)
    if let embedder {
        do { try service.use(embedder) } catch { throw ConfigurationError("\(error)") }
    }
    let router = buildRouter(configuration: configuration, service: service, metrics: metrics, modules: modules)
    let lifecycle = ServerLifecycle(
        service: service, modelFolder: embedder == nil ? configuration.modelFolder : nil, modules: modules, logger: logger)
    let limits = configuration.limits
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds)))),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "quiver",
            availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
        services: [lifecycle],
        onServerRunning: { channel in
            logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        eventLoopGroupProvider: .shared(ServerEventLoops.group),
        logger: logger)
}

func buildRouter(
    configuration: ServerConfiguration, service: EmbeddingService, metrics: ServerMetrics, modules: [any APIModule]
) -> Router<QuiverRequestContext> {
    let router = Router(context: QuiverRequestContext.self)
    router.add(middleware: ObservabilityMiddleware(metrics: metrics))
    router.add(middleware: APIErrorMiddleware())
    // Host, content type and CORS are checked before authentication and before any body is read.
    router.add(middleware: BrowserGuardMiddleware(policy: configuration.browser, bindAddress: configuration.host))

    let system = SystemController(configuration: configuration, service: service, metrics: metrics, modules: modules)
    system.addOpenRoutes(to: router)
    if configuration.console { ConsoleController().addRoutes(to: router) }

    // One in-flight counter for both groups; /health and /ready stay outside it, so probes are
    // never refused for load. A request takes a slot only once it is authenticated and its body
    // has arrived (within body_timeout_seconds), so slow or unauthenticated clients hold no slot.
    let limits = configuration.limits
    let limit = ConcurrencyLimitMiddleware<QuiverRequestContext>(limit: limits.maxConcurrentRequests)
    let body = RequestBodyMiddleware<QuiverRequestContext>(
        maxBodyBytes: limits.maxBodyBytes, maxBufferedBytes: limits.maxBufferedBodyBytes, timeoutSeconds: limits.bodyTimeoutSeconds)
    let read = router.group().add(middleware: AuthMiddleware(keys: configuration.apiKeys, required: .read))
        .add(middleware: body).add(middleware: limit)
    let admin = router.group().add(middleware: AuthMiddleware(keys: configuration.apiKeys, required: .admin))
        .add(middleware: body).add(middleware: limit)
    system.addRoutes(to: read)
    OpenAIEmbeddingsController(service: service, limits: configuration.limits).addRoutes(to: read)
    TEIController(service: service, limits: configuration.limits).addRoutes(to: read)

    let routes = APIRoutes(read: read, admin: admin)
    let context = APIModuleContext(configuration: configuration, embeddings: service, metrics: metrics)
    for module in modules {
        module.addRoutes(to: routes, context: context)
    }
    return router
}

/// Loads the model in the background and, when graceful shutdown starts (SIGTERM/SIGINT), waits
/// for the HTTP server to finish in-flight requests (the server is shut down first: services stop
/// in reverse order), drains the embedding queue, then shuts the modules down (checkpoints).
struct ServerLifecycle: Service {
    let service: EmbeddingService
    let modelFolder: URL?
    let modules: [any APIModule]
    let logger: Logger

    func run() async throws {
        if let modelFolder {
            await service.load(folder: modelFolder, logger: logger)
        }
        try? await gracefulShutdown()
        logger.info("shutting down: draining the embedding queue")
        await service.shutdown()
        for module in modules {
            await module.shutdown()
        }
        logger.info("shutdown complete")
    }
}

/// The HTTP event loops: one per core of the CPU budget (`QUIVER_CORES` moves it, as it moves every
/// other pool), shared by every application of the process and never shut down, like NIO's own
/// singleton.
enum ServerEventLoops {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: CPUBudget.machine.cores)
}
