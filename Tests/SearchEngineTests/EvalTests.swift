import Foundation
import Testing

@testable import SearchEngine

@Suite("Relevance evaluation (quiver eval)")
struct EvalTests {
    @Test("nDCG@10, recall@k, MRR@10 and P@1 match hand-computed values, graded and binary")
    func metrics() {
        // Relevant "a" (grade 2) at rank 3, "b" (grade 1) at rank 1; "c" (grade 1) not retrieved.
        let m = RelevanceMetrics(ranking: ["b", "x", "a", "y"], judgments: ["a": 2, "b": 1, "c": 1, "z": 0], k: 2)
        let dcg = 1 / log2(2.0) + 3 / log2(4.0)
        let ideal = 3 / log2(2.0) + 1 / log2(3.0) + 1 / log2(4.0)
        #expect(abs(m.ndcgAt10 - dcg / ideal) < 1e-12)
        #expect(m.recallAtK == 1.0 / 3)
        #expect(m.mrrAt10 == 1)
        #expect(m.precisionAt1 == 1)
        let missed = RelevanceMetrics(ranking: ["x", "y"], judgments: ["a": 1], k: 10)
        #expect(missed == RelevanceMetrics(ndcgAt10: 0, recallAtK: 0, mrrAt10: 0, precisionAt1: 0))
        let second = RelevanceMetrics(ranking: ["x", "a"], judgments: ["a": 1], k: 1)
        #expect(second.mrrAt10 == 0.5 && second.recallAtK == 0 && second.precisionAt1 == 0)
        #expect(RelevanceMetrics.mean([m, missed]).precisionAt1 == 0.5)
    }

    @Test("judged query lines: binary, graded, the query alias; empty text or no relevant id is refused")
    func lines() throws {
        func decode(_ line: String) throws -> JudgedQuery { try JSONDecoder().decode(JudgedQuery.self, from: Data(line.utf8)) }
        #expect(try decode(#"{"text":"q","relevant":["a","b"]}"#).judgments == ["a": 1, "b": 1])
        #expect(try decode(#"{"query":"q","relevant":{"a":2,"b":0}}"#) == JudgedQuery(text: "q", judgments: ["a": 2, "b": 0]))
        for bad in [
            #"{"text":"","relevant":["a"]}"#, #"{"text":"q","relevant":[]}"#, #"{"text":"q","relevant":{"a":0}}"#, #"{"relevant":["a"]}"#,
        ] {
            #expect(throws: DecodingError.self, "\(bad)") { try decode(bad) }
        }
    }

    @Test("quiver eval: a query that is a document's own text finds it first; a bad line names its number")
    func command() throws {
        let directory = try TemporaryDirectory("quiver-eval")
        _ = try TinyModel.make(seed: 41, in: directory.url)
        let model = directory.url.appendingPathComponent("tiny-41").path
        let data = directory.url.appendingPathComponent("data").path
        let texts = ["alpha beta gamma", "delta epsilon", "zeta eta theta iota", "kappa lambda mu", "nu xi omicron pi"]
        let documents = directory.url.appendingPathComponent("docs.jsonl")
        try texts.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# }.joined(separator: "\n")
            .write(to: documents, atomically: true, encoding: .utf8)
        let indexed = try runProcess(
            try quiverExecutable(), ["index", documents.path, "--collection", "c", "--data", data, "--model", model])
        try #require(indexed.status == 0, "\(indexed.stderr)")
        let queries = directory.url.appendingPathComponent("queries.jsonl")
        try texts.enumerated().map { #"{"text":"\#($0.element)","relevant":["d\#($0.offset)"]}"# }.joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        let run = try runProcess(
            try quiverExecutable(),
            [
                "eval", "--collection", "c", "--data", data, "--model", model, "--queries", queries.path, "--json",
                "--mode", "vector,keyword,hybrid,hybrid:weighted:0.3",
            ])
        try #require(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["query_count"] as? Int == 5)
        let configurations = try #require(report["configurations"] as? [[String: Any]])
        #expect(configurations.map { $0["mode"] as? String } == ["vector", "keyword", "hybrid", "hybrid"])
        #expect(configurations.map { $0["label"] as? String } == ["vector", "keyword", "hybrid", "hybrid(weighted, alpha 0.3)"])
        for configuration in configurations {
            let metrics = try #require(configuration["metrics"] as? [String: Double])
            #expect(
                metrics["precision@1"] == 1 && metrics["mrr@10"] == 1 && metrics["ndcg@10"] == 1 && metrics["recall@10"] == 1,
                "\(configuration)")
            #expect(configuration["generation"] as? String == "current")
            #expect((configuration["latency_ms"] as? [String: Double])?["p99"] != nil)
        }
        // Same scores everywhere: no difference, p = 1.
        let comparisons = try #require(report["comparisons"] as? [[String: Any]])
        #expect(comparisons.count == 3)
        #expect(comparisons.allSatisfy { $0["p_value"] as? Double == 1 && $0["same"] as? Int == 5 })
        let perQuery = try #require(report["queries"] as? [[String: Any]])
        let first = try #require(perQuery.first?["results"] as? [[String: Any]])
        #expect(first.count == 4 && first.allSatisfy { ($0["ranks"] as? [String: Int])?["d0"] == 1 })

        try (#"{"text":"alpha","relevant":["d0"]}"# + "\n{broken\n").write(to: queries, atomically: true, encoding: .utf8)
        let bad = try runProcess(
            try quiverExecutable(), ["eval", "--collection", "c", "--data", data, "--model", model, "--queries", queries.path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("queries.jsonl:2:"), "\(bad.stderr)")
    }
}
