import Hummingbird

/// The route groups a module adds its routes to.
public struct APIRoutes {
    /// Routes any valid key may call (reads). Open when no keys are configured.
    public let read: RouterGroup<QuiverRequestContext>
    /// Routes only an admin key may call (writes). Open when no keys are configured.
    public let admin: RouterGroup<QuiverRequestContext>
}

/// A part of the API that plugs into the server: its routes, its readiness and its shutdown.
///
/// The collections API (SearchEngine) is one: it adds its read and write routes, is not ready
/// until its indexes have caught up with the store, and checkpoints its indexes on shutdown —
/// after the server has stopped accepting requests and finished the ones in flight.
public protocol APIModule: Sendable {
    /// Adds the module's routes. Called once while the application is built.
    func addRoutes(to routes: APIRoutes, context: APIModuleContext)
    /// Why the module cannot serve yet (`GET /ready` answers 503 with it), or `nil` when ready.
    /// May name files and internal errors: `/ready` shows it only to admin keys (or when keys are
    /// off).
    var unavailableReason: String? { get async }
    /// The same without internal details (paths, errors), for anyone who asks `/ready`.
    var publicUnavailableReason: String? { get async }
    /// Problems that leave the module serving but degraded (an index checkpoint failing on a
    /// full disk): `GET /ready` answers 200 with `status: "degraded"` and lists them (the details
    /// to admin keys only, like ``unavailableReason``). `public` drops paths and errors.
    func warnings(public: Bool) async -> [String]
    /// Called once during graceful shutdown, after in-flight requests have finished.
    func shutdown() async
    /// Models the module may use beside the server's (listed by `GET /v1/info` as
    /// `candidate_models`).
    func otherModels() async -> [OtherModel]
}

/// A model a module may load beside the server's: a candidate generation's.
public struct OtherModel: Encodable, Sendable, Equatable {
    /// Its id (the folder's name).
    public let id: String
    /// Its fingerprint.
    public let fingerprint: String
    /// Whether its weights are in memory now.
    public let loaded: Bool
    /// Bytes of weights in memory (nil when not loaded).
    public let weightBytes: Int?

    /// A model entry.
    public init(id: String, fingerprint: String, loaded: Bool, weightBytes: Int?) {
        self.id = id
        self.fingerprint = fingerprint
        self.loaded = loaded
        self.weightBytes = weightBytes
    }

    enum CodingKeys: String, CodingKey {
        case id, fingerprint, loaded
        case weightBytes = "weight_bytes"
    }
}

/// What the server shares with modules.
public struct APIModuleContext: Sendable {
    /// The server's configuration (limits, data folder).
    public let configuration: ServerConfiguration
    /// The model, for modules that embed query text.
    public let embeddings: EmbeddingService
    /// The metrics registry, for module metrics.
    public let metrics: ServerMetrics
}

extension APIModule {
    /// By default a module uses no other model.
    public func otherModels() async -> [OtherModel] { [] }
    /// By default a module is always ready.
    public var unavailableReason: String? { get async { nil } }
    /// By default the reason has no internal details.
    public var publicUnavailableReason: String? { get async { await unavailableReason } }
    /// By default a module has no warnings.
    public func warnings(public: Bool) async -> [String] { [] }
    /// By default a module has nothing to do at shutdown.
    public func shutdown() async {}
}
