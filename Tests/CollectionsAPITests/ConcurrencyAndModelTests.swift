import Foundation
import Hummingbird
import HummingbirdTesting
import SearchServer
import Testing

@testable import CollectionsAPI

@Suite("Concurrent requests and collections of another model")
struct ConcurrencyAndModelTests {
    @Test("concurrent text queries all go through the batcher; concurrent writes are serialised and all land")
    func concurrent() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url, queryCache: 0)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client)
            let texts = [
                "password help", "refund please", "export my projects", "2FA setup", "remove my account",
                "add a colleague", "sign in problem", "billing question",
            ]
            try await withThrowingTaskGroup(of: Int.self) { group in
                for text in texts {
                    group.addTask {
                        let response = try await client.send(.post, "/v1/collections/help/query", json: #"{"text": "\#(text)", "k": 2}"#)
                        return try resultIDs(response).count
                    }
                }
                for (index, _) in texts.enumerated() {
                    group.addTask {
                        let response = try await client.send(
                            .put, "/v1/collections/help/documents",
                            json: #"{"documents": [{"id": "extra-\#(index)", "text": "extra document \#(index)"}]}"#)
                        return response.status == .ok ? 100 : -1
                    }
                }
                var total = 0
                for try await value in group { total += value }
                #expect(total == texts.count * 2 + texts.count * 100)
            }
            let metrics = try await client.send(.get, "/metrics").text
            let sum = metrics.split(separator: "\n").first { $0.hasPrefix("quiver_embed_batch_requests_sum ") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
            #expect(sum == Double(texts.count), "every query text went through the batcher: \(String(describing: sum))")
            #expect(try await client.send(.get, "/v1/collections/help").json()["documents"] as? Int == 6 + texts.count)
        }
    }

    @Test("a collection built with another model: text queries and text writes are 409, vector queries work")
    func otherModel() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The first server pretends its model has another fingerprint.
        let module = CollectionsModule(
            options: .init(dataDirectory: directory.url, modelFingerprint: "another-model"),
            logger: testLogger)
        let first = try buildApplication(
            configuration: ServerConfiguration(port: 0, modelFolder: TestModel.folder),
            embedder: try TestModel.embedder(), modules: [module], logger: testLogger)
        try await first.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client, "old")
        }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            expectError(
                try await client.send(.post, "/v1/collections/old/query", json: #"{"text": "refund"}"#), .conflict,
                code: "conflict", messageContains: "send vectors instead")
            expectError(
                try await client.send(.put, "/v1/collections/old/documents", json: #"{"documents": [{"id": "n", "text": "new"}]}"#),
                .conflict, code: "conflict")
            let byID = try await client.send(.post, "/v1/collections/old/query", json: #"{"id": "billing-refund", "k": 2}"#)
            #expect(byID.status == .ok)
            #expect(try resultIDs(byID).count == 2)
            let info = try await client.send(.get, "/v1/collections/old")
            #expect((try info.json()["model"] as? [String: Any])?["fingerprint"] as? String == "another-model")
        }
    }
}
