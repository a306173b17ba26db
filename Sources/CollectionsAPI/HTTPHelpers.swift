import Foundation
import Hummingbird
import NIOCore
import SearchServer

/// Reads a JSON request body under `max_body_bytes` and decodes it. Malformed JSON is a 400; a
/// missing field, a wrong type or a value out of range (a timestamp that does not parse, an unknown
/// `include` value) is a 422 naming the field; a number that does not fit its field is a 422 too
/// (Foundation does not say which field).
enum RequestBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws(APIError) -> T {
        let data = try await JSONBody.read(request, limit: limit)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error {
                if !context.codingPath.isEmpty {
                    throw .invalidRequest("\(APIError.fieldPath(context.codingPath)): \(context.debugDescription)")
                }
                // Foundation reports a number that does not fit its field (1e99 for a float, 1.5 or
                // 1e30 for an integer) as invalid JSON at the root; it is valid JSON with a bad value.
                if (try? JSONSerialization.jsonObject(with: data)) != nil {
                    throw .invalidRequest(
                        "a number does not fit its field (too large for a float, or not a whole number where an integer is expected)")
                }
            }
            throw APIError.fromDecoding(error)
        } catch let error as APIError {
            throw error
        } catch {
            throw .invalidJSON("cannot decode body")
        }
    }
}

/// JSON responses for the engine's Codable types.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws(APIError) -> Response {
        let data: Data
        do { data = try encoder.encode(value) } catch { throw .internalError }
        return make(encoded: data, status: status)
    }

    /// A response with already-encoded JSON.
    static func make(encoded data: Data, status: HTTPResponse.Status = .ok) -> Response {
        jsonResponse(bytes: data, status: status)
    }

    /// Compact JSON; a non-finite float (a score against a zero vector) is written as a string
    /// rather than failing the response.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }
}

/// An HTTP header name (`HTTPField.Name`; Hummingbird re-exports only `HTTPFields`).
typealias HeaderName = HTTPFields.Element.Name

/// Response headers of the raw vector export.
enum QuiverHeader {
    static let nextCursor = HeaderName("Quiver-Next-Cursor")
    static let model = HeaderName("Quiver-Model")
    static let modelID = HeaderName("Quiver-Model-Id")
    static let generation = HeaderName("Quiver-Generation")
    static let count = HeaderName("Quiver-Count")
    static let dimensions = HeaderName("Quiver-Dimensions")
    static let ids = HeaderName("Quiver-Ids")

    static func set(_ name: HeaderName?, _ value: String, in headers: inout HTTPFields) {
        if let name { headers[name] = value }
    }
}

/// Query-string values.
enum QueryString {
    /// `true`/`false`/`1`/`0`; nil when absent; 422 otherwise.
    static func bool(_ request: Request, _ name: String) throws(APIError) -> Bool? {
        guard let value = request.uri.queryParameters.get(name) else { return nil }
        switch value.lowercased() {
        case "true", "1", "": return true
        case "false", "0": return false
        default: throw .invalidRequest("\(name) must be true or false (got \"\(EngineErrors.shortened(value))\")")
        }
    }

    /// A positive integer; nil when absent; 422 when not an integer or below 1.
    static func positiveInt(_ request: Request, _ name: String) throws(APIError) -> Int? {
        guard let value = request.uri.queryParameters.get(name) else { return nil }
        guard let number = Int(value), number >= 1 else {
            throw .invalidRequest("\(name) must be a positive integer (got \"\(EngineErrors.shortened(value))\")")
        }
        return number
    }
}
