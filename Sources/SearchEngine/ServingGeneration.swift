import DocumentStore
import Synchronization
import VectorIndex

/// The generation answering queries in this process: its record, its HNSW index, and when each
/// range of sequence numbers became searchable (for `indexed_at`).
///
/// A query takes one `ServingGeneration` at its start and uses only it, so a generation switch
/// in the middle of a query cannot mix two models' vectors.
final class ServingGeneration: Sendable {
    let record: GenerationRecord
    let index: HNSWIndex
    /// Everything up to `baseSeq` was searchable from `baseTime` on (the checkpoint's write time,
    /// or the rebuild's time).
    let baseSeq: Int64
    let baseTime: Double
    /// Ascending `(up to seq, applied at)` of the catch-ups since loading; thinned when long.
    private let applied = Mutex<[(seq: Int64, time: Double)]>([])

    /// Whether some document has more than one passage in the index (a chunked generation's
    /// label with a passage number above 0). Only the start of a vector search's passage budget
    /// reads it: without such documents, `k` passages are `k` documents, so the search asks for
    /// `k` (and the caller's `ef` means what it says) instead of the `3k` that long documents need.
    /// Found by one scan of the labels when the generation is loaded or rebuilt, and set (never
    /// cleared) by the follower before it inserts a second passage; a stale `false` costs a second
    /// search, never a wrong answer.
    private let multiPassage: Atomic<Bool>
    var hasMultiPassageDocuments: Bool { multiPassage.load(ordering: .acquiring) }
    func noteMultiPassageDocuments() { multiPassage.store(true, ordering: .releasing) }

    init(record: GenerationRecord, index: HNSWIndex, baseSeq: Int64, baseTime: Double) {
        self.record = record
        self.index = index
        self.baseSeq = baseSeq
        self.baseTime = baseTime
        self.multiPassage = Atomic(record.chunking.isOn && index.containsLabel(where: { PassageLabel.passage($0) > 0 }))
    }

    /// The same generation served by `index` (a compacted copy covering the same changes), with
    /// the same history of when changes became searchable.
    func replacingIndex(_ index: HNSWIndex) -> ServingGeneration {
        let copy = ServingGeneration(record: record, index: index, baseSeq: baseSeq, baseTime: baseTime)
        let history = applied.withLock { $0 }
        copy.applied.withLock { $0 = history }
        return copy
    }

    /// The store sequence the index covers.
    var indexedSeq: Int64 { Int64(clamping: index.coveredSeq) }

    func recordApplied(upTo seq: Int64, at time: Double) {
        applied.withLock { list in
            list.append((seq, time))
            // Keep the list short: drop every other entry (later times are upper bounds anyway).
            if list.count > 4096 {
                list = list.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            }
        }
    }

    /// When a change with sequence `seq` became searchable; nil if it is not yet.
    func indexedAt(seq: Int64) -> Double? {
        if seq <= baseSeq { return baseTime }
        return applied.withLock { list in
            var low = 0
            var high = list.count
            while low < high {
                let mid = (low + high) / 2
                if list[mid].seq < seq { low = mid + 1 } else { high = mid }
            }
            return low < list.count ? list[low].time : nil
        }
    }
}
