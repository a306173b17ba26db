import DocumentStore
import Synchronization

/// A replica's cache of hit documents (without text or vectors) and their best passages, so a
/// query whose hits are popular documents needs no store read: on a remote store, one round trip
/// per query less.
///
/// Exact, never stale beyond what the index itself is: the index follower invalidates every label
/// it applies a change for (and everything when it loads or rebuilds an index), and bumps an epoch
/// as it does; a query inserts what it read from the store only when no invalidation happened
/// since before its read (the epoch is unchanged), so a document version read before a change was
/// applied can never be inserted after it. A query uses the cache only when its store-state read
/// shows the index exactly caught up (`store_seq = indexed_seq`): then every change committed
/// before that read has been applied, hence invalidated, and what the cache holds is what the store
/// held. (A store seq below the index's is a store that may have gone back — a promoted standby —
/// and the store is read.)
final class HitCache: Sendable {
    /// Most bytes held (an estimate of the entries' sizes); 0 disables the cache.
    let capacityBytes: Int

    private struct Entry {
        var generation: Int64
        var document: StoredDocument
        var passages: [Int: String]
        var bytes: Int
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        /// Insertion order, for evicting the oldest first (labels removed meanwhile are skipped).
        var order: [Int64] = []
        var head = 0
        var bytes = 0
        var epoch: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    private let state = Mutex(State())

    init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
    }

    var isEnabled: Bool { capacityBytes > 0 }

    /// The invalidation epoch, read before a store read whose result may be inserted.
    var epoch: UInt64 { state.withLock { $0.epoch } }

    /// Hits and misses counted so far (for tests and the logs).
    var counts: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// What the cache holds of `labels` in `generation` — each document, and its passage
    /// `passages[label]` when one is wanted — and the labels it lacks (or whose passage it lacks).
    func lookup(labels: [Int64], passages: [Int64: Int], generation: Int64)
        -> (documents: [Int64: StoredDocument], passages: [Int64: String], missing: [Int64])
    {
        state.withLock { state in
            var documents: [Int64: StoredDocument] = [:]
            var texts: [Int64: String] = [:]
            var missing: [Int64] = []
            for label in labels {
                guard let entry = state.entries[label], entry.generation == generation else {
                    missing.append(label)
                    continue
                }
                if let passage = passages[label] {
                    guard let text = entry.passages[passage] else {
                        missing.append(label)
                        continue
                    }
                    texts[label] = text
                }
                documents[label] = entry.document
            }
            state.hits += labels.count - missing.count
            state.misses += missing.count
            return (documents, texts, missing)
        }
    }

    /// Adds documents read from the store when no invalidation happened since `epoch` was read
    /// (else they may predate a change already applied, and are dropped).
    func insert(
        _ documents: [Int64: StoredDocument], passages: [Int64: Int], texts: [Int64: String], generation: Int64, epoch: UInt64
    ) {
        guard isEnabled, !documents.isEmpty else { return }
        state.withLock { state in
            guard state.epoch == epoch else { return }
            for (label, document) in documents {
                var entry =
                    state.entries[label].flatMap { $0.generation == generation && $0.document.seq == document.seq ? $0 : nil }
                    ?? Entry(generation: generation, document: document, passages: [:], bytes: Self.bytes(of: document))
                if let passage = passages[label], let text = texts[label], entry.passages[passage] == nil {
                    entry.passages[passage] = text
                    entry.bytes += text.utf8.count + 16
                }
                if let old = state.entries[label] {
                    state.bytes -= old.bytes
                } else {
                    state.order.append(label)
                }
                state.entries[label] = entry
                state.bytes += entry.bytes
            }
            evict(&state)
        }
    }

    /// Drops `labels` (the follower is about to apply changes to them).
    func invalidate<Labels: Sequence>(_ labels: Labels) where Labels.Element == Int64 {
        guard isEnabled else { return }
        state.withLock { state in
            state.epoch &+= 1
            for label in labels {
                if let old = state.entries.removeValue(forKey: label) { state.bytes -= old.bytes }
            }
        }
    }

    /// Drops everything (an index loaded or rebuilt).
    func clear() {
        state.withLock { state in
            state.epoch &+= 1
            state.entries.removeAll()
            state.order.removeAll()
            state.head = 0
            state.bytes = 0
        }
    }

    private func evict(_ state: inout State) {
        while state.bytes > capacityBytes, state.head < state.order.count {
            let label = state.order[state.head]
            state.head += 1
            if let old = state.entries.removeValue(forKey: label) { state.bytes -= old.bytes }
        }
        if state.head > 1024, state.head * 2 > state.order.count {
            // Labels evicted or invalidated since are dropped from the order with the consumed head.
            state.order = state.order[state.head...].filter { state.entries[$0] != nil }
            state.head = 0
        }
    }

    /// An estimate of an entry's memory.
    private static func bytes(of document: StoredDocument) -> Int {
        160 + document.id.utf8.count + (document.title?.utf8.count ?? 0) + (document.metadata?.utf8.count ?? 0)
            + (document.chunks?.spans.count ?? 0) * 16
    }
}
