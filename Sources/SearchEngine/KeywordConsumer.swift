import DocumentStore
import Foundation
import KeywordIndex
import Logging
import Synchronization

/// The index follower's second consumer: the collection's keyword index (``KeywordIndex``, one
/// file `keyword.sqlite` beside the generations), caught up from the store's text feed by seq.
///
/// It is not per generation: titles and texts do not depend on the model, so a model change
/// keeps it. Its covered seq is its own (its in-memory ranking's): it may lag the HNSW index for a
/// moment, and a query reports both. A failure here (disk full, a damaged file) never fails the
/// follower's cycle — vector search goes on; keyword queries answer with what the index holds,
/// hybrid queries fall back to their vector list when the index cannot answer, and the failure is
/// logged and reported in every query's `index.keyword_error` (``failure``); it is retried after
/// ``retryInterval``. A damaged file — found at open, by a catch-up or by a query the file answers
/// — is deleted and rebuilt from the feed; a file ahead of the store (a restored backup) is
/// emptied and rebuilt.
final class KeywordConsumer: Sendable {
    let path: String
    let name: String
    let logger: Logger
    private struct State {
        var index: KeywordIndex?
        var covered: Int64 = 0
        var failure: String?
        var retryAfter = Date.distantPast
        /// A query found the file damaged: the next catch-up replaces it.
        var damaged: String?
        /// When a build from empty began (it may take several cycles).
        var buildStarted: Date?
    }
    private let state = Mutex(State())

    /// Changes read from the store per page (texts can be long).
    static let page = 1000
    /// Pages applied per follower cycle: a large backlog (a first build, a rebuild) is applied
    /// over several cycles, so the vector index's catch-up — which writes wait for — is never
    /// held up by more than this many pages (~0.5 s for 2,000 man pages of ~3 KB).
    static let pagesPerCycle = 2
    /// Seconds before a failed catch-up is tried again.
    static let retryInterval: TimeInterval = 5

    init(path: String, name: String, logger: Logger) {
        self.path = path
        self.name = name
        self.logger = logger
    }

    /// The seq the keyword index covers (0 before it was opened).
    var coveredSeq: Int64 { state.withLock { $0.covered } }

    /// Why the keyword index cannot answer in full: the last catch-up's failure, or that it was
    /// not opened yet; nil when it is open and its last catch-up succeeded.
    var failure: String? {
        state.withLock { state in
            state.failure ?? state.damaged ?? (state.index == nil ? "the keyword index is not built yet" : nil)
        }
    }

