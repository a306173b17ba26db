import DocumentStore
import Foundation
import Testing

@testable import SearchEngine

@Suite("Query log, feedback and insights in the engine")
struct QueryLogEngineTests {
    /// A collection "c" of 40 tiny-model documents in an engine that logs (a server's) or not.
    func withCollection(logs: Bool = true, _ body: (SearchEngine, CollectionHandle, [String]) throws -> Void) throws {
        let directory = try TemporaryDirectory("quiver-querylog")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let engine = try makeEngine(directory.url, models: [model], logsQueries: logs)
        try engine.createCollection(CollectionOptions(name: "c"))
        let texts = (0..<40).map { TinyModel.text($0 * 7919 + 13, words: 8) }
        _ = try engine.upsert(collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        try body(engine, try engine.collection("c"), texts)
    }

    func words(_ text: String) -> String { text.split(separator: " ").prefix(5).joined(separator: " ") }

    @Test("off by default; on, text queries get a query_id and are logged with their hits; vector and id queries are not")
    func logging() throws {
        try withCollection { engine, handle, texts in
            let question = words(texts[3])
            #expect(try handle.query(QueryRequest(text: question, k: 3)).queryID == nil)
            #expect(try handle.insights().queries == 0)
            let logPath = handle.follower.files.queryLogPath
            #expect(!FileManager.default.fileExists(atPath: logPath))

            try handle.updateTuning(["query_log": .bool(true)])
            let answer = try handle.query(QueryRequest(text: question, k: 3))
            let queryID = try #require(answer.queryID)
            #expect(queryID.count == 32)
            let keyword = try handle.query(QueryRequest(text: question, k: 3, mode: .keyword))
            #expect(keyword.queryID != nil && keyword.queryID != queryID)
            #expect(try handle.query(QueryRequest(id: "d1", k: 3)).queryID == nil)
            #expect(try handle.query(QueryRequest(vector: [Float](repeating: 0.1, count: 8), k: 3)).queryID == nil)

            // Feedback on a logged query; the latest judgment of a document wins.
            try handle.addFeedback(queryID: queryID, id: "d3", helpful: true)
            try handle.addFeedback(queryID: queryID, id: "d9", helpful: true)
            try handle.addFeedback(queryID: queryID, id: "d9", helpful: false)
            #expect(
                throws: SearchEngineError.notFound(
                    "query_id \"0123\" is not in the query log of \"c\" (the log is off, or the query is past its retention)")
            ) {
                try handle.addFeedback(queryID: "0123", id: "d3", helpful: true)
            }
            #expect(throws: SearchEngineError.self) { try handle.addFeedback(queryID: "", id: "d3", helpful: true) }
            #expect(throws: SearchEngineError.self) { try handle.addFeedback(queryID: queryID, id: "a\u{0}b", helpful: true) }
            #expect(throws: SearchEngineError.self) {
                try handle.addFeedback(queryID: String(repeating: "a", count: 65), id: "d3", helpful: true)
            }

            let report = try handle.insights()
            #expect(report.queries == 2)
            #expect(report.topQueries.first?.text == question && report.topQueries.first?.count == 2)
            #expect(report.feedback.helpful == 1 && report.feedback.unhelpful == 1)
            let ids = answer.results.map(\.id)
            for id in ids { #expect(report.topDocuments.contains { $0.id == id }) }
            #expect(FileManager.default.fileExists(atPath: logPath))

            // Feedback becomes judged queries for quiver eval.
            let judged = try handle.feedbackJudgments()
            #expect(judged.queries == [JudgedQuery(text: question, judgments: ["d3": 1])])
            #expect(judged.skipped == 0)

            // Hashed texts: counted and grouped, never stored, and not usable as judgments.
            try handle.updateTuning(["query_log_text": .string("hash")])
            let hashed = try #require(try handle.query(QueryRequest(text: "Secret Customer Name", k: 3)).queryID)
            try handle.addFeedback(queryID: hashed, id: "d1", helpful: true)
            let after = try handle.insights()
            #expect(after.queries == 3)
            let secret = try #require(after.topQueries.first { $0.count == 1 && $0.text == nil })
            #expect(secret.key.count == 32)
            let bytes =
                try Data(contentsOf: URL(fileURLWithPath: logPath))
                + ((try? Data(contentsOf: URL(fileURLWithPath: logPath + "-wal"))) ?? Data())
            #expect(bytes.range(of: Data("Secret Customer Name".utf8)) == nil)
            #expect(try handle.feedbackJudgments().skipped == 1)

            // Turned off: no more logging; what was logged stays readable.
            try handle.updateTuning(["query_log": .bool(false)])
            #expect(try handle.query(QueryRequest(text: question, k: 3)).queryID == nil)
            #expect(try handle.insights().queries == 3)
            #expect(throws: SearchEngineError.self) { try handle.insights(since: .infinity) }
            #expect(throws: SearchEngineError.self) { try handle.insights(since: Date().timeIntervalSince1970 + 3600) }
            _ = engine
        }
    }

