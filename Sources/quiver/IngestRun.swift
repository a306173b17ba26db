import Foundation
import SearchEngine

/// The state of one `quiver index` run: parsing, batching, committing, progress and the report.
/// JSONL lines (`add(line:number:)`) and a folder's files (`add(document:location:progress:index:)`,
/// `fail(at:reason:id:)`) take the same path from validation on.
struct IngestRun {
    let engine: SearchEngine
    let collection: String
    let source: String
    let batchSize: Int
    let strict: Bool
    /// Store texts without embedding them (workers embed them).
    var deferEmbedding = false
    /// After the writes, wait until no document is pending, embedding alongside the workers.
    var wait = false
    private var validator: DocumentValidator?
    private var pending: [DocumentInput] = []
    /// Where each queued document was read ("FILE:N" or a file's path), for its refusal.
    private var pendingLocations: [String] = []
    /// What the queued documents reach: "line N", or a file's path.
    private var pendingThrough = ""
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
        validator = try cli { () throws(SearchEngineError) in try engine.validator(collection: collection, deferEmbedding: deferEmbedding) }
    }

    /// Parses, validates and queues one line; commits a batch when full.
    mutating func add(line: [UInt8], number: Int) throws {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // blank lines are not documents
        let document: DocumentInput
        do {
            document = try decoder.decode(DocumentInput.self, from: Data(line))
        } catch {
            let (reason, id) = Self.diagnose(line, error)
            return try fail(at: "\(source):\(number)", reason: reason, id: id)
        }
        try add(document: document, location: "\(source):\(number)", progress: "line \(number)", index: number)
    }

    /// Validates and queues one document read from `location` (named in errors; `progress` in the
    /// plain progress lines); commits a batch when full.
    mutating func add(document: DocumentInput, location: String, progress through: String, index: Int) throws {
        documents += 1
        do {
            try validator?.validate(document, index: index)
        } catch {
            if case .invalidDocument(_, _, let reason) = error {
                return try reject(at: location, reason: reason, id: document.id.isEmpty ? nil : document.id)
            }
            throw CLIError("\(location): \(error)")
        }
        seen.insert(document.id)
        pending.append(document)
        pendingLocations.append(location)
        pendingThrough = through
        if pending.count >= batchSize { try flush() }
    }

    /// Counts and reports a document that could not be read (the run stops with --strict). A
    /// failure with an id keeps that id's stored document from --prune; one without any blocks
    /// pruning.
    mutating func fail(at location: String, reason: String, id: String?) throws {
        documents += 1
        try reject(at: location, reason: reason, id: id)
    }

    private mutating func reject(at location: String, reason: String, id: String?) throws {
        totals.failed += 1
        if let id { seen.insert(id) } else { unidentifiedFailures += 1 }
        if strict {
            try flush()
            throw CLIError("\(location): \(reason) (--strict: stopped; earlier batches are committed)")
        }
        progressBreak()
        printError("\(location): \(reason); skipped")
    }

    private func progressBreak() {
        if progress.isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// Commits the queued documents in one transaction.
    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        let locations = pendingLocations
        let deferEmbedding = self.deferEmbedding
        let result = try cli { () throws(SearchEngineError) in
            try engine.upsert(collection: collection, documents: batch, deferEmbedding: deferEmbedding)
        }
        // Documents the engine refused on their own (too large) are reported like bad lines
        // (`reject` counts them; their ids stay in `seen`, so --prune keeps their stored versions).
        var counted = result
        counted.failed = 0
        counted.rejected = []
        totals.add(counted)
        pending.removeAll(keepingCapacity: true)
        pendingLocations.removeAll(keepingCapacity: true)
        for refused in result.rejected {
            let location = refused.index < locations.count ? locations[refused.index] : source
            try reject(at: location, reason: "\(refused.id): \(refused.reason)", id: refused.id)
        }
        let done = totals.inserted + totals.updated + totals.unchanged
        if progress.isTerminal {
            progress.update(done: done)
        } else {
            // Plain lines name what is committed (acknowledged): everything up to this line.
            printError("committed through \(pendingThrough): \(done) docs, seq \(result.seq)")
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
                    "not pruning: \(unidentifiedFailures) failures had no readable id (a bad line, a folder that could not be listed), "
                        + "so their documents cannot be told apart from absent ones")
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
        if wait { try waitForPending() }
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
            \(String(format: "%.1f", Double(processed) / max(seconds, 1e-9))) docs/s, embedded \(totals.embedded)\
            \(totals.pending > 0 ? ", deferred \(totals.pending)" : "")); \
            seq \(totals.seq), generation \(switched ?? totals.generation)
            """)
    }

    /// `--wait`: returns when no document this run wrote (or found unchanged) is pending — none
    /// last written at or before the run's last seq lacks its vector — embedding pending documents
    /// alongside any workers (claims keep two processes from embedding one document), or only
    /// waiting for the workers when this process lacks the model. Documents other writers write
    /// meanwhile are not waited for (so a busy collection cannot hold the run forever); pending
    /// ones written before the run's last commit are. A progress bar counts those embedded by
    /// anyone.
    private func waitForPending() throws {
        let handle = try cli { () throws(SearchEngineError) in try engine.collection(collection) }
        let through = totals.seq
        let first = try cli { () throws(SearchEngineError) in try handle.pendingCount(writtenThrough: through) }
        guard first > 0 else { return }
        printError("waiting for \(first) pending documents to be embedded")
        var bar = ProgressReporter(total: first)
        var embedding = true
        var remaining = first
        while remaining > 0 {
            var embedded = 0
            if embedding {
                do {
                    embedded = try handle.embedPending(batchSize: min(batchSize, 64)) { step in
                        bar.update(done: max(0, first - remaining) + step.done)
                    }.embedded
                } catch .modelUnavailable {
                    embedding = false
                    printError("this process lacks the collection's model: waiting for workers")
                } catch {
                    throw CLIError("\(collection): \(error)")
                }
            }
            remaining = try cli { () throws(SearchEngineError) in try handle.pendingCount(writtenThrough: through) }
            bar.update(done: max(0, first - remaining))
            // Documents other workers hold (or this process cannot embed): poll.
            if remaining > 0, embedded == 0 { Thread.sleep(forTimeInterval: 0.5) }
        }
        bar.update(done: first, force: true)
        bar.finish()
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
