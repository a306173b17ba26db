import CollectionsAPI
import Embedder
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import QuiverTestSupport
import SearchEngine
import SearchServer
import Testing

/// The real model (`TestPaths.modelFolder`), loaded and fingerprinted once for every test. A
/// missing model is a failure, not a skip.
enum TestModel {
    static let folder = TestPaths.modelFolder
    static let packageRoot = TestPaths.packageRoot

    static let shared: Result<(Embedder, String), any Error> = Result {
        let embedder = try Embedder(folder: folder)
        let fingerprint = try EmbeddingModel.fingerprint(folder: folder, pooling: embedder.pooling)
        return (embedder, fingerprint)
    }

    static func embedder() throws -> Embedder { try shared.get().0 }
    static func fingerprint() throws -> String { try shared.get().1 }
}

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

let testLogger: Logger = {
    var logger = Logger(label: "quiver.test")
    logger.logLevel = .warning
    return logger
}()

/// An application serving the collections of `data` with the shared model.
func makeApp(
    data: URL, sample: CollectionsModule.SampleCorpus? = nil, queryCache: Int = 1024,
    embedder: Embedder? = nil, modelFolder: URL? = nil, candidateModels: [URL] = [],
    _ configure: (inout ServerConfiguration) throws -> Void = { _ in }
) throws -> (QuiverApplication, CollectionsModule) {
    var configuration = ServerConfiguration(port: 0, modelFolder: modelFolder ?? TestModel.folder)
    try configure(&configuration)
    let module = CollectionsModule(
        options: .init(
            dataDirectory: data, modelFingerprint: modelFolder == nil ? try TestModel.fingerprint() : nil,
            sample: sample, queryCacheEntries: queryCache, candidateModelFolders: candidateModels),
        logger: testLogger)
    let app = try buildApplication(
        configuration: configuration, embedder: modelFolder == nil ? (embedder ?? TestModel.embedder()) : nil,
        modules: [module], logger: testLogger)
    return (app, module)
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = nil) async throws -> TestResponse {
        var headers = HTTPFields()
        if json != nil { headers[.contentType] = "application/json" }
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// Polls `/ready` until it answers 200 (fails the test after `seconds`).
    func waitUntilReady(seconds: Int = 120, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await execute(uri: "/ready", method: .get).status == .ok { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("not ready after \(seconds) s", sourceLocation: sourceLocation)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        return try #require(object as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
    }
}

struct ErrorBody: Decodable {
    struct Detail: Decodable {
        let code: String
        let message: String
    }
    let error: Detail
}

/// Checks the status, the exact error body shape and code, and that `messageContains` is in the message.
func expectError(
    _ response: TestResponse, _ status: HTTPResponse.Status, code: String, messageContains: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "body: \(response.text)", sourceLocation: sourceLocation)
    guard let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
        object.count == 1, let detail = object["error"] as? [String: Any], detail.count == 2,
        let body = try? response.decode(ErrorBody.self)
    else {
        Issue.record("not an error body: \(response.text)", sourceLocation: sourceLocation)
        return
    }
    #expect(body.error.code == code, "message: \(body.error.message)", sourceLocation: sourceLocation)
    if let messageContains {
        #expect(body.error.message.contains(messageContains), "message: \(body.error.message)", sourceLocation: sourceLocation)
    }
    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
}

/// A small help-center corpus with distinct topics.
enum Corpus {
    static let documents: [(id: String, title: String, text: String, category: String)] = [
        (
            "reset-password", "How to reset your password",
            "If you forgot your password, click 'Forgot password' on the sign-in page and follow the link we email you.", "account"
        ),
        (
            "billing-refund", "Requesting a refund",
            "Refunds for annual plans are issued within 14 days of purchase to the original payment method.", "billing"
        ),
        (
            "export-data", "Exporting your data",
            "Download all your projects as a ZIP archive from Settings, then Export.", "data"
        ),
        (
            "two-factor", "Enable two-factor authentication",
            "Protect your account with an authenticator app or SMS codes when you sign in.", "account"
        ),
        (
            "delete-account", "Deleting your account",
            "Account deletion is permanent and removes all your data after 30 days.", "account"
        ),
        (
            "invite-team", "Inviting teammates",
            "Add members to your workspace from the Team page and assign them roles.", "team"
        ),
    ]

    static var documentsJSON: String {
        let items = documents.map { document in
            #"{"id": "\#(document.id)", "title": "\#(document.title)", "text": "\#(document.text)", "metadata": {"category": "\#(document.category)"}, "updated_at": "2026-11-20T10:00:00Z"}"#
        }
        return #"{"documents": [\#(items.joined(separator: ", "))]}"#
    }

    static var jsonl: String {
        documents.map { document in
            #"{"id": "\#(document.id)", "title": "\#(document.title)", "text": "\#(document.text)", "metadata": {"category": "\#(document.category)"}, "updated_at": "2026-11-20T10:00:00Z"}"#
        }.joined(separator: "\n") + "\n"
    }
}

/// Creates collection `name` and indexes the corpus into it.
func seed(_ client: some TestClientProtocol, _ name: String = "help", key: String? = nil) async throws {
    let created = try await client.send(.post, "/v1/collections", json: #"{"name": "\#(name)"}"#, key: key)
    #expect(created.status == .created, "\(created.text)")
    let written = try await client.send(.put, "/v1/collections/\(name)/documents", json: Corpus.documentsJSON, key: key)
    #expect(written.status == .ok, "\(written.text)")
}

/// Ids of a query response's results.
func resultIDs(_ response: TestResponse) throws -> [String] {
    let results = try #require(try response.json()["results"] as? [[String: Any]], "\(response.text)")
    return results.compactMap { $0["id"] as? String }
}
