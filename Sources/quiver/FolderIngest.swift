import FileSources
import Foundation
import SearchEngine

/// `quiver index DIR`: a folder's Markdown, HTML and text files through the same ingest as JSONL
/// lines (validation, content-hash skipping, batches, --strict, --prune, progress and report).
enum FolderIngest {
    /// Reads each file of `listing` in path order and feeds it to `run`. A file that cannot be
    /// read or converted is reported by its path and skipped (counted failed, and its id kept
    /// from --prune: the file exists); a sub-folder that cannot be listed blocks --prune.
    static func run(_ run: inout IngestRun, source: DirectorySource, listing: SourceListing) throws {
        let prefix = source.root.hasSuffix("/") ? source.root : source.root + "/"
        for entry in listing.entries {
            let location = prefix + entry.path
            switch entry {
            case .failure(let failure):
                let unlisted = if case .unlistableFolder = failure.error { true } else { false }
                try run.fail(at: location, reason: failure.error.description, id: unlisted ? nil : failure.path)
            case .file(let file):
                switch source.load(file) {
                case .success(let document):
                    try run.add(document: input(document), location: location, progress: location, index: 0)
                case .failure(let failure):
                    try run.fail(at: location, reason: failure.error.description, id: failure.path)
                }
            }
        }
    }

    /// The engine's document for a file's.
    static func input(_ document: SourceDocument) -> DocumentInput {
        DocumentInput(
            id: document.id, text: document.text, title: document.title, metadata: document.metadata.map(JSONValue.object),
            updatedAt: Timestamp(seconds: document.updatedAt))
    }
}
