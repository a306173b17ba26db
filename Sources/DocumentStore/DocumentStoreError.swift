import Foundation
import GRDB

/// Everything that can go wrong in the document store.
public enum DocumentStoreError: Error, Equatable, Sendable {
    /// SQLite reported an error (I/O, a violated constraint, a locked or unreadable database).
    case database(path: String, message: String)
    /// A stored value breaks an invariant the schema cannot express (e.g. a vector blob whose
    /// length is not `4 × dimensions`): the file was damaged or written by something else.
    case corrupted(path: String, reason: String)
    /// The store has no collection row: it was never initialised with `initialize(...)`.
    case notInitialized(path: String)
    /// The store was initialised already, possibly with other settings.
    case alreadyInitialized(path: String)
    /// No generation with this number exists.
    case generationNotFound(Int64)
    /// A generation switch was asked for while some live documents still lack a vector in it.
    case generationIncomplete(generation: Int64, missing: Int)
    /// The store file was written by a newer schema this build does not know.
    case unsupportedSchema(path: String, reason: String)
    /// A write named a generation that is no longer `current` or `building` when its transaction
    /// ran (a generation switch or a replaced model change came in between): nothing was written;
    /// the caller picks its target generation again.
    case generationNotWritable(generation: Int64)
    /// The file system holding the store is full (SQLite's `SQLITE_FULL`, or an I/O error while
    /// no space is left): nothing of the failed transaction was written.
    case full(path: String)
    /// The store's folder or file system is read-only: reads work, writes do not.
    case readOnly(path: String)
    /// A store on another machine (PostgreSQL) cannot be reached or dropped the connection:
    /// the operation may not have happened (a write's transaction was not committed unless the
    /// connection broke during COMMIT); retrying later is the remedy.
    case unreachable(path: String, reason: String)
}

extension DocumentStoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .database(let path, let message): "database error in \(path): \(message)"
        case .corrupted(let path, let reason): "corrupted store \(path): \(reason)"
        case .notInitialized(let path): "store \(path) has no collection settings"
        case .alreadyInitialized(let path): "store \(path) is initialised already"
        case .generationNotFound(let generation): "generation \(generation) does not exist"
        case .generationIncomplete(let generation, let missing):
            "generation \(generation) still lacks vectors for \(missing) documents"
        case .unsupportedSchema(let path, let reason): "unsupported schema in \(path): \(reason)"
        case .generationNotWritable(let generation): "generation \(generation) is no longer current or building"
        case .full(let path): "no space left for \(path)"
        case .readOnly(let path): "\(path) is on a read-only file system"
        case .unreachable(let path, let reason): "store \(path) is unreachable: \(reason)"
        }
    }
}

extension DocumentStoreError {
    /// `error` (from SQLite, or from making a store's folder) as a store error: `.full` and
    /// `.readOnly` when SQLite says so, or when an I/O error (or a non-SQLite error) happened
    /// while the file system of `path` is full or mounted read-only (SQLite reports ENOSPC and
    /// EROFS during a write as a generic I/O error); else `.database`.
    static func classify(_ error: any Error, path: String) -> DocumentStoreError {
        if let error = error as? DocumentStoreError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL: return .full(path: path)
            case .SQLITE_READONLY: return .readOnly(path: path)
            case .SQLITE_IOERR, .SQLITE_CANTOPEN: break
            default: return .database(path: path, message: "\(error)")
            }
        }
        // An I/O error, or a file or folder that cannot be made (the catalog's): full or
        // read-only if the file system says so.
        switch FileSystemSpace.state(of: path) {
        case .full: return .full(path: path)
        case .readOnly: return .readOnly(path: path)
        case .ok: return .database(path: path, message: "\(error)")
        }
    }
}

/// Whether the file system holding a path is full or read-only (`statvfs`).
public enum FileSystemSpace: Equatable, Sendable {
    case ok
    case full
    case readOnly

    /// Free blocks below this count as full (SQLite needs a few pages for its journal).
    static let reserveBytes: UInt64 = 64 << 10

    /// The state of the file system of `path` (of its folder when the file does not exist).
    public static func state(of path: String) -> FileSystemSpace {
        var info = statvfs()
        var target = path
        if statvfs(target, &info) != 0 {
            target = (path as NSString).deletingLastPathComponent
            guard statvfs(target, &info) == 0 else { return .ok }
        }
        if info.f_flag & UInt(ST_RDONLY) != 0 { return .readOnly }
        let free = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        if !free.overflow, free.partialValue < reserveBytes { return .full }
        return .ok
    }
}
