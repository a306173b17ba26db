import ArgumentParser
import Foundation
import SearchEngine

/// `quiver query "text" --collection NAME -k 10`: nearest documents, as a table or JSON.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Query a collection by text (or, with --input, one JSON query per line).")

    @Argument(help: "Query text (omit with --input).")
    var text: String?

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    @Option(name: .short, help: "Number of hits.")
    var k: Int = 10

    @Option(help: "HNSW candidate list size (recall vs speed).")
    var ef: Int?

    @Option(help: "Filter as JSON, e.g. '{\"lang\": \"en\", \"updated_at\": {\"gte\": \"2026-01-01T00:00:00Z\"}}'.")
    var filter: String?

    @Option(help: "JSONL queries {\"text\"} | {\"vector\"} | {\"id\"} (with optional k, ef, filter); '-' is standard input.")
    var input: String?

    @Flag(help: "Print JSON (one line per query) instead of a table.")
    var json = false

    @Flag(help: "Include each hit's text.")
    var includeText = false

    func run() throws {
        let engine = try data.engine(model: model)
        let name = collection.collection
        let parsedFilter: QueryFilter?
        do {
            parsedFilter = try filter.map { try JSONDecoder().decode(QueryFilter.self, from: Data($0.utf8)) }
        } catch {
            throw ValidationError("--filter is not a JSON object")
        }
        if let input {
            try runBatch(engine, input: input, filter: parsedFilter)
            return
        }
        guard let text else { throw ValidationError("give a query text or --input FILE") }
        let request = QueryRequest(text: text, k: k, ef: ef, filter: parsedFilter, include: includeText ? [.text] : nil)
        let response = try cli { () throws(SearchEngineError) in try engine.query(collection: name, request) }
        if json {
            print(try jsonLine(response))
        } else {
            print(QueryTable.render(response, showText: includeText))
        }
    }

    private struct Line: Decodable {
        var text: String?
        var vector: [Float]?
        var id: String?
        var k: Int?
        var ef: Int?
        var filter: QueryFilter?
        var include: [IncludeField]?
    }

    private func runBatch(_ engine: SearchEngine, input: String, filter: QueryFilter?) throws {
        let reader: LineReader
        if input == "-" {
            guard let file = fdopen(STDIN_FILENO, "r") else { throw CLIError("cannot read standard input") }
            reader = LineReader(file: file, name: "<stdin>", owned: false)
        } else {
            guard let file = fopen(input, "r") else { throw CLIError("cannot open \(input): \(String(cString: strerror(errno)))") }
            reader = LineReader(file: file, name: input, owned: true)
        }
        let name = collection.collection
        let decoder = JSONDecoder()
        var output = OutputBuffer()
        var latencies: [Double] = []
        var failed = 0
        let start = Date()
        while let bytes = reader.next() {
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let began = DispatchTime.now()
            do {
                let line = try decoder.decode(Line.self, from: Data(bytes))
                let request = QueryRequest(
                    text: line.text, vector: line.vector, id: line.id, k: line.k ?? k,
                    ef: line.ef ?? ef, filter: line.filter ?? filter, include: line.include)
                let response = try cli { () throws(SearchEngineError) in try engine.query(collection: name, request) }
                output.append(try jsonLine(response) + "\n")
            } catch {
                failed += 1
                let message = (error as? CLIError)?.description ?? "invalid query line"
                output.append(try jsonLine(["error": ["line": "\(reader.lineNumber)", "message": message]]) + "\n")
            }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds &- began.uptimeNanoseconds) / 1e6)
            output.flushIfLarge()
        }
        output.flush()
        let seconds = Date().timeIntervalSince(start)
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        printError(
            String(
                format: "%d queries (%d failed) in %.2f s: %.1f queries/s, latency p50 %.2f ms, p99 %.2f ms",
                latencies.count, failed, seconds, Double(latencies.count) / max(seconds, 1e-9),
                percentile(0.5), percentile(0.99)))
    }
}

/// The readable table of `quiver query`.
enum QueryTable {
    static func render(_ response: QueryResponse, showText: Bool) -> String {
        var lines = [pad("#", 3) + "  " + pad("score", 7) + "  " + pad("id", 24) + "  " + pad("title", 44) + "  age"]
        for (rank, hit) in response.results.enumerated() {
            let title = String((hit.title ?? "").replacingOccurrences(of: "\n", with: " ").prefix(44))
            lines.append(
                pad("\(rank + 1)", 3) + "  " + pad(String(format: "%.4f", hit.score), 7) + "  "
                    + pad(String(hit.id.prefix(24)), 24) + "  " + pad(title, 44) + "  "
                    + ProgressReporter.duration(hit.freshness.ageSeconds))
            if showText, let text = hit.text {
                lines.append("     " + String(text.replacingOccurrences(of: "\n", with: " ").prefix(110)))
            }
        }
        let index = response.index
        let t = response.timings
        lines.append(
            String(
                format:
                    "generation %lld · model %@ · indexed seq %lld of %lld (pending %lld) · embed %.1f ms, search %.2f ms, fetch %.2f ms",
                index.generation, response.model.id, index.indexedSeq, index.storeSeq, index.pending,
                t.embedMs, t.searchMs, t.fetchMs))
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
