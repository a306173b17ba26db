import DocumentStore
import Foundation

/// What one ``CollectionHandle/workOnModelChange(batchSize:progress:)`` pass did.
public struct WorkerPass: Sendable, Equatable {
    /// The building generation worked on; nil when the collection has none (nothing to do).
    public var generation: Int64?
    /// Documents this pass embedded.
    public var embedded = 0
    /// Live documents still lacking a vector in the generation after the pass: claimed by other
    /// workers (still embedding), or written meanwhile. 0 when the generation is complete.
    public var remaining = 0
    /// Set when this pass switched the completed generation in (never for a candidate, which
    /// waits for `promote`).
    public var switched = false
    /// The generation is a candidate (filled for evaluation, not switched in).
    public var candidate = false
    /// The pass embedded pending documents of the current generation (deferred writes), not a
    /// model change.
    public var pending = false
}

extension CollectionHandle {
    /// One embedding worker's pass over the documents deferred writes stored without a vector in
    /// the current generation (``upsert(documents:deferEmbedding:)``): claims them in batches —
    /// skipping those another worker holds — embeds them with the generation's model and stores
    /// each vector as a change with its own seq, so every replica's follower indexes it like a
    /// write. A document written again meanwhile keeps no vector from this pass (the next pass
    /// embeds its new text). Nothing is done while a model change is building (writes go to the
    /// building generation then, and ``workOnModelChange(batchSize:progress:)`` fills it).
    ///
    /// - Throws: `modelUnavailable` when this process lacks the current generation's model and
    ///   there is work.
    public func embedPending(batchSize: Int = 32, progress: ((ModelChangeProgress) -> Void)? = nil)
        throws(SearchEngineError) -> WorkerPass
    {
        let store = self.store
        let generations: [GenerationRecord]
        do { generations = try store.generations() } catch { throw SearchEngineError(error) }
        guard !generations.contains(where: { $0.state == .building && !$0.candidate }),
            let current = generations.first(where: { $0.state == .current })
        else { return WorkerPass() }
        var pass = WorkerPass(generation: current.generation, pending: true)
        pass.embedded = try fill(current, batchSize: batchSize, progress: progress)
        do { pass.remaining = try store.staleCount(generation: current.generation) } catch { throw SearchEngineError(error) }
        if pass.embedded > 0, follower.isStarted {
            // This process's own index takes the new vectors now (other replicas at their next
            // cycle); a process that has not needed its index (a worker) does not load it for this.
            do { try follower.sync() } catch {
                engine.logger.warning(
                    "pending documents embedded, index not caught up yet", metadata: ["collection": "\(name)", "error": "\(error)"])
            }
        }
        return pass
    }

    /// How many live documents lack an up-to-date vector in the current generation: deferred
    /// writes no worker has embedded yet (and, during a model change, documents written to the
    /// building generation only). With `writtenThrough`, only documents last written at that seq
    /// or before: what a writer whose writes committed up to it waits for (documents written again
    /// since, and other writers' later writes, are not its to wait for).
    public func pendingCount(writtenThrough: Int64? = nil) throws(SearchEngineError) -> Int {
        do {
            return try store.staleCount(generation: try store.state().current.generation, writtenThrough: writtenThrough)
        } catch {
            throw SearchEngineError(error)
        }
    }

    /// One embedding worker's pass over the collection's building generation (a model change or
    /// a candidate): claims stale documents in batches — skipping those another worker holds —
    /// embeds them with the generation's model and stores their vectors, until none is left
    /// unclaimed. When the generation is then complete and not a candidate, switches it in (one
    /// store transaction; every replica follows the switch and builds the new index from the
    /// store). Any number of processes on any number of machines may run this at once on a
    /// PostgreSQL store; on SQLite it is ``completeModelChange(batchSize:promote:progress:)``
    /// without the index build.
    ///
    /// - Throws: `modelUnavailable` when this process lacks the generation's model.
    public func workOnModelChange(batchSize: Int = 32, progress: ((ModelChangeProgress) -> Void)? = nil)
        throws(SearchEngineError) -> WorkerPass
    {
        let store = self.store
        let building: GenerationRecord
        do {
            guard let found = try store.generations().first(where: { $0.state == .building }) else { return WorkerPass() }
            building = found
        } catch { throw SearchEngineError(error) }
        var pass = WorkerPass(generation: building.generation, candidate: building.candidate)
        pass.embedded = try fill(building, batchSize: batchSize, progress: progress)
        do {
            pass.remaining = try store.staleCount(generation: building.generation)
            guard pass.remaining == 0, !building.candidate else { return pass }
            try store.switchGeneration(to: building.generation, at: Date().timeIntervalSince1970)
            pass.switched = true
            engine.logger.info(
                "model change complete (worker)",
                metadata: ["collection": "\(name)", "generation": "\(building.generation)", "model": "\(building.modelID)"])
        } catch .generationIncomplete(_, let missing) {
            pass.remaining = missing  // written meanwhile: the next pass embeds them
        } catch .generationNotFound {
            // Another worker switched it in, or it was discarded: nothing left for this one.
            pass.remaining = 0
        } catch {
            throw SearchEngineError(error)
        }
        return pass
    }
}
