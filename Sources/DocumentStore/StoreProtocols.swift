import Foundation

// The store seam: what the search engine needs from the source of truth of a collection. The
// SQLite `DocumentStore` is the first conformer; another engine (PostgreSQL) is a new module that
// conforms to the same protocols and passes the same conformance suite
// (Tests/DocumentStoreTests/StoreConformanceTests.swift). Every requirement throws
// `DocumentStoreError`, so the engine above maps one error type whatever the backend.
//
// The contract, which every conformer must keep:
//
// 1. **Sequence.** Every committed change to a document (insert, update, delete) gets a sequence
//    number one larger than the previous committed one: `state().seq` is the largest, and it
//    never goes backwards.
// 2. **No gaps seen.** A reader never sees seq N+1 before seq N has committed: `changes(after:)`
//    returns a prefix of the log with no holes. (SQLite has one writer at a time; a multi-writer
//    engine must hand out seqs in commit order, e.g. from a counter row updated in the writing
//    transaction, not from a sequence object.)
// 3. **Compacted log.** `changes(after:)` returns each document once, at its latest seq, with
//    its current state (a tombstone for a delete). A follower that applies the changes in order
//    ends with exactly the store's live documents.
// 4. **Atomic writes.** `apply` commits all its writes and deletes or none; when it returns they
//    are durable. A write that names a generation which is no longer `current` or `building`
//    inside its transaction fails with `.generationNotWritable` and writes nothing.
// 5. **Generations.** At most one `current` and one `building` generation; a switch makes
//    `building` current only when every live document has an up-to-date vector in it.
// 6. **Pending documents.** A `pending` write stores a document without embedding it; it stays
//    stale until a worker stores its vector (`claimStale`, `writeGenerationVectors`). A vector
//    stored that way into the *current* generation is itself a change: the document gets the next
//    seq, so index followers pick the vector up like any write.

/// The change log of one collection: what an index follower reads to stay caught up.
public protocol ChangeFeed: Sendable {
    /// The current generation, the last committed seq and the last sync time, read together.
    func state() throws(DocumentStoreError) -> StoreState
    /// Whether every read is a round trip to another process (a database server), so callers
    /// should share reads they can: the index follower reuses a state read for a few
    /// milliseconds. False (the default) for a store in a local file.
    var isRemote: Bool { get }
    /// For a remote store: how long a query waits for a read of ``state()`` before it answers
    /// from the last state read, with a lag that says how old that is (500 ms by default). A
    /// store cut off by the network thus holds no query for the request timeout.
    var statePatience: Duration { get }
    /// The lowest seq at which the store's history forked on a timeline after `timeline` (a
    /// standby promoted with that seq: changes committed beyond it on the old primary may not
    /// exist any more), or nil when it did not fork since. A follower that applied changes beyond
    /// that seq rebuilds. Nil (the default) for a store whose history cannot fork.
    func forkSeq(afterTimeline timeline: Int64) throws(DocumentStoreError) -> Int64?

    /// Changes with seq > `seq` in seq order (at most `limit`), each with the document's vector in
    /// `generation` when it has one there (decoded to `dimensions` floats).
    func changes(after seq: Int64, generation: Int64, dimensions: Int, limit: Int) throws(DocumentStoreError) -> [DocumentChange]

    /// Changes with seq > `seq` in seq order (at most `limit`), each with the document's title and
    /// text (a text index's catch-up; the same compacted log as `changes(after:)`).
    func textChanges(after seq: Int64, limit: Int) throws(DocumentStoreError) -> [TextChange]

    /// Live vectors of `generation` with labels after `afterLabel`, in label order (at most
    /// `limit` documents), with their documents' ids: the input of an index rebuild. A document
    /// of a chunked generation brings its passages' vectors (`counts`), any other its vector.
    func vectorPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> VectorPage

    /// Number of index vectors stored for `generation` (what an index caught up to the store
    /// holds): one per document, or one per passage in a chunked generation.
    func vectorCount(generation: Int64) throws(DocumentStoreError) -> Int

