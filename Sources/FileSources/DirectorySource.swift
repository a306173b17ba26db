import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file of the folder to be read.
public struct SourceFile: Sendable, Equatable {
    /// The path relative to the folder, `/`-separated: the document's id.
    public var id: String
    /// The path opened: the folder's real path joined with `id`, or a symbolic link's target.
    public var path: String
    /// The format, by the name's extension.
    public var format: SourceFormat
}

/// One thing found in the folder, in id order: a file to read, or something that failed already
/// while listing (a sub-folder that cannot be listed, a name that is not UTF-8, a broken link).
public enum SourceEntry: Sendable, Equatable {
    /// A file to read.
    case file(SourceFile)
    /// A failure found while listing.
    case failure(SourceFailure)

    /// The path relative to the folder.
    public var path: String {
        switch self {
        case .file(let file): file.id
        case .failure(let failure): failure.path
        }
    }
}

/// What a folder holds.
public struct SourceListing: Sendable, Equatable {
    /// Files and listing failures, sorted by path (byte order of the UTF-8 relative paths).
    public var entries: [SourceEntry]
    /// False when a sub-folder could not be listed: then a document missing from `entries` may
    /// still have its file, so nothing may be pruned.
    public var complete: Bool
}

/// The Markdown (`.md`, `.markdown`), HTML (`.html`, `.htm`) and text (`.txt`) files under a
/// folder, as documents.
///
/// The walk is recursive (an explicit stack, not recursion) and deterministic: entries come
/// sorted by relative path. Hidden files and folders (a name starting with `.`) are skipped.
/// Symbolic links are not followed into folders (so a link cannot make a loop or bring in a
/// tree twice); a link to a file is read when its target is inside the folder, and reported as
/// a failure when it is broken or points outside. A file that is not regular (a FIFO, a device)
/// is reported and never opened.
public struct DirectorySource: Sendable {
    /// The folder as given.
    public let root: String
    /// Its real path (symbolic links resolved).
    public let realRoot: String
    /// Limits.
    public let options: FileSourceOptions

