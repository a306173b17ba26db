import DocumentStore
import Foundation

extension CollectionHandle {
    /// The collection's settings, counts, generations and index state.
    public func info() throws(SearchEngineError) -> CollectionInfo {
        let (serving, state) = try follower.snapshot()
        do {
            let counts = try store.counts()
            var generations: [GenerationInfo] = []
            for record in try store.generations() {
                generations.append(try generationInfo(record))
            }
            let settings = follower.settings
            return CollectionInfo(
                name: name, documents: counts.live, tombstones: counts.deleted, dimensions: serving.record.dimensions,
                distance: settings.metric, hnsw: .init(m: settings.hnswM, efConstruction: settings.hnswEfConstruction),
                model: ModelInfo(id: serving.record.modelID, fingerprint: serving.record.modelFingerprint),
                generations: generations, index: indexState(serving, state),
                createdAt: Timestamp(seconds: settings.createdAt),
                verdict: follower.verdictCalibrator.current(generation: serving.record.generation),
                verdictError: follower.verdictCalibrator.failure,
                settings: CollectionSettingsReport(follower.tuningCache.tuning(state.tuning)))
        } catch {
            throw SearchEngineError(error)
        }
    }

    /// The index state: which generation serves, the seq it covers and the store's (no counts, no
    /// generation list: cheap enough for every write's answer).
    public func indexState() throws(SearchEngineError) -> IndexState {
        let (serving, state) = try follower.snapshot()
        return indexState(serving, state)
    }

    /// The index state from what this process knows, without reading the store or waking the
    /// follower (for `/metrics`, which must answer while the store is unreachable): the store seq
    /// is the last one read (a follower reads it every poll, 200 ms), `lagSeconds` the follower's
    /// bound. Nil before the index is loaded.
    public func localIndexState() -> IndexState? {
        guard let loaded = follower.loaded else { return nil }
        let indexed = loaded.indexedSeq
        let storeSeq = max(indexed, follower.lastKnownStoreSeq ?? indexed)
        var state = IndexState(
            generation: loaded.record.generation, indexedSeq: indexed, storeSeq: storeSeq, pending: storeSeq - indexed,
            lastSyncAt: nil, vectors: loaded.index.count)
        state.lagSeconds = follower.lagSeconds
        return state
    }

    /// The index state for the answer to a write that committed at `seq` in `generation`. Never
    /// throws — the write is stored whatever happens here: when the follower or the store cannot
    /// be asked, what is known from memory.
    public func indexState(afterWriteAt seq: Int64, generation: Int64) -> IndexState {
        if let state = try? indexState() { return state }
        guard let loaded = follower.loaded else { return .unknown(generation: generation, storeSeq: seq) }
        let indexed = loaded.indexedSeq
        return IndexState(
            generation: loaded.record.generation, indexedSeq: indexed, storeSeq: max(seq, indexed),
            pending: max(0, seq - indexed), lastSyncAt: nil, vectors: loaded.index.count)
    }

    func indexState(_ serving: ServingGeneration, _ state: StoreState) -> IndexState {
        let indexed = serving.indexedSeq
        // The serving generation's lag is the follower's; a candidate's index was caught up with
        // `state` by the call that returned it.
        let lag =
            serving.record.generation == follower.loaded?.record.generation
            ? follower.lagSeconds : (state.seq <= indexed ? 0 : nil)
        // The index may have taken changes after `state` was read (a snapshot reused for many
        // queries): the store holds at least what the index covers.
        return IndexState(
            generation: serving.record.generation, indexedSeq: indexed, storeSeq: max(state.seq, indexed),
            pending: max(0, state.seq - indexed), lastSyncAt: state.lastSyncAt.map(Timestamp.init(seconds:)),
            vectors: serving.index.count, keywordIndexedSeq: follower.keyword.coveredSeq, keywordError: follower.keyword.failure,
            lagSeconds: lag.map { ($0 * 1000).rounded() / 1000 })
    }

    /// Writes the serving index to disk (atomically), so the next open does not replay the
    /// changes since the last checkpoint.
    public func checkpoint() throws(SearchEngineError) {
        try follower.sync(checkpoint: true)
    }

    /// Waits until every change committed before the call is applied to the index; returns the
    /// index state.
    @discardableResult
    public func catchUp() throws(SearchEngineError) -> IndexState {
        let (serving, state) = try follower.catchUp()
        return indexState(serving, state)
    }
}
