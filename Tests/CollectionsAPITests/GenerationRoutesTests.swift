import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CollectionsAPI

@Suite("Candidate generations over HTTP: build, query, evaluate, promote, discard; candidate models loaded and dropped")
struct GenerationRoutesTests {
    /// A second model: the real one read 128 tokens at most (another fingerprint, other vectors
    /// for long texts). Its files are links to the real model's, apart from the pooling settings.
    static func shorterModel(in directory: URL) throws -> URL {
        let folder = directory.appendingPathComponent("minilm-128")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: TestModel.folder.path)
        for name in names where name != "sentence_bert_config.json" {
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent(name), withDestinationURL: TestModel.folder.appendingPathComponent(name))
        }
        try #"{"max_seq_length": 128, "do_lower_case": false}"#.write(
            to: folder.appendingPathComponent("sentence_bert_config.json"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Polls the collection's info until its build is no longer running; returns the build.
    func waitForBuild(_ client: some TestClientProtocol, _ name: String) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let info = try await client.send(.get, "/v1/collections/\(name)").json()
            if let build = info["build"] as? [String: Any], build["state"] as? String != "running" { return build }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the build did not finish")
        return [:]
    }

    func candidateModel(_ client: some TestClientProtocol) async throws -> [String: Any] {
        let info = try await client.send(.get, "/v1/info").json()
        return try #require((info["candidate_models"] as? [[String: Any]])?.first)
    }

    @Test("POST generations builds a candidate of another model; queries name it; discard drops it and its model; promote serves it")
    func candidateLifecycle() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let shorter = try Self.shorterModel(in: directory.url)
        let (app, _) = try makeApp(data: directory.url.appendingPathComponent("data"), queryCache: 0, candidateModels: [shorter])
        // Long texts (over 128 word pieces) embed differently with the shorter model.
        let texts = (0..<120).map { i in
            "Article \(i) about " + ["billing", "passwords", "exports", "printers", "refunds"][i % 5] + ". "
                + String(repeating: "Details of step \(i) for the topic, with more words to read. ", count: 20)
        }
        let documents = texts.enumerated().map { #"{"id": "d\#($0.offset)", "text": "\#($0.element)"}"# }.joined(separator: ",")
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "c"}"#).status == .created)
            #expect(try await client.send(.put, "/v1/collections/c/documents", json: #"{"documents": [\#(documents)]}"#).status == .ok)
            var offered = try await candidateModel(client)
            #expect(offered["id"] as? String == "minilm-128" && offered["loaded"] as? Bool == false)

            // Refusals: an unknown model, the model the collection uses, promote/discard without a candidate.
            expectError(
                try await client.send(.post, "/v1/collections/c/generations", json: #"{"model": "nope"}"#), .unprocessableContent,
                code: "invalid_request", messageContains: "unknown model")
            expectError(
                try await client.send(.post, "/v1/collections/c/generations", json: #"{}"#), .conflict, code: "conflict",
                messageContains: "already uses")
            expectError(try await client.send(.post, "/v1/collections/c/generations/promote", json: "{}"), .conflict, code: "conflict")
            expectError(try await client.send(.post, "/v1/collections/c/generations/discard", json: "{}"), .conflict, code: "conflict")
            expectError(
                try await client.send(.post, "/v1/collections/c/query", json: #"{"text": "billing", "generation": "candidate"}"#),
                .conflict, code: "conflict", messageContains: "no candidate")

            // Build: 202 at once, then the info's build reports it finished.
            let started = try await client.send(.post, "/v1/collections/c/generations", json: #"{"model": "minilm-128"}"#)
            #expect(started.status == .accepted, "\(started.text)")
            let generation = try #require(try started.json()["generation"] as? [String: Any])
            #expect(generation["generation"] as? Int == 2 && generation["candidate"] as? Bool == true)
            // While it is filled (120 long texts: seconds), nothing else touches its generations:
            // no second build, promote, discard or delete, and no query or evaluation of the
            // half-filled candidate.
            let during = [
                try await client.send(.post, "/v1/collections/c/generations", json: #"{"model": "minilm-128"}"#),
                try await client.send(.post, "/v1/collections/c/generations/promote", json: "{}"),
                try await client.send(.post, "/v1/collections/c/generations/discard", json: "{}"),
                try await client.send(.post, "/v1/collections/c/query", json: #"{"text": "refunds", "generation": "candidate"}"#),
                try await client.send(.delete, "/v1/collections/c"),
            ]
            for response in during {
                expectError(response, .conflict, code: "conflict", messageContains: "being built")
            }
            let build = try await waitForBuild(client, "c")
            #expect(build["state"] as? String == "finished" && build["done"] as? Int == 120, "\(build)")
            offered = try await candidateModel(client)
            #expect(offered["loaded"] as? Bool == true && (offered["weight_bytes"] as? Int ?? 0) > 50_000_000, "\(offered)")

            // Queries name a generation; the current one stays the default.
            let query = #"{"text": "\#(texts[7])", "k": 3, "mode": "vector", "with_payload": false"#
            let current = try await client.send(.post, "/v1/collections/c/query", json: query + "}").json()
            let candidate = try await client.send(.post, "/v1/collections/c/query", json: query + #", "generation": "candidate"}"#).json()
            #expect((current["index"] as? [String: Any])?["generation"] as? Int == 1)
            #expect((candidate["index"] as? [String: Any])?["generation"] as? Int == 2)
            #expect((candidate["model"] as? [String: Any])?["id"] as? String == "minilm-128")
            let currentTop = try #require((current["results"] as? [[String: Any]])?.first)
            let candidateTop = try #require((candidate["results"] as? [[String: Any]])?.first)
            #expect(currentTop["id"] as? String == "d7" && candidateTop["id"] as? String == "d7")
            // The texts are over 128 word pieces: the two models' document vectors differ, so a
            // short query scores them differently.
            let short = #"{"text": "exports", "k": 1, "mode": "vector", "with_payload": false"#
            let a = try #require(
                ((try await client.send(.post, "/v1/collections/c/query", json: short + "}").json()["results"] as? [[String: Any]])?
                    .first)?["score"] as? Double)
            let b = try #require(
                ((try await client.send(.post, "/v1/collections/c/query", json: short + #", "generation": "candidate"}"#).json()["results"]
                    as? [[String: Any]])?.first)?["score"] as? Double)
            #expect(abs(a - b) > 1e-3, "\(a) \(b)")
            let batch = try await client.send(
                .post, "/v1/collections/c/query/batch",
                json: #"{"queries": [{"text": "refunds", "generation": "candidate"}, {"text": "refunds"}]}"#
            ).json()
            let generations = (batch["results"] as? [[String: Any]])?.map { ($0["index"] as? [String: Any])?["generation"] as? Int }
            #expect(generations == [2, 1])

            // Shadow traffic: with shadow_rate 1 every live text query is answered by the
            // candidate too, after its answer; the insights summarize the two. Each live query
            // waits for its shadow: a shadow drawn while two run is skipped (by design), and on a
            // loaded machine the candidate's answers can lag the live ones.
            let patched = try await client.send(.patch, "/v1/collections/c", json: #"{"shadow_rate": 1, "query_log": true}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            var counted = 0
            for (n, topic) in ["billing", "passwords", "printers"].enumerated() {
                let live = try await client.send(.post, "/v1/collections/c/query", json: #"{"text": "\#(topic)", "k": 5}"#)
                #expect((try live.json()["index"] as? [String: Any])?["generation"] as? Int == 1)
                // The counter moves right after a comparison is recorded.
                let deadline = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < deadline {
                    if try await client.send(.get, "/metrics").text.contains(#"quiver_shadow_queries_total{collection="c"} \#(n + 1)"#) {
                        counted = n + 1
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(counted == 3)
            // The insights read the log as flushed by the follower's next cycle.
            var shadow: [String: Any] = [:]
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let report = try await client.send(.get, "/v1/collections/c/insights").json()
                if let first = (report["shadow"] as? [[String: Any]])?.first, first["queries"] as? Int == 3 {
                    shadow = first
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(shadow["candidate_generation"] as? Int == 2 && shadow["current_generation"] as? Int == 1, "\(shadow)")
            #expect((shadow["mean_overlap_at_10"] as? Double).map { (0...1).contains($0) } == true, "\(shadow)")
            #expect(try await client.send(.patch, "/v1/collections/c", json: #"{"shadow_rate": null}"#).status == .ok)

            let evaluation = try await client.send(
                .post, "/v1/collections/c/evaluate",
                json:
                    #"{"queries": [{"text": "\#(texts[3])", "relevant": ["d3"]}], "configurations": [{"mode": "vector"}, {"mode": "vector", "generation": "candidate"}]}"#
            ).json()
            let labels = (evaluation["configurations"] as? [[String: Any]])?.map { $0["generation"] as? String }
            #expect(labels == ["current", "candidate"])

            // Discard: the candidate and its model go.
            let discarded = try await client.send(.post, "/v1/collections/c/generations/discard", json: "{}")
            #expect(discarded.status == .ok, "\(discarded.text)")
            #expect((try discarded.json()["generations"] as? [[String: Any]])?.count == 1)
            offered = try await candidateModel(client)
            #expect(offered["loaded"] as? Bool == false, "\(offered)")

            // Again, then promote: the collection is served by the candidate's model, writes too.
            #expect(try await client.send(.post, "/v1/collections/c/generations", json: #"{"model": "minilm-128"}"#).status == .accepted)
            #expect(try await waitForBuild(client, "c")["state"] as? String == "finished")
            let promoted = try await client.send(.post, "/v1/collections/c/generations/promote", json: "{}")
            #expect(promoted.status == .ok, "\(promoted.text)")
            #expect((try promoted.json()["model"] as? [String: Any])?["id"] as? String == "minilm-128")
            let written = try await client.send(
                .put, "/v1/collections/c/documents", json: #"{"documents": [{"id": "new", "text": "a note about quantum bananas"}]}"#)
            #expect(written.status == .ok, "\(written.text)")
            let found = try await client.send(.post, "/v1/collections/c/query", json: #"{"text": "quantum bananas", "k": 1}"#).json()
            #expect(((found["results"] as? [[String: Any]])?.first)?["id"] as? String == "new")
            #expect((found["model"] as? [String: Any])?["id"] as? String == "minilm-128")
            offered = try await candidateModel(client)
            #expect(offered["loaded"] as? Bool == true)
        }
    }

    @Test("a server without the candidate's model refuses to promote it (it could not serve it) and answers its text queries 409")
    func promoteNeedsTheModel() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let shorter = try Self.shorterModel(in: directory.url)
        let data = directory.url.appendingPathComponent("data")
        let documents = (0..<20).map { #"{"id": "d\#($0)", "text": "note \#($0) about printers and refunds"}"# }.joined(separator: ",")
        // A candidate of the shorter model, built by a server that has it.
        let (builder, _) = try makeApp(data: data, queryCache: 0, candidateModels: [shorter])
        try await builder.test(.router) { client in
            try await client.waitUntilReady()
            #expect(try await client.send(.post, "/v1/collections", json: #"{"name": "c"}"#).status == .created)
            #expect(try await client.send(.put, "/v1/collections/c/documents", json: #"{"documents": [\#(documents)]}"#).status == .ok)
            #expect(try await client.send(.post, "/v1/collections/c/generations", json: #"{"model": "minilm-128"}"#).status == .accepted)
            #expect(try await waitForBuild(client, "c")["state"] as? String == "finished")
        }
        // A server started without it.
        let (plain, _) = try makeApp(data: data, queryCache: 0)
        try await plain.test(.router) { client in
            try await client.waitUntilReady()
            expectError(
                try await client.send(.post, "/v1/collections/c/generations/promote", json: "{}"), .conflict, code: "conflict",
                messageContains: "cannot embed with the candidate's model")
            expectError(
                try await client.send(.post, "/v1/collections/c/query", json: #"{"text": "refunds", "generation": "candidate"}"#),
                .conflict, code: "conflict")
            // Keyword mode needs no model, and the current generation is untouched.
            let keyword = try await client.send(
                .post, "/v1/collections/c/query", json: #"{"text": "refunds", "mode": "keyword", "generation": "candidate"}"#)
            #expect(keyword.status == .ok, "\(keyword.text)")
            let info = try await client.send(.get, "/v1/collections/c").json()
            #expect((info["index"] as? [String: Any])?["generation"] as? Int == 1)
            #expect(try await client.send(.post, "/v1/collections/c/generations/discard", json: "{}").status == .ok)
        }
    }
}
