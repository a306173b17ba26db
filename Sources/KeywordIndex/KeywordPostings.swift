import Foundation
import VectorMath

/// One document as the keyword index counts it: its words as FTS5's tokenizer emits them, each
/// with its column-weighted frequency, and its length in tokens.
struct TokenizedDocument: Sendable {
    /// The document's label.
    var label: Int64
    /// Tokens in its title and text together (unweighted: bm25's document length).
    var length: Int32
    /// Each distinct token with its weighted frequency: ``KeywordIndex/titleWeight`` per title
    /// occurrence plus 1 per text occurrence.
    var terms: [(token: String, frequency: Float)]
}

/// The keyword index's ranking structure: an in-memory inverted index (token → documents with
/// their weighted frequencies) that scores a query by FTS5's own bm25 formula, so answers are
/// FTS5's `bm25()` ranking without walking FTS5's position lists row by row (the cost of a hybrid
/// query on long documents: docs/ARCHITECTURE.md, "Keyword index").
///
/// bm25 as FTS5 computes it (k1 = 1.2, b = 0.75): for each query phrase i, in query order,
/// `idf_i · f·(k1 + 1) / (f + k1·(1 − b + b·D / avgdl))`, summed per document in double precision,
/// where f is the phrase's weighted frequency in the document, D the document's token count
/// (all columns), avgdl the mean D, and `idf_i = log((N − n + 0.5) / (n + 0.5))`, 1e-6 when that
/// is ≤ 0 (n: documents holding the phrase, N: documents). The same arithmetic in the same order
/// (`KeywordIndexTests.memoryMatchesFTS5` compares the scores with FTS5's `bm25()`, to 1e-6).
///
/// Documents get a slot each; a deleted or replaced document's slot is marked dead and its
/// postings skipped until dead postings and slots outnumber live ones (and ``compactionFloor``),
/// when the slots are renumbered.
/// Searches share a reader-writer lock; an update holds it exclusively for the time it takes to
/// link a page of already-tokenized documents.
final class KeywordPostings: @unchecked Sendable {
    static let k1 = 1.2
    static let b = 0.75

    private let lock = ReadWriteLock()
    /// Dead postings and slots tolerated before a compaction (and not before they also
    /// outnumber the live ones).
    let compactionFloor: Int
    /// Guarded by `lock`. One stored property, so an update or a search is one exclusivity
    /// check, not one per array it touches.
    private var storage = Storage()

    /// An empty index.
    init(compactionFloor: Int = 65_536) { self.compactionFloor = compactionFloor }

    /// The store seq every change up to which is held.
    var coveredSeq: Int64 { lock.withReadLock { storage.covered } }

    /// Live documents.
    var count: Int { lock.withReadLock { storage.slotOfLabel.count } }

    /// Slots in use, live or dead (for tests of compaction).
    var slots: Int { lock.withReadLock { storage.labels.count } }

    /// Applies changes in seq order: what was held for each change's label is dropped, then its
    /// document (nil: deleted, or neither title nor text) is linked in.
    func apply(_ changes: [(label: Int64, document: TokenizedDocument?)], coveredSeq: Int64) {
        lock.withWriteLock { storage.apply(changes, coveredSeq: coveredSeq, compactionFloor: compactionFloor) }
    }

    /// Forgets every document (covered seq 0).
    func reset() {
        lock.withWriteLock { storage = Storage() }
    }

    /// The best `limit` documents for a query of `phrases` (one token per query word, in query
    /// order; repeats count again, as in FTS5) by bm25, best first (ties: smaller label first),
    /// keeping only labels `allowed` accepts.
    ///
    /// Like the FTS5 query it replaces, words held by more than half of the documents are left
    /// out (their IDF is 1e-6: they cannot reorder documents that match a rarer word), unless no
    /// word is both held and rarer, when all are kept.
    func search(_ phrases: [String], limit: Int, allowed: ((Int64) -> Bool)?) -> [KeywordHit] {
        guard limit > 0, !phrases.isEmpty else { return [] }
        return lock.withReadLock { storage.search(phrases, limit: limit, allowed: allowed) }
    }

    private struct Posting {
        var slot: Int32
        var frequency: Float
    }

    private struct Storage {
        var termIDs: [String: Int32] = [:]
        var postings: [[Posting]] = []
        /// Live documents holding each term.
        var documentFrequency: [Int32] = []
        var slotOfLabel: [Int64: Int32] = [:]
        var labels: [Int64] = []
        /// Token count per slot; −1 marks a dead slot.
        var lengths: [Int32] = []
        /// The distinct term ids of each live slot (to unlink it).
        var documentTerms: [[Int32]] = []
        var totalTokens = 0
        var livePostings = 0
        var deadPostings = 0
        /// Dead slots (a document without tokens has a slot but no postings).
        var deadSlots = 0
        var covered: Int64 = 0

        mutating func apply(_ changes: [(label: Int64, document: TokenizedDocument?)], coveredSeq: Int64, compactionFloor: Int) {
            for change in changes {
                unlink(change.label)
                if let document = change.document { link(document) }
            }
            covered = max(covered, coveredSeq)
            let dead = deadPostings + deadSlots
            if dead > compactionFloor, dead > livePostings + slotOfLabel.count { compact() }
        }

