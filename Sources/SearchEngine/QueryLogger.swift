import DocumentStore
import Foundation
import QueryLog
import Synchronization

/// A collection's query log as a server writes it: a query is recorded in memory on its own
/// thread (a lock and an append, never a disk write) and written by the collection's follower
/// thread, which flushes after each of its cycles (every 0.2 s when there is something to
/// write) and prunes by the collection's retention once a minute. Feedback and reports flush
/// first, so they see every query answered before them.
///
/// At most ``maxPending`` queries wait in memory: past that (a disk that cannot keep up or fails)
/// the oldest are dropped and counted in ``dropped``, so logging never grows a server's memory
/// or slows its queries.
final class QueryLogger: Sendable {
    /// Queries held in memory at most.
    static let maxPending = 10_000
    /// Seconds between two prunes.
    static let pruneInterval: Double = 60

    private struct Pending {
        var query: LoggedQuery
        var textMode: QueryTextMode
    }

    private struct Buffer {
        var pending: [Pending] = []
        var shadow: [ShadowComparison] = []
        var dropped = 0
        var lastFailure: String?
    }

    private let path: String
    private let buffer = Mutex(Buffer())
    /// The open file (nil until the first write), and when it was last pruned; guarded by `fileLock`.
    private let fileLock = NSLock()
    private nonisolated(unsafe) var file: QueryLogFile?
    private nonisolated(unsafe) var lastPrune: Double = 0

    /// A log at `path` (created by the first write).
    init(path: String) { self.path = path }

    /// Queries dropped because the log could not keep up or failed.
    var dropped: Int { buffer.withLock { $0.dropped } }
    /// Why the last write failed, nil after a success.
    var lastFailure: String? { buffer.withLock { $0.lastFailure } }

    /// Records `query` to be written with its text kept as `textMode` says (the text is turned
    /// into what the mode keeps when written, with the file's salt).
    func record(_ query: LoggedQuery, textMode: QueryTextMode) {
        buffer.withLock { buffer in Self.append(Pending(query: query, textMode: textMode), to: &buffer.pending, dropped: &buffer.dropped) }
    }

    /// Records a shadow comparison to be written (bounded like queries).
    func record(shadow comparison: ShadowComparison) {
        buffer.withLock { buffer in Self.append(comparison, to: &buffer.shadow, dropped: &buffer.dropped) }
    }

    /// Appends `item` to `list`, dropping (and counting) the oldest once ``maxPending`` wait.
    private static func append<Item>(_ item: Item, to list: inout [Item], dropped: inout Int) {
        if list.count >= maxPending {
            list.removeFirst(list.count - maxPending + 1)
            dropped += 1
        }
        list.append(item)
    }

    /// Writes what is pending and prunes when due, by `tuning`'s retention. A failure is kept in
    /// ``lastFailure`` and the queries are dropped (counted): the log is a report, never a reason
    /// to fail or hold up a query.
    func flush(_ tuning: CollectionTuning, now: Double = Date().timeIntervalSince1970) {
        fileLock.lock()
        defer { fileLock.unlock() }
        let (pending, shadow) = buffer.withLock { buffer in
            let taken = (buffer.pending, buffer.shadow)
            buffer.pending = []
            buffer.shadow = []
            return taken
        }
        guard !pending.isEmpty || !shadow.isEmpty || (file != nil && now - lastPrune >= Self.pruneInterval) else { return }
        do throws(QueryLogError) {
            let log = try openFile()
            if !pending.isEmpty {
                try log.append(
                    pending.map { item in
                        var query = item.query
                        let kept = log.kept(query.text ?? "", mode: item.textMode)
                        query.text = kept.text
                        query.textKey = kept.key
                        if item.textMode == .hash { query.vector = nil }
                        return query
                    })
            }
            try log.append(shadow: shadow)
            if now - lastPrune >= Self.pruneInterval {
                lastPrune = now
                try log.prune(before: now - Double(tuning.effectiveRetentionDays) * 86_400, keep: tuning.effectiveMaxLoggedQueries)
            }
            buffer.withLock { $0.lastFailure = nil }
        } catch {
            buffer.withLock { buffer in
                buffer.dropped += pending.count + shadow.count
                buffer.lastFailure = error.description
            }
        }
    }

    /// Runs `body` on the log file after writing what is pending (nil when the log was never
    /// written: no file, nothing logged).
    func withFile<T>(_ tuning: CollectionTuning, _ body: (QueryLogFile) throws(QueryLogError) -> T) throws(SearchEngineError) -> T? {
        flush(tuning)
        fileLock.lock()
        defer { fileLock.unlock() }
        do throws(QueryLogError) {
            guard file != nil || FileManager.default.fileExists(atPath: path) else { return nil }
            return try body(try openFile())
        } catch {
            throw .storage(error.description)
        }
    }

    /// The open file; opened (created) on first use. Call with `fileLock` held.
    private func openFile() throws(QueryLogError) -> QueryLogFile {
        if let file { return file }
        // The collection's folder exists while it is open; a log never makes one (a deleted
        // collection's folder must not come back for a late write).
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder) else {
            throw QueryLogError(description: "query log \(path): the collection's folder is gone")
        }
        let opened = try QueryLogFile(path: path)
        file = opened
        return opened
    }
}
