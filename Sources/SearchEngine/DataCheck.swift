import DocumentStore
import Foundation
import Logging
import Synchronization
import VectorIndex

/// What `quiver check` found in a data directory.
public struct CheckReport: Codable, Sendable, Equatable {
    /// One collection.
    public struct Collection: Codable, Sendable, Equatable {
        public var name: String
        /// The store's change seq (nil when the store could not be read).
        public var seq: Int64?
        /// What is wrong with the store (integrity, invariants); empty when sound. The store is
        /// the source of truth: a problem here can mean lost or wrong data.
        public var storeProblems: [String]
        /// Index files that fail their checksums or structure: the server rebuilds them.
        public var damagedIndexFiles: [String]
        /// What a server opening the collection would do with its index (replay N changes,
        /// rebuild and why).
        public var indexNotes: [String]

        /// True when the store is sound and no index file is damaged.
        public var ok: Bool { storeProblems.isEmpty && damagedIndexFiles.isEmpty }

        enum CodingKeys: String, CodingKey {
            case name, seq, ok
            case storeProblems = "store_problems"
            case damagedIndexFiles = "damaged_index_files"
            case indexNotes = "index_notes"
        }

        public init(name: String, seq: Int64?, storeProblems: [String], damagedIndexFiles: [String], indexNotes: [String]) {
            self.name = name
            self.seq = seq
            self.storeProblems = storeProblems
            self.damagedIndexFiles = damagedIndexFiles
            self.indexNotes = indexNotes
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            seq = try c.decodeIfPresent(Int64.self, forKey: .seq)
            storeProblems = try c.decode([String].self, forKey: .storeProblems)
            damagedIndexFiles = try c.decode([String].self, forKey: .damagedIndexFiles)
            indexNotes = try c.decode([String].self, forKey: .indexNotes)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encodeIfPresent(seq, forKey: .seq)
            try c.encode(ok, forKey: .ok)
            try c.encode(storeProblems, forKey: .storeProblems)
            try c.encode(damagedIndexFiles, forKey: .damagedIndexFiles)
            try c.encode(indexNotes, forKey: .indexNotes)
        }
    }

    public var collections: [Collection]
    /// True when every collection is.
    public var ok: Bool { collections.allSatisfy(\.ok) }
}

/// `quiver check`: verifies every store (`integrity_check`, schema, the invariants of seqs and
/// vectors) and every index file (all checksums and the structure), and says what a server would
/// rebuild or replay. Reads only (opening a store of an older schema migrates it).
public enum DataCheck {
    /// Checks every collection of `data`.
    public static func run(data: URL) throws(SearchEngineError) -> CheckReport {
        let layout = DataLayout(dataDirectory: data)
        var collections: [CheckReport.Collection] = []
        for name in try DataBackup.collectionNames(in: layout) {
            let files = layout.collection(name)
            collections.append(
                check(name: name, files: files) { () throws(DocumentStoreError) in
                    try DocumentStore(path: files.storePath, logger: Logger(label: "quiver.check"))
                })
        }
        return CheckReport(collections: collections)
    }

    /// Checks every collection of `catalog` (a PostgreSQL store: its invariants, and this
    /// machine's index files under the catalog's data directory).
    public static func run(catalog: any StoreCatalog) throws(SearchEngineError) -> CheckReport {
        let names: [String]
        do { names = try catalog.names() } catch { throw SearchEngineError(error) }
        var collections: [CheckReport.Collection] = []
        for name in names {
            collections.append(
                check(name: name, files: catalog.localFiles(name)) { () throws(DocumentStoreError) in
                    guard let store = try catalog.open(name) else { throw .notInitialized(path: "collection \(name) (dropped meanwhile)") }
                    return store
                })
        }
        return CheckReport(collections: collections)
    }

