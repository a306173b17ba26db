import Foundation
import Hummingbird
import NIOCore

/// Writes compact JSON straight into a byte array, for the responses the server sends most (query
/// results, embeddings).
///
/// `JSONEncoder` goes through `Encodable`'s containers, boxes every value and builds a tree
/// before writing; for a query answer with ten hits that was ~17 % of the server's CPU per request
/// (BENCHMARKS.md, query route). This writer emits the same JSON as the server's `JSONEncoder`
/// settings (compact, `/` not escaped, `nil` optionals left out, non-finite floats as the strings
/// `"NaN"`, `"Infinity"`, `"-Infinity"`, numbers and escapes byte for byte), with object members
/// in declaration order where `JSONEncoder`'s order varies from run to run. Tests compare the two.
///
/// Commas are placed automatically: call ``key(_:)`` before each member of an object and write
/// values one after another inside arrays.
public struct JSONWriter {
    /// The JSON written so far.
    public private(set) var bytes: [UInt8]
    /// Whether the next key or array element needs a separating comma.
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    // MARK: Structure

    /// `{`
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// `}`
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// `[`
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// `]`
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object member's name; the value written next belongs to it. `name` is written as given
    /// (it must not need escaping: the API's own field names).
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    /// An object member's name from data (metadata keys): escaped like any string.
    public mutating func key(_ name: String) {
        separate()
        writeEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    // MARK: Values

    /// A string, escaped as `JSONEncoder` escapes it.
    public mutating func string(_ value: String) {
        separate()
        writeEscaped(value)
        needsComma = true
    }

    /// An integer.
    public mutating func integer(_ value: some BinaryInteger) {
        separate()
        appendASCII(String(value))
        needsComma = true
    }

    /// A float, in its shortest round-trip form (`0.25`, `1e-05`; `2` for `2.0`).
    public mutating func number(_ value: Float) {
        floatingPoint(value)
    }

    /// A double, in its shortest round-trip form.
    public mutating func number(_ value: Double) {
        floatingPoint(value)
    }

    /// `true` or `false`.
    public mutating func bool(_ value: Bool) {
        separate()
        appendASCII(value ? "true" : "false")
        needsComma = true
    }

    /// `null`.
    public mutating func null() {
        separate()
        appendASCII("null")
        needsComma = true
    }

    /// An array of floats.
    public mutating func numbers(_ values: [Float]) {
        beginArray()
        for value in values { number(value) }
        endArray()
    }

    /// Bytes that already are one complete JSON value.
    public mutating func rawValue(_ json: some Sequence<UInt8>) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    // MARK: Internals

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendASCII(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A finite number's description, without the `.0` of whole numbers (as `JSONEncoder`).
    private mutating func appendNumber(_ description: String) {
        var text = description
        text.withUTF8 { utf8 in
            if utf8.count > 2, utf8[utf8.count - 2] == UInt8(ascii: "."), utf8[utf8.count - 1] == UInt8(ascii: "0") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[..<(utf8.count - 2)]))
            } else {
                bytes.append(contentsOf: utf8)
            }
        }
    }

    private mutating func floatingPoint(_ value: some BinaryFloatingPoint & CustomStringConvertible) {
        separate()
        if value.isFinite {
            appendNumber(value.description)
        } else {
            appendASCII(value.isNaN ? "\"NaN\"" : value < 0 ? "\"-Infinity\"" : "\"Infinity\"")
        }
        needsComma = true
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `"…"` with `"`, `\` and control characters escaped; everything else (including `/` and
    /// non-ASCII) copied as UTF-8.
    private mutating func writeEscaped(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0F)])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A response body written with ``JSONWriter`` instead of `JSONEncoder`: the same JSON (members in
/// declaration order, `nil` members left out) without the encoder's overhead. Implemented by the
/// bodies sent once per request on the hot routes (query answers, embeddings); tests compare each
/// with `JSONEncoder`'s output.
public protocol JSONWritable {
    /// Appends this value as one JSON value.
    func write(to json: inout JSONWriter)
}

extension JSONWritable {
    /// This value as an `application/json` response.
    public func jsonResponse(status: HTTPResponse.Status = .ok) -> Response {
        SearchServer.jsonResponse(bytes: jsonBytes(), status: status)
    }

    /// This value's JSON text.
    public func jsonBytes() -> [UInt8] {
        var json = JSONWriter(capacity: 4096)
        write(to: &json)
        return json.bytes
    }
}

extension ResponseGenerator where Self: JSONWritable {
    /// A handler can return a ``JSONWritable`` body as it is.
    public func response(from request: Request, context: some RequestContext) -> Response {
        jsonResponse()
    }
}

/// An `application/json; charset=utf-8` response with `bytes` as its body.
public func jsonResponse(bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// JSON responses of `Encodable` values (hand-written ones go through ``JSONWritable``); both end
/// in ``jsonResponse(bytes:status:)``.
public enum JSONResponse {
    /// `value` encoded compactly, or a 500 when it cannot be encoded (a bug).
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws(APIError) -> Response {
        let data: Data
        do { data = try encoder.encode(value) } catch { throw .internalError }
        return make(encoded: data, status: status)
    }

    /// A response with already-encoded JSON.
    public static func make(encoded data: Data, status: HTTPResponse.Status = .ok) -> Response {
        jsonResponse(bytes: data, status: status)
    }

    /// Compact JSON; a non-finite float (a score against a zero vector) is written as a string
    /// rather than failing the response.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }
}
