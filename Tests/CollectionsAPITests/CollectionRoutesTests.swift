import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CollectionsAPI

@Suite("Collections and documents over HTTP")
struct CollectionRoutesTests {
    @Test("create (201), conflict (409), list, info, delete, then 404")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            let created = try await client.send(
                .post, "/v1/collections",
                json: #"{"name": "docs", "distance": "dot", "hnsw": {"m": 8}}"#)
            #expect(created.status == .created, "\(created.text)")
            let info = try created.json()
            #expect(info["name"] as? String == "docs")
            #expect(info["dimensions"] as? Int == 384)
            #expect(info["distance"] as? String == "dot")
            #expect(info["documents"] as? Int == 0)
            let hnsw = try #require(info["hnsw"] as? [String: Any])
            #expect(hnsw["m"] as? Int == 8 && hnsw["ef_construction"] as? Int == 200)
            let model = try #require(info["model"] as? [String: Any])
            #expect(model["id"] as? String == "all-MiniLM-L6-v2")
            #expect(model["fingerprint"] as? String == (try TestModel.fingerprint()))

            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "docs"}"#), .conflict,
                code: "conflict", messageContains: "exists")

            let list = try await client.send(.get, "/v1/collections")
            #expect(list.status == .ok)
            let collections = try #require(try list.json()["collections"] as? [[String: Any]])
            #expect(collections.compactMap { $0["name"] as? String } == ["docs"])

            let one = try await client.send(.get, "/v1/collections/docs")
            #expect(one.status == .ok)
            let index = try #require(try one.json()["index"] as? [String: Any])
            #expect(index["pending"] as? Int == 0)
            #expect(index["generation"] as? Int == 1)
            #expect(index["vectors"] as? Int == 0)

            let deleted = try await client.send(.delete, "/v1/collections/docs")
            #expect(deleted.status == .ok)
            #expect(try deleted.json()["deleted"] as? Bool == true)
            expectError(try await client.send(.get, "/v1/collections/docs"), .notFound, code: "not_found", messageContains: "docs")
            expectError(try await client.send(.delete, "/v1/collections/docs"), .notFound, code: "not_found")
            #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("collections/docs").path))
        }
    }

    @Test("PATCH a collection's settings: merge-patch semantics, shown by GET, bad settings refused whole")
    func settings() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "kb"}"#).status == .created)
            func threshold(_ response: TestResponse) throws -> Double? {
                (try response.json()["settings"] as? [String: Any])?["verdict_threshold"] as? Double
            }
            #expect(try threshold(try await client.send(.get, "/v1/collections/kb")) == 0.5)
            let patched = try await client.send(.patch, "/v1/collections/kb", json: #"{"verdict_threshold": 0.35}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try threshold(patched).map { abs($0 - 0.35) < 1e-6 } == true)
            #expect(try threshold(try await client.send(.get, "/v1/collections/kb")).map { abs($0 - 0.35) < 1e-6 } == true)
            for (body, message) in [
                (#"{"verdict_threshold": 2}"#, "between 0 and 1"), (#"{"verdict_threshold": "0.2"}"#, "between 0 and 1"),
                (#"{"verdict_threshold": 0.2, "verdict_treshold": 0.2}"#, "unknown setting"), ("{}", "names no setting"),
                ("[0.2]", nil), (#"{"verdict_threshold": 1e999}"#, nil),
            ] {
                let response = try await client.send(.patch, "/v1/collections/kb", json: body)
                #expect(response.status.code / 100 == 4, "\(body): \(response.text)")
                if let message { #expect(response.text.contains(message), "\(body): \(response.text)") }
            }
            // Nothing of a refused patch was stored.
            #expect(try threshold(try await client.send(.get, "/v1/collections/kb")).map { abs($0 - 0.35) < 1e-6 } == true)
            #expect(try threshold(try await client.send(.patch, "/v1/collections/kb", json: #"{"verdict_threshold": null}"#)) == 0.5)
            expectError(
                try await client.send(.patch, "/v1/collections/nope", json: #"{"verdict_threshold": 0.2}"#), .notFound, code: "not_found")
        }
    }

    @Test("defer_embedding: the write answers at once with its documents pending; the server embeds them in the background")
    func deferredWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "kb"}"#).status == .created)
            let documents =
                #"{"defer_embedding": true, "documents": [{"id": "reset", "title": "Reset your password", "text": "Open settings and choose reset."}, "#
                + #"{"id": "billing", "title": "Billing", "text": "Change the card used for your subscription."}]}"#
            let written = try await client.send(.put, "/v1/collections/kb/documents", json: documents)
            #expect(written.status == .ok, "\(written.text)")
            let answer = try written.json()
            #expect(answer["pending"] as? Int == 2 && answer["embedded"] as? Int == 0 && answer["inserted"] as? Int == 2)
            #expect(answer["searchable"] as? Bool == false)
            // Embedded in the background: found by meaning within seconds.
            var found: String?
            for _ in 0..<300 {
                let hits = try await client.send(
                    .post, "/v1/collections/kb/query", json: #"{"text": "I forgot my login secret", "mode": "vector", "k": 1}"#)
                found = (try hits.json()["results"] as? [[String: Any]])?.first?["id"] as? String
                if found != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(found == "reset")
            // A write that embeds now has nothing pending.
            let plain = try await client.send(
                .put, "/v1/collections/kb/documents", json: #"{"documents": [{"id": "x", "text": "Another article."}]}"#)
            #expect(try plain.json()["pending"] as? Int == 0 && plain.json()["searchable"] as? Bool == true)
            let bad = try await client.send(
                .put, "/v1/collections/kb/documents", json: #"{"defer_embedding": "yes", "documents": [{"id": "y", "text": "t"}]}"#)
            #expect(bad.status == .unprocessableContent || bad.status == .badRequest, "\(bad.text)")
            #expect(bad.text.contains("defer_embedding"), "\(bad.text)")
        }
    }

    @Test("query log over HTTP: query_id on answers once on, feedback on it, insights of it; bad input refused")
    func queryLogRoutes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "kb"}"#).status == .created)
            let documents =
                #"{"documents": [{"id": "reset", "title": "Reset your password", "text": "Open settings and choose reset."}, "#
                + #"{"id": "billing", "title": "Billing", "text": "Change the card used for your subscription."}]}"#
            #expect(try await client.send(.put, "/v1/collections/kb/documents", json: documents).status == .ok)
            let before = try await client.send(.post, "/v1/collections/kb/query", json: #"{"text": "forgot my password"}"#)
            #expect(try before.json()["query_id"] == nil)
            let on = try await client.send(.patch, "/v1/collections/kb", json: #"{"query_log": true, "query_log_text": "redact"}"#)
            let settings = try #require(try on.json()["settings"] as? [String: Any])
            #expect(settings["query_log"] as? Bool == true && settings["query_log_text"] as? String == "redact")
            let answer = try await client.send(.post, "/v1/collections/kb/query", json: #"{"text": "forgot my password, account 123456"}"#)
            let queryID = try #require(try answer.json()["query_id"] as? String)
            let batch = try await client.send(
                .post, "/v1/collections/kb/query/batch", json: #"{"queries": [{"text": "change my card"}, {"id": "reset"}]}"#)
            let answers = try #require(try batch.json()["results"] as? [[String: Any]])
            #expect(answers[0]["query_id"] is String && answers[1]["query_id"] == nil)

            let recorded = try await client.send(
                .post, "/v1/collections/kb/feedback", json: #"{"query_id": "\#(queryID)", "id": "reset", "helpful": true}"#)
            #expect(recorded.status == .ok, "\(recorded.text)")
            #expect(try recorded.json()["recorded"] as? Bool == true)
            expectError(
                try await client.send(.post, "/v1/collections/kb/feedback", json: #"{"query_id": "nope", "id": "reset", "helpful": true}"#),
                .notFound, code: "not_found", messageContains: "query log")
            for body in [
                #"{"query_id": "\#(queryID)", "id": "reset"}"#, #"{"query_id": "", "id": "reset", "helpful": true}"#,
                #"{"query_id": "\#(queryID)", "id": "reset", "helpful": "yes"}"#,
            ] {
                let response = try await client.send(.post, "/v1/collections/kb/feedback", json: body)
                #expect(response.status == .unprocessableContent || response.status == .badRequest, "\(body): \(response.text)")
            }

            let insights = try await client.send(.get, "/v1/collections/kb/insights")
            #expect(insights.status == .ok, "\(insights.text)")
            let report = try insights.json()
            #expect(report["queries"] as? Int == 2)
            let top = try #require(report["top_queries"] as? [[String: Any]])
            // Redacted: the account number never reached the log.
            #expect(top.contains { ($0["text"] as? String) == "forgot my password, account [number]" })
            #expect((report["feedback"] as? [String: Any])?["helpful"] as? Int == 1)
            let since = try await client.send(.get, "/v1/collections/kb/insights?since=2026-01-01T00:00:00Z")
            #expect(since.status == .ok)
            expectError(
                try await client.send(.get, "/v1/collections/kb/insights?since=yesterday"), .unprocessableContent, code: "invalid_request")
            expectError(
                try await client.send(.get, "/v1/collections/kb/insights?since=1e300"), .unprocessableContent, code: "invalid_request")
            expectError(try await client.send(.get, "/v1/collections/nope/insights"), .notFound, code: "not_found")

            // The feedback as judged queries (what `quiver eval --judgments feedback` runs).
            let judged = try await client.send(.post, "/v1/collections/kb/evaluate", json: #"{"judgments": "feedback"}"#)
            #expect(judged.status == .ok, "\(judged.text)")
            let evaluation = try judged.json()
            #expect(evaluation["query_count"] as? Int == 1)
            let asked = (evaluation["queries"] as? [[String: Any]])?.first
            #expect(asked?["text"] as? String == "forgot my password, account [number]")
            let ranks = ((asked?["results"] as? [[String: Any]])?.first?["ranks"] as? [String: Any])
            #expect(ranks?.keys.sorted() == ["reset"])
            for body in [
                #"{"judgments": "clicks"}"#, "{}", #"{"judgments": "feedback", "queries": [{"text": "x", "relevant": ["reset"]}]}"#,
            ] {
                expectError(
                    try await client.send(.post, "/v1/collections/kb/evaluate", json: body), .unprocessableContent, code: "invalid_request")
            }
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "quiet"}"#).status == .created)
            expectError(
                try await client.send(.post, "/v1/collections/quiet/evaluate", json: #"{"judgments": "feedback"}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "no feedback")
        }
    }

    @Test("collection names and options are validated: 422 naming the problem, never a path")
    func createValidation() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "name")
            for name in ["../x", ".", "..", "%2e%2e", "Upper", "a/b", "", String(repeating: "a", count: 65)] {
                expectError(
                    try await client.send(.post, "/v1/collections", json: #"{"name": "\#(name)"}"#),
                    .unprocessableContent, code: "invalid_request", messageContains: "invalid collection name")
            }
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "a", "distance": "manhattan"}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "distance")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "a", "dimensions": 100}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "dimensions")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "a", "hnsw": {"m": 0}}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "hnsw")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": "a", "model": "gpt"}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "model")
            expectError(
                try await client.send(.post, "/v1/collections", json: #"{"name": 5}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "name")
            expectError(try await client.send(.post, "/v1/collections", json: "{nope"), .badRequest, code: "invalid_json")
            // Names in the path: rejected before any file is touched.
            for path in ["%2e%2e", "..%2fx", String(repeating: "b", count: 300), "A"] {
                expectError(
                    try await client.send(.get, "/v1/collections/\(path)"), .unprocessableContent,
                    code: "invalid_request", messageContains: "invalid collection name")
            }
            let dots = try await client.send(.get, "/v1/collections/..")
            #expect(dots.status == .notFound || dots.status == .unprocessableContent, "\(dots.text)")
            expectError(try await client.send(.get, "/v1/collections/nothing-here"), .notFound, code: "not_found")
            let entries = try FileManager.default.contentsOfDirectory(atPath: directory.url.appendingPathComponent("collections").path)
            #expect(entries.isEmpty, "nothing created: \(entries)")
        }
    }

    @Test("a collection of your own vectors: model external with any dimensions; vectors in, vector and id queries out; text is a 409")
    func ownVectors() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            for body in [
                #"{"name": "own", "model": "external"}"#, #"{"name": "own", "model": "external", "dimensions": 0}"#,
                #"{"name": "own", "model": "external", "dimensions": 70000}"#,
            ] {
                expectError(
                    try await client.send(.post, "/v1/collections", json: body), .unprocessableContent,
                    code: "invalid_request", messageContains: "dimensions")
            }
            let created = try await client.send(
                .post, "/v1/collections",
                json: #"{"name": "own", "model": "external", "dimensions": 3, "distance": "l2"}"#)
            #expect(created.status == .created, "\(created.text)")
            let info = try created.json()
            #expect(info["dimensions"] as? Int == 3 && info["distance"] as? String == "l2")
            let model = try #require(info["model"] as? [String: Any])
            #expect(model["id"] as? String == "external")

            let written = try await client.send(
                .put, "/v1/collections/own/documents",
                json: """
                    {"documents": [{"id": "a", "vector": [1, 0, 0], "title": "A"}, {"id": "b", "vector": [0, 1, 0]},
                                   {"id": "c", "vector": [0.9, 0.1, 0], "metadata": {"k": 1}}]}
                    """)
            #expect(written.status == .ok, "\(written.text)")
            expectError(
                try await client.send(.put, "/v1/collections/own/documents", json: #"{"documents": [{"id": "d", "text": "words"}]}"#),
                .conflict, code: "conflict", messageContains: "your own vectors")
            expectError(
                try await client.send(.put, "/v1/collections/own/documents", json: #"{"documents": [{"id": "d", "vector": [1, 2]}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "3")

            let byVector = try await client.send(.post, "/v1/collections/own/query", json: #"{"vector": [1, 0, 0], "k": 2}"#)
            #expect(byVector.status == .ok, "\(byVector.text)")
            let hits = try #require(try byVector.json()["results"] as? [[String: Any]])
            #expect(hits.compactMap { $0["id"] as? String } == ["a", "c"])
            let byID = try await client.send(.post, "/v1/collections/own/query", json: #"{"id": "a", "k": 1}"#)
            #expect((try byID.json()["results"] as? [[String: Any]])?.first?["id"] as? String == "c")
            expectError(
                try await client.send(.post, "/v1/collections/own/query", json: #"{"text": "words", "k": 1}"#),
                .conflict, code: "conflict", messageContains: "your own vectors")
            let recommended = try await client.send(.post, "/v1/collections/own/recommend", json: #"{"positive": ["c"], "k": 1}"#)
            #expect((try recommended.json()["results"] as? [[String: Any]])?.first?["id"] as? String == "a", "\(recommended.text)")
        }
    }

    @Test("documents: upsert counts and seq (searchable on return), unchanged and updated, get, include=vector, delete")
    func documents() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "help"}"#).status == .created)
            let first = try await client.send(.put, "/v1/collections/help/documents?wait=true", json: Corpus.documentsJSON)
            #expect(first.status == .ok, "\(first.text)")
            let counts = try first.json()
            #expect(counts["inserted"] as? Int == 6)
            #expect(counts["updated"] as? Int == 0)
            #expect(counts["failed"] as? Int == 0)
            #expect(counts["embedded"] as? Int == 6)
            #expect(counts["searchable"] as? Bool == true)
            let seq = try #require(counts["seq"] as? Int)
            #expect(seq > 0)
            let index = try #require(counts["index"] as? [String: Any])
            #expect((index["indexed_seq"] as? Int ?? 0) >= seq)
            #expect(index["vectors"] as? Int == 6)

            let again = try await client.send(.put, "/v1/collections/help/documents", json: Corpus.documentsJSON)
            #expect(try again.json()["unchanged"] as? Int == 6)
            #expect(try again.json()["embedded"] as? Int == 0)

            let changed = try await client.send(
                .put, "/v1/collections/help/documents",
                json: """
                    {"documents": [{"id": "export-data", "title": "Exporting your data", "text": "Export projects as CSV files.", "metadata": {"category": "data"}}], "wait": true}
                    """)
            #expect(try changed.json()["updated"] as? Int == 1)
            #expect((try changed.json()["seq"] as? Int ?? 0) > seq)

            let document = try await client.send(.get, "/v1/collections/help/documents/export-data")
            #expect(document.status == .ok)
            let body = try document.json()
            #expect(body["text"] as? String == "Export projects as CSV files.")
            #expect((body["metadata"] as? [String: Any])?["category"] as? String == "data")
            #expect(body["vector"] == nil)
            let freshness = try #require(body["freshness"] as? [String: Any])
            #expect((freshness["model"] as? [String: Any])?["fingerprint"] as? String == (try TestModel.fingerprint()))

            let withVector = try await client.send(.get, "/v1/collections/help/documents/export-data?include=vector")
            #expect((try withVector.json()["vector"] as? [Double])?.count == 384)
            expectError(
                try await client.send(.get, "/v1/collections/help/documents/export-data?include=bogus"),
                .unprocessableContent, code: "invalid_request", messageContains: "include")

            // Ids with reserved characters travel percent-encoded in the path.
            let odd = try await client.send(
                .put, "/v1/collections/help/documents",
                json: #"{"documents": [{"id": "faq/1 #a", "text": "An odd id"}]}"#)
            #expect(try odd.json()["inserted"] as? Int == 1)
            let oddDocument = try await client.send(.get, "/v1/collections/help/documents/faq%2F1%20%23a")
            #expect(try oddDocument.json()["id"] as? String == "faq/1 #a", "\(oddDocument.text)")

            let removed = try await client.send(.delete, "/v1/collections/help/documents/invite-team")
            #expect(removed.status == .ok)
            #expect(try removed.json()["deleted"] as? Int == 1)
            #expect(try removed.json()["searchable"] as? Bool == true)
            expectError(
                try await client.send(.get, "/v1/collections/help/documents/invite-team"), .notFound,
                code: "not_found", messageContains: "invite-team")
            expectError(try await client.send(.delete, "/v1/collections/help/documents/invite-team"), .notFound, code: "not_found")
            expectError(try await client.send(.get, "/v1/collections/nope/documents/x"), .notFound, code: "not_found")
            let info = try await client.send(.get, "/v1/collections/help")
            #expect(try info.json()["documents"] as? Int == 6)
        }
    }

    @Test("document writes are validated and limited: 422 naming the document or field, 413 naming the limit")
    func documentValidation() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url) {
            $0.limits.maxBatchInputs = 3
            $0.limits.maxTextBytes = 100
            $0.limits.maxDocumentBytes = 100
        }
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "c"}"#).status == .created)
            let path = "/v1/collections/c/documents"
            expectError(
                try await client.send(.put, path, json: #"{"documents": []}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "documents must not be empty")
            expectError(
                try await client.send(
                    .put, path,
                    json: #"{"documents": [{"id":"a","text":"x"},{"id":"b","text":"x"},{"id":"c","text":"x"},{"id":"d","text":"x"}]}"#),
                .contentTooLarge, code: "limit_exceeded", messageContains: "max_batch_inputs")
            // A document over max_document_bytes is refused on its own; the rest is written (and
            // deleted again below, so the request that follows starts from an empty collection).
            let partial = try await client.send(
                .put, path,
                json: #"{"documents": [{"id":"big","text":"\#(String(repeating: "y", count: 101))"},{"id":"small","text":"ok"}]}"#)
            #expect(partial.status == .ok, "\(partial.text)")
            let written = try partial.json()
            #expect(written["inserted"] as? Int == 1 && written["failed"] as? Int == 1)
            let rejected = try #require((written["rejected"] as? [[String: Any]])?.first)
            #expect(rejected["index"] as? Int == 0 && rejected["id"] as? String == "big")
            #expect((rejected["reason"] as? String)?.contains("max_document_bytes") == true)
            #expect(try await client.send(.delete, path + "/small").status == .ok)
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"a","text":"ok"},{"id":"b"}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "documents[1]")
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"","text":"ok"}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "empty id")
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"a","vector":[1,2,3]}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "384")
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"a","text":"t","metadata":[1]}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "metadata")
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"a","text":"t","updated_at":"yesterday"}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "documents[0].updated_at")
            expectError(
                try await client.send(.put, path, json: #"{"documents": [{"id":"a","vector":[1e99]}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "number does not fit")
            expectError(
                try await client.send(.put, path, json: #"{"docs": []}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "documents")
            expectError(
                try await client.send(.put, path + "?wait=maybe", json: #"{"documents": [{"id":"a","text":"t"}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "wait")
            expectError(
                try await client.send(.put, "/v1/collections/missing/documents", json: #"{"documents": [{"id":"a","text":"t"}]}"#),
                .notFound, code: "not_found")
            // Nothing was written by the rejected requests.
            #expect(try await client.send(.get, "/v1/collections/c").json()["documents"] as? Int == 0)
        }
    }

    @Test("NUL characters over HTTP: 422 for ids and texts, a DELETE with %00 deletes nothing, escaped oddities round-trip")
    func nulCharacters() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "c"}"#).status == .created)
            let path = "/v1/collections/c/documents"
            #expect(try await client.send(.put, path, json: #"{"documents": [{"id":"kb-a-001","text":"original"}]}"#).status == .ok)
            for (body, field) in [
                (#"{"documents": [{"id":"kb-a-001\u0000x","text":"other"}]}"#, "id"),
                (#"{"documents": [{"id":"\u0000","text":"other"}]}"#, "id"),
                (#"{"documents": [{"id":"s","text":"a\u0000secret"}]}"#, "text"),
            ] {
                expectError(
                    try await client.send(.put, path, json: body), .unprocessableContent, code: "invalid_request",
                    messageContains: "\(field) contains a NUL")
            }
            let kept = try await client.send(.get, "/v1/collections/c/documents/kb-a-001")
            #expect(try kept.json()["text"] as? String == "original", "\(kept.text)")
            #expect(try await client.send(.delete, "/v1/collections/c/documents/kb-a-001%00x").status == .notFound)
            #expect(try await client.send(.get, "/v1/collections/c/documents/kb-a-001").status == .ok)
            // U+FFFF and an astral character sent escaped come back as the same characters.
            let odd = #"{"documents": [{"id":"odd","text":"x\uffffy\ud83d\ude00z","metadata":{"k":"a\u0000b"}}]}"#
            let written = try await client.send(.put, path, json: odd)
            #expect(written.status == .ok, "\(written.text)")
            let back = try await client.send(.get, "/v1/collections/c/documents/odd")
            #expect(try back.json()["text"] as? String == "x\u{FFFF}y\u{1F600}z", "\(back.text)")
            #expect((try back.json()["metadata"] as? [String: Any])?["k"] as? String == "a\u{0}b", "\(back.text)")
            // A lone surrogate is not a character: refused, not stored as something else.
            let lone = try await client.send(.put, path, json: #"{"documents": [{"id":"lone","text":"a\ud800b"}]}"#)
            expectError(lone, .badRequest, code: "invalid_json", messageContains: "invalid JSON")
            #expect(try await client.send(.get, "/v1/collections/c/documents/lone").status == .notFound)
        }
    }
}