    /// Checks that `root` is a folder and the options are in range.
    public init(root: String, options: FileSourceOptions = FileSourceOptions()) throws(FileSourceError) {
        try options.validate()
        guard let real = Self.realPath(root) else {
            throw .notADirectory(path: root, reason: String(cString: strerror(errno)))
        }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .notADirectory(path: root, reason: "not a folder")
        }
        self.root = root
        self.realRoot = real
        self.options = options
    }

    /// The files to read and what failed while listing, sorted by path.
    public func list() -> SourceListing {
        var entries: [SourceEntry] = []
        var complete = true
        var folders: [String] = [""]
        while let folder = folders.popLast() {
            let folderPath = folder.isEmpty ? realRoot : realRoot + "/" + folder
            guard let directory = opendir(folderPath) else {
                entries.append(.failure(SourceFailure(path: folder, error: .unlistableFolder(reason: Self.errorText()))))
                complete = false
                continue
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let nameBytes = Self.name(of: entry)
                guard let first = nameBytes.first, first != UInt8(ascii: ".") else { continue }  // hidden, ".", ".."
                guard let name = String(validating: nameBytes, as: UTF8.self) else {
                    // Not an id: reported when named like a source file (its documents cannot exist).
                    let lossy = String(decoding: nameBytes, as: UTF8.self)
                    if SourceFormat(fileName: lossy) != nil {
                        entries.append(
                            .failure(SourceFailure(path: folder.isEmpty ? lossy : folder + "/" + lossy, error: .invalidFileName)))
                    }
                    continue
                }
                let relative = folder.isEmpty ? name : folder + "/" + name
                let format = SourceFormat(fileName: name)
                var info = stat()
                guard lstat(folderPath + "/" + name, &info) == 0 else {
                    if format != nil {
                        entries.append(.failure(SourceFailure(path: relative, error: .unreadable(reason: Self.errorText()))))
                    }
                    continue
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    folders.append(relative)
                case S_IFREG:
                    if let format { entries.append(.file(SourceFile(id: relative, path: realRoot + "/" + relative, format: format))) }
                case S_IFLNK:
                    if let format, let entry = link(relative, format: format) { entries.append(entry) }
                default:
                    if format != nil { entries.append(.failure(SourceFailure(path: relative, error: .notARegularFile))) }
                }
            }
        }
        entries.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return SourceListing(entries: entries, complete: complete)
    }

    /// A symbolic link named like a source file: its target when that is a file inside the folder.
    private func link(_ relative: String, format: SourceFormat) -> SourceEntry? {
        guard let target = Self.realPath(realRoot + "/" + relative) else {
            return .failure(SourceFailure(path: relative, error: .symlinkTarget(reason: "is broken (\(Self.errorText()))")))
        }
        guard target.hasPrefix(realRoot + "/") else {
            return .failure(SourceFailure(path: relative, error: .symlinkTarget(reason: "points outside the folder")))
        }
        var info = stat()
        guard stat(target, &info) == 0 else {
            return .failure(SourceFailure(path: relative, error: .unreadable(reason: Self.errorText())))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file(SourceFile(id: relative, path: target, format: format))
        case S_IFDIR: return nil  // links to folders are not followed
        default: return .failure(SourceFailure(path: relative, error: .notARegularFile))
        }
    }

    /// Reads and converts one file; every failure names the file.
    public func load(_ file: SourceFile) -> Result<SourceDocument, SourceFailure> {
        do throws(FileSourceError) {
            let (bytes, modified) = try Self.read(path: file.path, limit: options.maxFileBytes)
            return .success(try Self.document(id: file.id, format: file.format, bytes: bytes, modified: modified))
        } catch {
            return .failure(SourceFailure(path: file.id, error: error))
        }
    }

    /// A file's bytes and mtime (seconds since 1970). A file over `limit` bytes is refused from its
    /// size, before any read (and if it grows while read, at `limit` + 1 bytes).
    public static func read(path: String, limit: Int) throws(FileSourceError) -> (bytes: [UInt8], modified: Double) {
        // O_NOFOLLOW: a file swapped for a link since the listing is not followed; O_NONBLOCK: a
        // file swapped for a FIFO does not block the open.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { throw .unreadable(reason: errorText()) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .unreadable(reason: errorText()) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .notARegularFile }
        let size = Int(info.st_size)
        guard size <= limit else { throw .tooLarge(bytes: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var count = 0
        while true {
            if count == bytes.count {
                guard count <= limit else { throw .tooLarge(bytes: count, limit: limit) }
                bytes.append(contentsOf: repeatElement(0, count: min(max(count, 1 << 16), limit + 1 - count)))
            }
            let got = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress.map { $0 + count }, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .unreadable(reason: errorText())
            }
            if got == 0 { break }
            count += got
        }
        guard count <= limit else { throw .tooLarge(bytes: count, limit: limit) }
        bytes.removeLast(bytes.count - count)
        let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        return (bytes, modified)
    }

    /// A document from a file's bytes: refused when they hold a NUL byte or are not UTF-8 (a
    /// UTF-8 byte order mark is skipped); converted by format.
    public static func document(id: String, format: SourceFormat, bytes: [UInt8], modified: Double) throws(FileSourceError)
        -> SourceDocument
    {
        var content = bytes[...]
        if content.starts(with: [0xEF, 0xBB, 0xBF]) { content = content.dropFirst(3) }
        if let nul = content.firstIndex(of: 0) { throw .binary(offset: nul) }
        guard let text = String(validating: content, as: UTF8.self) else {
            throw .invalidUTF8(offset: firstInvalidUTF8(content) ?? content.startIndex)
        }
        switch format {
        case .text:
            return SourceDocument(
                id: id, title: PlainText.title(text), text: text, metadata: nil, updatedAt: modified, format: .text)
        case .html:
            let html = HTMLText.convert(Array(content))
            return SourceDocument(id: id, title: html.title, text: html.text, metadata: nil, updatedAt: modified, format: .html)
        case .markdown:
            let normalized = HTMLText.normalizingNewlines(Array(content))
            var body = normalized[...]
            var front: FrontMatter?
            if let (yaml, bodyStart) = FrontMatter.locate(normalized) {
                front = try FrontMatter.parse(normalized[yaml])
                body = normalized[bodyStart...]
            }
            let markdown = MarkdownText.convert(Array(body))
            let metadata = front.flatMap { $0.metadata.isEmpty ? nil : $0.metadata }
            return SourceDocument(
                id: id, title: front?.title ?? markdown.title, text: markdown.text, metadata: metadata,
                updatedAt: front?.updatedAt ?? modified, format: .markdown)
        }
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = bytes.startIndex
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
        withUnsafeBytes(of: &entry.pointee.d_name) { raw in
            Array(raw.prefix { $0 != 0 })
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Plain text files.
enum PlainText {
    /// Longest first line taken as a title, in characters.
    static let maxTitleCharacters = 120

    /// The first non-empty line when it is short (≤ 120 characters) and set apart by a blank line
    /// (or is the whole file), as a title line is; nil otherwise — a text that starts with a
    /// sentence running into the next line has no title rather than a wrong one.
    static func title(_ text: String) -> String? {
        // Split on the bytes: in a String, "\r\n" is one Character, not a "\n".
        var lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).makeIterator()
        while let line = lines.next() {
            let trimmed = String(decoding: line, as: UTF8.self).trimmingASCIISpaces()
            guard !trimmed.isEmpty else { continue }
            guard trimmed.count <= maxTitleCharacters else { return nil }
            guard let next = lines.next() else { return trimmed }
            return String(decoding: next, as: UTF8.self).trimmingASCIISpaces().isEmpty ? trimmed : nil
        }
        return nil
    }
}