    @Test("quiver insights and quiver eval --judgments feedback read the log a server wrote")
    func commandLine() throws {
        let directory = try TemporaryDirectory("quiver-querylog-cli")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let modelFolder = directory.url.appendingPathComponent("tiny-9").path
        let data = directory.url.appendingPathComponent("data")
        let engine = try makeEngine(data, models: [model], logsQueries: true)
        try engine.createCollection(CollectionOptions(name: "c"))
        let texts = (0..<30).map { TinyModel.text($0 * 7919 + 13, words: 8) }
        _ = try engine.upsert(collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        let handle = try engine.collection("c")
        try handle.updateTuning(["query_log": .bool(true)])
        for i in 0..<4 {
            let id = try #require(try handle.query(QueryRequest(text: words(texts[i]), k: 5)).queryID)
            try handle.addFeedback(queryID: id, id: "d\(i)", helpful: true)
        }
        func quiver(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runProcess(try quiverExecutable(), arguments + ["--data", data.path])
        }
        var result = try quiver(["insights", "-c", "c", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["queries"] as? Int == 4)
        result = try quiver(["insights", "-c", "c"])
        #expect(result.status == 0 && result.stdout.contains("c: 4 queries") && result.stdout.contains("Most asked:"), "\(result.stdout)")
        result = try quiver(["insights", "-c", "c", "--since", "soon"])
        #expect(result.status != 0 && result.stderr.contains("--since"), "\(result.stderr)")
        result = try quiver(["eval", "-c", "c", "--judgments", "feedback", "--model", modelFolder, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(evaluation["query_count"] as? Int == 4, "\(result.stdout)")
        result = try quiver(["eval", "-c", "c", "--judgments", "clicks", "--model", modelFolder])
        #expect(result.status != 0 && result.stderr.contains("--judgments"), "\(result.stderr)")
        result = try quiver(["eval", "-c", "c", "--model", modelFolder])
        #expect(result.status != 0 && result.stderr.contains("--queries FILE or --judgments feedback"), "\(result.stderr)")
    }

    @Test("shadow traffic: a live query answered by the candidate too, summarized with the feedback on the live answer")
    func shadowTraffic() async throws {
        let directory = try TemporaryDirectory("quiver-shadow")
        let old = try TinyModel.make(seed: 11, in: directory.url)
        let new = try TinyModel.make(seed: 22, in: directory.url)
        let engine = try makeEngine(directory.url, models: [new, old], logsQueries: true)
        try engine.createCollection(CollectionOptions(name: "c", model: old.id))
        let texts = (0..<60).map { TinyModel.text($0 * 7 + 3) }
        _ = try engine.upsert(collection: "c", documents: texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        let handle = try engine.collection("c")
        let embedder = ModelQueryEmbedder(engine: engine)
        try handle.updateTuning(["query_log": .bool(true)])
        #expect(!handle.drawsShadow())
        let request = QueryRequest(text: texts[4], k: 5, mode: .vector)
        let first = try await handle.query(request, embedder: embedder)
        // No candidate: nothing is recorded, nothing fails.
        await handle.shadow(request, answer: first, embedder: embedder, limits: .engine)
        #expect(try handle.insights().shadow.isEmpty)

        _ = try handle.beginModelChange(candidate: true)
        #expect(try handle.completeModelChange(batchSize: 64) == nil)
        try handle.updateTuning(["shadow_rate": .number(1)])
        _ = try handle.query(QueryRequest(text: texts[0], k: 1, mode: .vector))  // reads the state, and the new setting
        #expect(handle.drawsShadow())
        for i in [4, 9, 14] {
            let live = QueryRequest(text: texts[i], k: 5, mode: .vector)
            let answer = try await handle.query(live, embedder: embedder)
            #expect(answer.index.generation == 1)
            try handle.addFeedback(queryID: try #require(answer.queryID), id: "d\(i)", helpful: true)
            await handle.shadow(live, answer: answer, embedder: embedder, limits: .engine)
        }
        // A query that named the candidate is not shadowed.
        let named = QueryRequest(text: texts[5], k: 5, mode: .vector, generation: .candidate)
        await handle.shadow(named, answer: try await handle.query(named, embedder: embedder), embedder: embedder, limits: .engine)
        let summaries = try handle.insights().shadow
        let summary = try #require(summaries.first)
        #expect(summaries.count == 1)
        #expect(summary.candidateGeneration == 2 && summary.currentGeneration == 1 && summary.queries == 3)
        #expect(
            (0...1).contains(summary.meanOverlap) && summary.overlapP10 <= summary.overlapP50 && summary.overlapP50 <= summary.overlapP90)
        #expect(summary.judged == 3)
        #expect(summary.ndcgCurrent.map { (0...1).contains($0) } == true && summary.ndcgCandidate.map { (0...1).contains($0) } == true)
        #expect(throws: SearchEngineError.self) { try handle.updateTuning(["shadow_rate": .number(1.5)]) }
    }

    @Test("a one-shot command's engine never logs, whatever the setting")
    func commandsDoNotLog() throws {
        try withCollection(logs: false) { _, handle, texts in
            try handle.updateTuning(["query_log": .bool(true)])
            #expect(try handle.query(QueryRequest(text: words(texts[0]), k: 3)).queryID == nil)
            #expect(try handle.insights().queries == 0)
        }
    }

    @Test("query log settings are checked: on/off, text mode, retention in days and queries")
    func settings() throws {
        try withCollection { _, handle, _ in
            let set = try handle.updateTuning([
                "query_log": .bool(true), "query_log_text": .string("redact"), "query_log_retention_days": .number(7),
                "query_log_max_queries": .number(5000),
            ])
            #expect(set.logsQueries && set.effectiveQueryLogText == .redact)
            #expect(set.effectiveRetentionDays == 7 && set.effectiveMaxLoggedQueries == 5000)
            for bad: [String: JSONValue] in [
                ["query_log": .string("yes")], ["query_log_text": .string("encrypt")], ["query_log_retention_days": .number(0)],
                ["query_log_retention_days": .number(1.5)], ["query_log_max_queries": .number(1e12)],
                ["query_log_max_queries": .number(99)],
            ] {
                #expect(throws: SearchEngineError.self) { try handle.updateTuning(bad) }
            }
            #expect(try handle.tuning() == set)
            let report = CollectionSettingsReport(try handle.tuning())
            #expect(report.queryLog && report.queryLogText == "redact" && report.queryLogRetentionDays == 7)
        }
    }
}
