import Hummingbird
import Logging

/// The per-request context: Hummingbird's core storage plus what authentication decided.
public struct QuiverRequestContext: RequestContext {
    /// Hummingbird's own per-request state (logger, matched route, path parameters).
    public var coreContext: CoreRequestContextStorage
    /// The role of the presented API key; `nil` when keys are off or the route is open.
    public var role: APIRole?

    /// A context for a new request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.role = nil
    }

    /// Bodies are read by ``JSONBody`` under the configured limit; this is only Hummingbird's
    /// fallback for its own decoders.
    public var maxUploadSize: Int { 64 << 20 }
}
