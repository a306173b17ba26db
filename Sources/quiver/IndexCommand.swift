import ArgumentParser
import FileSources
import Foundation
import SearchEngine

/// `quiver index FILE.jsonl|DIR --collection NAME`: sync a JSONL corpus or a folder of files into a collection.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: """
            Sync JSONL documents {"id", "text", "title"?, "metadata"?, "updated_at"?, "vector"?}, or a folder of \
            Markdown, HTML and text files, into a collection.
            """,
        discussion: """
            Unchanged documents (same content hash) are skipped without embedding; changed ones are re-embedded; \
            each batch is committed in one transaction, so an interrupted run started again skips what it committed. \
            The collection is created on first use. When --model differs from the collection's model, every document \
            is re-embedded into a new generation that replaces the current one atomically at the end.

            A folder is read recursively: .md/.markdown, .html/.htm and .txt files (any case), hidden files and \
            folders skipped, links to folders not followed. Each file is a document whose id is its path relative \
            to the folder; its title is the Markdown front matter's "title", else the first heading (Markdown), the \
            <title> else the first <h1> (HTML), or a short first line followed by a blank line (text); its text is \
            readable plain text (Markdown and HTML syntax stripped; scripts, styles and navigation dropped); \
            updated_at is the file's mtime unless front matter gives "updated_at" or "date"; the front \
            matter keys become its metadata. A file that cannot be read (binary, not UTF-8, over --max-file-bytes, \
            bad front matter) is reported with its path and skipped, or stops the run with --strict; with --prune it \
            is kept (its file exists), and a sub-folder that cannot be listed turns --prune off for the run.
            """)

    @Argument(help: "JSONL file, or a folder of .md/.html/.txt files; '-' reads standard input. Omitted with --candidate.")
    var file: String?

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    @Flag(help: "Full sync: delete documents whose id is not in the input (for a folder: whose file is gone).")
    var prune = false

    @Flag(help: "Stop at the first bad line or file (committed batches are kept) instead of skipping it.")
    var strict = false

    @Option(help: "With a folder: files larger than this many bytes are reported and skipped, unread.")
    var maxFileBytes: Int = FileSourceOptions().maxFileBytes

    @Option(help: "Documents per batch (one transaction, one embedding call sorted by length).")
    var batch: Int = 512

    @Option(help: "Distance of a new collection: cosine, dot or l2.")
    var distance: String = "cosine"

    @Option(
        help: """
            Word pieces per embedded passage (title, [CLS] and [SEP] included): long texts are cut into passages, \
            each embedded and indexed; 0 = off (one vector per document from its first word pieces). Default for a new \
            collection: the model's max_seq_length. Given for an existing collection with another value, every document \
            is re-embedded into a new generation.
            """)
    var chunkTokens: Int?

    @Option(help: "Word pieces each passage repeats from the one before (default 0: measured no better; at most half of --chunk-tokens).")
    var chunkOverlap: Int?

    @Option(help: "Largest document (title + text, UTF-8 bytes); larger ones are reported and skipped.")
    var maxDocumentBytes = 4 << 20

    @Option(help: "Most passages per document (at most 1024); documents with more are reported and skipped.")
    var maxPassages = 1024

    @Flag(
        help: """
            Build a generation of --model (another than the collection's) from the stored documents as a \
            candidate, beside the current one, without switching; no FILE (sync documents with the current \
            model). Compare with quiver eval --generation current,candidate; then quiver promote or quiver discard.
            """)
    var candidate = false

    @Flag(
        help: """
            Store the documents without embedding them: embedding workers (quiver worker, on any machine sharing \
            the store) embed them, and every quiver serve indexes each vector as it is stored. New documents are \
            found by keyword until then; changed ones by their old vector.
            """)
    var deferEmbedding = false

    @Flag(
        help: """
            After the writes, return only when no document written up to this run's last commit is pending \
            embedding (writes made after it are not waited for), embedding alongside the workers (or only waiting \
            for them, if this process lacks the model), with a progress bar.
            """)
    var wait = false

    func run() throws {
        guard (1...SearchEngine.maxBatchDocuments).contains(batch) else {
            throw ValidationError("--batch must be in 1...\(SearchEngine.maxBatchDocuments)")
        }
        let name = collection.collection
        if candidate {
            guard file == nil else {
                throw ValidationError(
                    "--candidate builds from the stored documents: sync FILE with the current model first, without --candidate")
            }
            try buildCandidate(name)
            return
        }
        guard let file else { throw ValidationError("give a JSONL FILE ('-' for standard input), a folder, or --candidate") }
        var folder: DirectorySource?
        var isDirectory: ObjCBool = false
        if file != "-", FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), isDirectory.boolValue {
            do {
                folder = try DirectorySource(root: file, options: FileSourceOptions(maxFileBytes: maxFileBytes))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let engine = try data.engine(
            model: model, documentLimits: DocumentLimits(maxDocumentBytes: maxDocumentBytes, maxPassages: maxPassages))
        if !engine.hasCollection(name) {
            let info = try cli { () throws(SearchEngineError) in
                try engine.createCollection(
                    CollectionOptions(name: name, distance: distance, chunkTokens: chunkTokens, chunkOverlap: chunkOverlap))
            }
            let chunking = info.generations.first { $0.state == "current" }?.chunking
            let described = chunking.map {
                $0.chunkTokens > 0 ? " (passages of \($0.chunkTokens) word pieces, overlap \($0.chunkOverlap))" : " (no chunking)"
            }
            printError("created collection \(name)" + (described ?? ""))
        }
        if let building = try cli({ () throws(SearchEngineError) in
            try engine.beginModelChange(collection: name, chunkTokens: chunkTokens, chunkOverlap: chunkOverlap)
        }) {
            let current = try cli { () throws(SearchEngineError) in try engine.collectionInfo(name) }.model
            let what = building.model.fingerprint == current.fingerprint ? "chunking changed" : "model changed"
            printError("\(what): re-embedding \(name) into generation \(building.generation) (\(building.pending ?? 0) documents)")
        }
        if let folder {
            let listing = folder.list()
            var run = IngestRun(
                engine: engine, collection: name, source: file, batchSize: batch, total: listing.entries.count, strict: strict)
            run.deferEmbedding = deferEmbedding
            run.wait = wait
            try run.start()
            try FolderIngest.run(&run, source: folder, listing: listing)
            try run.flush()
            try run.finish(prune: prune)
            return
        }
        let reader: LineReader
        if file == "-" {
            guard let input = fdopen(STDIN_FILENO, "r") else { throw CLIError("cannot read standard input") }
            reader = LineReader(file: input, name: "<stdin>", owned: false)
        } else {
            guard let input = fopen(file, "r") else { throw CLIError("cannot open \(file): \(String(cString: strerror(errno)))") }
            reader = LineReader(file: input, name: file, owned: true)
        }
        var run = IngestRun(
            engine: engine, collection: name, source: reader.name, batchSize: batch,
            total: countLines(file), strict: strict)
        run.deferEmbedding = deferEmbedding
        run.wait = wait
        try run.start()
        while let line = reader.next() {
            try run.add(line: line, number: reader.lineNumber)
        }
        try run.flush()
        try run.finish(prune: prune)
    }

    /// `--candidate`: begins (or resumes) the candidate generation of --model and embeds every
    /// stored document into it; the current generation keeps serving.
    private func buildCandidate(_ name: String) throws {
        let engine = try data.engine(model: model)
        let handle = try cli { () throws(SearchEngineError) in try engine.collection(name) }
        let started = Date()
        let begun = try cli { () throws(SearchEngineError) in try handle.beginModelChange(candidate: true) }
        if let begun { printError("candidate: embedding \(name) into generation \(begun.generation) (\(begun.pending ?? 0) documents)") }
        _ = try cli { () throws(SearchEngineError) in
            try handle.completeModelChange(batchSize: batch) { step in printError("embedding: \(step.done)/\(step.total)") }
        }
        guard let candidate = try cli({ () throws(SearchEngineError) in try handle.candidate() }) else {
            throw CLIError("the candidate generation of \(name) was discarded meanwhile")
        }
        print(
            "\(name): candidate generation \(candidate.generation) (\(candidate.model.id)) ready in "
                + String(format: "%.1f s", Date().timeIntervalSince(started))
                + "; compare with quiver eval --generation current,candidate, then quiver promote or quiver discard")
    }
}