    static func check(
        name: String, files: CollectionFiles, open: () throws(DocumentStoreError) -> any CollectionStore
    ) -> CheckReport.Collection {
        var report = CheckReport.Collection(name: name, seq: nil, storeProblems: [], damagedIndexFiles: [], indexNotes: [])
        let state: StoreState
        let settings: CollectionSettings
        do {
            let store = try open()
            report.storeProblems = try store.problems()
            state = try store.state()
            settings = try store.settings()
            let pending = try store.staleCount(generation: state.current.generation)
            if pending > 0 {
                report.indexNotes.append(
                    "generation \(state.current.generation): \(pending) live documents wait for an up-to-date vector "
                        + "(deferred writes, which a worker or quiver index --wait embeds, or writes during a model change)")
            }
        } catch {
            report.storeProblems.append("\(error)")
            return report
        }
        report.seq = state.seq
        for generation in DataBackup.generations(of: files) {
            let path = files.indexPath(generation)
            let isCurrent = generation == state.current.generation
            guard FileManager.default.fileExists(atPath: path) else {
                if isCurrent { report.indexNotes.append("generation \(generation): no checkpoint; would rebuild from the store") }
                continue
            }
            let index: HNSWIndex
            do {
                index = try HNSWIndex.open(at: path, verification: .full)
            } catch {
                report.damagedIndexFiles.append("\(path): \(error)")
                if isCurrent { report.indexNotes.append("generation \(generation): checkpoint damaged; would rebuild from the store") }
                continue
            }
            guard isCurrent else { continue }
            let covered = Int64(clamping: index.coveredSeq)
            if index.configuration.dimension != state.current.dimensions
                || index.configuration.metric != DistanceMetric(name: settings.metric)
            {
                report.indexNotes.append("generation \(generation): checkpoint of another shape; would rebuild from the store")
            } else if covered > state.seq {
                report.indexNotes.append(
                    "generation \(generation): checkpoint covers seq \(covered), beyond the store's \(state.seq); would rebuild")
            } else if covered < state.seq {
                report.indexNotes.append(
                    "generation \(generation): checkpoint at seq \(covered); would replay \(state.seq - covered) changes")
            } else {
                report.indexNotes.append("generation \(generation): checkpoint up to date (seq \(covered))")
            }
        }
        if !FileManager.default.fileExists(atPath: files.generationDirectory(state.current.generation).path) {
            report.indexNotes.append("generation \(state.current.generation): no checkpoint; would rebuild from the store")
        }
        return report
    }
}

extension DataCheck {
    /// `PRAGMA quick_check` of every store of `data`: the problems per collection (empty when all
    /// are sound). Run by the server at start-up after an unclean shutdown (see ``RunningMarker``).
    public static func quick(data: URL) throws(SearchEngineError) -> [String: [String]] {
        let layout = DataLayout(dataDirectory: data)
        var problems: [String: [String]] = [:]
        for name in try DataBackup.collectionNames(in: layout) {
            do {
                let store = try DocumentStore(path: layout.collection(name).storePath, logger: Logger(label: "quiver.check"))
                let found = try store.quickCheck()
                if !found.isEmpty { problems[name] = found }
            } catch {
                problems[name] = ["\(error)"]
            }
        }
        return problems
    }
}

/// `<data>/RUNNING`: says a server is using a data folder. A server takes an exclusive `flock` on
/// it and writes "running" at start; a clean shutdown empties it and lets the lock go. Found with
/// "running" in it and no lock held, the last server died without shutting down. (A lock rather
/// than a process id: in a container the server is process 1 on every start.)
public enum RunningMarker {
    private static let held = Mutex<[String: Int32]>([:])

    static func url(_ data: URL) -> URL { data.appendingPathComponent("RUNNING") }

    /// Takes the marker of `data` for this process. Returns true when the last server on the folder
    /// did not shut down cleanly; false after a clean shutdown, on a first start, or when another
    /// live process holds the marker (it is serving the folder; nothing is concluded).
    public static func claim(data: URL) -> Bool {
        let path = url(data).path
        try? FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return false
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let unclean = count > 0
        let text = Array("running \(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = fsync(fd)
        let previous = held.withLock { fds -> Int32? in
            defer { fds[path] = fd }
            return fds[path]
        }
        if let previous { close(previous) }
        return unclean
    }

    /// Empties the marker and lets its lock go (a clean shutdown).
    public static func release(data: URL) {
        let path = url(data).path
        guard let fd = held.withLock({ $0.removeValue(forKey: path) }) else { return }
        _ = ftruncate(fd, 0)
        _ = fsync(fd)
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