    /// Labels and ids of live documents after `afterLabel`, in label order (at most `limit`).
    func liveLabels(afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [(label: Int64, id: String)]
}

/// Batched reads of one collection's documents.
public protocol DocumentReads: Sendable {
    /// The collection's settings.
    func settings() throws(DocumentStoreError) -> CollectionSettings
    /// Every generation, oldest first.
    func generations() throws(DocumentStoreError) -> [GenerationRecord]
    /// Live and deleted document counts.
    func counts() throws(DocumentStoreError) -> (live: Int, deleted: Int)
    /// Live documents by label (absent ones left out), with their `generation` vector and text
    /// only when asked.
    func documents(labels: [Int64], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool)
        throws(DocumentStoreError) -> [Int64: StoredDocument]
    /// Live documents by id (absent ones left out), with their `generation` vector when asked.
    func documents(ids: [String], generation: Int64, dimensions: Int, withVectors: Bool)
        throws(DocumentStoreError) -> [String: StoredDocument]
    /// What the store holds for each id (deleted ones included), with the content hash of its
    /// vector in `generation`: what a write needs to skip unchanged documents.
    func existing(ids: [String], generation: Int64) throws(DocumentStoreError) -> [String: ExistingDocument]
    /// Labels of live documents matching every condition.
    func labels(matching conditions: [FieldCondition], generation: Int64) throws(DocumentStoreError) -> Set<Int64>
    /// Ids of every live document.
    func liveIDs() throws(DocumentStoreError) -> [String]
    /// The characters `span` (Unicode scalar offsets) of each live document's text, by label
    /// (absent or deleted documents left out): a hit's passage without reading its whole text.
    func passageTexts(_ spans: [(label: Int64, span: ChunkSpan)]) throws(DocumentStoreError) -> [Int64: String]
    /// ``documents(labels:generation:dimensions:withVectors:withText:)`` and, for each label in
    /// `passages`, the text of that passage (an index into the document's spans in `generation`;
    /// left out when out of range): a query's hits in one read. A store with round trips answers
    /// it in one; the default makes the two reads.
    func hitDocuments(labels: [Int64], passages: [Int64: Int], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool)
        throws(DocumentStoreError) -> (documents: [Int64: StoredDocument], passages: [Int64: String])
    /// A page of live documents with a vector in `generation`, in label order after `afterLabel`.
    /// Text is read only when `withText` is true.
    func exportPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int, withText: Bool)
        throws(DocumentStoreError) -> [StoredDocument]
    /// Live documents lacking an up-to-date vector in `generation`, in label order after `afterLabel`.
    func staleDocuments(generation: Int64, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [StoredDocument]
    /// How many live documents lack an up-to-date vector in `generation`; with `writtenThrough`,
    /// only those whose last write committed at that seq or before (what a writer that committed
    /// up to it still waits for: a document written again since is another writer's).
    func staleCount(generation: Int64, writtenThrough: Int64?) throws(DocumentStoreError) -> Int
    /// What is wrong with the store (`quiver check`): broken invariants of seqs, generations and
    /// vectors (and, for a file, its integrity); empty when sound. Live documents without a
    /// vector are not a problem (deferred writes leave them for workers): ``staleCount(generation:)``.
    func problems() throws(DocumentStoreError) -> [String]
}

extension DocumentReads {
    /// How many live documents lack an up-to-date vector in `generation`.
    public func staleCount(generation: Int64) throws(DocumentStoreError) -> Int {
        try staleCount(generation: generation, writtenThrough: nil)
    }
}

/// Writes to one collection's store; each is one transaction.
public protocol DocumentWrites: Sendable {
    /// Upserts `writes` (vectors into `generation`) and deletes `deletes`, each change with the
    /// next seq (contract 4 above).
    func apply(generation: Int64, writes: [DocumentWrite], deletes: [String]) throws(DocumentStoreError) -> WriteOutcome
    /// Starts (or resumes) a `building` generation for a model and chunking; `candidate` holds it
    /// for an explicit promote instead of switching it in when complete.
    func beginGeneration(
        modelID: String, fingerprint: String, dimensions: Int, chunking: Chunking, at time: Double, candidate: Bool
    ) throws(DocumentStoreError) -> GenerationRecord
    /// Drops a building generation and its vectors; false when there is none with that number.
    func discardGeneration(_ generation: Int64) throws(DocumentStoreError) -> Bool
    /// Stores vectors computed for a generation, each only if its document is unchanged; into the
    /// current generation, each kept vector is a change with the next seq (contract 6 above).
    func writeGenerationVectors(generation: Int64, _ items: [GenerationVector], embeddedAt: Double) throws(DocumentStoreError) -> Int
    /// Claims up to `limit` live documents lacking an up-to-date vector in `generation` (label
    /// order, after `afterLabel`), hands them to `embed`, and stores the vectors it returns as
    /// ``writeGenerationVectors(generation:_:embeddedAt:)`` does, in one transaction. Documents
    /// another caller has claimed are skipped, so any number of workers on any number of
    /// machines share the work without embedding a document twice; a worker that dies mid-batch
    /// releases its claim with its connection. Returns the claimed documents' count and last label
    /// (nil when none was left after `afterLabel`) and how many vectors were kept.
    func claimStale(
        generation: Int64, afterLabel: Int64, limit: Int, embeddedAt: Double,
        embed: ([StoredDocument]) -> [GenerationVector]
    ) throws(DocumentStoreError) -> StaleClaim
    /// Makes `generation` current (contract 5 above); a generation that is current already is
    /// left as it is (two workers completing one model change switch it in once).
    func switchGeneration(to generation: Int64, at time: Double) throws(DocumentStoreError)
    /// Records that a sync run finished at `time`.
    func markSynced(at time: Double) throws(DocumentStoreError)
    /// Replaces the collection's changeable settings (``CollectionSettings/tuning``) with what
    /// `change` makes of the stored ones, in one transaction (two owners changing different
    /// settings at once both keep theirs), and returns them. `change` returns a JSON object the
    /// engine has validated, or nil to clear them. No change seq: settings are not documents, and
    /// followers read them with the state.
    func updateTuning(_ change: (String?) -> String?) throws(DocumentStoreError) -> String?
}

/// Everything the engine needs from one collection's store.
public typealias CollectionStore = ChangeFeed & DocumentReads & DocumentWrites

/// The collections a store backend holds: how the engine finds, creates and drops them.
///
/// Names reaching a catalog have been validated by the engine (`[a-z0-9][a-z0-9_-]{0,63}`).
public protocol StoreCatalog: Sendable {
    /// Names of every initialised collection, sorted.
    func names() throws(DocumentStoreError) -> [String]
    /// The store of `name`, or nil when no such collection exists.
    ///
    /// - Throws: `.notInitialized` for a store that exists but was never initialised, and the
    ///   backend's errors for one that cannot be opened.
    func open(_ name: String) throws(DocumentStoreError) -> (any CollectionStore)?
    /// Creates the collection `settings.name` with its first generation.
    ///
    /// - Throws: `.alreadyInitialized` when it exists.
    func create(_ settings: CollectionSettings, firstGeneration: GenerationRecord) throws(DocumentStoreError) -> any CollectionStore
    /// Drops the collection's store and this machine's files derived from it; false when it did
    /// not exist.
    func delete(_ name: String) throws(DocumentStoreError) -> Bool
    /// Where the derived files of `name` (index generations, `CURRENT`) live on this machine.
    func localFiles(_ name: String) -> CollectionFiles
}

/// A page of stored vectors (see ``ChangeFeed/vectorPage(generation:dimensions:afterLabel:limit:)``).
public struct VectorPage: Sendable, Equatable {
    /// Labels, ascending.
    public var labels: [Int64]
    /// The documents' ids, one per label.
    public var ids: [String]
    /// The vectors, row by row: `counts[i]` rows for `labels[i]`.
    public var flat: [Float]
    /// Vectors per label: 1, or its passage count in a chunked generation.
    public var counts: [Int]

