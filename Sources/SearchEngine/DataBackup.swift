import Crypto
import DocumentStore
import Foundation
import VectorIndex

/// What a backup holds: per collection, the change seq its store copy stands at and every file
/// with its size and SHA-256. Written last (`manifest.json`): a folder without one is not a
/// finished backup.
public struct BackupManifest: Codable, Sendable, Equatable {
    /// One file of the backup, by its path relative to the backup folder.
    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int
        public var sha256: String
    }

    /// One collection: its store copy's seq and its files.
    public struct Collection: Codable, Sendable, Equatable {
        public var name: String
        /// Every change up to this seq is in the backup, none after it.
        public var seq: Int64
        public var files: [File]
    }

    /// The manifest format.
    public var format: Int
    /// When the backup was taken (seconds since 1970).
    public var createdAt: Double
    public var collections: [Collection]

    enum CodingKeys: String, CodingKey {
        case format, collections
        case createdAt = "created_at"
    }

    /// The manifest's file name in a backup folder.
    public static let fileName = "manifest.json"
}

/// Online backups of a data directory and their restore (`quiver backup`, `quiver restore`).
///
/// A backup may be taken while a server writes to the same folder: each collection's index
/// checkpoints are copied first, then its store with SQLite's online backup, which is one
/// consistent snapshot at one seq. An index copied first covers at most that seq, so the restored
/// server replays the few changes after it; a checkpoint that does not match is rebuilt, as
/// always. Nothing of a write committed after the snapshot is in the backup.
public enum DataBackup {
    /// Backs up every collection of `data` into the new folder `destination`.
    ///
    /// - Throws: `.io` when `destination` exists and is not empty, or a file cannot be copied;
    ///   store errors as `SearchEngineError`.
    public static func backup(data: URL, to destination: URL) throws(SearchEngineError) -> BackupManifest {
        let source = DataLayout(dataDirectory: data)
        let target = DataLayout(dataDirectory: destination)
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: destination.path), !existing.isEmpty {
            throw .io(path: destination.path, reason: "the backup folder exists and is not empty")
        }
        var collections: [BackupManifest.Collection] = []
        for name in try collectionNames(in: source) {
            let from = source.collection(name)
            let to = target.collection(name)
            try makeDirectory(to.directory)
            var files: [BackupManifest.File] = []
            // Index checkpoints first (see the type's comment), then CURRENT, then the store.
            for generation in generations(of: from) {
                let path = from.indexPath(generation)
                guard FileManager.default.fileExists(atPath: path) else { continue }
                try makeDirectory(to.generationDirectory(generation))
                try copy(path, to.indexPath(generation))
                files.append(try describe(to.indexPath(generation), root: destination))
            }
            if FileManager.default.fileExists(atPath: from.currentFile) {
                try copy(from.currentFile, to.currentFile)
                files.append(try describe(to.currentFile, root: destination))
            }
            let seq: Int64
            do {
                let store = try DocumentStore(path: from.storePath, logger: .init(label: "quiver.backup"))
                seq = try store.backup(to: to.storePath)
            } catch { throw SearchEngineError(error) }
            files.append(try describe(to.storePath, root: destination))
            collections.append(.init(name: name, seq: seq, files: files))
        }
        let manifest = BackupManifest(format: 1, createdAt: Date().timeIntervalSince1970, collections: collections)
        try write(manifest, to: destination.appendingPathComponent(BackupManifest.fileName))
        return manifest
    }

    /// Checks every file of the backup at `folder` against its manifest (size and SHA-256).
    ///
    /// - Throws: `.io` naming the first missing or altered file, or an unreadable manifest.
    public static func verify(_ folder: URL) throws(SearchEngineError) -> BackupManifest {
        let manifestURL = folder.appendingPathComponent(BackupManifest.fileName)
        let manifest: BackupManifest
        do {
            manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(contentsOf: manifestURL))
        } catch {
            throw .io(path: manifestURL.path, reason: "not a finished backup (no readable manifest): \(error)")
        }
        guard manifest.format == 1 else { throw .io(path: manifestURL.path, reason: "unknown backup format \(manifest.format)") }
        for collection in manifest.collections {
            try CollectionName.validate(collection.name)
            for file in collection.files {
                // Every file of a collection lies in that collection's folder: a manifest cannot
                // reach elsewhere (another collection, outside the data folder).
                let parts = file.path.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "collections", parts[1] == collection.name,
                    !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty })
                else {
                    throw .io(path: file.path, reason: "not a file of collection \(collection.name)'s folder")
                }
                let found = try describe(folder.appendingPathComponent(file.path).path, root: folder)
                guard found == file else {
                    throw .io(
                        path: file.path, reason: "does not match the manifest (\(found.bytes) bytes, sha256 \(found.sha256.prefix(12)))")
                }
            }
        }
        return manifest
    }

    /// Restores the backup at `folder` into `data`, after verifying it. Refuses to overwrite: none
    /// of its collections may exist in `data`.
    public static func restore(from folder: URL, to data: URL) throws(SearchEngineError) -> BackupManifest {
        let manifest = try verify(folder)
        let target = DataLayout(dataDirectory: data)
        for collection in manifest.collections
        where FileManager.default.fileExists(atPath: target.collection(collection.name).directory.path) {
            throw .io(
                path: target.collection(collection.name).directory.path,
                reason: "the collection exists already; restore into a new data folder")
        }
        var restored: [URL] = []
        do throws(SearchEngineError) {
            for collection in manifest.collections {
                restored.append(target.collection(collection.name).directory)
                for file in collection.files {
                    let to = data.appendingPathComponent(file.path)
                    try makeDirectory(to.deletingLastPathComponent())
                    try copy(folder.appendingPathComponent(file.path).path, to.path)
                }
            }
        } catch {
            // Half a restore is removed, so that it can be run again.
            for directory in restored { try? FileManager.default.removeItem(at: directory) }
            throw error
        }
        return manifest
    }

    // MARK: Helpers

    /// The collection folders of `layout`, by name (folders that are not collection names are skipped).
    static func collectionNames(in layout: DataLayout) throws(SearchEngineError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: layout.collectionsDirectory.path)
        } catch {
            throw .io(path: layout.collectionsDirectory.path, reason: "cannot list the collections: \(error)")
        }
        return names.filter { name in
            (try? CollectionName.validate(name)) != nil
                && FileManager.default.fileExists(atPath: layout.collection(name).storePath)
        }.sorted()
    }

    /// The generation folders of a collection that hold a number.
    static func generations(of files: CollectionFiles) -> [Int64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.generationsDirectory.path)) ?? []
        return names.compactMap { Int64($0) }.filter { $0 >= 1 }.sorted()
    }

    static func makeDirectory(_ url: URL) throws(SearchEngineError) {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw .io(path: url.path, reason: "cannot create the folder: \(error)")
        }
    }

    static func copy(_ from: String, _ to: String) throws(SearchEngineError) {
        do { try FileManager.default.copyItem(atPath: from, toPath: to) } catch {
            throw .io(path: to, reason: "cannot copy \(from): \(error)")
        }
    }

    static func describe(_ path: String, root: URL) throws(SearchEngineError) -> BackupManifest.File {
        let url = URL(fileURLWithPath: path)
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw .io(path: path, reason: "missing: \(error)")
        }
        // Links are not followed: what is hashed is what is copied.
        guard attributes[.type] as? FileAttributeType == .typeRegular else { throw .io(path: path, reason: "not a regular file") }
        let rootPath = root.standardizedFileURL.path + "/"
        let full = url.standardizedFileURL.path
        let relative = full.hasPrefix(rootPath) ? String(full.dropFirst(rootPath.count)) : full
        return .init(path: relative, bytes: (attributes[.size] as? Int) ?? 0, sha256: try FileDigest.sha256(of: url))
    }

    static func write(_ manifest: BackupManifest, to url: URL) throws(SearchEngineError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try AtomicFile.write(try encoder.encode(manifest), to: url.path)
        } catch {
            throw .io(path: url.path, reason: "cannot write the manifest: \(error)")
        }
    }
}

/// SHA-256 of files, read in 4 MiB pieces.
enum FileDigest {
    /// The SHA-256 of the file at `url`, as lowercase hex.
    static func sha256(of url: URL) throws(SearchEngineError) -> String {
        var hasher = SHA256()
        try update(&hasher, with: url)
        return hex(hasher.finalize())
    }

    /// Feeds the file at `url` to `hasher`.
    static func update(_ hasher: inout SHA256, with url: URL) throws(SearchEngineError) {
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw .io(path: url.path, reason: "cannot open") }
        defer { try? handle.close() }
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 22) } catch { throw .io(path: url.path, reason: "\(error)") }
            guard let chunk, !chunk.isEmpty else { return }
            hasher.update(data: chunk)
        }
    }

    /// Lowercase hex of `digest`.
    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
