import Embedder
import Foundation
import VectorMath

/// Everything `quiver serve` can be told: where to listen, which model to load, the request
/// limits, batching and API keys. Every default is documented on its property.
public struct ServerConfiguration: Sendable {
    /// Request limits. Each one is on by default, reported by `GET /v1/info`, and a request over
    /// it is answered 413 or 422 with an error that names it.
    public struct Limits: Sendable, Equatable, Codable {
        /// Largest request body accepted, in bytes. Default 4 MiB.
        public var maxBodyBytes: Int
        /// Most inputs in one embedding or tokenize request. Default 256.
        public var maxBatchInputs: Int
        /// Longest single input text (embedding, tokenize and query texts), in UTF-8 bytes.
        /// Default 65,536.
        public var maxTextBytes: Int
        /// Largest document (title and text, UTF-8 bytes) a collection write accepts; a larger
        /// one is refused on its own, the rest of its batch is written. Default 4 MiB.
        public var maxDocumentBytes: Int
        /// Most passages one document may be cut into in a chunked collection (a document with
        /// more is refused on its own). At most 1,024. Default 1,024.
        public var maxPassages: Int
        /// Largest `k` (results per query) a collection query may ask for. Default 1,000.
        public var maxK: Int
        /// Largest `ef` (search breadth) a collection query may ask for. Default 4,096.
        public var maxEf: Int
        /// Most requests handled at once; more are answered 429 at once. Default 512.
        public var maxConcurrentRequests: Int
        /// Most embedding requests waiting for the model; more are answered 429. Default 1,024.
        public var maxQueuedRequests: Int
        /// Most tokens waiting for the model; more are answered 429. Default 262,144.
        public var maxQueuedTokens: Int
        /// Largest answer, in bytes: checked before the work by an estimate (hits × fields, tokens,
        /// vectors) and again with the bytes actually read; over it is a 413 naming
        /// `max_response_bytes`. Vector export pages are cut to it. Default 32 MiB.
        public var maxResponseBytes: Int
        /// Most ids in one `POST …/vectors` and most vectors in one export page. Default 10,000.
        public var maxVectorIDs: Int
        /// Most open connections; further ones wait in the listen backlog. Default 1,024.
        public var maxConnections: Int
        /// Seconds a connection may sit idle (between requests, or before a request's head is
        /// complete) before it is closed. Default 60.
        public var idleTimeoutSeconds: Int
        /// Seconds a request body may take to arrive once its head is in; slower is a 408 and the
        /// connection is closed. Default 30.
        public var bodyTimeoutSeconds: Int
        /// Bytes of request bodies held at once by all requests (read, not yet answered); a body
        /// that would pass it is a 429. Default 256 MiB.
        public var maxBufferedBodyBytes: Int

        /// The defaults documented on each property.
        public init(
            maxBodyBytes: Int = 4 << 20, maxBatchInputs: Int = 256, maxTextBytes: Int = 65_536,
            maxK: Int = 1_000, maxEf: Int = 4_096, maxConcurrentRequests: Int = 512,
            maxQueuedRequests: Int = 1_024, maxQueuedTokens: Int = 262_144, maxResponseBytes: Int = 32 << 20,
            maxVectorIDs: Int = 10_000, maxConnections: Int = 1_024, idleTimeoutSeconds: Int = 60, bodyTimeoutSeconds: Int = 30,
            maxBufferedBodyBytes: Int = 256 << 20, maxDocumentBytes: Int = 4 << 20, maxPassages: Int = 1024
        ) {
            self.maxDocumentBytes = maxDocumentBytes
            self.maxPassages = maxPassages
            self.maxBodyBytes = maxBodyBytes
            self.maxBatchInputs = maxBatchInputs
            self.maxTextBytes = maxTextBytes
            self.maxK = maxK
            self.maxEf = maxEf
            self.maxConcurrentRequests = maxConcurrentRequests
            self.maxQueuedRequests = maxQueuedRequests
            self.maxQueuedTokens = maxQueuedTokens
            self.maxResponseBytes = maxResponseBytes
            self.maxVectorIDs = maxVectorIDs
            self.maxConnections = maxConnections
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.bodyTimeoutSeconds = bodyTimeoutSeconds
            self.maxBufferedBodyBytes = maxBufferedBodyBytes
        }

        enum CodingKeys: String, CodingKey {
            case maxBodyBytes = "max_body_bytes"
            case maxBatchInputs = "max_batch_inputs"
            case maxTextBytes = "max_text_bytes"
            case maxK = "max_k"
            case maxEf = "max_ef"
            case maxConcurrentRequests = "max_concurrent_requests"
            case maxQueuedRequests = "max_queued_requests"
            case maxQueuedTokens = "max_queued_tokens"
            case maxResponseBytes = "max_response_bytes"
            case maxVectorIDs = "max_vector_ids"
            case maxConnections = "max_connections"
            case idleTimeoutSeconds = "idle_timeout_seconds"
            case bodyTimeoutSeconds = "body_timeout_seconds"
            case maxBufferedBodyBytes = "max_buffered_body_bytes"
            case maxDocumentBytes = "max_document_bytes"
            case maxPassages = "max_passages"
        }

