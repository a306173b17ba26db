import Foundation
import Hummingbird
import NIOCore

/// The one reader and decoder of JSON request bodies (every route's): under the configured size
/// limit, translating every failure into an ``APIError`` — 413 for a body over `max_body_bytes`,
/// 400 for malformed JSON, 422 for a missing field, a wrong type or a value out of range (a
/// timestamp that does not parse, an unknown `include` value) naming the field, and 422 for a
/// number that does not fit its field (Foundation does not say which field).
public enum JSONBody {
    /// Reads the body of `request` (at most `limit` bytes) and decodes a `T` from it.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws(APIError) -> T {
        try decode(T.self, from: try await read(request, limit: limit))
    }

    /// Decodes a `T` from a body already read with ``read(_:limit:)``, with the same errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
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

    /// The request body's bytes: 413 when a declared `Content-Length` or the bytes read exceed
    /// `limit` (refused before reading when declared), 400 when the body is empty or unreadable.
    public static func read(_ request: Request, limit: Int) async throws(APIError) -> Data {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw .bodyTooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: limit)
        } catch {
            throw .invalidJSON("could not read the request body")
        }
        guard buffer.readableBytes > 0 else { throw .invalidJSON("the body is empty; send a JSON object") }
        return Data(buffer.readableBytesView)
    }
}

/// The `input` / `inputs` field: one string, several strings, one token array or several.
enum TextInputs: Decodable, Sendable {
    /// Texts; `single` when the request sent one string rather than an array.
    case texts([String], single: Bool)
    /// Token id arrays (model vocabulary ids); `single` when one array of integers was sent.
    case tokens([[Int]], single: Bool)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .texts([text], single: true)
        } else if let texts = try? container.decode([String].self) {
            self = .texts(texts, single: false)
        } else if let ids = try? container.decode([Int].self) {
            self = .tokens([ids], single: true)
        } else if let sequences = try? container.decode([[Int]].self) {
            self = .tokens(sequences, single: false)
        } else {
            throw DecodingError.typeMismatch(
                TextInputs.self,
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "expected a string, an array of strings, or an array of token id arrays"))
        }
    }

    var count: Int {
        switch self {
        case .texts(let texts, _): texts.count
        case .tokens(let sequences, _): sequences.count
        }
    }
}

/// Checks shared by every route that takes inputs: non-empty, not too many, not too long.
enum InputValidation {
    static func check(_ inputs: TextInputs, field: String, limits: ServerConfiguration.Limits) throws(APIError) {
        guard inputs.count > 0 else { throw .invalidRequest("\(field) must not be empty") }
        guard inputs.count <= limits.maxBatchInputs else {
            throw .limitExceeded(limit: "max_batch_inputs", value: inputs.count, allowed: limits.maxBatchInputs)
        }
        switch inputs {
        case .texts(let texts, _):
            for (index, text) in texts.enumerated() {
                if text.isEmpty { throw .invalidRequest("\(field)[\(index)] is an empty string") }
                if text.utf8.count > limits.maxTextBytes {
                    throw .limitExceeded(limit: "max_text_bytes", value: text.utf8.count, allowed: limits.maxTextBytes)
                }
            }
        case .tokens(let sequences, _):
            for (index, sequence) in sequences.enumerated() where sequence.isEmpty {
                throw .invalidRequest("\(field)[\(index)] is an empty token array")
            }
        }
    }
}
