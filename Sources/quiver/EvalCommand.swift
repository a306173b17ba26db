import ArgumentParser
import Foundation
import SearchEngine

/// `quiver eval --collection C --queries FILE`: ranking quality of a collection on judged queries.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a collection's ranking on judged queries: nDCG@10, recall@k, MRR@10, P@1, latency, rank per relevant id.",
        discussion: """
            Query file: JSONL, one {"text": "...", "relevant": ["id", ...]} per line, or graded
            {"text": "...", "relevant": {"id": 2, "id2": 1}}, with an optional "filter" ("query" is
            accepted for "text"). Vector search only for now: keyword and hybrid modes, candidate
            generations and paired significance tests come with the keyword index.
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    @Option(help: "JSONL file of judged queries.") var queries: String
    @Option(name: .short, help: "Hits per query for recall@k (at least 10 are fetched for nDCG@10 and MRR@10).") var k = 10
    @Option(help: "HNSW candidate list size.") var ef: Int?
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    struct PerQuery: Encodable {
        let text: String
        /// Rank (from 1) of each judged id among the hits; nil when not among them.
        let ranks: [String: Int?]
        let metrics: RelevanceMetrics
        let ms: Double
    }

    struct Report: Encodable {
        let collection: String
        let k: Int
        let mode = "vector"
        let queries: Int
        let metrics: RelevanceMetrics
        let latencyMs: [String: Double]
        let perQuery: [PerQuery]

        enum CodingKeys: String, CodingKey {
            case collection, k, mode, queries, metrics
            case latencyMs = "latency_ms"
            case perQuery = "per_query"
        }
    }

    func run() throws {
        guard (1...SearchEngine.kRange.upperBound).contains(k) else { throw ValidationError("-k must be in 1...1000") }
        let judged = try Self.read(queries)
        guard !judged.isEmpty else { throw CLIError("\(queries): no queries") }
        let engine = try data.engine(model: model)
        let name = collection.collection
        let handle = try cli { () throws(SearchEngineError) in try engine.collection(name) }
        let fetch = max(k, 10)
        var results: [PerQuery] = []
        for query in judged {
            let start = DispatchTime.now()
            let request = QueryRequest(text: query.text, k: fetch, ef: ef, filter: query.filter, withPayload: false)
            let response = try cli { () throws(SearchEngineError) in try handle.query(request) }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
            let ranking = response.results.map(\.id)
            var ranks: [String: Int?] = [:]
            for id in query.judgments.keys { ranks[id] = ranking.firstIndex(of: id).map { $0 + 1 } }
            results.append(
                PerQuery(
                    text: query.text, ranks: ranks, metrics: RelevanceMetrics(ranking: ranking, judgments: query.judgments, k: k), ms: ms))
        }
        let latencies = results.map(\.ms).sorted()
        func percentile(_ p: Double) -> Double {
            latencies[min(latencies.count - 1, max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1))]
        }
        let report = Report(
            collection: name, k: k, queries: results.count, metrics: .mean(results.map(\.metrics)),
            latencyMs: ["p50": percentile(0.5), "p99": percentile(0.99)], perQuery: results)
        if json {
            print(try jsonLine(report))
            return
        }
        let m = report.metrics
        print("\(name): \(report.queries) queries, vector search, k \(k)")
        print(
            String(
                format: "  nDCG@10 %.3f   recall@%d %.3f   MRR@10 %.3f   P@1 %.3f", m.ndcgAt10, k, m.recallAtK, m.mrrAt10, m.precisionAt1))
        print(String(format: "  latency p50 %.2f ms   p99 %.2f ms (embedding included)", percentile(0.5), percentile(0.99)))
        let missed = results.filter { $0.metrics.mrrAt10 == 0 }
        if !missed.isEmpty {
            print("  no relevant document in the first 10 for \(missed.count) queries:")
            for query in missed.prefix(10) { print("    \(query.text)") }
        }
    }

    /// The judged queries of `path`; a bad line stops with `FILE:LINE: reason`.
    static func read(_ path: String) throws -> [JudgedQuery] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw CLIError("\(path): cannot read: \(error)") }
        var judged: [JudgedQuery] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
            do {
                judged.append(try JSONDecoder().decode(JudgedQuery.self, from: Data(line)))
            } catch {
                throw CLIError("\(path):\(number + 1): \(Self.reason(error))")
            }
        }
        return judged
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context),
            DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
