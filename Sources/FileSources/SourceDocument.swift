import SearchEngine

/// One file of a folder turned into a document: what `quiver index DIR` stores for it.
public struct SourceDocument: Sendable, Equatable {
    /// The file's path relative to the folder, `/`-separated (`guides/setup.md`).
    public var id: String
    /// Front matter `title`, else the first heading (Markdown), `<title>` else the first `<h1>`
    /// (HTML), a short first line set apart by a blank line (text); nil when there is none.
    public var title: String?
    /// Readable plain text (see ``MarkdownText``, ``HTMLText``); a text file's content as it is.
    public var text: String
    /// The Markdown front matter's keys (a JSON object); nil for other formats and without front matter.
    public var metadata: [String: JSONValue]?
    /// Seconds since 1970: front matter `updated_at` (else `date`) when given, else the file's mtime.
    public var updatedAt: Double
    /// The format the file was read as (by its extension).
    public var format: SourceFormat

    /// Creates a document.
    public init(
        id: String, title: String?, text: String, metadata: [String: JSONValue]?, updatedAt: Double, format: SourceFormat
    ) {
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
        self.updatedAt = updatedAt
        self.format = format
    }
}

/// The file formats a folder is read for, chosen by extension (case-insensitive).
public enum SourceFormat: String, Sendable, Equatable, CaseIterable {
    /// `.md`, `.markdown`.
    case markdown
    /// `.html`, `.htm`.
    case html
    /// `.txt`.
    case text

    /// The format of a file name's extension, or nil for files that are not read.
    public init?(fileName: String) {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return nil }
        switch fileName[fileName.index(after: dot)...].lowercased() {
        case "md", "markdown": self = .markdown
        case "html", "htm": self = .html
        case "txt": self = .text
        default: return nil
        }
    }
}
