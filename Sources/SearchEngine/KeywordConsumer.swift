import DocumentStore
import Foundation
import KeywordIndex
import Logging
import Synchronization

/// The index follower's second consumer: the collection's keyword index (``KeywordIndex``, one
/// file `keyword.sqlite` beside the generations), caught up from the store's text feed by seq.
///
/// It is not per generation: titles and texts do not depend on the model, so a model change
/// keeps it. Its covered seq is its own (in its file): it may lag the HNSW index for a moment, and
/// a query reports both. A failure here (disk full, a damaged file) never fails the follower's
/// cycle — vector search goes on; keyword queries answer with what the file holds and the failure
/// is logged and reported by ``failure``; it is retried after ``retryInterval``. A damaged file is
/// deleted and rebuilt from the feed; a file ahead of the store (a restored backup) is emptied
/// and rebuilt.
final class KeywordConsumer: Sendable {
    let path: String
    let name: String
    let logger: Logger
    private struct State {
        var index: KeywordIndex?
        var covered: Int64 = 0
        var failure: String?
        var retryAfter = Date.distantPast
    }
    private let state = Mutex(State())

    /// Changes read from the store per page (texts can be long).
    static let page = 1000
    /// Seconds before a failed catch-up is tried again.
    static let retryInterval: TimeInterval = 5

    init(path: String, name: String, logger: Logger) {
        self.path = path
        self.name = name
        self.logger = logger
    }

    /// The seq the keyword index covers (0 before it was opened).
    var coveredSeq: Int64 { state.withLock { $0.covered } }

    /// Why the last catch-up failed; nil after a successful one.
    var failure: String? { state.withLock { $0.failure } }

    /// Applies every change up to `storeSeq` (on the follower's thread). Never throws: see the type.
    func catchUp(store: any CollectionStore, storeSeq: Int64) {
        let (open, retryAfter) = state.withLock { ($0.index, $0.retryAfter) }
        if open == nil || state.withLock({ $0.failure != nil }) {
            guard Date() >= retryAfter else { return }
        }
        do throws(SearchEngineError) {
            let index: KeywordIndex
            if let open { index = open } else { index = try openIndex() }
            var covered = try keyword { () throws(KeywordIndexError) in try index.coveredSeq() }
            if covered > storeSeq {
                logger.warning(
                    "keyword index is ahead of the store; rebuilding",
                    metadata: ["collection": "\(name)", "covered_seq": "\(covered)", "store_seq": "\(storeSeq)"])
                try keyword { () throws(KeywordIndexError) in try index.reset() }
                covered = 0
            }
            let started = Date()
            let from = covered
            while covered < storeSeq {
                let changes: [TextChange]
                do { changes = try store.textChanges(after: covered, limit: Self.page) } catch { throw SearchEngineError(error) }
                let last = changes.last?.seq ?? storeSeq
                try keyword { () throws(KeywordIndexError) in
                    try index.apply(
                        changes.map { KeywordChange(label: $0.label, deleted: $0.deleted, title: $0.title, text: $0.text) },
                        coveredSeq: last)
                }
                covered = last
                state.withLock { $0.covered = covered }
                if changes.isEmpty { break }
            }
            if from == 0, covered > 0 {
                logger.info(
                    "built keyword index",
                    metadata: [
                        "collection": "\(name)", "covered_seq": "\(covered)",
                        "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
                    ])
            }
            state.withLock {
                $0.index = index
                $0.covered = covered
                $0.failure = nil
            }
        } catch {
            let firstTime = state.withLock { state in
                let first = state.failure == nil
                state.failure = error.description
                state.retryAfter = Date().addingTimeInterval(Self.retryInterval)
                return first
            }
            if firstTime {
                logger.warning("keyword index catch-up failed", metadata: ["collection": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Opens the file, replacing a damaged one with a fresh (empty) index.
    private func openIndex() throws(SearchEngineError) -> KeywordIndex {
        do {
            return try KeywordIndex(path: path)
        } catch .damaged(_, let reason) {
            logger.warning("keyword index damaged; rebuilding", metadata: ["collection": "\(name)", "reason": "\(reason)"])
            KeywordIndex.remove(at: path)
            return try keyword { () throws(KeywordIndexError) in try KeywordIndex(path: path) }
        } catch {
            throw Self.map(error)
        }
    }

    /// The best `limit` labels for `text` (BM25), keeping only `allowed` ones.
    ///
    /// - Throws: `storage` when the keyword index could not be opened yet.
    func search(_ text: String, limit: Int, allowed: ((Int64) -> Bool)?) throws(SearchEngineError) -> [KeywordHit] {
        guard let index = state.withLock({ $0.index }) else {
            throw .storage("the keyword index of \(name) is not available: \(failure ?? "not built yet")")
        }
        return try keyword { () throws(KeywordIndexError) in try index.search(text, limit: limit, allowed: allowed) }
    }

    private func keyword<T>(_ body: () throws(KeywordIndexError) -> T) throws(SearchEngineError) -> T {
        do { return try body() } catch { throw Self.map(error) }
    }

    static func map(_ error: KeywordIndexError) -> SearchEngineError {
        switch error {
        case .full: .insufficientStorage(error.description)
        case .damaged, .io: .storage(error.description)
        }
    }
}
