import Foundation
import Testing

@testable import QueryLog

@Suite("Query log, feedback and insights")
struct QueryLogTests {
    func withLog(_ body: (QueryLogFile) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-querylog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(try QueryLogFile(path: directory.appendingPathComponent("querylog.sqlite").path))
    }

    func query(
        _ id: String, at: Double, text: String, log: QueryLogFile, answered: Bool? = true, confidence: Float? = 0.9,
        hits: [String] = ["a", "b"], vector: [Float]? = nil
    ) -> LoggedQuery {
        let kept = log.kept(text, mode: .plain)
        return LoggedQuery(
            queryID: id, at: at, generation: 1, mode: "hybrid", text: kept.text, textKey: kept.key, k: 10,
            hits: hits.enumerated().map { LoggedHit(id: $1, score: 1 - Float($0) / 10) }, answered: answered,
            confidence: confidence, latencyMs: 3.5, vector: vector)
    }

    @Test("queries round-trip exactly: hits, verdict, vector, absent fields; an id logged twice keeps the first")
    func roundTrip() throws {
        try withLog { log in
            let full = query("q1", at: 100, text: "Reset my password", log: log, vector: [0.5, -1, 3e-8, .greatestFiniteMagnitude])
            var bare = query("q2", at: 101, text: "x", log: log, answered: nil, confidence: nil, hits: [])
            bare.mode = "keyword"
            try log.append([full, bare])
            var again = full
            again.text = "changed"
            try log.append([again])
            #expect(try log.query("q1") == full)
            #expect(try log.query("q2") == bare)
            #expect(try log.query("nope") == nil)
            #expect(try log.queries(since: 0, limit: 10) == [full, bare])
            #expect(try log.queries(since: 100.5, limit: 10) == [bare])
            // The newest `limit`, oldest first.
            #expect(try log.queries(since: 0, limit: 1) == [bare])
            #expect(try log.count() == 2)
            // Only the first hits are kept.
            let many = query("q3", at: 102, text: "y", log: log, hits: (0..<25).map { "d\($0)" })
            try log.append([many])
            #expect(try log.query("q3")?.hits.map(\.id) == (0..<QueryLogFile.keptHits).map { "d\($0)" })
        }
    }

    @Test("texts: plain as asked, redacted without e-mails and long numbers, hashed not at all; one key per question")
    func textModes() throws {
        try withLog { log in
            let asked = "Order 123456 for bob@example.com, code E42 on 2024"
            #expect(log.kept(asked, mode: .plain).text == asked)
            #expect(log.kept(asked, mode: .redact).text == "Order [number] for [email] code E42 on [number]")
            #expect(log.kept(asked, mode: .hash).text == nil)
            let key = log.kept("Reset  my PASSWORD", mode: .hash).key
            #expect(log.kept("reset my password", mode: .plain).key == key)
            #expect(log.kept(" reset\tmy password\n", mode: .redact).key == key)
            #expect(log.kept("reset my passwords", mode: .plain).key != key)
            #expect(QueryLogFile.redacted("call 555-1234 or 5551234567 at 9am") == "call 555-[number] or [number] at 9am")
            #expect(QueryLogFile.redacted("@handle and a@b") == "@handle and a@b")
        }
        // Keys are salted per file: the same question has another key in another log.
        var keys: [String] = []
        for _ in 0..<2 { try withLog { keys.append($0.kept("reset my password", mode: .hash).key) } }
        #expect(keys[0] != keys[1])
    }

