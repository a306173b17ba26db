/// Why a file (or the folder) could not become a document.
public enum FileSourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The folder given is not a readable directory.
    case notADirectory(path: String, reason: String)
    /// A sub-folder could not be listed; the files in it are unknown (so nothing may be pruned).
    case unlistableFolder(reason: String)
    /// The file could not be opened, examined or read (`strerror` text).
    case unreadable(reason: String)
    /// Not a regular file (a FIFO, a device, a socket), so it is not opened.
    case notARegularFile
    /// A symbolic link whose target is missing or outside the folder.
    case symlinkTarget(reason: String)
    /// The file is larger than ``FileSourceOptions/maxFileBytes``; it was not read.
    case tooLarge(bytes: Int, limit: Int)
    /// The name is not valid UTF-8, so it cannot be an id.
    case invalidFileName
    /// A NUL byte: binary content, or UTF-16/32 text, which is not read.
    case binary(offset: Int)
    /// The content is not valid UTF-8 at this byte offset (it is refused, not repaired).
    case invalidUTF8(offset: Int)
    /// The Markdown front matter could not be read.
    case frontMatter(reason: String)
    /// ``FileSourceOptions`` out of range.
    case invalidOptions(reason: String)

    public var description: String {
        switch self {
        case .notADirectory(let path, let reason): "\(path) is not a readable folder: \(reason)"
        case .unlistableFolder(let reason): "cannot list the folder: \(reason)"
        case .unreadable(let reason): "cannot read: \(reason)"
        case .notARegularFile: "not a regular file"
        case .symlinkTarget(let reason): "symbolic link \(reason)"
        case .tooLarge(let bytes, let limit): "file has \(bytes) bytes, more than the limit of \(limit) (--max-file-bytes)"
        case .invalidFileName: "file name is not valid UTF-8"
        case .binary(let offset): "binary content (a NUL byte at offset \(offset)); only UTF-8 text is read"
        case .invalidUTF8(let offset): "not valid UTF-8 (at byte offset \(offset))"
        case .frontMatter(let reason): "front matter: \(reason)"
        case .invalidOptions(let reason): reason
        }
    }
}

/// A file (or sub-folder) that failed, named by its path relative to the folder.
public struct SourceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path relative to the folder, `/`-separated; the document id the file would have had.
    public var path: String
    /// What went wrong.
    public var error: FileSourceError

    /// Creates a failure.
    public init(path: String, error: FileSourceError) {
        self.path = path
        self.error = error
    }

    public var description: String { "\(path): \(error)" }
}

/// Limits for reading a folder.
public struct FileSourceOptions: Sendable, Equatable {
    /// Largest file read, in bytes; a larger one is a per-file error and is not read. Default 10 MiB.
    public var maxFileBytes: Int

    /// Creates options.
    public init(maxFileBytes: Int = 10 << 20) {
        self.maxFileBytes = maxFileBytes
    }

    /// Throws when a limit is out of range (1 byte … 1 GiB).
    public func validate() throws(FileSourceError) {
        guard (1...(1 << 30)).contains(maxFileBytes) else {
            throw .invalidOptions(reason: "max file bytes must be in 1...\(1 << 30), not \(maxFileBytes)")
        }
    }
}
