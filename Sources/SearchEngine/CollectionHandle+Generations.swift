import DocumentStore
import Foundation

/// Progress of a model change: documents re-embedded so far and the total when it started.
public struct ModelChangeProgress: Sendable {
    /// Documents re-embedded so far.
    public var done: Int
    /// Documents that needed it when the pass started.
    public var total: Int
}

extension CollectionHandle {
    /// Runs `body` with the collection kept open: the engine does not close it for idleness or
    /// to stay under its open-collection cap meanwhile (a generation being built or switched can
    /// take longer than the idle timeout without a request touching it).
    public func keepingOpen<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        follower.pins.add(1, ordering: .relaxed)
        defer { follower.pins.subtract(1, ordering: .relaxed) }
        follower.touch()
        return try body()
    }

    /// Starts moving the collection to the engine's default model when its current generation was
    /// built with another one: a `building` generation is created beside the current one, and
    /// writes go to it from now on. Returns nil when the collection already uses the default model.
    ///
    /// With `candidate`, the generation is held for evaluation: it is filled by
    /// ``completeModelChange(batchSize:progress:)`` but switched in only by
    /// ``promoteCandidate(batchSize:progress:)``, and it takes no writes (they keep going to the
    /// current generation). Without `candidate`, an existing candidate of the same model becomes a
    /// plain model change (switched in when complete); one of another model is replaced.
    ///
    /// - Parameters:
    ///   - modelID: the model to move to, by id or fingerprint (a loaded one or one the engine's
    ///     ``ModelProvider`` offers); nil: the engine's default model.
    ///   - chunkTokens: the passage size of the new generation (0 = off); nil keeps the current
    ///     generation's. Another chunking than the current one's is a re-embed into a new
    ///     generation, like another model.
    ///   - chunkOverlap: its overlap; nil keeps the current one's (or the default when the size changes).
    /// - Throws: `conflict` for a candidate of the model and chunking the collection already uses;
    ///   `invalidQuery` for an unknown model or chunking out of range.
    @discardableResult
    public func beginModelChange(
        candidate: Bool = false, modelID: String? = nil, chunkTokens: Int? = nil, chunkOverlap: Int? = nil
    ) throws(SearchEngineError) -> GenerationInfo? {
        let runtime = follower
        let model: EmbeddingModel
        if let modelID {
            guard let named = engine.model(named: modelID) else {
                let offered = engine.models.map(\.id) + (engine.modelProvider?.available.map(\.id) ?? [])
                throw .invalidQuery(
                    "unknown model \"\(modelID)\" (this process has: \(Array(Set(offered)).sorted().joined(separator: ", ")))")
            }
            guard named.embedder != nil else { throw .invalidQuery("model \"\(modelID)\" cannot embed text") }
            model = named
        } else {
            model = engine.defaultModel
        }
        do {
            let generations = try runtime.store.generations()
            if let current = generations.first(where: { $0.state == .current }),
                EmbeddingModel.isExternal(fingerprint: current.modelFingerprint)
            {
                throw SearchEngineError.conflict(
                    "collection \(name) holds your own vectors (no model): it has no text to embed into another generation")
            }
            let currentChunking = generations.first(where: { $0.state == .current })?.chunking ?? .off
            let chunking: Chunking
            if chunkTokens == nil, chunkOverlap == nil {
                // The current setting, within the new model's window.
                chunking =
                    currentChunking.isOn
                    ? try Chunking.resolve(
                        tokens: min(currentChunking.tokens, model.embedder?.pooling.maxSequenceLength ?? 0),
                        overlap: currentChunking.overlap, model: model) : .off
            } else {
                chunking = try Chunking.resolve(
                    tokens: chunkTokens ?? (currentChunking.isOn ? currentChunking.tokens : nil),
                    overlap: chunkOverlap ?? (chunkTokens == nil ? currentChunking.overlap : nil), model: model)
            }
            if let current = generations.first(where: { $0.state == .current }), current.modelFingerprint == model.fingerprint,
                current.chunking == chunking
            {
                if candidate {
                    throw SearchEngineError.conflict(
                        "collection \(name) already uses model \(model.id) (\(model.fingerprint.prefix(12))) with chunking \(chunking): "
                            + "a candidate needs another model or chunking")
                }
                return nil
            }
            if let building = generations.first(where: { $0.state == .building }),
                building.modelFingerprint != model.fingerprint || building.chunking != chunking
            {
                engine.logger.warning(
                    "replacing an unfinished model change",
                    metadata: [
                        "collection": "\(name)", "generation": "\(building.generation)",
                    ])
            }
            runtime.dropCandidate()
            let record = try runtime.store.beginGeneration(
                modelID: model.id, fingerprint: model.fingerprint,
                dimensions: model.dimensions, chunking: chunking, at: Date().timeIntervalSince1970, candidate: candidate)
            engine.logger.info(
                candidate ? "candidate generation started" : "model change started",
                metadata: [
                    "collection": "\(name)", "generation": "\(record.generation)", "model": "\(model.id)",
                ])
            return try generationInfo(record)
        } catch let error as SearchEngineError {
            throw error
        } catch let error as DocumentStoreError {
            throw SearchEngineError(error)
        } catch {
            throw .storage("\(error)")
        }
    }

    /// A generation as reported. `pending` is counted for a building generation (always) and for
    /// the current one (only when deferred writes are waiting for a worker: absent at 0).
    func generationInfo(_ record: GenerationRecord) throws(DocumentStoreError) -> GenerationInfo {
        var pending: Int?
        switch record.state {
        case .building: pending = try store.staleCount(generation: record.generation)
        case .current: pending = try store.staleCount(generation: record.generation).nonZero
        default: pending = nil
        }
        return GenerationInfo(
            generation: record.generation, state: record.state.rawValue,
            model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint),
            dimensions: record.dimensions, pending: pending,
            candidate: record.candidate ? true : nil, chunking: ChunkingInfo(record.chunking))
    }

    /// The candidate generation (a building generation held for evaluation), if there is one.
    public func candidate() throws(SearchEngineError) -> GenerationInfo? {
        guard let record = try candidateRecord() else { return nil }
        do { return try generationInfo(record) } catch { throw SearchEngineError(error) }
    }

    func candidateRecord() throws(SearchEngineError) -> GenerationRecord? {
        do { return try store.generations().first(where: { $0.state == .building && $0.candidate }) } catch {
            throw SearchEngineError(error)
        }
    }

    /// Switches the candidate generation in: embeds what changed since it was filled, builds its
    /// index and switches atomically, as a model change ends. Returns its number.
    ///
    /// - Throws: `conflict` when there is no candidate; `modelUnavailable` when documents still
    ///   need the candidate's model and this engine has not loaded it.
    @discardableResult
    public func promoteCandidate(batchSize: Int = 256, progress: ((ModelChangeProgress) -> Void)? = nil)
        throws(SearchEngineError) -> Int64
    {
        guard try candidateRecord() != nil else { throw .conflict("collection \(name) has no candidate generation to promote") }
        // The promote builds the index it switches to: the held one goes first (not three
        // indexes in memory at the peak), and one a query built meanwhile goes after.
        follower.dropCandidate()
        defer { follower.dropCandidate() }
        guard let switched = try completeModelChange(batchSize: batchSize, promote: true, progress: progress) else {
            throw .conflict("the candidate generation of \(name) was discarded meanwhile")
        }
        return switched
    }

    /// Drops the candidate generation and its vectors; the current generation is untouched.
    /// Documents written only to it — while it was a plain model change, before a
    /// `--candidate` run turned it into a candidate — are first embedded into the current
    /// generation, so nothing written is left unsearchable. Returns the dropped generation's number.
    ///
    /// - Throws: `conflict` when there is no candidate; `modelUnavailable` when such documents
    ///   exist and this engine has not loaded the current model.
    @discardableResult
    public func discardCandidate(batchSize: Int = 256) throws(SearchEngineError) -> Int64 {
        guard let candidate = try candidateRecord() else {
            throw .conflict("collection \(name) has no candidate generation to discard")
        }
        let current: GenerationRecord
        do { current = try store.state().current } catch { throw SearchEngineError(error) }
        // Written again through the write path (same id, title, text, metadata and updated_at):
        // embedded with the current model under a new seq, so the follower indexes them.
        let orphans: Int
        do { orphans = try store.staleCount(generation: current.generation) } catch { throw SearchEngineError(error) }
        if orphans > 0, engine.model(fingerprint: current.modelFingerprint)?.embedder == nil {
            throw .modelUnavailable(collection: name, fingerprint: current.modelFingerprint)
        }
        var rounds = 0
        while true {
            let page: [StoredDocument]
            do {
                page = try store.staleDocuments(generation: current.generation, afterLabel: 0, limit: max(1, batchSize))
            } catch { throw SearchEngineError(error) }
            guard !page.isEmpty else { break }
            // Each round clears a page; more rounds than pages means a write did not clear one.
            rounds += 1
            guard rounds <= orphans / max(1, batchSize) + 2 else {
                throw .conflict("documents written only to the candidate kept lacking a current vector; nothing was discarded")
            }
            let result = try upsert(
                documents: page.map {
                    DocumentInput(
                        id: $0.id, text: $0.text, title: $0.title, metadata: JSONValue.parse($0.metadata),
                        updatedAt: Timestamp(seconds: $0.updatedAt))
                })
            guard result.generation == current.generation, result.failed == 0 else {
                throw .conflict("documents written only to the candidate could not be re-embedded into the current generation")
            }
        }
        do { _ = try store.discardGeneration(candidate.generation) } catch { throw SearchEngineError(error) }
        follower.dropCandidate()
        try? FileManager.default.removeItem(atPath: follower.files.generationDirectory(candidate.generation).path)
        engine.logger.info("candidate discarded", metadata: ["collection": "\(name)", "generation": "\(candidate.generation)"])
        return candidate.generation
    }

    /// Embeds every live document lacking an up-to-date vector in `generation` with its model
    /// (resumable: committed batches are kept). Returns how many were embedded.
    func fill(_ generation: GenerationRecord, batchSize: Int, progress: ((ModelChangeProgress) -> Void)?)
        throws(SearchEngineError) -> Int
    {
        let store = self.store
        let total: Int
        do { total = try store.staleCount(generation: generation.generation) } catch { throw SearchEngineError(error) }
        guard total > 0 else { return 0 }
        guard let model = engine.model(fingerprint: generation.modelFingerprint), let embedder = model.embedder else {
            throw .modelUnavailable(collection: name, fingerprint: generation.modelFingerprint)
        }
        let embedding = DocumentEmbedding(generation: generation, embedder: embedder, maxPassages: engine.documentLimits.maxPassages)
        var done = 0
        var after: Int64 = 0
        while true {
            // Claimed in batches: documents another process is embedding (another worker, a
            // `quiver index` on another machine) are skipped, and left to it.
            var failure: SearchEngineError?
            let claim: StaleClaim
            do {
                claim = try store.claimStale(
                    generation: generation.generation, afterLabel: after, limit: max(1, batchSize),
                    embeddedAt: Date().timeIntervalSince1970
                ) { page in
                    do throws(SearchEngineError) {
                        return try generationVectors(page, generation: generation, embedding: embedding)
                    } catch {
                        failure = error
                        return []
                    }
                }
            } catch { throw SearchEngineError(error) }
            if let failure { throw failure }
            guard let last = claim.lastLabel else { break }
            // These vectors carry no new change seq, so a held index of the candidate would never
            // see them: it is dropped, and the next query naming the candidate builds it again.
            if generation.candidate { follower.dropCandidate() }
            done += claim.claimed
            progress?(ModelChangeProgress(done: done, total: total))
            after = last
        }
        return done
    }

    /// The vectors of `page` in `generation` (documents whose embedding failed are left out). A
    /// document accepted under another setting is not refused here: beyond the passage limit, its
    /// first passages are indexed (and a warning says so).
    func generationVectors(_ page: [StoredDocument], generation: GenerationRecord, embedding: DocumentEmbedding)
        throws(SearchEngineError) -> [GenerationVector]
    {
        let results = try embedding.embed(
            page.map { ($0.title, $0.text ?? "") }, priority: engine.writePriority, keepFirstPassages: true)
        var items: [GenerationVector] = []
        for (document, result) in zip(page, results) {
            guard case .success(let embedded) = result else { continue }
            items.append(
                GenerationVector(
                    label: document.label, sourceSeq: document.seq,
                    contentHash: ContentHash.compute(
                        fingerprint: generation.modelFingerprint, title: document.title, text: document.text, vector: nil,
                        chunking: generation.chunking),
                    vector: embedded.vector, chunks: embedded.chunks))
            if embedded.truncatedFrom != nil {
                engine.logger.warning(
                    "document has more passages than max_passages: only the first are indexed",
                    metadata: [
                        "collection": "\(name)", "id": "\(document.id)", "passages": "\(embedded.truncatedFrom ?? 0)",
                    ])
            }
        }
        return items
    }

    /// How long a model change waits for documents other processes hold without any of them
    /// being committed (a worker's batch takes seconds; a dead worker's claim ends with its
    /// connection).
    static let workerWaitLimit = Duration.seconds(120)

    /// Finishes a model change: re-embeds every live document still lacking a vector in the
    /// building generation (resumable: committed batches are kept), builds its index beside the
    /// current one, then switches the store's current generation and `CURRENT` atomically.
    /// Queries keep using the old generation until the switch. Returns the new generation, or nil
    /// when no model change was in progress — or when the building generation is a candidate and
    /// `promote` is false: then it is filled and left for evaluation, not switched in.
    @discardableResult
    public func completeModelChange(
        batchSize: Int = 256, promote: Bool = false, progress: ((ModelChangeProgress) -> Void)? = nil
    ) throws(SearchEngineError) -> Int64? {
        let runtime = follower
        let store = runtime.store
        // Documents written meanwhile, or held by workers on other machines (whose batches take
        // seconds), keep the generation incomplete: it is waited for while the missing count
        // keeps falling, up to ``workerWaitLimit`` without progress; and the index is built for
        // a switch at most 10 times (each is a full build).
        var lastMissing = Int.max
        var lastProgress = ContinuousClock.now
        var builds = 0
        var working: Int64?
        while builds < 10 {
            let building: GenerationRecord
            do {
                let all = try store.generations()
                guard let found = all.first(where: { $0.state == .building }) else {
                    // A worker elsewhere completed the change this call was working on.
                    if let working, all.contains(where: { $0.generation == working && $0.state == .current }) {
                        try runtime.catchUp()
                        return working
                    }
                    return nil
                }
                building = found
                working = found.generation
            } catch let error as SearchEngineError {
                throw error
            } catch let error as DocumentStoreError {
                throw SearchEngineError(error)
            } catch { throw .storage("\(error)") }
            if building.candidate && !promote {
                // A candidate is filled by a process that has its model (`quiver index --model M
                // --candidate`); any other leaves it as it is.
                if engine.model(fingerprint: building.modelFingerprint)?.embedder != nil {
                    _ = try fill(building, batchSize: batchSize, progress: progress)
                    engine.logger.info(
                        "candidate generation filled",
                        metadata: ["collection": "\(name)", "generation": "\(building.generation)", "model": "\(building.modelID)"])
                }
                return nil
            }
            // The model is needed only for documents still to embed (`fill` says so).
            _ = try fill(building, batchSize: batchSize, progress: progress)
            // Build the new index beside the current one, then switch.
            do {
                let missing = try store.staleCount(generation: building.generation)
                if missing > 0 {
                    // Claimed by other workers (or written since the fill's pass): wait for them.
                    if missing < lastMissing { lastProgress = .now }
                    lastMissing = missing
                    if ContinuousClock.now - lastProgress > Self.workerWaitLimit {
                        throw SearchEngineError.conflict(
                            "\(missing) documents of generation \(building.generation) stayed unembedded for "
                                + "\(Self.workerWaitLimit): held by a worker that stopped committing, or written by a process "
                                + "without the model; run it again")
                    }
                    Thread.sleep(forTimeInterval: 0.25)
                    continue
                }
                builds += 1
                let storeSeq = try store.state().seq
                let index = try runtime.rebuild(building, storeSeq: storeSeq)
                try IndexFollower.save(index, generation: building.generation, files: runtime.files)
                try store.switchGeneration(to: building.generation, at: Date().timeIntervalSince1970)
            } catch DocumentStoreError.generationIncomplete {
                continue  // documents changed meanwhile: embed them and try again
            } catch let error as DocumentStoreError {
                throw SearchEngineError(error)
            } catch let error as SearchEngineError {
                throw error
            } catch {
                throw .index("\(error)")
            }
            try runtime.catchUp()  // loads the new generation and rewrites CURRENT
            engine.logger.info(
                "model change complete",
                metadata: [
                    "collection": "\(name)", "generation": "\(building.generation)", "model": "\(building.modelID)",
                ])
            return building.generation
        }
        throw .conflict("documents kept changing during the model change; run it again")
    }
}

extension Int {
    /// The value, or nil when it is 0.
    fileprivate var nonZero: Int? { self == 0 ? nil : self }
}
