import Embedder
import Foundation
import Hummingbird
import NIOCore

/// Every error the HTTP API returns, and — in this one file — its HTTP status and error code.
///
/// The body is always `{"error": {"code": "...", "message": "..."}}`. Errors from other layers
/// (JSON decoding, the batcher, Hummingbird's own 404/413) are translated by ``init(_:)``, so no
/// input can produce a 500 or an HTML page.
public enum APIError: Error, Sendable, Equatable {
    /// The body is not valid JSON or not the expected shape (400 `invalid_json`).
    case invalidJSON(String)
    /// A field has a value the API does not accept (422 `invalid_request`).
    case invalidRequest(String)
    /// The request names no valid API key (401 `unauthorized`).
    case unauthorized
    /// The key is valid but may not do this (403 `forbidden`).
    case forbidden(String)
    /// No such route or resource (404 `not_found`).
    case notFound(String)
    /// The method is not allowed on this path (405 `method_not_allowed`).
    case methodNotAllowed(String)
    /// The request conflicts with the current state (409 `conflict`).
    case conflict(String)
    /// 415: a body whose declared type is not JSON.
    case unsupportedMediaType(String)
    /// The body did not arrive within `body_timeout_seconds` (408 `request_timeout`); the
    /// connection is closed.
    case requestTimeout(seconds: Int)
    /// The body is larger than `max_body_bytes` (413 `payload_too_large`).
    case bodyTooLarge(limit: Int)
    /// A request is over a configured limit (413 `limit_exceeded`), naming it.
    case limitExceeded(limit: String, value: Int, allowed: Int)
    /// An input has more tokens than the model accepts and truncation is off (413 `input_too_long`).
    case inputTooLong(index: Int, tokens: Int, allowed: Int)
    /// Too many requests in flight or queued (429 `overloaded`).
    case overloaded(String)
    /// The model is not loaded yet, failed to load, or the server is stopping (503 `unavailable`).
    case unavailable(String)
    /// A write could not be stored: the disk is full or the data folder read-only (507
    /// `insufficient_storage`). Nothing was written; reads still work.
    case insufficientStorage(String)
    /// A bug: logged in full, reported without detail (500 `internal_error`).
    case internalError

    /// The HTTP status for each case — the one table.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidJSON: .badRequest
        case .invalidRequest: .unprocessableContent
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .unsupportedMediaType: .unsupportedMediaType
        case .requestTimeout: .requestTimeout
        case .bodyTooLarge, .limitExceeded, .inputTooLong: .contentTooLarge
        case .overloaded: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .insufficientStorage: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .internalError: .internalServerError
        }
    }

    /// The machine-readable `error.code`.
    public var code: String {
        switch self {
        case .invalidJSON: "invalid_json"
        case .invalidRequest: "invalid_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .conflict: "conflict"
        case .unsupportedMediaType: "unsupported_media_type"
        case .requestTimeout: "request_timeout"
        case .bodyTooLarge: "payload_too_large"
        case .limitExceeded: "limit_exceeded"
        case .inputTooLong: "input_too_long"
        case .overloaded: "overloaded"
        case .unavailable: "unavailable"
        case .insufficientStorage: "insufficient_storage"
        case .internalError: "internal_error"
        }
    }

    /// The human-readable `error.message`.
    public var message: String {
        switch self {
        case .invalidJSON(let detail): "invalid JSON body: \(detail)"
        case .invalidRequest(let detail), .forbidden(let detail), .notFound(let detail),
            .methodNotAllowed(let detail), .conflict(let detail), .overloaded(let detail), .unavailable(let detail),
            .unsupportedMediaType(let detail), .insufficientStorage(let detail):
            detail
        case .unauthorized: "missing or unknown API key (send 'Authorization: Bearer KEY')"
        case .requestTimeout(let seconds): "the request body did not arrive within body_timeout_seconds (\(seconds) s)"
        case .bodyTooLarge(let limit):
            limit > 0 ? "request body is larger than max_body_bytes (\(limit))" : "request body is too large"
        case .limitExceeded(let limit, let value, let allowed): "\(limit) exceeded: \(value) > \(allowed)"
        case .inputTooLong(let index, let tokens, let allowed):
            "input \(index) has \(tokens) tokens, more than the model's maximum of \(allowed); set truncate to true"
        case .internalError: "internal error"
        }
    }

    /// Translates any error thrown while handling a request.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError: self = error
        case let error as DecodingError: self = Self.fromDecoding(error)
        case let error as BatcherError: self = Self.fromBatcher(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound: self = .notFound("no route for this path")
            case .methodNotAllowed: self = .methodNotAllowed("method not allowed on this path")
            case .contentTooLarge: self = .bodyTooLarge(limit: 0)
            case .unauthorized: self = .unauthorized
            case .badRequest: self = .invalidJSON(error.body ?? "bad request")
            default: self = error.status.code < 500 ? .invalidRequest(error.body ?? error.status.reasonPhrase) : .internalError
            }
        case is NIOTooManyBytesError: self = .bodyTooLarge(limit: 0)
        case is CancellationError: self = .unavailable("request cancelled")
        default: self = .internalError
        }
    }

    static func fromBatcher(_ error: BatcherError) -> APIError {
        switch error {
        case .overloaded: .overloaded("\(error); retry later")
        case .shutDown, .cancelled: .unavailable("\(error)")
        case .invalidInput(let reason): .invalidRequest(reason)
        case .invalidOptions, .embedder: .internalError
        }
    }

    /// `documents[3].updated_at` for a coding path; `body` for the root.
    public static func fieldPath(_ path: [any CodingKey]) -> String {
        let joined = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return joined.isEmpty ? "body" : String(joined.drop { $0 == "." })
    }

    /// A JSON decoding failure as the API reports it: 400 for malformed JSON, 422 naming the field
    /// for a missing field or a wrong type.
    public static func fromDecoding(_ error: DecodingError) -> APIError {
        func path(_ context: DecodingError.Context) -> String { fieldPath(context.codingPath) }
        switch error {
        case .dataCorrupted(let context):
            return .invalidJSON(context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return .invalidRequest("missing field '\(key.stringValue)'" + (parent == "body" ? "" : " in \(parent)"))
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return .invalidRequest("\(path(context)): \(context.debugDescription)")
        @unknown default:
            return .invalidJSON("cannot decode body")
        }
    }
}

extension APIError: HTTPResponseError {
    /// The JSON error body with this error's status.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(error: .init(code: code, message: message))
        let data = (try? JSONEncoder().encode(body)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if case .unauthorized = self { headers[.wwwAuthenticate] = "Bearer" }
        if case .overloaded = self { headers[.retryAfter] = "1" }
        if case .requestTimeout = self { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The wire shape of every error: `{"error": {"code": "...", "message": "..."}}`.
struct ErrorBody: Codable, Equatable {
    struct Detail: Codable, Equatable {
        let code: String
        let message: String
    }
    let error: Detail
}