        private mutating func link(_ document: TokenizedDocument) {
            let slot = Int32(labels.count)
            labels.append(document.label)
            lengths.append(document.length)
            var ids: [Int32] = []
            ids.reserveCapacity(document.terms.count)
            for (token, frequency) in document.terms {
                let id: Int32
                if let known = termIDs[token] {
                    id = known
                } else {
                    id = Int32(postings.count)
                    termIDs[token] = id
                    postings.append([])
                    documentFrequency.append(0)
                }
                postings[Int(id)].append(Posting(slot: slot, frequency: frequency))
                documentFrequency[Int(id)] += 1
                ids.append(id)
            }
            documentTerms.append(ids)
            slotOfLabel[document.label] = slot
            totalTokens += Int(document.length)
            livePostings += ids.count
        }

        private mutating func unlink(_ label: Int64) {
            guard let slot = slotOfLabel.removeValue(forKey: label) else { return }
            let index = Int(slot)
            for id in documentTerms[index] { documentFrequency[Int(id)] -= 1 }
            livePostings -= documentTerms[index].count
            deadPostings += documentTerms[index].count
            totalTokens -= Int(lengths[index])
            lengths[index] = -1
            documentTerms[index] = []
            deadSlots += 1
        }

        /// Renumbers the live slots densely (in their order) and drops dead postings. Terms no
        /// live document holds keep their (empty) lists: ids stay stable, and a word that comes
        /// back reuses its id.
        private mutating func compact() {
            var newSlot = [Int32](repeating: -1, count: labels.count)
            var keptLabels: [Int64] = []
            var keptLengths: [Int32] = []
            var keptTerms: [[Int32]] = []
            for slot in labels.indices where lengths[slot] >= 0 {
                newSlot[slot] = Int32(keptLabels.count)
                keptLabels.append(labels[slot])
                keptLengths.append(lengths[slot])
                keptTerms.append(documentTerms[slot])
            }
            for id in postings.indices {
                postings[id] = postings[id].compactMap { posting in
                    let slot = newSlot[Int(posting.slot)]
                    return slot < 0 ? nil : Posting(slot: slot, frequency: posting.frequency)
                }
            }
            labels = keptLabels
            lengths = keptLengths
            documentTerms = keptTerms
            slotOfLabel = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, Int32($0)) })
            deadPostings = 0
            deadSlots = 0
        }

        func search(_ phrases: [String], limit: Int, allowed: ((Int64) -> Bool)?) -> [KeywordHit] {
            let documents = slotOfLabel.count
            guard documents > 0 else { return [] }
            let ids = phrases.map { termIDs[$0] }
            let frequencies = ids.map { $0.map { Int(documentFrequency[Int($0)]) } ?? 0 }
            var kept = ids.indices.filter { frequencies[$0] > 0 && 2 * frequencies[$0] <= documents }
            if kept.isEmpty { kept = Array(ids.indices) }
            let n = Double(documents)
            let averageLength = Double(totalTokens) / n
            let k1 = KeywordPostings.k1
            let b = KeywordPostings.b
            var scores = [Double](repeating: 0, count: labels.count)
            var touched: [Int32] = []
            for phrase in kept {
                guard let id = ids[phrase] else { continue }
                let hits = Double(frequencies[phrase])
                var idf = log((n - hits + 0.5) / (hits + 0.5))
                if idf <= 0 { idf = 1e-6 }
                postings[Int(id)].withUnsafeBufferPointer { list in
                    lengths.withUnsafeBufferPointer { lengths in
                        scores.withUnsafeMutableBufferPointer { scores in
                            for posting in list {
                                let slot = Int(posting.slot)
                                let length = lengths[slot]
                                if length < 0 { continue }
                                let f = Double(posting.frequency)
                                let numerator = f * (k1 + 1.0)
                                let denominator = f + k1 * (1 - b + b * Double(length) / averageLength)
                                if scores[slot] == 0 { touched.append(posting.slot) }
                                scores[slot] += idf * numerator / denominator
                            }
                        }
                    }
                }
            }
            var best = BoundedBest(limit: limit)
            for slot in touched {
                let label = labels[Int(slot)]
                if let allowed, !allowed(label) { continue }
                best.offer(score: scores[Int(slot)], label: label)
            }
            return best.sorted().map { KeywordHit(label: $0.label, score: Float($0.score)) }
        }
    }
}

/// The `limit` best (score, label) pairs offered (higher score first; on equal scores the
/// smaller label), kept in a binary min-heap whose root is the worst kept.
struct BoundedBest {
    struct Entry {
        var score: Double
        var label: Int64
        /// Whether `self` ranks below `other`.
        func ranksBelow(_ other: Entry) -> Bool {
            score != other.score ? score < other.score : label > other.label
        }
    }
    let limit: Int
    private(set) var heap: [Entry] = []

    init(limit: Int) {
        self.limit = limit
        heap.reserveCapacity(min(limit, 4096))
    }

    mutating func offer(score: Double, label: Int64) {
        let entry = Entry(score: score, label: label)
        if heap.count < limit {
            heap.append(entry)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].ranksBelow(heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        } else if let root = heap.first, root.ranksBelow(entry) {
            heap[0] = entry
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var lowest = left
                if left + 1 < heap.count, heap[left + 1].ranksBelow(heap[left]) { lowest = left + 1 }
                guard heap[lowest].ranksBelow(heap[parent]) else { break }
                heap.swapAt(lowest, parent)
                parent = lowest
            }
        }
    }

    /// The kept entries, best first.
    func sorted() -> [Entry] { heap.sorted { $1.ranksBelow($0) } }
}
