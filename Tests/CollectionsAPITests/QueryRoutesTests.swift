import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CollectionsAPI

@Suite("Queries, recommendations and vectors over HTTP")
struct QueryRoutesTests {
    @Test("text, vector and id queries; filter; include; recommend; batch")
    func queries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client)

            let text = try await client.send(
                .post, "/v1/collections/help/query",
                json: #"{"text": "I forgot my password and cannot log in", "k": 3, "mode": "vector"}"#)
            #expect(text.status == .ok, "\(text.text)")
            #expect(try resultIDs(text).first == "reset-password")
            #expect(try resultIDs(text).count == 3)
            let body = try text.json()
            let timings = try #require(body["timings"] as? [String: Any])
            #expect((timings["embed_ms"] as? Double ?? 0) > 0)
            #expect((body["model"] as? [String: Any])?["fingerprint"] as? String == (try TestModel.fingerprint()))
            let first = try #require((body["results"] as? [[String: Any]])?.first)
            #expect(first["title"] as? String == "How to reset your password")
            #expect(first["text"] == nil, "text only when included")
            #expect(first["freshness"] is [String: Any])
            let index = try #require(body["index"] as? [String: Any])
            #expect(index["pending"] as? Int == 0)

            // with_payload false: the same hits, ids and scores only.
            let bare = try await client.send(
                .post, "/v1/collections/help/query",
                json: #"{"text": "I forgot my password and cannot log in", "k": 3, "with_payload": false, "mode": "vector"}"#)
            let bareHits = try #require(try bare.json()["results"] as? [[String: Any]])
            #expect(bareHits.map { $0["id"] as? String } == (try resultIDs(text)).map { Optional($0) })
            #expect(bareHits.allSatisfy { Set($0.keys) == ["id", "score"] }, "\(bare.text)")
            let bareBatch = try await client.send(
                .post, "/v1/collections/help/query/batch",
                json: #"{"queries": [{"id": "reset-password", "k": 2, "with_payload": false}, {"text": "refund", "k": 1}]}"#)
            let batchResults = try #require(try bareBatch.json()["results"] as? [[String: Any]])
            #expect(((batchResults[0]["results"] as? [[String: Any]]) ?? []).allSatisfy { Set($0.keys) == ["id", "score"] })
            #expect(((batchResults[1]["results"] as? [[String: Any]])?.first?["freshness"]) is [String: Any])
            let bareRecommend = try await client.send(
                .post, "/v1/collections/help/recommend", json: #"{"positive": ["reset-password"], "k": 2, "with_payload": false}"#)
            #expect(((try bareRecommend.json()["results"] as? [[String: Any]]) ?? []).allSatisfy { Set($0.keys) == ["id", "score"] })

            let refund = try await client.send(
                .post, "/v1/collections/help/query",
                json: #"{"text": "money back for my yearly subscription", "k": 1, "include": ["text"]}"#)
            let refundHit = try #require((try refund.json()["results"] as? [[String: Any]])?.first)
            #expect(refundHit["id"] as? String == "billing-refund")
            #expect((refundHit["text"] as? String)?.hasPrefix("Refunds") == true)

            // A stored vector as the query finds its own document first, with score ~1.
            let stored = try await client.send(.get, "/v1/collections/help/documents/two-factor?include=vector")
            let vector = try #require(try stored.json()["vector"] as? [Double])
            let vectorJSON = "[" + vector.map { String($0) }.joined(separator: ",") + "]"
            let byVector = try await client.send(.post, "/v1/collections/help/query", json: #"{"vector": \#(vectorJSON), "k": 2}"#)
            let vectorHits = try #require(try byVector.json()["results"] as? [[String: Any]])
            #expect(vectorHits.first?["id"] as? String == "two-factor")
            #expect(abs((vectorHits.first?["score"] as? Double ?? 0) - 1) < 1e-3)
            #expect((try byVector.json()["timings"] as? [String: Any])?["embed_ms"] as? Double == 0)

            // A batch of plain vector queries (read without JSONDecoder) answers exactly as the same
            // batch in a form only JSONDecoder reads (a null filter), errors included.
            let plain = #"{"queries": [{"vector": \#(vectorJSON), "k": 3, "with_payload": false}, {"ef": 20, "vector": \#(vectorJSON)}]}"#
            let decoded = plain.replacingOccurrences(of: #""vector":"#, with: #""filter": null, "vector":"#)
            let fast = try await client.send(.post, "/v1/collections/help/query/batch", json: plain)
            let slow = try await client.send(.post, "/v1/collections/help/query/batch", json: decoded)
            #expect(fast.status == .ok && slow.status == .ok, "\(fast.text) \(slow.text)")
            func hitLists(_ response: TestResponse) throws -> [[String]] {
                try #require(try response.json()["results"] as? [[String: Any]]).map { answer in
                    ((answer["results"] as? [[String: Any]]) ?? []).map { "\($0["id"] ?? "") \($0["score"] ?? "") \($0.keys.sorted())" }
                }
            }
            #expect(try hitLists(fast) == (try hitLists(slow)))
            #expect(try hitLists(fast).map(\.count) == [3, 6])
            for body in [#"{"queries": [{"vector": [1, 2]}, {"vector": \#(vectorJSON), "k": 0}]}"#, #"{"queries": []}"#] {
                let fastError = try await client.send(.post, "/v1/collections/help/query/batch", json: body)
                let slowError = try await client.send(
                    .post, "/v1/collections/help/query/batch",
                    json: body.replacingOccurrences(of: #"{"queries""#, with: #"{"x": null, "queries""#))
                let fastBody = try fastError.json() as NSDictionary
                let slowBody = try slowError.json() as NSDictionary
                #expect(fastError.status == .unprocessableContent && fastBody == slowBody, "\(fastError.text)")
            }

            let byID = try await client.send(.post, "/v1/collections/help/query", json: #"{"id": "two-factor", "k": 5}"#)
            #expect(try resultIDs(byID).count == 5)
            #expect(!(try resultIDs(byID)).contains("two-factor"), "the example itself is excluded")
            expectError(
                try await client.send(.post, "/v1/collections/help/query", json: #"{"id": "nope"}"#),
                .notFound, code: "not_found", messageContains: "nope")

            let filtered = try await client.send(
                .post, "/v1/collections/help/query",
                json: #"{"text": "my account", "k": 10, "filter": {"category": "account"}}"#)
            #expect(Set(try resultIDs(filtered)) == ["reset-password", "two-factor", "delete-account"])
            let timeFiltered = try await client.send(
                .post, "/v1/collections/help/query",
                json: #"{"text": "my account", "filter": {"updated_at": {"gt": "2026-11-21T00:00:00Z"}}}"#)
            #expect(try resultIDs(timeFiltered).isEmpty)

            let recommended = try await client.send(
                .post, "/v1/collections/help/recommend",
                json: #"{"positive": ["reset-password"], "negative": ["billing-refund"], "k": 3}"#)
            #expect(recommended.status == .ok, "\(recommended.text)")
            let recommendedIDs = try resultIDs(recommended)
            #expect(recommendedIDs.count == 3)
            #expect(!recommendedIDs.contains("reset-password") && !recommendedIDs.contains("billing-refund"))
            let defaultK = try await client.send(.post, "/v1/collections/help/recommend", json: #"{"positive": ["export-data"]}"#)
            #expect(try resultIDs(defaultK).count == 5, "k defaults to 10; 5 other documents exist")
            expectError(
                try await client.send(.post, "/v1/collections/help/recommend", json: #"{"positive": ["ghost"]}"#),
                .notFound, code: "not_found", messageContains: "ghost")
            expectError(
                try await client.send(.post, "/v1/collections/help/recommend", json: #"{"positive": []}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "positive")

            let batch = try await client.send(
                .post, "/v1/collections/help/query/batch",
                json: """
                    {"queries": [{"text": "I forgot my password", "k": 1}, {"text": "invite my colleagues", "k": 1},
                                 {"vector": \(vectorJSON), "k": 1}, {"id": "billing-refund", "k": 2}]}
                    """)
            #expect(batch.status == .ok, "\(batch.text)")
            let answers = try #require(try batch.json()["results"] as? [[String: Any]])
            #expect(answers.count == 4)
            let firstIDs = answers.map { (($0["results"] as? [[String: Any]])?.first?["id"] as? String) ?? "" }
            #expect(firstIDs[0] == "reset-password")
            #expect(firstIDs[1] == "invite-team")
            #expect(firstIDs[2] == "two-factor")
            #expect((answers[3]["results"] as? [[String: Any]])?.count == 2)
        }
    }

    @Test("keyword and hybrid modes over HTTP: scores per hit, the index's keyword seq, evaluate; bad modes are 422")
    func modesAndEvaluate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client)
            let path = "/v1/collections/help/query"
            let keyword = try await client.send(.post, path, json: #"{"text": "reset password", "k": 3, "mode": "keyword"}"#)
            #expect(keyword.status == .ok, "\(keyword.text)")
            let body = try keyword.json()
            #expect(try resultIDs(keyword).first == "reset-password")
            let hits = try #require(body["results"] as? [[String: Any]])
            let scores = try #require(hits.first?["scores"] as? [String: Any])
            #expect(scores["keyword_rank"] as? Int == 1 && (scores["keyword"] as? Double ?? 0) > 0 && scores["vector"] == nil)
            let index = try #require(body["index"] as? [String: Any])
            #expect(index["keyword_indexed_seq"] as? Int == index["store_seq"] as? Int)
            #expect((body["timings"] as? [String: Any])?["embed_ms"] as? Double == 0, "keyword mode embeds nothing")

            let hybrid = try await client.send(
                .post, path,
                json: #"{"text": "I forgot my password", "k": 3, "mode": "hybrid", "fusion": {"method": "weighted", "alpha": 0.6}}"#)
            #expect(hybrid.status == .ok, "\(hybrid.text)")
            #expect(try resultIDs(hybrid).first == "reset-password")
            let hybridHits = try #require(try hybrid.json()["results"] as? [[String: Any]])
            for hit in hybridHits {
                let parts = try #require(hit["scores"] as? [String: Any])
                #expect(parts["vector"] is Double && parts["fused"] as? Double == hit["score"] as? Double)
            }
            let batch = try await client.send(
                .post, "/v1/collections/help/query/batch",
                json:
                    #"{"queries": [{"text": "refund", "k": 1, "mode": "keyword"}, {"text": "refund", "k": 1, "mode": "hybrid", "with_payload": false}]}"#
            )
            #expect(batch.status == .ok, "\(batch.text)")

            for (json, message) in [
                (#"{"text": "a", "mode": "fuzzy"}"#, "mode"),
                (#"{"vector": [1], "mode": "keyword"}"#, "needs a text query"),
                (#"{"text": "a", "mode": "vector", "fusion": {"method": "rrf"}}"#, "fusion applies to mode hybrid only"),
                (#"{"text": "a", "mode": "hybrid", "fusion": {"method": "weighted", "alpha": 1.5}}"#, "alpha"),
            ] {
                expectError(
                    try await client.send(.post, path, json: json), .unprocessableContent, code: "invalid_request", messageContains: message
                )
            }

            let evaluate = try await client.send(
                .post, "/v1/collections/help/evaluate",
                json: """
                    {"queries": [{"text": "I forgot my password", "relevant": ["reset-password"]},
                                 {"text": "money back for my yearly subscription", "relevant": {"billing-refund": 2}}],
                     "configurations": [{"mode": "vector"}, {"mode": "keyword"}, {"mode": "hybrid", "fusion": {"method": "rrf", "k": 10}}]}
                    """)
            #expect(evaluate.status == .ok, "\(evaluate.text)")
            let report = try evaluate.json()
            #expect(report["query_count"] as? Int == 2)
            let configurations = try #require(report["configurations"] as? [[String: Any]])
            #expect(configurations.map { $0["label"] as? String } == ["vector", "keyword", "hybrid(rrf, k 10)"])
            #expect((configurations[0]["metrics"] as? [String: Double])?["precision@1"] == 1, "\(evaluate.text)")
            #expect((report["comparisons"] as? [[String: Any]])?.count == 2)
            expectError(
                try await client.send(.post, "/v1/collections/help/evaluate", json: #"{"queries": []}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "queries")
            expectError(
                try await client.send(
                    .post, "/v1/collections/help/evaluate", json: #"{"queries": [{"text": "a", "relevant": ["x"]}], "configurations": []}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "configurations")
            expectError(
                try await client.send(.post, "/v1/collections/help/evaluate", json: #"{"queries": [{"text": "a", "relevant": []}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "relevant")
            // A candidate generation is evaluated only when there is one.
            expectError(
                try await client.send(
                    .post, "/v1/collections/help/evaluate",
                    json:
                        #"{"queries": [{"text": "a", "relevant": ["x"]}], "configurations": [{"mode": "keyword", "generation": "candidate"}]}"#
                ),
                .conflict, code: "conflict", messageContains: "no candidate generation")
            // Every query runs once per configuration: the product is capped before any runs.
            let many = (0..<7000).map { #"{"text": "q\#($0)", "relevant": ["x"]}"# }.joined(separator: ",")
            expectError(
                try await client.send(
                    .post, "/v1/collections/help/evaluate",
                    json: #"{"queries": [\#(many)], "configurations": [{"mode": "vector"}, {"mode": "keyword"}, {"mode": "hybrid"}]}"#),
                .contentTooLarge, code: "limit_exceeded", messageContains: "queries × configurations")
        }
    }

    @Test("an evaluation report larger than max_response_bytes is refused with 413 naming the limit")
    func evaluateResponseLimit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url) { $0.limits.maxResponseBytes = 4000 }
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client, "c")
            let one = try await client.send(
                .post, "/v1/collections/c/evaluate", json: #"{"queries": [{"text": "password", "relevant": ["reset-password"]}]}"#)
            #expect(one.status == .ok, "\(one.text)")
            let many = (0..<60).map { #"{"text": "password \#($0)", "relevant": ["reset-password"]}"# }.joined(separator: ",")
            expectError(
                try await client.send(.post, "/v1/collections/c/evaluate", json: #"{"queries": [\#(many)]}"#), .contentTooLarge,
                code: "limit_exceeded", messageContains: "max_response_bytes")
        }
    }

    @Test("query validation and limits: 422 naming the field, 413 naming the limit, 404 for unknown collections")
    func queryValidation() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url) {
            $0.limits.maxK = 50
            $0.limits.maxEf = 64
            $0.limits.maxTextBytes = 200
            $0.limits.maxBatchInputs = 6
        }
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client, "c")
            let path = "/v1/collections/c/query"
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "k": 0}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "k must be at least 1")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "k": 51}"#), .contentTooLarge,
                code: "limit_exceeded", messageContains: "max_k")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "ef": 65}"#), .contentTooLarge,
                code: "limit_exceeded", messageContains: "max_ef")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "ef": -1}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "ef")
            expectError(
                try await client.send(.post, path, json: #"{"text": "\#(String(repeating: "z", count: 201))"}"#),
                .contentTooLarge, code: "limit_exceeded", messageContains: "max_text_bytes")
            expectError(
                try await client.send(.post, path, json: #"{"text": ""}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "text must not be empty")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "vector": [1]}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "exactly one")
            expectError(
                try await client.send(.post, path, json: #"{"k": 3}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "exactly one")
            expectError(
                try await client.send(.post, path, json: #"{"vector": [1, 2]}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "384")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "filter": {"x": {"near": 1}}}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "filter")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "include": ["everything"]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "include")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "k": 1e30}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "number does not fit")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "k": "ten"}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "k")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "max_staleness_ms": -1}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "max_staleness_ms must be between 0 and 86400000")
            expectError(
                try await client.send(.post, path, json: #"{"text": "a", "wait_ms": 10}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "wait_ms applies with min_seq or max_staleness_ms only")
            // A bound this server meets: answered, its lag reported.
            let bounded = try await client.send(.post, path, json: #"{"text": "a", "max_staleness_ms": 60000, "wait_ms": 2000}"#)
            #expect(bounded.status == .ok)
            let index = try bounded.json()["index"] as? [String: Any]
            let lag = try #require(index?["lag_seconds"] as? Double)
            #expect(lag >= 0 && lag < 60)
            expectError(try await client.send(.post, path, json: "[1,"), .badRequest, code: "invalid_json")
            expectError(try await client.send(.post, path, json: ""), .badRequest, code: "invalid_json")
            expectError(
                try await client.send(.post, "/v1/collections/ghost/query", json: #"{"text": "a"}"#), .notFound,
                code: "not_found", messageContains: "ghost")
            expectError(
                try await client.send(.post, "/v1/collections/ghost/query", json: #"{"vector": [1]}"#), .notFound,
                code: "not_found")
            expectError(
                try await client.send(.post, "/v1/collections/c/recommend", json: #"{"positive": ["reset-password"], "k": 51}"#),
                .contentTooLarge, code: "limit_exceeded", messageContains: "max_k")

            let batch = "/v1/collections/c/query/batch"
            expectError(
                try await client.send(.post, batch, json: #"{"queries": []}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "queries must not be empty")
            expectError(
                try await client.send(
                    .post, batch, json: #"{"queries": [\#(Array(repeating: #"{"text": "a"}"#, count: 7).joined(separator: ","))]}"#),
                .contentTooLarge, code: "limit_exceeded", messageContains: "max_batch_inputs")
            expectError(
                try await client.send(.post, batch, json: #"{"queries": [{"text": "a"}, {"text": "b", "k": 0}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "queries[1].k")
            expectError(
                try await client.send(.post, batch, json: #"{"queries": [{"text": "a"}, {"vector": [1]}]}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "queries[1]")
        }
    }

    @Test("vectors by id and the paged export (NDJSON and raw float32), each tagged with the model fingerprint")
    func vectors() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        let fingerprint = try TestModel.fingerprint()
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            try await seed(client)
            let byID = try await client.send(
                .post, "/v1/collections/help/vectors", json: #"{"ids": ["export-data", "ghost", "reset-password"]}"#)
            #expect(byID.status == .ok, "\(byID.text)")
            let body = try byID.json()
            let items = try #require(body["vectors"] as? [[String: Any]])
            #expect(items.compactMap { $0["id"] as? String } == ["export-data", "reset-password"])
            #expect(items.allSatisfy { $0["model"] as? String == fingerprint && ($0["vector"] as? [Double])?.count == 384 })
            #expect(body["missing"] as? [String] == ["ghost"])
            expectError(
                try await client.send(.post, "/v1/collections/help/vectors", json: #"{"ids": []}"#),
                .unprocessableContent, code: "invalid_request", messageContains: "ids")
            // An unknown collection is a 404 here too (it once came back as a 500: found by
            // scripts/reliability/http_fuzz.py).
            expectError(
                try await client.send(.post, "/v1/collections/ghost/vectors", json: #"{"ids": ["a"]}"#),
                .notFound, code: "not_found")
            expectError(
                try await client.send(.post, "/v1/collections/..%2Fx/vectors", json: #"{"ids": ["a"]}"#),
                .unprocessableContent, code: "invalid_request")

            // NDJSON, two per page, following the cursor header.
            var cursor: String?
            var lines: [[String: Any]] = []
            var pages = 0
            repeat {
                let response = try await client.send(.get, "/v1/collections/help/vectors?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.headers[.contentType] == "application/x-ndjson")
                #expect(response.headers[QuiverHeader.model!] == fingerprint)
                for line in response.text.split(separator: "\n") {
                    lines.append(try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]))
                }
                cursor = QuiverHeader.nextCursor.flatMap { response.headers[$0] }
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 4, "6 vectors, 2 per page: the third page is full, so a fourth, empty one ends it")
            #expect(Set(lines.compactMap { $0["id"] as? String }) == Set(Corpus.documents.map(\.id)))
            #expect(lines.allSatisfy { $0["model"] as? String == fingerprint && ($0["vector"] as? [Double])?.count == 384 })

            // Raw float32: the same vectors, ids in a header.
            let raw = try await client.send(.get, "/v1/collections/help/vectors?format=f32&limit=10")
            #expect(raw.status == .ok)
            #expect(raw.headers[.contentType] == "application/octet-stream")
            #expect(raw.headers[QuiverHeader.model!] == fingerprint)
            #expect(raw.headers[QuiverHeader.count!] == "6")
            #expect(raw.headers[QuiverHeader.dimensions!] == "384")
            #expect(raw.headers[QuiverHeader.nextCursor!] == nil)
            let ids = try #require(raw.headers[QuiverHeader.ids!]).split(separator: ",").map { String($0).removingPercentEncoding ?? "" }
            #expect(ids.count == 6)
            let bytes = Array(raw.body.readableBytesView)
            #expect(bytes.count == 6 * 384 * 4)
            let ndjsonByID = Dictionary(
                uniqueKeysWithValues: lines.compactMap { line in
                    (line["id"] as? String).map { ($0, line["vector"] as? [Double] ?? []) }
                })
            for (row, id) in ids.enumerated() {
                let expected = try #require(ndjsonByID[id])
                for column in [0, 100, 383] {
                    let offset = (row * 384 + column) * 4
                    let bits =
                        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                        | UInt32(bytes[offset + 3]) << 24
                    #expect(Float(bitPattern: bits) == Float(expected[column]))
                }
            }

            expectError(
                try await client.send(.get, "/v1/collections/help/vectors?format=csv"), .unprocessableContent,
                code: "invalid_request", messageContains: "format")
            expectError(
                try await client.send(.get, "/v1/collections/help/vectors?limit=0"), .unprocessableContent,
                code: "invalid_request", messageContains: "limit")
            expectError(
                try await client.send(.get, "/v1/collections/help/vectors?limit=20000"), .contentTooLarge,
                code: "limit_exceeded", messageContains: "max_vector_ids")
            expectError(
                try await client.send(.get, "/v1/collections/help/vectors?cursor=abc"), .unprocessableContent,
                code: "invalid_request", messageContains: "cursor")
            expectError(try await client.send(.get, "/v1/collections/ghost/vectors"), .notFound, code: "not_found")
        }
    }
}