    /// A page.
    public init(labels: [Int64], ids: [String], flat: [Float], counts: [Int]? = nil) {
        self.labels = labels
        self.ids = ids
        self.flat = flat
        self.counts = counts ?? Array(repeating: 1, count: labels.count)
    }
}

extension ChangeFeed {
    public var isRemote: Bool { false }
    public var statePatience: Duration { .milliseconds(500) }
    public func forkSeq(afterTimeline timeline: Int64) throws(DocumentStoreError) -> Int64? { nil }
}

extension DocumentReads {
    public func hitDocuments(
        labels: [Int64], passages: [Int64: Int], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool
    ) throws(DocumentStoreError) -> (documents: [Int64: StoredDocument], passages: [Int64: String]) {
        let documents = try documents(
            labels: labels, generation: generation, dimensions: dimensions, withVectors: withVectors, withText: withText)
        let wanted = passages.compactMap { label, passage -> (label: Int64, span: ChunkSpan)? in
            guard let spans = documents[label]?.chunks?.spans, passage >= 0, passage < spans.count else { return nil }
            return (label, spans[passage])
        }
        return (documents, wanted.isEmpty ? [:] : try passageTexts(wanted))
    }
}

/// What one ``DocumentWrites/claimStale(generation:afterLabel:limit:embeddedAt:embed:)`` did.
public struct StaleClaim: Sendable, Equatable {
    /// Documents claimed and handed to the embedder.
    public var claimed: Int
    /// The last claimed label: where the next claim starts; nil when nothing was left.
    public var lastLabel: Int64?
    /// Vectors stored (a document changed meanwhile keeps none).
    public var written: Int

    /// A claim's outcome.
    public init(claimed: Int, lastLabel: Int64?, written: Int) {
        self.claimed = claimed
        self.lastLabel = lastLabel
        self.written = written
    }
}

extension DocumentWrites where Self: DocumentReads {
    /// Without claims (a store with one writer at a time, as SQLite): reads a page of stale
    /// documents, embeds them outside any transaction, and writes what is still current.
    public func claimStale(
        generation: Int64, afterLabel: Int64, limit: Int, embeddedAt: Double,
        embed: ([StoredDocument]) -> [GenerationVector]
    ) throws(DocumentStoreError) -> StaleClaim {
        let page = try staleDocuments(generation: generation, afterLabel: afterLabel, limit: max(1, limit))
        guard let last = page.last else { return StaleClaim(claimed: 0, lastLabel: nil, written: 0) }
        let written = try writeGenerationVectors(generation: generation, embed(page), embeddedAt: embeddedAt)
        return StaleClaim(claimed: page.count, lastLabel: last.label, written: written)
    }
}

extension DocumentWrites {
    /// Starts (or resumes) a `building` generation that switches in when complete.
    public func beginGeneration(modelID: String, fingerprint: String, dimensions: Int, at time: Double)
        throws(DocumentStoreError) -> GenerationRecord
    {
        try beginGeneration(
            modelID: modelID, fingerprint: fingerprint, dimensions: dimensions, chunking: .off, at: time, candidate: false)
    }
}
