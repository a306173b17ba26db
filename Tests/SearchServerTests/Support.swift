import Embedder
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import QuiverTestSupport
import Testing

@testable import SearchServer

/// The default model for the server tests (`TestPaths.modelFolder`). A missing model is a test
/// failure, not a skip.
enum TestModel {
    static let folder = TestPaths.modelFolder
    static let packageRoot = TestPaths.packageRoot

    static let shared: Result<Embedder, EmbedderError> = Result { () throws(EmbedderError) in
        try Embedder(folder: folder)
    }

    static func embedder() throws -> Embedder { try shared.get() }
}

/// A quiet logger for tests (warnings and errors only).
let testLogger: Logger = {
    var logger = Logger(label: "quiver.test")
    logger.logLevel = .warning
    return logger
}()

/// An application over the shared model with `configure` applied to the default configuration.
func makeApp(
    modules: [any APIModule] = [], _ configure: (inout ServerConfiguration) throws -> Void = { _ in }
) throws -> QuiverApplication {
    var configuration = ServerConfiguration(port: 0, modelFolder: TestModel.folder)
    try configure(&configuration)
    return try buildApplication(
        configuration: configuration, embedder: try TestModel.embedder(), modules: modules, logger: testLogger)
}

extension TestClientProtocol {
    /// POSTs `json` (sent verbatim, so tests can send broken JSON) to `uri`.
    func post(_ uri: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The error body, or `nil` when the body is not `{"error": {"code", "message"}}`.
    var errorBody: ErrorBody? { try? decode(ErrorBody.self) }
}

/// Checks status, the exact error body shape and code, and that `messageContains` is in the message.
func expectError(
    _ response: TestResponse, _ status: HTTPResponse.Status, code: String, messageContains: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "body: \(response.text)", sourceLocation: sourceLocation)
    guard let body = response.errorBody else {
        Issue.record("not an error body: \(response.text)", sourceLocation: sourceLocation)
        return
    }
    #expect(body.error.code == code, sourceLocation: sourceLocation)
    if let messageContains {
        #expect(body.error.message.contains(messageContains), "message: \(body.error.message)", sourceLocation: sourceLocation)
    }
    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
}

func authorization(_ key: String) -> HTTPFields {
    var fields = HTTPFields()
    fields[.authorization] = "Bearer \(key)"
    return fields
}

/// OpenAI's response shape, decoded as a client would.
struct OpenAIResponse: Decodable {
    struct Item: Decodable {
        let object: String
        let index: Int
        let embedding: Embedding
    }
    enum Embedding: Decodable {
        case floats([Float])
        case base64(String)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .base64(text)
            } else {
                self = .floats(try container.decode([Float].self))
            }
        }
        var floats: [Float]? {
            switch self {
            case .floats(let values): return values
            case .base64(let text):
                guard let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
                return stride(from: 0, to: data.count, by: 4).map { offset in
                    let bits =
                        UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3])
                        << 24
                    return Float(bitPattern: bits)
                }
            }
        }
    }
    struct Usage: Decodable {
        let promptTokens: Int
        let totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case totalTokens = "total_tokens"
        }
    }
    let object: String
    let data: [Item]
    let model: String
    let usage: Usage
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

func norm(_ a: [Float]) -> Float {
    a.reduce(0) { $0 + $1 * $1 }.squareRoot()
}
