import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SearchEngine
import SearchServer

/// Maps every ``SearchEngineError`` to the API's error table: 404 for an unknown collection or
/// document, 409 for a name in use or a model the server does not serve, 422 naming the field for
/// invalid input, 503 for a part not ready yet (retry), and 500 (logged in full here, reported without detail) for storage failures.
enum EngineErrors {
    static func apiError(_ error: SearchEngineError, logger: Logger) -> APIError {
        switch error {
        case .invalidName(let name):
            return .invalidRequest(
                "invalid collection name \"\(shortened(name))\": use 1 to 64 characters a-z, 0-9, '_' or '-', "
                    + "starting with a letter or a digit")
        case .collectionNotFound(let name):
            return .notFound("collection \"\(shortened(name))\" not found")
        case .collectionExists(let name):
            return .conflict("collection \"\(name)\" exists already")
        case .documentNotFound(let collection, let id):
            return .notFound("document \"\(shortened(id))\" not found in collection \"\(collection)\"")
        case .dimensionMismatch(let expected, let actual):
            return .invalidRequest("vector: has \(actual) dimensions, the collection's vectors have \(expected)")
        case .invalidDocument(let index, let id, let reason):
            return .invalidRequest("documents[\(index)]\(id.map { " (id \"\(shortened($0))\")" } ?? ""): \(reason)")
        case .invalidQuery(let reason):
            return .invalidRequest(reason)
        case .invalidFilter(let reason):
            return .invalidRequest("filter: \(reason)")
        case .invalidSetting(let reason):
            return .invalidRequest(reason)
        case .notFound(let reason):
            return .notFound(reason)
        case .limitExceeded(let limit, let value, let allowed):
            return .limitExceeded(limit: limit, value: value, allowed: allowed)
        case .modelUnavailable(let collection, let fingerprint) where EmbeddingModel.isExternal(fingerprint: fingerprint):
            return .conflict(
                "collection \"\(collection)\" holds your own vectors (no model): query it by vector or id, and write "
                    + "documents with a vector")
        case .modelUnavailable(let collection, let fingerprint):
            return .conflict(
                "collection \"\(collection)\" is served by model \(fingerprint.prefix(12)), which this server does not "
                    + "load; text cannot be embedded for it (send vectors instead)")
        case .conflict(let reason):
            return .conflict(reason)
        case .insufficientStorage(let reason):
            logger.warning("write refused", metadata: ["reason": "\(reason)"])
            return .insufficientStorage("\(reason); nothing was written, reads still work")
        case .unavailable(let reason):
            return .unavailable(reason)
        case .embedding, .storage, .index, .io:
            logger.error("collections engine failure", metadata: ["error": "\(error.description)"])
            return .internalError
        }
    }

    /// Long user-supplied strings are cut in messages.
    static func shortened(_ text: String) -> String {
        text.count > 80 ? String(text.prefix(80)) + "…" : text
    }
}

/// Runs the synchronous engine off the event loops and off the Swift cooperative pool: reads on
/// NIO's shared blocking pool, writes (create, delete, upsert — fsync and embedding) on a pool of
/// their own with one thread, so writes are serialised and never hold up reads.
struct EngineRunner: Sendable {
    let reads: NIOThreadPool
    let writes: NIOThreadPool
    let logger: Logger

    func read<T: Sendable>(_ body: @escaping @Sendable () throws(SearchEngineError) -> T) async throws(APIError) -> T {
        try await run(on: reads, body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable () throws(SearchEngineError) -> T) async throws(APIError) -> T {
        try await run(on: writes, body)
    }

    private func run<T: Sendable>(
        on pool: NIOThreadPool, _ body: @escaping @Sendable () throws(SearchEngineError) -> T
    ) async throws(APIError) -> T {
        do {
            return try await pool.runIfActive { () throws -> T in try body() }
        } catch {
            throw apiError(error)
        }
    }

    /// The API error for anything an engine call threw.
    func apiError(_ error: any Error) -> APIError {
        switch error {
        case let error as SearchEngineError: return EngineErrors.apiError(error, logger: logger)
        case let error as APIError: return error
        case is CancellationError: return .unavailable("request cancelled")
        case is NIOThreadPoolError.ThreadPoolInactive: return .unavailable("the server is shutting down")
        default:
            logger.error("collections engine call failed", metadata: ["error": "\(String(reflecting: error))"])
            return .internalError
        }
    }
}

/// Runs the engine's blocking work for its async calls (the query path) on a NIO thread pool.
struct ThreadPoolExecutor: BlockingExecutor {
    let pool: NIOThreadPool

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive { () throws -> T in try body() }
    }
}