    /// Applies the changes up to `storeSeq`, at most `maxPages` pages of them (on the follower's
    /// thread). Never throws: see the type.
    ///
    /// - Returns: true when changes are left for another cycle.
    @discardableResult
    func catchUp(store: any CollectionStore, storeSeq: Int64, maxPages: Int = .max) -> Bool {
        let (open, retryAfter, failed, damaged) = state.withLock { ($0.index, $0.retryAfter, $0.failure != nil, $0.damaged) }
        if let damaged {
            // Queries may still hold the old pool; on POSIX the unlinked file lives until they end.
            logger.warning("keyword index damaged; rebuilding", metadata: ["collection": "\(name)", "reason": "\(damaged)"])
            state.withLock {
                $0.index = nil
                $0.covered = 0
                $0.damaged = nil
            }
            KeywordIndex.remove(at: path)
        } else if open == nil || failed {
            guard Date() >= retryAfter else { return false }
        }
        var covered: Int64 = 0
        do {
            let index: KeywordIndex
            if let open, damaged == nil { index = open } else { index = try openIndex() }
            covered = try index.coveredSeq()
            // Published at once: while it catches up, keyword queries answer from what it holds.
            state.withLock {
                $0.index = index
                $0.covered = covered
            }
            var target = storeSeq
            if covered > target {
                // Another process following the same store (a `quiver index` beside `serve`) may
                // have applied changes this cycle's seq predates: ask the store again.
                target = try store.state().seq
                if covered > target {
                    logger.warning(
                        "keyword index is ahead of the store; rebuilding",
                        metadata: ["collection": "\(name)", "covered_seq": "\(covered)", "store_seq": "\(target)"])
                    try index.reset()
                    covered = 0
                    state.withLock { $0.covered = 0 }
                }
            }
            if covered == 0, target > 0 {
                state.withLock { if $0.buildStarted == nil { $0.buildStarted = Date() } }
            }
            var pages = 0
            while covered < target, pages < maxPages {
                pages += 1
                let changes = try store.textChanges(after: covered, limit: Self.page)
                let last = changes.last?.seq ?? target
                covered = try index.apply(
                    changes.map { KeywordChange(seq: $0.seq, label: $0.label, deleted: $0.deleted, title: $0.title, text: $0.text) },
                    coveredSeq: last)
                state.withLock { $0.covered = covered }
                if changes.isEmpty { break }
            }
            if covered < target {
                state.withLock { $0.failure = nil }
                return true
            }
            let buildStarted = state.withLock { state in
                let started = state.buildStarted
                state.buildStarted = nil
                state.covered = covered
                state.failure = nil
                return started
            }
            if let buildStarted {
                logger.info(
                    "built keyword index",
                    metadata: [
                        "collection": "\(name)", "covered_seq": "\(covered)",
                        "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(buildStarted)))",
                    ])
            }
        } catch {
            let description = (error as? KeywordIndexError)?.description ?? "\(error)"
            let firstTime = state.withLock { state in
                let first = state.failure == nil
                state.failure = description
                if case .damaged? = error as? KeywordIndexError {
                    // Replaced by the next cycle, without waiting out the retry interval.
                    state.damaged = description
                    state.retryAfter = .distantPast
                } else {
                    state.retryAfter = Date().addingTimeInterval(Self.retryInterval)
                }
                return first
            }
            if firstTime {
                logger.warning("keyword index catch-up failed", metadata: ["collection": "\(name)", "error": "\(description)"])
            }
        }
        return false
    }

    /// Has the next catch-up replace the index with one built from the store (its changes may
    /// not exist any more: the store's history forked); keyword queries are refused meanwhile.
    func rebuild(reason: String) {
        state.withLock { $0.damaged = reason }
    }

    /// Opens the file, replacing a damaged one with a fresh (empty) index.
    private func openIndex() throws(KeywordIndexError) -> KeywordIndex {
        do {
            return try KeywordIndex(path: path)
        } catch .damaged(_, let reason) {
            logger.warning("keyword index damaged; rebuilding", metadata: ["collection": "\(name)", "reason": "\(reason)"])
            KeywordIndex.remove(at: path)
            return try KeywordIndex(path: path)
        }
    }

    /// The best `limit` labels for `text` (BM25), keeping only `allowed` ones.
    ///
    /// - Throws: `unavailable` when the keyword index was not opened yet or is being replaced;
    ///   `storage` or `insufficientStorage` when reading it failed (a damaged file is then
    ///   replaced by the follower's next cycle).
    func search(_ text: String, limit: Int, allowed: ((Int64) -> Bool)?) throws(SearchEngineError) -> [KeywordHit] {
        guard let index = state.withLock({ $0.damaged == nil ? $0.index : nil }) else {
            throw .unavailable("the keyword index of \(name) is not available: \(failure ?? "not built yet")")
        }
        do {
            return try index.search(text, limit: limit, allowed: allowed)
        } catch {
            if case .damaged = error {
                state.withLock { if $0.damaged == nil { $0.damaged = error.description } }
            }
            throw Self.map(error)
        }
    }

    static func map(_ error: KeywordIndexError) -> SearchEngineError {
        switch error {
        case .full: .insufficientStorage(error.description)
        case .damaged, .io: .storage(error.description)
        }
    }
}
