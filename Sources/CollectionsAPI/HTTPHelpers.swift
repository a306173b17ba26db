import Foundation
import Hummingbird
import NIOCore
import SearchServer

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
