import Foundation
import QuiverTestSupport
import Testing

@testable import SearchServer

/// The JSON writer against `JSONEncoder` with the server's settings: the same bytes for strings,
/// numbers and arrays; the same document for objects (JSONEncoder's member order varies from run
/// to run).
@Suite("JSONWriter")
struct JSONWriterTests {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }()

    static func encoded(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Both texts parsed: equal as JSON documents, whatever the order of object members.
    static func sameJSON(_ written: String, _ value: some Encodable) throws -> Bool {
        try canonicalJSON(Data(written.utf8)) == canonicalJSON(try encoder.encode(value))
    }

    static func written(_ body: (inout JSONWriter) -> Void) -> String {
        var json = JSONWriter(capacity: 16)
        body(&json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    @Test("strings: quotes, backslashes, every control character, slashes, non-ASCII")
    func strings() throws {
        var controls = ""
        for byte in 0..<0x20 { controls.unicodeScalars.append(Unicode.Scalar(UInt8(byte))) }
        let samples = [
            "", "plain", controls, "\"quoted\" and \\back\\slashed\\", "a/b</script>", "é ü 中文 🚀 \u{7F} \u{2028}",
            "tab\tnew\nline\r", String(repeating: "long text with \"quotes\" ", count: 200),
        ]
        for sample in samples {
            #expect(Self.written { $0.string(sample) } == (try Self.encoded(sample)))
        }
        #expect(
            Self.written { json in
                json.beginArray()
                for sample in samples { json.string(sample) }
                json.endArray()
            } == (try Self.encoded(samples)))
    }

    @Test("floats and doubles: shortest round-trip text, whole numbers without .0, non-finite as strings")
    func numbers() throws {
        let floats: [Float] = [
            0, -0.0, 1, 2, 0.1, -0.25, 1e-5, 3.4028235e38, 1.0e-45, 123_456_789, 0.56313324,
            .infinity, -.infinity, .nan, Float.ulpOfOne,
        ]
        #expect(Self.written { $0.numbers(floats) } == (try Self.encoded(floats)))
        let doubles: [Double] = [
            0, -0.0, 2, 0.1, 1e16, 1e-7, 22890.531534433365, 5e-324, .greatestFiniteMagnitude,
            .infinity, -.infinity, .nan,
        ]
        #expect(
            Self.written { json in
                json.beginArray()
                for value in doubles { json.number(value) }
                json.endArray()
            } == (try Self.encoded(doubles)))
        let integers: [Int64] = [0, -1, 42, .max, .min]
        #expect(
            Self.written { json in
                json.beginArray()
                for value in integers { json.integer(value) }
                json.endArray()
            } == (try Self.encoded(integers)))
    }

    struct Nested: Encodable {
        struct Inner: Encodable {
            let flag: Bool
            let nothing: String?
            let list: [Int]
        }
        let name: String
        let inner: Inner
        let empty: [Inner]
        let maybe: Int?
    }

    @Test("commas and nesting: objects in arrays in objects, empty containers, omitted and null members")
    func structure() throws {
        let value = Nested(name: "n", inner: .init(flag: true, nothing: nil, list: [1, 2, 3]), empty: [], maybe: nil)
        let text = Self.written { json in
            json.beginObject()
            json.key("name")
            json.string(value.name)
            json.key("inner")
            json.beginObject()
            json.key("flag")
            json.bool(true)
            json.key("list")
            json.beginArray()
            for item in value.inner.list { json.integer(item) }
            json.endArray()
            json.endObject()
            json.key("empty")
            json.beginArray()
            json.endArray()
            json.endObject()
        }
        #expect(try Self.sameJSON(text, value))
        #expect(text == #"{"name":"n","inner":{"flag":true,"list":[1,2,3]},"empty":[]}"#)
        #expect(
            Self.written { json in
                json.beginArray()
                json.null()
                json.beginObject()
                json.key("k\"ey")
                json.rawValue(Array("[1]".utf8))
                json.endObject()
                json.bool(false)
                json.endArray()
            } == #"[null,{"k\"ey":[1]},false]"#)
    }

    @Test("the embeddings responses: the JSON JSONEncoder writes")
    func embeddingResponses() throws {
        typealias Response = OpenAIEmbeddingsController.CreateResponse
        let response = Response(
            data: [
                .init(index: 0, embedding: .floats([0.5, -0.125, 1e-6, 0])),
                .init(index: 1, embedding: .base64("AAAAPw==")),
            ],
            model: "all-MiniLM-L6-v2", usage: .init(promptTokens: 7, totalTokens: 7))
        #expect(try Self.sameJSON(String(decoding: response.jsonBytes(), as: UTF8.self), response))
        let vectors: [[Float]] = [[0.25, -1, 3.5e-8], [], [1]]
        #expect(String(decoding: TEIController.Vectors(vectors: vectors).jsonBytes(), as: UTF8.self) == (try Self.encoded(vectors)))
    }
}
