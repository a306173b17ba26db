import ArgumentParser
import CollectionsAPI
import Foundation
import SearchEngine
import SearchServer

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

    @Flag(help: "Ids and scores only: no title, metadata or freshness (no store read per hit).")
    var noPayload = false

    @Option(
        help:
            "Search mode of text queries: vector, keyword (BM25) or hybrid (both, fused). Default: \(SearchEngine.defaultTextMode.rawValue)."
    )
    var mode: SearchMode?

    @Option(help: "Hybrid fusion as JSON, e.g. '{\"method\": \"rrf\", \"k\": 60}' or '{\"method\": \"weighted\", \"alpha\": 0.5}'.")
    var fusion: String?

    @Option(
        help: """
            Generation searched: current (default) or candidate (quiver index --model M --candidate), whose index is \
            built from its stored vectors for this run.
            """)
    var generation: GenerationChoice = .current

    @Option(
        name: .customLong("candidate-model"),
        help: "Model folder of the candidate generation, loaded beside --model (for text queries on a candidate of another model).")
    var candidateModel: String?

    func run() throws {
        // Loading the model takes ~0.3 s: a query file without a "text" key (vector and id queries
        // only) does not need it.
        let needsModel = input.map { Self.mayHaveText($0) } ?? true
        let engine = try data.engine(model: needsModel ? model : nil, also: needsModel ? (candidateModel.map { [$0] } ?? []) : [])
        let name = collection.collection
        let parsedFilter: QueryFilter?
        do {
            parsedFilter = try filter.map { try JSONDecoder().decode(QueryFilter.self, from: Data($0.utf8)) }
        } catch {
            throw ValidationError("--filter is not a JSON object")
        }
        let parsedFusion: Fusion?
        do {
            parsedFusion = try fusion.map { try JSONDecoder().decode(Fusion.self, from: Data($0.utf8)) }
        } catch {
            throw ValidationError(
                "--fusion is not a fusion object: {\"method\": \"rrf\"|\"weighted\", \"k\"?, \"alpha\"?, \"candidates\"?}")
        }
        if let input {
            try runBatch(engine, input: input, filter: parsedFilter, fusion: parsedFusion)
            return
        }
        guard let text else { throw ValidationError("give a query text or --input FILE") }
        let request = QueryRequest(
            text: text, k: k, ef: ef, filter: parsedFilter, include: includeText ? [.text] : nil, withPayload: !noPayload,
            mode: mode, fusion: parsedFusion, generation: generation)
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
        var withPayload: Bool?
        var mode: SearchMode?
        var fusion: Fusion?

        enum CodingKeys: String, CodingKey {
            case text, vector, id, k, ef, filter, include, mode, fusion
            case withPayload = "with_payload"
        }
    }

    /// Whether the query file at `path` may hold a text query (standard input, anything but a
    /// regular file, and unreadable files are assumed to): any occurrence of `"text"` counts.
    /// The file is mapped and its quotation marks found with `memchr`, not read into memory (a
    /// 42 MB file of 5,000 vector lines was 6 % of a bulk run's CPU with `Data.range(of:)`).
    static func mayHaveText(_ path: String) -> Bool {
        guard path != "-" else { return true }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return true }
        let size = Int(info.st_size)
        guard size > 0 else { return false }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else { return true }
        defer { munmap(mapping, size) }
        let bytes = UnsafeRawBufferPointer(start: mapping, count: size)
        let needle = Array(#""text""#.utf8)
        var from = 0
        // Each quotation mark (a few per line) is checked for the key; memchr skips the numbers.
        while from < size, let found = memchr(mapping + from, 0x22, size - from) {
            let at = mapping.distance(to: found)
            if at + needle.count <= size, needle.indices.allSatisfy({ bytes[at + $0] == needle[$0] }) { return true }
            from = at + 1
        }
        return false
    }

    /// Lines answered together: parsed, answered and encoded on every read thread of the CPU
    /// budget, then written in input order.
    static let chunkLines = 2048

    private func runBatch(_ engine: SearchEngine, input: String, filter: QueryFilter?, fusion: Fusion?) throws {
        let reader: LineReader
        if input == "-" {
            guard let file = fdopen(STDIN_FILENO, "r") else { throw CLIError("cannot read standard input") }
            reader = LineReader(file: file, name: "<stdin>", owned: false)
        } else {
            guard let file = fopen(input, "r") else { throw CLIError("cannot open \(input): \(String(cString: strerror(errno)))") }
            reader = LineReader(file: file, name: input, owned: true)
        }
        let handle = try cli { () throws(SearchEngineError) in try engine.collection(collection.collection) }
        var output = OutputBuffer()
        var latencies: [Double] = []
        var failed = 0
        let start = Date()
        let workers = engine.budget.readThreads
        var endOfInput = false
        while !endOfInput {
            // Read a chunk of lines; each is parsed, answered and written as JSON by a worker.
            var chunk: [(line: Int, bytes: [UInt8])] = []
            while chunk.count < Self.chunkLines {
                guard let bytes = reader.next() else {
                    endOfInput = true
                    break
                }
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                chunk.append((reader.lineNumber, bytes))
            }
            // Answer the chunk on every read thread: line i goes to worker i mod workers.
            let answers = Answers(count: chunk.count)
            let lines = chunk.map(\.bytes)
            let defaults = (k: k, ef: ef, filter: filter, withPayload: !noPayload, mode: mode, fusion: fusion)
            // One snapshot per chunk: its lines are answered as of one moment, without a store
            // read per line.
            let snapshot = try cli { () throws(SearchEngineError) in try handle.snapshot(generation: generation) }
            DispatchQueue.concurrentPerform(iterations: min(workers, max(chunk.count, 1))) { worker in
                let decoder = JSONDecoder()
                for index in stride(from: worker, to: lines.count, by: workers) {
                    let began = DispatchTime.now()
                    let answer: Result<String, CLIError>
                    do {
                        let request: QueryRequest
                        if let fields = VectorQueryParser.parse(lines[index]) {
                            // The bulk form, read without JSONDecoder (the same request it would give).
                            request = QueryRequest(
                                vector: fields.vector, k: fields.k ?? defaults.k, ef: fields.ef ?? defaults.ef,
                                filter: defaults.filter, withPayload: fields.withPayload ?? defaults.withPayload,
                                generation: generation)
                        } else {
                            let line: Line
                            do { line = try decoder.decode(Line.self, from: Data(lines[index])) } catch {
                                throw CLIError("invalid query line")
                            }
                            request = QueryRequest(
                                text: line.text, vector: line.vector, id: line.id, k: line.k ?? defaults.k,
                                ef: line.ef ?? defaults.ef, filter: line.filter ?? defaults.filter, include: line.include,
                                withPayload: line.withPayload ?? defaults.withPayload,
                                // The command's mode applies to text lines only (vector and id lines are vector mode).
                                mode: line.mode ?? (line.text != nil ? defaults.mode : nil),
                                fusion: line.fusion ?? (line.text != nil ? defaults.fusion : nil), generation: generation)
                        }
                        // The server's writer: the same JSON as the HTTP route, without JSONEncoder's cost.
                        let response = try cli { () throws(SearchEngineError) in try snapshot.query(request) }
                        answer = .success(String(decoding: response.jsonBytes(), as: UTF8.self))
                    } catch {
                        answer = .failure((error as? CLIError) ?? CLIError("\(error)"))
                    }
                    answers.set(index, answer, milliseconds: Double(DispatchTime.now().uptimeNanoseconds &- began.uptimeNanoseconds) / 1e6)
                }
            }
            for (index, item) in chunk.enumerated() {
                let (answer, ms) = answers.get(index)
                switch answer {
                case .success(let json): output.append(json + "\n")
                case .failure(let error):
                    failed += 1
                    output.append(try jsonLine(["error": ["line": "\(item.line)", "message": error.description]]) + "\n")
                }
                latencies.append(ms)
                output.flushIfLarge()
            }
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
                    + (hit.freshness.map { ProgressReporter.duration($0.ageSeconds) } ?? "-"))
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

/// Answers of one chunk of `quiver query --input`, written by the worker threads.
private final class Answers: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [(Result<String, CLIError>, Double)]

    init(count: Int) { answers = Array(repeating: (.failure(CLIError("not answered")), 0), count: count) }

    func set(_ index: Int, _ answer: Result<String, CLIError>, milliseconds: Double) {
        lock.withLock { answers[index] = (answer, milliseconds) }
    }

    func get(_ index: Int) -> (Result<String, CLIError>, Double) { lock.withLock { answers[index] } }
}

extension SearchMode: ExpressibleByArgument {}
extension GenerationChoice: ExpressibleByArgument {}
