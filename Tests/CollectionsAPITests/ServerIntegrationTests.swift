import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import QuiverTestSupport
import SearchEngine
import SearchServer
import Testing

@testable import CollectionsAPI

@Suite("Collections module: auth, readiness, sample import, metrics, live socket")
struct ServerIntegrationTests {
    @Test("reads need a read or admin key; writes need an admin key (401 / 403 otherwise)")
    func auth() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url) { configuration in
            try configuration.apiKeys.add("admin-key", role: .admin)
            try configuration.apiKeys.add("read-key", role: .read)
        }
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            expectError(try await client.send(.get, "/v1/collections"), .unauthorized, code: "unauthorized")
            expectError(try await client.send(.get, "/v1/collections", key: "wrong"), .unauthorized, code: "unauthorized")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "k"}"#, key: "read-key"),
                .forbidden, code: "forbidden", messageContains: "admin")
            try await seed(client, "k", key: "admin-key")
            #expect(try await client.send(.get, "/v1/collections", key: "read-key").status == .ok)
            #expect(try await client.send(.get, "/v1/collections/k", key: "read-key").status == .ok)
            #expect(try await client.send(.get, "/v1/collections/k/documents/export-data", key: "read-key").status == .ok)
            #expect(try await client.send(.post, "/v1/collections/k/query", json: #"{"text": "refund"}"#, key: "read-key").status == .ok)
            #expect(
                try await client.send(
                    .post, "/v1/collections/k/query/batch", json: #"{"queries": [{"id": "export-data"}]}"#,
                    key: "read-key"
                ).status == .ok)
            #expect(
                try await client.send(
                    .post, "/v1/collections/k/recommend", json: #"{"positive": ["export-data"]}"#,
                    key: "read-key"
                ).status == .ok)
            #expect(
                try await client.send(
                    .post, "/v1/collections/k/vectors", json: #"{"ids": ["export-data"]}"#,
                    key: "read-key"
                ).status == .ok)
            #expect(try await client.send(.get, "/v1/collections/k/vectors", key: "read-key").status == .ok)
            expectError(
                try await client.send(
                    .put, "/v1/collections/k/documents", json: #"{"documents": [{"id": "x", "text": "y"}]}"#,
                    key: "read-key"), .forbidden, code: "forbidden")
            expectError(
                try await client.send(.delete, "/v1/collections/k/documents/export-data", key: "read-key"),
                .forbidden, code: "forbidden")
            expectError(try await client.send(.delete, "/v1/collections/k", key: "read-key"), .forbidden, code: "forbidden")
            expectError(
                try await client.send(.patch, "/v1/collections/k", json: #"{"verdict_threshold": 0.3}"#, key: "read-key"),
                .forbidden, code: "forbidden")
            #expect(
                try await client.send(.patch, "/v1/collections/k", json: #"{"verdict_threshold": 0.3}"#, key: "admin-key").status == .ok)
            // Feedback and insights are reads: a portal's read key may send and see them.
            expectError(
                try await client.send(
                    .post, "/v1/collections/k/feedback", json: #"{"query_id": "abc", "id": "x", "helpful": true}"#, key: "read-key"),
                .notFound, code: "not_found", messageContains: "query log")
            #expect(try await client.send(.get, "/v1/collections/k/insights", key: "read-key").status == .ok)
            expectError(try await client.send(.get, "/v1/collections/k/insights"), .unauthorized, code: "unauthorized")
            expectError(
                try await client.send(.post, "/v1/collections/k/query", json: #"{"text": "refund"}"#), .unauthorized,
                code: "unauthorized")
            #expect(try await client.send(.delete, "/v1/collections/k/documents/export-data", key: "admin-key").status == .ok)
            #expect(try await client.send(.delete, "/v1/collections/k", key: "admin-key").status == .ok)
        }
    }

    @Test("until the model loads and the engine opens, /ready and every collection route answer 503 unavailable")
    func unavailableWithoutModel() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, module) = try makeApp(data: directory.url, modelFolder: directory.url.appendingPathComponent("no-model"))
        try await app.test(.router) { client in
            expectError(try await client.send(.get, "/v1/collections"), .serviceUnavailable, code: "unavailable")
            expectError(
                try await client.send(.post, "/v1/collections/x/query", json: #"{"text": "a"}"#), .serviceUnavailable,
                code: "unavailable")
            // The model load fails (no folder): the module reports why, for good.
            for _ in 0..<500 where await module.unavailableReason?.contains("failed") != true {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(await module.unavailableReason?.contains("model failed to load") == true)
            expectError(try await client.send(.get, "/ready"), .serviceUnavailable, code: "unavailable")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "x"}"#), .serviceUnavailable,
                code: "unavailable", messageContains: "model failed to load")
        }
    }

    @Test("first start imports the sample file (bad lines skipped); a second start leaves the collection alone; a missing file is skipped")
    func sampleImport() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("help-center.jsonl")
        try (Corpus.jsonl + "{not json\n" + #"{"id": "no-text"}"# + "\n").write(to: file, atomically: true, encoding: .utf8)
        let data = directory.url.appendingPathComponent("data")
        let sample = CollectionsModule.SampleCorpus(file: file, collection: "help-center", batchSize: 4)
        let (app, _) = try makeApp(data: data, sample: sample)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            let info = try await client.send(.get, "/v1/collections/help-center")
            #expect(try info.json()["documents"] as? Int == 6, "\(info.text)")
            let hit = try await client.send(.post, "/v1/collections/help-center/query", json: #"{"text": "get a refund", "k": 1}"#)
            #expect(try resultIDs(hit) == ["billing-refund"])
            // Edit the collection; a restart must not re-import over it.
            #expect(try await client.send(.delete, "/v1/collections/help-center/documents/billing-refund").status == .ok)
        }
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("collections/help-center/sample-import.pending").path))
        // Shutdown checkpointed the index.
        #expect(
            FileManager.default.fileExists(atPath: data.appendingPathComponent("collections/help-center/generations/1/index.hnsw").path))

        let (again, _) = try makeApp(data: data, sample: sample)
        try await again.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.get, "/v1/collections/help-center").json()["documents"] as? Int == 5)
        }

        let empty = directory.url.appendingPathComponent("empty-data")
        let missing = CollectionsModule.SampleCorpus(file: directory.url.appendingPathComponent("absent.jsonl"), collection: "help-center")
        let (third, _) = try makeApp(data: empty, sample: missing)
        try await third.test(.router) { client in
            try await client.waitUntilReady()
            let list = try await client.send(.get, "/v1/collections")
            #expect((try list.json()["collections"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("an interrupted sample import (marker left behind) resumes on the next start, leaving documents stored meanwhile as they are")
    func sampleResume() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("sample.jsonl")
        try Corpus.jsonl.write(to: file, atomically: true, encoding: .utf8)
        let data = directory.url.appendingPathComponent("data")
        let (first, _) = try makeApp(data: data)
        try await first.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "sample"}"#).status == .created)
            #expect(
                try await client.send(
                    .put, "/v1/collections/sample/documents",
                    json: #"{"documents": [{"id": "reset-password", "text": "partial"}]}"#
                ).status == .ok)
        }
        try Data().write(to: data.appendingPathComponent("collections/sample/sample-import.pending"))
        let (second, _) = try makeApp(data: data, sample: .init(file: file, collection: "sample"))
        try await second.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.get, "/v1/collections/sample").json()["documents"] as? Int == 6)
            // The document stored before the resume (a user's edit) is left as it was.
            let kept = try await client.send(.get, "/v1/collections/sample/documents/reset-password")
            #expect(try kept.json()["text"] as? String == "partial", "\(kept.text)")
        }
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("collections/sample/sample-import.pending").path))
    }

    @Test(
        "text queries go through the server's batcher; the LRU cache skips it for repeated texts; metrics per collection, removed with it")
    func batcherCacheAndMetrics() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url, queryCache: 8)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client)
            func metric(_ prefix: String) async throws -> Double? {
                let text = try await client.send(.get, "/metrics").text
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix + " ") }) else { return nil }
                return line.split(separator: " ").last.flatMap { Double($0) }
            }
            let batchesBefore = try await metric("quiver_embed_batch_requests_count") ?? 0
            // Vector mode: on this eight-article corpus the default hybrid ranks another article
            // first for this query — min–max normalization gives the best keyword match full credit
            // however weak (docs/ARCHITECTURE.md, "Search modes"). This test is about the cache.
            let query = #"{"text": "how do I turn on 2FA", "k": 1, "mode": "vector"}"#
            let first = try await client.send(.post, "/v1/collections/help/query", json: query)
            #expect(try resultIDs(first) == ["two-factor"])
            #expect(try await metric("quiver_embed_batch_requests_count") == batchesBefore + 1, "the text went through the batcher")
            let second = try await client.send(.post, "/v1/collections/help/query", json: query)
            #expect(try resultIDs(second) == ["two-factor"])
            #expect(try await metric("quiver_embed_batch_requests_count") == batchesBefore + 1, "a cached text skips the model")
            #expect(try await metric("quiver_query_cache_hits_total") == 1)
            #expect(try await metric("quiver_query_cache_misses_total") == 1)
            #expect(try await metric(#"quiver_collection_documents{collection="help"}"#) == 6)
            #expect(try await metric(#"quiver_collection_vectors{collection="help"}"#) == 6)
            #expect(try await metric(#"quiver_collection_index_lag{collection="help"}"#) == 0)
            #expect(try await metric(#"quiver_collection_documents_written_total{collection="help",outcome="inserted"}"#) == 6)
            #expect(try await metric(#"quiver_collection_index_lag_seconds{collection="help"}"#) != nil)
            // Another process writes to the store (an engine of its own on the data folder):
            // /metrics shows the new vector without any write or query through this server.
            let other = try SearchEngine(
                dataDirectory: directory.url, models: [.external(id: "all-MiniLM-L6-v2", dimensions: 384)],
                logger: Logger(label: "other"))
            let vector = [Float](repeating: 0.05, count: 384)
            _ = try other.upsert(collection: "help", documents: [DocumentInput(id: "external", vector: vector)])
            var vectors: Double?
            for _ in 0..<100 {
                vectors = try await metric(#"quiver_collection_vectors{collection="help"}"#)
                if vectors == 7 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(vectors == 7)
        }

        let (uncached, _) = try makeApp(data: directory.url, queryCache: 0)
        try await uncached.test(.router) { client in
            try await client.waitUntilReady()
            for _ in 0..<2 {
                #expect(try await client.send(.post, "/v1/collections/help/query", json: #"{"text": "refund", "k": 1}"#).status == .ok)
            }
            let text = try await client.send(.get, "/metrics").text
            #expect(text.contains("quiver_embed_batch_requests_count 2"), "no cache: both texts reach the model")
            #expect(text.contains(#"collection="help""#))
            // A deleted collection's series leave /metrics.
            #expect(try await client.send(.delete, "/v1/collections/help").status == .ok)
            let after = try await client.send(.get, "/metrics").text
            #expect(!after.contains(#"collection="help""#), "\(after.split(separator: "\n").filter { $0.contains("help") })")
        }
    }

    @Test("over a real socket: create, write, query by text, export; shutdown checkpoints")
    func liveSocket() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(port != 0)
            var ready = 0
            for _ in 0..<6000 where ready != 200 {
                ready = try await BlockingHTTP.send(port: port, "GET", "/ready").status
                if ready != 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(ready == 200)
            #expect(try await BlockingHTTP.send(port: port, "POST", "/v1/collections", json: #"{"name": "live"}"#).status == 201)
            let written = try await BlockingHTTP.send(port: port, "PUT", "/v1/collections/live/documents", json: Corpus.documentsJSON)
            #expect(written.status == 200, "\(written.text)")
            let hit = try await BlockingHTTP.send(
                port: port, "POST", "/v1/collections/live/query",
                json: #"{"text": "add people to my workspace", "k": 1}"#)
            #expect(hit.status == 200)
            let hits = (try JSONSerialization.jsonObject(with: hit.body) as? [String: Any])?["results"] as? [[String: Any]]
            #expect(hits?.compactMap { $0["id"] as? String } == ["invite-team"], "\(hit.text)")
            let export = try await BlockingHTTP.send(port: port, "GET", "/v1/collections/live/vectors?format=f32")
            #expect(export.status == 200)
            #expect(export.body.count == 6 * 384 * 4)
            #expect(export.headers["quiver-model"] == (try TestModel.fingerprint()))
            #expect(export.headers["quiver-ids"]?.split(separator: ",").count == 6)
            let bad = try await BlockingHTTP.send(port: port, "POST", "/v1/collections/live/query", json: "{")
            #expect(bad.status == 400)
            #expect(bad.text.contains(#""code":"invalid_json""#))
        }
        #expect(
            FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("collections/live/generations/1/index.hnsw").path))
    }
}