    @Test("feedback: only for logged queries, the latest judgment wins, removed with its query by retention")
    func feedbackAndRetention() throws {
        try withLog { log in
            try log.append((0..<10).map { query("q\($0)", at: Double(100 + $0), text: "question \($0)", log: log) })
            #expect(try !log.addFeedback(Feedback(queryID: "missing", id: "a", helpful: true, at: 200)))
            #expect(try log.addFeedback(Feedback(queryID: "q1", id: "a", helpful: true, at: 200)))
            #expect(try log.addFeedback(Feedback(queryID: "q1", id: "a", helpful: false, at: 201)))
            #expect(try log.addFeedback(Feedback(queryID: "q8", id: "b", helpful: true, at: 202)))
            #expect(
                try log.feedback(since: 0) == [
                    Feedback(queryID: "q1", id: "a", helpful: false, at: 201), Feedback(queryID: "q8", id: "b", helpful: true, at: 202),
                ])
            // Older than 103 goes, then all but the newest 4.
            #expect(try log.prune(before: 103, keep: 4) == 6)
            #expect(try log.queries(since: 0, limit: 100).map(\.queryID) == ["q6", "q7", "q8", "q9"])
            #expect(try log.feedback(since: 0).map(\.queryID) == ["q8"])
        }
    }

    @Test("insights: counts over time, most asked, most returned with feedback, unanswered questions grouped by topic")
    func insights() throws {
        try withLog { log in
            let start = 1_700_000_000.0
            var queries: [LoggedQuery] = []
            // Two topics far apart in embedding space, each asked in rephrasings; plus answered traffic.
            for i in 0..<6 {
                queries.append(
                    query(
                        "billing\(i)", at: start + Double(i) * 600,
                        text: i % 2 == 0 ? "refund for a double charge" : "charged twice refund",
                        log: log, answered: false, confidence: 0.2, hits: ["pricing"], vector: [1, 0.05 * Float(i), 0, 0]))
            }
            for i in 0..<3 {
                queries.append(
                    query(
                        "sso\(i)", at: start + 4_000 + Double(i), text: "okta single sign on \(i)", log: log, answered: true,
                        confidence: 0.55, hits: ["login"], vector: [0, 0, 1, 0.1 * Float(i)]))
            }
            for i in 0..<5 {
                queries.append(
                    query(
                        "ok\(i)", at: start + 5_000 + Double(i), text: "Reset my password", log: log, answered: true, confidence: 0.95,
                        hits: ["reset", "login"], vector: [0, 1, 0, 0]))
            }
            queries.append(query("kw", at: start + 6_000, text: "E1234", log: log, answered: nil, confidence: nil, hits: ["errors"]))
            try log.append(queries)
            _ = try log.addFeedback(Feedback(queryID: "ok1", id: "reset", helpful: true, at: start + 7_000))
            _ = try log.addFeedback(Feedback(queryID: "billing0", id: "pricing", helpful: false, at: start + 7_001))
            let report = QueryInsights.make(
                queries: try log.queries(since: start, limit: 1000), feedback: try log.feedback(since: start), since: start,
                until: start + 3 * 3_600, lowConfidenceBelow: 0.6)
            #expect(report.queries == 15 && report.unanswered == 6 && report.lowConfidence == 3 && report.withoutVerdict == 1)
            #expect(report.bucketSeconds == 3_600)
            #expect(report.overTime.map(\.queries).reduce(0, +) == 15)
            #expect(report.overTime.map(\.unanswered).reduce(0, +) == 6)
            #expect(report.overTime.count == 4)
            #expect(report.topQueries.first?.text == "Reset my password" && report.topQueries.first?.count == 5)
            let billing = try #require(report.topQueries.first { $0.text == "refund for a double charge" })
            #expect(billing.count == 3 && billing.unanswered == 3)
            #expect(report.topDocuments.first?.id == "login" && report.topDocuments.first?.count == 8)
            #expect(report.topDocuments.first { $0.id == "reset" }?.helpful == 1)
            #expect(report.topDocuments.first { $0.id == "pricing" }?.unhelpful == 1)
            #expect(report.feedback == QueryInsights.FeedbackCounts(helpful: 1, unhelpful: 1))
            // Gaps: the billing group (6, unanswered) then the SSO group (3, low confidence); the
            // answered, confident queries are in none.
            #expect(report.gaps.map(\.size) == [6, 3])
            #expect(report.gaps[0].unanswered == 6 && report.gaps[0].topDocument == "pricing")
            #expect(Set(report.gaps[0].queries) == ["refund for a double charge", "charged twice refund"])
            #expect(report.gaps[1].unanswered == 0 && report.gaps[1].queries.count == 3)
            #expect(abs(report.gaps[1].meanConfidence - 0.55) < 1e-6)
        }
    }

    @Test("shadow comparisons round-trip and summarize: overlap@10, same first hit, score delta, nDCG on judged queries")
    func shadowSummary() throws {
        try withLog { log in
            func hits(_ ids: [String], top: Float = 0.9) -> [LoggedHit] {
                ids.enumerated().map { LoggedHit(id: $1, score: top - Float($0) / 100) }
            }
            let rows = [
                ShadowComparison(
                    at: 10, queryID: "q1", currentGeneration: 1, candidateGeneration: 2, current: hits(["a", "b", "c", "d"]),
                    candidate: hits(["b", "a", "c", "d"], top: 0.8)),
                ShadowComparison(
                    at: 11, queryID: nil, currentGeneration: 1, candidateGeneration: 2, current: hits(["a", "b"]),
                    candidate: hits(["x", "y"], top: 0.7)),
                ShadowComparison(
                    at: 12, queryID: "q3", currentGeneration: 1, candidateGeneration: 3, current: hits(["a"]), candidate: hits(["a"])),
            ]
            try log.append(shadow: rows)
            #expect(try log.shadow(since: 0, limit: 10) == rows)
            #expect(try log.shadow(since: 10.5, limit: 10) == Array(rows.dropFirst()))
            let feedback = [
                Feedback(queryID: "q1", id: "b", helpful: true, at: 20), Feedback(queryID: "q1", id: "a", helpful: false, at: 21),
            ]
            let summaries = ShadowSummary.make(try log.shadow(since: 0, limit: 10), feedback: feedback)
            #expect(summaries.map(\.candidateGeneration) == [3, 2])
            let two = summaries[1]
            #expect(two.queries == 2 && abs(two.meanOverlap - 0.5) < 1e-12 && two.sameFirst == 0)
            #expect(two.overlapP10 == 0 && two.overlapP90 == 1)
            #expect(abs(two.meanTopScoreDelta - (-0.15)) < 1e-6)
            // q1: "b" is the one helpful document: second for the current generation, first for the candidate.
            #expect(two.judged == 1)
            #expect(abs((two.ndcgCurrent ?? 0) - 1 / log2(3)) < 1e-12 && two.ndcgCandidate == 1)
            #expect(summaries[0].queries == 1 && summaries[0].sameFirst == 1 && summaries[0].judged == 0 && summaries[0].ndcgCurrent == nil)
            // Pruned with the queries' retention.
            try log.prune(before: 11.5, keep: 100)
            #expect(try log.shadow(since: 0, limit: 10).count == 1)
        }
    }

    @Test("insights never trap on odd periods or times")
    func oddTimes() {
        let at = [0, -1e300, 1e300, .nan, .infinity]
        let queries = at.enumerated().map { index, time in
            LoggedQuery(
                queryID: "q\(index)", at: time, generation: 1, mode: "vector", text: "t", textKey: "k", k: 1, hits: [],
                answered: false, confidence: 0.1, latencyMs: 1, vector: [.nan, 1])
        }
        for (since, until) in [(0.0, 0.0), (1e300, 0), (-1e300, 1e300), (0, Double.infinity)] {
            let report = QueryInsights.make(queries: queries, feedback: [], since: since, until: until, lowConfidenceBelow: 0.5)
            #expect(report.queries == at.count)
            #expect(report.overTime.count >= 1 && report.overTime.count <= 10_000)
        }
    }
}
