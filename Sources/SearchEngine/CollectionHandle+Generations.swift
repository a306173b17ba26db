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
    /// Starts moving the collection to the engine's default model when its current generation was
    /// built with another one: a `building` generation is created beside the current one, and
    /// writes go to it from now on. Returns nil when the collection already uses the default model.
    @discardableResult
    public func beginModelChange() throws(SearchEngineError) -> GenerationInfo? {
        let runtime = follower
        let model = engine.defaultModel
        do {
            let generations = try runtime.store.generations()
            if let current = generations.first(where: { $0.state == .current }), current.modelFingerprint == model.fingerprint {
                return nil
            }
            if let building = generations.first(where: { $0.state == .building }), building.modelFingerprint != model.fingerprint {
                engine.logger.warning(
                    "replacing an unfinished model change",
                    metadata: [
                        "collection": "\(name)", "generation": "\(building.generation)",
                    ])
            }
            let record = try runtime.store.beginGeneration(
                modelID: model.id, fingerprint: model.fingerprint,
                dimensions: model.dimensions, at: Date().timeIntervalSince1970)
            engine.logger.info(
                "model change started",
                metadata: [
                    "collection": "\(name)", "generation": "\(record.generation)", "model": "\(model.id)",
                ])
            return GenerationInfo(
                generation: record.generation, state: record.state.rawValue,
                model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint),
                dimensions: record.dimensions, pending: try runtime.store.staleCount(generation: record.generation))
        } catch { throw SearchEngineError(error) }
    }

    /// Finishes a model change: re-embeds every live document still lacking a vector in the
    /// building generation (resumable: committed batches are kept), builds its index beside the
    /// current one, then switches the store's current generation and `CURRENT` atomically.
    /// Queries keep using the old generation until the switch. Returns the new generation, or nil
    /// when no model change was in progress.
    @discardableResult
    public func completeModelChange(
        batchSize: Int = 256, progress: ((ModelChangeProgress) -> Void)? = nil
    ) throws(SearchEngineError) -> Int64? {
        let runtime = follower
        let store = runtime.store
        for _ in 0..<10 {
            let building: GenerationRecord
            do {
                guard let found = try store.generations().first(where: { $0.state == .building }) else { return nil }
                building = found
            } catch { throw SearchEngineError(error) }
            guard let model = engine.model(fingerprint: building.modelFingerprint), let embedder = model.embedder else {
                throw .modelUnavailable(collection: name, fingerprint: building.modelFingerprint)
            }
            var done = 0
            let total: Int
            do { total = try store.staleCount(generation: building.generation) } catch { throw SearchEngineError(error) }
            var after: Int64 = 0
            while true {
                let page: [StoredDocument]
                do {
                    page = try store.staleDocuments(generation: building.generation, afterLabel: after, limit: max(1, batchSize))
                } catch { throw SearchEngineError(error) }
                guard let last = page.last else { break }
                let texts = page.map { document in
                    let text = document.text ?? ""
                    return document.title.map { $0.isEmpty ? text : "\($0)\n\(text)" } ?? text
                }
                let vectors: [[Float]]
                do { vectors = try embedder.embed(texts, priority: engine.writePriority) } catch { throw SearchEngineError(error) }
                let items = zip(page, vectors).map { document, vector in
                    (
                        label: document.label, sourceSeq: document.seq,
                        contentHash: ContentHash.compute(
                            fingerprint: building.modelFingerprint, title: document.title,
                            text: document.text, vector: nil),
                        vector: vector
                    )
                }
                do {
                    _ = try store.writeGenerationVectors(
                        generation: building.generation, items,
                        embeddedAt: Date().timeIntervalSince1970)
                } catch { throw SearchEngineError(error) }
                done += page.count
                progress?(ModelChangeProgress(done: done, total: total))
                after = last.label
            }
            // Build the new index beside the current one, then switch.
            do {
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
                    "collection": "\(name)", "generation": "\(building.generation)", "model": "\(model.id)",
                ])
            return building.generation
        }
        throw .conflict("documents kept changing during the model change; run it again")
    }
}