        /// Throws ``ConfigurationError`` naming the first limit that is not positive.
        public func validate() throws(ConfigurationError) {
            let all: [(String, Int)] = [
                ("max_body_bytes", maxBodyBytes), ("max_batch_inputs", maxBatchInputs), ("max_text_bytes", maxTextBytes),
                ("max_k", maxK), ("max_ef", maxEf), ("max_concurrent_requests", maxConcurrentRequests),
                ("max_queued_requests", maxQueuedRequests), ("max_queued_tokens", maxQueuedTokens),
                ("max_response_bytes", maxResponseBytes), ("max_vector_ids", maxVectorIDs), ("max_connections", maxConnections),
                ("idle_timeout_seconds", idleTimeoutSeconds), ("body_timeout_seconds", bodyTimeoutSeconds),
                ("max_buffered_body_bytes", maxBufferedBodyBytes), ("max_document_bytes", maxDocumentBytes),
                ("max_passages", maxPassages),
            ]
            for (name, value) in all where value < 1 {
                throw ConfigurationError("\(name) must be at least 1 (got \(value))")
            }
            // One store read answers a vectors request or an export page.
            guard maxPassages <= 1024 else { throw ConfigurationError("max_passages must be at most 1024 (got \(maxPassages))") }
            guard maxVectorIDs <= 10_000 else { throw ConfigurationError("max_vector_ids must be at most 10000 (got \(maxVectorIDs))") }
        }
    }

    /// Address to bind. Default `127.0.0.1` (loopback only; use `0.0.0.0` to listen on every interface).
    public var host: String
    /// TCP port; 0 picks a free one. Default 8080.
    public var port: Int
    /// The model folder. Default `models/all-MiniLM-L6-v2`.
    public var modelFolder: URL
    /// The model id reported in responses and `/v1/info`. Default: the model folder's name; at
    /// bf16 or int8, `@bf16` or `@int8` is appended (to a given id too).
    public var modelID: String
    /// The encoder's arithmetic (`quiver serve --precision`). Default fp32.
    public var precision: Precision
    /// Where collections live (`quiver serve --data`). Default `var/data`.
    public var dataFolder: URL
    /// Request limits.
    public var limits: Limits
    /// Dynamic batching of embedding requests; `coalesce = false` runs one request per forward pass.
    public var batching: DynamicBatcher.Options
    /// API keys; empty means every route is open.
    public var apiKeys: APIKeys
    /// Which `Host` names and browser origins are served (see ``BrowserPolicy``).
    public var browser: BrowserPolicy
    /// The server's version, reported by `/v1/info`.
    public var version: String
    /// Whether `/` serves the web console (``ConsoleController``). Default on.
    public var console: Bool

    /// A configuration with every default documented on the properties.
    public init(
        host: String = "127.0.0.1", port: Int = 8080,
        modelFolder: URL = URL(fileURLWithPath: "models/all-MiniLM-L6-v2"), modelID: String? = nil,
        dataFolder: URL = URL(fileURLWithPath: "var/data"), limits: Limits = Limits(),
        batching: DynamicBatcher.Options = DynamicBatcher.Options(), apiKeys: APIKeys = APIKeys(),
        browser: BrowserPolicy = BrowserPolicy(), version: String = QuiverVersion.current, console: Bool = true,
        precision: Precision = .fp32
    ) {
        self.host = host
        self.port = port
        self.modelFolder = modelFolder
        self.precision = precision
        let id = modelID ?? modelFolder.standardizedFileURL.lastPathComponent
        self.modelID = precision == .fp32 || id.hasSuffix("@" + precision.rawValue) ? id : id + "@" + precision.rawValue
        self.dataFolder = dataFolder
        self.limits = limits
        self.batching = batching
        self.apiKeys = apiKeys
        self.browser = browser
        self.version = version
        self.console = console
    }

    /// Throws ``ConfigurationError`` for the first value out of range.
    public func validate() throws(ConfigurationError) {
        guard (0...65_535).contains(port) else { throw ConfigurationError("port must be in 0...65535 (got \(port))") }
        guard !host.isEmpty else { throw ConfigurationError("host must not be empty") }
        try limits.validate()
        do { try batching.validate() } catch { throw ConfigurationError("\(error)") }
    }
}

/// A configuration value out of range, with a message naming it.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, naming the setting.
    public let description: String
    /// An error with `description` as its message.
    public init(_ description: String) { self.description = description }
}

/// The version of Quiver this build serves.
public enum QuiverVersion {
    /// Semantic version of the HTTP API and the server.
    public static let current = "0.1.0"
}
