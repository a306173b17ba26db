import Foundation
import SearchEngine

/// The state of one `quiver index` run: parsing, batching, committing, progress and the report.
struct IngestRun {
    let engine: SearchEngine
    let collection: String
    let source: String
    let batchSize: Int
    let strict: Bool
    private var validator: DocumentValidator?
    private var pending: [DocumentInput] = []
    private var pendingLines: [Int] = []
    private var pendingLastLine = 0
    private var seen: Set<String> = []
    private var unidentifiedFailures = 0
    private var totals = UpsertResult()
    private var documents = 0
    private var progress: ProgressReporter
    private let decoder = JSONDecoder()
    private let started = Date()

    init(engine: SearchEngine, collection: String, source: String, batchSize: Int, total: Int?, strict: Bool) {
        self.engine = engine
        self.collection = collection
        self.source = source
        self.batchSize = batchSize
        self.strict = strict
        self.progress = ProgressReporter(total: total)
    }

    mutating func start() throws {
        validator = try cli { () throws(SearchEngineError) in try engine.validator(collection: collection) }
    }

    /// Parses, validates and queues one line; commits a batch when full.
    mutating func add(line: [UInt8], number: Int) throws {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // blank lines are not documents
        documents += 1
        let document: DocumentInput
        do {
            document = try decoder.decode(DocumentInput.self, from: Data(line))
        } catch {
            let (reason, id) = Self.diagnose(line, error)
            return try fail(number, reason: reason, id: id)
        }
        do {
            try validator?.validate(document, index: number)
        } catch {
            if case .invalidDocument(_, _, let reason) = error {
                return try fail(number, reason: reason, id: document.id.isEmpty ? nil : document.id)
            }
            throw CLIError("\(source):\(number): \(error)")
        }
        seen.insert(document.id)
        pending.append(document)
        pendingLines.append(number)
        pendingLastLine = number
        if pending.count >= batchSize { try flush() }
    }

    private mutating func fail(_ number: Int, reason: String, id: String?) throws {
        totals.failed += 1
        if let id { seen.insert(id) } else { unidentifiedFailures += 1 }
        if strict {
            try flush()
            throw CLIError("\(source):\(number): \(reason) (--strict: stopped; earlier batches are committed)")
        }
        progressBreak()
        printError("\(source):\(number): \(reason); skipped")
    }

    private func progressBreak() {
        if progress.isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// Commits the queued documents in one transaction.
    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        let lines = pendingLines
        let result = try cli { () throws(SearchEngineError) in try engine.upsert(collection: collection, documents: batch) }
        // `failed` counts them here (the line's id stays in `seen`: a refused document is not pruned).
        var counted = result
        counted.failed = 0
        counted.rejected = []
        totals.add(counted)
        pending.removeAll(keepingCapacity: true)
        pendingLines.removeAll(keepingCapacity: true)
        for rejected in result.rejected {
            let line = rejected.index < lines.count ? lines[rejected.index] : pendingLastLine
            try fail(line, reason: "\(rejected.id): \(rejected.reason)", id: rejected.id)
        }
        let done = totals.inserted + totals.updated + totals.unchanged
        if progress.isTerminal {
            progress.update(done: done)
        } else {
            // Plain lines name what is committed (acknowledged): everything up to this line.
            printError("committed through line \(pendingLastLine): \(done) docs, seq \(result.seq)")
            progress.update(done: done)
        }
    }

    /// Prunes, finishes a model change, checkpoints and prints the report.
    mutating func finish(prune: Bool) throws {
        let name = collection
        let engine = self.engine
        if progress.isTerminal { progress.update(done: totals.inserted + totals.updated + totals.unchanged, force: true) }
        progress.finish()
        if prune {
            if unidentifiedFailures > 0 {
                printError(
                    "not pruning: \(unidentifiedFailures) bad lines had no readable id, so their documents cannot be told apart from absent ones"
                )
            } else {
                let keep = seen
                let pruned = try cli { () throws(SearchEngineError) in try engine.prune(collection: name, keeping: keep) }
                totals.add(pruned)
            }
        }
        let switched = try cli { () throws(SearchEngineError) in
            try engine.completeModelChange(collection: name) { step in
                printError("re-embedding: \(step.done)/\(step.total)")
            }
        }
        if let switched { printError("switched \(name) to generation \(switched)") }
        if let candidate = try cli({ () throws(SearchEngineError) in try engine.collection(name).candidate() }) {
            printError(
                "candidate generation \(candidate.generation) (\(candidate.model.id)): \(candidate.pending ?? 0) documents to embed "
                    + "(at its evaluation or promote)")
        }
        try cli { () throws(SearchEngineError) in
            try engine.markSynced(collection: name)
            try engine.checkpoint(collection: name)
        }
        let seconds = Date().timeIntervalSince(started)
        let processed = totals.inserted + totals.updated + totals.unchanged
        print(
            """
            \(collection): inserted \(totals.inserted), updated \(totals.updated), unchanged \(totals.unchanged), \
            deleted \(totals.deleted), failed \(totals.failed) \
            (\(documents) documents in \(String(format: "%.1f", seconds)) s, \
            \(String(format: "%.1f", Double(processed) / max(seconds, 1e-9))) docs/s, embedded \(totals.embedded)); \
            seq \(totals.seq), generation \(switched ?? totals.generation)
            """)
    }

    /// Why a line did not decode, and its id if one can be read.
    static func diagnose(_ line: [UInt8], _ error: Error) -> (String, String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) else { return ("invalid JSON", nil) }
        guard let dictionary = object as? [String: Any] else { return ("expected a JSON object", nil) }
        let id = dictionary["id"] as? String
        guard id != nil else { return (dictionary["id"] == nil ? "missing \"id\"" : "\"id\" must be a string", nil) }
        if case DecodingError.typeMismatch(_, let context) = error {
            return ("\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)", id)
        }
        if case DecodingError.dataCorrupted(let context) = error {
            return ("\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)", id)
        }
        return ("cannot decode: \(error)", id)
    }
}
