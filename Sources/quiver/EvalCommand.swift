import ArgumentParser
import Foundation
import SearchEngine

/// `quiver eval --collection C --queries FILE [--mode vector,keyword,hybrid]`: ranking quality of a
/// collection on judged queries, per search mode, with paired significance tests.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a collection's ranking on judged queries: nDCG@10, recall@k, MRR@10, P@1, latency, per mode.",
        discussion: """
            Query file: JSONL, one {"text": "...", "relevant": ["id", ...]} per line, or graded
            {"text": "...", "relevant": {"id": 2, "id2": 1}}, with an optional "filter" ("query" is
            accepted for "text"). Every query runs in every mode given; each mode after the first is
            compared with the first on nDCG@10 by a paired randomization test (10,000 sign flips):
            p < 0.05 means the difference is unlikely to be chance on this query set.
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    @Option(help: "JSONL file of judged queries.") var queries: String?
    @Option(
        help: ArgumentHelp(
            "Where judgments come from instead of --queries: feedback (users' judgments in the collection's query log).",
            valueName: "SOURCE"))
    var judgments: String?
    @Option(
        help:
            "Comma-separated modes: vector, keyword, hybrid (the default fusion: weighted, alpha 0.5), hybrid:rrf:K, hybrid:weighted:ALPHA."
    )
    var mode = "vector"
    @Option(
        help: """
            Comma-separated generations: current, candidate. Every mode runs on each; the candidate \
            (quiver index --model M --candidate) is searched through an index built for this run.
            """)
    var generation = "current"
    @Option(
        name: .customLong("candidate-model"),
        help: "Model folder of the candidate generation, loaded beside --model (needed when the two differ).")
    var candidateModel: String?
    @Option(name: .short, help: "Hits per query for recall@k (at least 10 are fetched for nDCG@10 and MRR@10).") var k = 10
    @Option(help: "HNSW candidate list size.") var ef: Int?
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() async throws {
        guard (1...SearchEngine.kRange.upperBound).contains(k) else { throw ValidationError("-k must be in 1...1000") }
        let configurations = try Self.configurations(mode, generations: generation)
        let engine: SearchEngine
        let name = collection.collection
        let handle: CollectionHandle
        let judged: [JudgedQuery]
        switch (queries, judgments) {
        case (let file?, nil):
            judged = try Self.read(file)
            guard !judged.isEmpty else { throw CLIError("\(file): no queries") }
            engine = try data.engine(model: model, also: candidateModel.map { [$0] } ?? [])
            handle = try cli { () throws(SearchEngineError) in try engine.collection(name) }
        case (nil, "feedback"?):
            engine = try data.engine(model: model, also: candidateModel.map { [$0] } ?? [])
            handle = try cli { () throws(SearchEngineError) in try engine.collection(name) }
            let fromFeedback = try cli { () throws(SearchEngineError) in try handle.feedbackJudgments() }
            judged = fromFeedback.queries
            if fromFeedback.skipped > 0 {
                printError("\(fromFeedback.skipped) questions with feedback left out (no helpful document, or logged as a hash)")
            }
            guard !judged.isEmpty else {
                throw CLIError("\(name): no feedback with a helpful document in the query log (turn query_log on; clients send feedback)")
            }
        case (nil, let other?):
            throw ValidationError("--judgments: the only source is feedback (got \"\(other)\")")
        default:
            throw ValidationError("give --queries FILE or --judgments feedback (one of them)")
        }
        let report: EvaluationReport
        do {
            report = try await handle.evaluate(
                judged, configurations: configurations, k: k, ef: ef, embedder: ModelQueryEmbedder(engine: engine))
        } catch let error as SearchEngineError {
            throw CLIError(error.description)
        }
        if json {
            print(try jsonLine(report))
            return
        }
        print("\(name): \(report.queryCount) queries, k \(k)")
        let width = max(8, report.configurations.map(\.label.count).max() ?? 0)
        func pad(_ text: String) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        print("  \(pad("mode"))  nDCG@10  recall@\(k)  MRR@10    P@1   p50 ms   p99 ms")
        for result in report.configurations {
            let m = result.metrics
            print(
                "  \(pad(result.label))"
                    + String(
                        format: "  %7.3f  %9.3f  %6.3f  %5.3f  %7.2f  %7.2f", m["ndcg@10"] ?? 0, m["recall@\(k)"] ?? 0, m["mrr@10"] ?? 0,
                        m["precision@1"] ?? 0, result.latencyMs["p50"] ?? 0, result.latencyMs["p99"] ?? 0))
        }
        for comparison in report.comparisons {
            print(
                "  \(comparison.b) vs \(comparison.a): nDCG@10 "
                    + String(format: "%+.3f (p = %.4f)", comparison.meanDifference, comparison.pValue)
                    + ", better on \(comparison.better), worse on \(comparison.worse), same on \(comparison.same)")
        }
        for (index, result) in report.configurations.enumerated() {
            let missed = report.queries.filter { $0.results[index].ranks.values.allSatisfy { $0 == nil } }
            guard !missed.isEmpty else { continue }
            print("  \(result.label): no relevant document in the first \(k) for \(missed.count) queries, e.g.:")
            for query in missed.prefix(5) { print("    \(query.text)") }
        }
    }

    /// The configurations named by `--mode`, each on every generation of `--generation`
    /// (generation by generation, so the first configuration is the current generation's first
    /// mode and the comparisons are against it).
    static func configurations(_ text: String, generations: String) throws -> [EvaluationConfiguration] {
        var chosen: [GenerationChoice] = []
        for item in generations.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let generation = GenerationChoice(rawValue: item) else {
                throw ValidationError("--generation: unknown generation \"\(item)\" (current, candidate)")
            }
            if !chosen.contains(generation) { chosen.append(generation) }
        }
        guard !chosen.isEmpty else { throw ValidationError("--generation: give current, candidate or both") }
        let modes = try configurations(text)
        return chosen.flatMap { generation in
            modes.map { EvaluationConfiguration(mode: $0.mode, fusion: $0.fusion, generation: generation == .current ? nil : generation) }
        }
    }

    /// The configurations named by `--mode`.
    static func configurations(_ text: String) throws -> [EvaluationConfiguration] {
        var configurations: [EvaluationConfiguration] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let parts = item.split(separator: ":").map(String.init)
            guard let first = parts.first, let mode = SearchMode(rawValue: first) else {
                throw ValidationError("--mode: unknown mode \"\(item)\" (vector, keyword, hybrid, hybrid:rrf:K, hybrid:weighted:ALPHA)")
            }
            var fusion: Fusion?
            if parts.count > 1 {
                guard mode == .hybrid, parts.count == 3, let value = Double(parts[2]) else {
                    throw ValidationError("--mode: \"\(item)\" is not hybrid:rrf:K or hybrid:weighted:ALPHA")
                }
                switch parts[1] {
                case "rrf": fusion = Fusion(method: .rrf, k: value)
                case "weighted": fusion = Fusion(method: .weighted, alpha: value)
                default: throw ValidationError("--mode: unknown fusion \"\(parts[1])\" (rrf, weighted)")
                }
                do { try fusion?.validate() } catch { throw ValidationError("--mode: \(error)") }
            }
            configurations.append(EvaluationConfiguration(mode: mode, fusion: fusion))
        }
        guard !configurations.isEmpty else { throw ValidationError("--mode: give at least one mode") }
        return configurations
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
