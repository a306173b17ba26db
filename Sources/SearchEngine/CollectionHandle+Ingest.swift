import DocumentStore
import Foundation

extension CollectionHandle {
    /// The generation writes go to and the model that embeds for it: the building generation if
    /// this engine has its model (a model change in progress), else the current one. A candidate
    /// (a building generation held for evaluation) never takes writes: the current generation
    /// stays complete, and the candidate embeds what changed when it is evaluated or promoted.
    struct WriteTarget: Sendable {
        var generation: GenerationRecord
        var model: EmbeddingModel?
    }

    func writeTarget() throws(SearchEngineError) -> WriteTarget {
        let generations: [GenerationRecord]
        do { generations = try store.generations() } catch { throw SearchEngineError(error) }
        if let building = generations.first(where: { $0.state == .building && !$0.candidate }),
            let model = engine.model(fingerprint: building.modelFingerprint)
        {
            return WriteTarget(generation: building, model: model)
        }
        guard let current = generations.first(where: { $0.state == .current }) else {
            throw .storage("collection \(name) has no current generation")
        }
        return WriteTarget(generation: current, model: engine.model(fingerprint: current.modelFingerprint))
    }

    /// Checks one document against the collection's write generation without writing anything.
    ///
    /// - Throws: `invalidDocument` (with `index`) naming what is wrong.
    public func validate(_ document: DocumentInput, index: Int, deferEmbedding: Bool = false) throws(SearchEngineError) {
        try validate(document, index: index, target: try writeTarget(), deferEmbedding: deferEmbedding)
    }

    func validate(_ document: DocumentInput, index: Int, target: WriteTarget, deferEmbedding: Bool = false)
        throws(SearchEngineError)
    {
        func fail(_ reason: String) -> SearchEngineError { .invalidDocument(index: index, id: document.id, reason: reason) }
        guard !document.id.isEmpty else { throw .invalidDocument(index: index, id: nil, reason: "empty id") }
        guard document.id.utf8.count <= SearchEngine.maxIDBytes else { throw fail("id longer than \(SearchEngine.maxIDBytes) bytes") }
        // SQLite keeps a bound string only up to its first NUL: an id "a\0b" would overwrite "a"
        // and a text would be stored cut while its whole length was embedded. Refused instead.
        for (field, value) in [("id", document.id), ("title", document.title), ("text", document.text)] {
            if let value, value.containsNUL { throw fail("\(field) contains a NUL character (U+0000), which cannot be stored") }
        }
        if let metadata = document.metadata {
            guard case .object = metadata else { throw fail("metadata must be a JSON object") }
        }
        if let vector = document.vector {
            guard vector.count == target.generation.dimensions else {
                throw fail("vector has \(vector.count) dimensions, expected \(target.generation.dimensions)")
            }
            guard vector.allSatisfy(\.isFinite) else { throw fail("vector has a non-finite number") }
        } else {
            guard document.text != nil else { throw fail("needs \"text\" or \"vector\"") }
            // A deferred write is embedded by a worker: the writer needs no model.
            guard deferEmbedding || target.model?.embedder != nil else {
                throw .modelUnavailable(collection: name, fingerprint: target.generation.modelFingerprint)
            }
        }
    }

    /// Inserts or updates documents in one transaction: unchanged ones (same content hash, same
    /// metadata) are skipped without embedding, changed text is re-embedded, and the result is
    /// searchable when this returns (when it went to the serving generation; during a model
    /// change it goes to the building generation, see ``UpsertResult/generation``).
    ///
    /// Every document is validated first; an invalid one rejects the whole call with
    /// `invalidDocument` (nothing is written). A document over ``SearchEngine/documentLimits``
    /// (bytes, or passages in a chunked generation) is refused on its own and listed in
    /// ``UpsertResult/rejected``; the rest is written. When an id occurs twice, the last one wins.
    ///
    /// The target generation is checked again inside the write transaction: when a model change
    /// started, finished or was replaced while the texts were being embedded, the write is
    /// re-targeted (and re-embedded if the target's model differs) instead of landing in a
    /// generation that no longer serves or builds.
    ///
    /// With `deferEmbedding`, changed texts are stored without being embedded (counted in
    /// ``UpsertResult/pending``): embedding workers (``embedPending(batchSize:progress:)``,
    /// `quiver worker`, `quiver index --wait`) embed them later, on any machine sharing the store.
    /// Until then a new document is found by keyword only, and a changed one by its old vector.
    public func upsert(documents: [DocumentInput], deferEmbedding: Bool = false) throws(SearchEngineError) -> UpsertResult {
        guard documents.count <= SearchEngine.maxBatchDocuments else {
            throw .invalidQuery("at most \(SearchEngine.maxBatchDocuments) documents per call")
        }
        let runtime = follower
        var lastIndex: [String: Int] = [:]
        for (index, document) in documents.enumerated() { lastIndex[document.id] = index }
        // Each id's last occurrence wins; earlier ones count as unchanged.
        let lastOccurrences = documents.indices.filter { lastIndex[documents[$0].id] == $0 }
        // A document over the size limit is refused on its own; the rest is written.
        var refused: [RejectedDocument] = []
        let limit = engine.documentLimits.maxDocumentBytes
        for index in lastOccurrences {
            let document = documents[index]
            let bytes = (document.title?.utf8.count ?? 0) + (document.text?.utf8.count ?? 0)
            if bytes > limit {
                refused.append(
                    RejectedDocument(
                        index: index, id: document.id,
                        reason: "title and text have \(bytes) bytes; at most \(limit) are allowed (max_document_bytes)"))
            }
        }
        let refusedIndices = Set(refused.map(\.index))
        let unique = lastOccurrences.filter { !refusedIndices.contains($0) }.map { (index: $0, document: documents[$0]) }
        // Vectors embedded by an earlier attempt, by generation key and id: reused when a
        // re-targeted write goes to a generation of the same model and chunking.
        var embeddedBefore: (key: String, vectors: [String: DocumentEmbedding.Embedded])?
        for _ in 0..<SearchEngine.writeAttempts {
            let target = try writeTarget()
            for (index, document) in documents.enumerated() where !refusedIndices.contains(index) {
                try validate(document, index: index, target: target, deferEmbedding: deferEmbedding)
            }
            let key = "\(target.generation.modelFingerprint) \(target.generation.chunking)"
            let attempt = try prepareWrites(
                unique, target: target, collection: name, runtime: runtime, deferEmbedding: deferEmbedding,
                reuse: embeddedBefore?.key == key ? embeddedBefore?.vectors ?? [:] : [:])
            embeddedBefore = (key, attempt.embeddedVectors)
            var result = attempt.result
            result.unchanged += documents.count - lastOccurrences.count
            result.rejected = (refused + attempt.rejected).sorted { $0.index < $1.index }
            result.failed = result.rejected.count
            result.generation = target.generation.generation
            guard !attempt.writes.isEmpty else {
                // Nothing changed: no write transaction (and no fsync); report the store's seq as
                // it is now (a fresh read, never a query's reused one: a client may pass it on as
                // `min_seq`, and it must cover the write that stored what this one matched).
                do { result.seq = try runtime.store.state().seq } catch { throw SearchEngineError(error) }
                return result
            }
            if let hook = engine.hooks.beforeWriteCommit.withLock({ $0 }) { hook(target.generation.generation) }
            let outcome: WriteOutcome
            do {
                outcome = try runtime.store.apply(generation: target.generation.generation, writes: attempt.writes, deletes: [])
            } catch .generationNotWritable(let generation) {
                engine.logger.info(
                    "write re-targeted: its generation stopped being writable while it was embedded",
                    metadata: ["collection": "\(name)", "generation": "\(generation)"])
                continue
            } catch {
                throw SearchEngineError(error)
            }
            result.inserted = outcome.inserted
            result.updated = outcome.updated
            result.seq = outcome.seq
            // Committed: nothing after this may fail the write. The follower applies it now; if
            // its cycle fails, the write is still stored and is applied on a later cycle.
            do { try runtime.sync() } catch {
                engine.logger.warning(
                    "write stored, index not caught up yet", metadata: ["collection": "\(name)", "error": "\(error)"])
            }
            return result
        }
        throw .conflict("the collection's generations kept changing during the write; nothing was written, send it again")
    }

    private struct PreparedWrites {
        var writes: [DocumentWrite] = []
        var result = UpsertResult()
        var embeddedVectors: [String: DocumentEmbedding.Embedded] = [:]
        var rejected: [RejectedDocument] = []
    }

    /// The writes `documents` need in `target`: unchanged ones left out, metadata-only changes
    /// keeping their stored vector, texts embedded (or taken from `reuse`); documents with too
    /// many passages are left out and listed in `rejected`.
    private func prepareWrites(
        _ documents: [(index: Int, document: DocumentInput)], target: WriteTarget, collection: String, runtime: IndexFollower,
        deferEmbedding: Bool, reuse: [String: DocumentEmbedding.Embedded]
    ) throws(SearchEngineError) -> PreparedWrites {
        var prepared = PreparedWrites()
        let fingerprint = target.generation.modelFingerprint
        let existing: [String: ExistingDocument]
        do { existing = try runtime.store.existing(ids: documents.map(\.document.id), generation: target.generation.generation) } catch {
            throw SearchEngineError(error)
        }
        let now = Date().timeIntervalSince1970
        var toEmbed: [(write: Int, index: Int, title: String?, text: String)] = []
        var toDefer: [(write: Int, index: Int, title: String?, text: String)] = []
        for (index, document) in documents {
            let hash = ContentHash.compute(
                fingerprint: fingerprint, title: document.title, text: document.text,
                vector: document.vector, chunking: target.generation.chunking)
            let metadata = document.metadata?.canonicalText
            var write = DocumentWrite(
                id: document.id, title: document.title, text: document.text, metadata: metadata,
                updatedAt: document.updatedAt?.seconds ?? now, contentHash: hash, vector: nil,
                embeddedAt: now)
            if let old = existing[document.id], !old.deleted, old.contentHash == hash {
                let sameTime = document.updatedAt.map { $0.seconds == old.updatedAt } ?? true
                if old.metadata == metadata, sameTime {
                    prepared.result.unchanged += 1
                    continue
                }
                write.updatedAt = document.updatedAt?.seconds ?? old.updatedAt
                prepared.writes.append(write)  // metadata only: keeps the stored vector
                continue
            }
            if let vector = document.vector {
                write.vector = vector
            } else if let embedded = reuse[document.id] {
                write.vector = embedded.vector
                write.chunks = embedded.chunks
                prepared.embeddedVectors[document.id] = embedded
            } else if deferEmbedding, let text = document.text {
                write.pending = true
                toDefer.append((prepared.writes.count, index, document.title, text))
            } else if let text = document.text {
                toEmbed.append((prepared.writes.count, index, document.title, text))
            }
            prepared.writes.append(write)
        }
        if !toEmbed.isEmpty {
            guard let embedder = target.model?.embedder else {
                throw .modelUnavailable(collection: name, fingerprint: fingerprint)
            }
            let embedding = DocumentEmbedding(
                generation: target.generation, embedder: embedder, maxPassages: engine.documentLimits.maxPassages)
            let results = try embedding.embed(toEmbed.map { ($0.title, $0.text) }, priority: engine.writePriority)
            let embeddedAt = Date().timeIntervalSince1970
            var dropped: Set<Int> = []
            for (item, result) in zip(toEmbed, results) {
                switch result {
                case .success(let embedded):
                    prepared.writes[item.write].vector = embedded.vector
                    prepared.writes[item.write].chunks = embedded.chunks
                    prepared.writes[item.write].embeddedAt = embeddedAt
                    prepared.embeddedVectors[prepared.writes[item.write].id] = embedded
                    prepared.result.embedded += 1
                case .failure(let rejection):
                    dropped.insert(item.write)
                    prepared.rejected.append(
                        RejectedDocument(index: item.index, id: prepared.writes[item.write].id, reason: rejection.reason))
                }
            }
            if !dropped.isEmpty {
                prepared.writes = prepared.writes.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            }
        }
        if !toDefer.isEmpty {
            // (A deferred write embeds nothing: `toEmbed` was empty, the positions still hold.)
            // Refused now for their passage count as a write that embeds would refuse them (when
            // this process has the model to cut them; a worker otherwise indexes their first
            // passages and logs a warning).
            var dropped: Set<Int> = []
            if let embedder = target.model?.embedder {
                let embedding = DocumentEmbedding(
                    generation: target.generation, embedder: embedder, maxPassages: engine.documentLimits.maxPassages)
                for (position, rejection) in embedding.overPassageLimit(toDefer.map { ($0.title, $0.text) }) {
                    let item = toDefer[position]
                    dropped.insert(item.write)
                    prepared.rejected.append(
                        RejectedDocument(index: item.index, id: prepared.writes[item.write].id, reason: rejection.reason))
                }
            }
            prepared.result.pending += toDefer.count - dropped.count
            if !dropped.isEmpty {
                prepared.writes = prepared.writes.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            }
        }
        return prepared
    }

    /// Deletes documents by id (absent ids are ignored); searchable when this returns.
    public func delete(ids: [String]) throws(SearchEngineError) -> UpsertResult {
        let runtime = follower
        // No stored id contains a NUL (writes refuse them); SQLite would match such an id cut at
        // the NUL, i.e. another document.
        let ids = ids.filter { !$0.containsNUL }
        var result = UpsertResult()
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + SearchEngine.maxBatchDocuments)])
            let outcome: WriteOutcome
            do {
                outcome = try runtime.store.apply(
                    generation: try runtime.store.state().current.generation,
                    writes: [], deletes: chunk)
            } catch { throw SearchEngineError(error) }
            result.deleted += outcome.deleted
            result.seq = outcome.seq
            start += chunk.count
        }
        // Committed: nothing after this may fail the delete (see upsert).
        do {
            let (serving, state) = try runtime.catchUp()
            if result.seq == 0 { result.seq = state.seq }
            result.generation = serving.record.generation
        } catch {
            engine.logger.warning(
                "delete stored, index not caught up yet", metadata: ["collection": "\(name)", "error": "\(error)"])
            if let state = try? runtime.store.state() {
                if result.seq == 0 { result.seq = state.seq }
                result.generation = state.current.generation
            }
        }
        return result
    }

    /// Full sync: deletes every live document whose id is not in `keep`.
    public func prune(keeping keep: Set<String>) throws(SearchEngineError) -> UpsertResult {
        let runtime = follower
        let live: [String]
        do { live = try runtime.store.liveIDs() } catch { throw SearchEngineError(error) }
        return try delete(ids: live.filter { !keep.contains($0) })
    }

    /// The ids among `ids` the collection has stored, live or deleted: a resumed import skips
    /// them, so it never overwrites a user's edit or brings back a document the user deleted.
    public func storedIDs(among ids: [String]) throws(SearchEngineError) -> Set<String> {
        let record = try currentRecord()
        do {
            return Set(try store.existing(ids: ids.filter { !$0.containsNUL }, generation: record.generation).keys)
        } catch { throw SearchEngineError(error) }
    }

    /// Records that a sync run finished now (reported as `last_sync_at`).
    public func markSynced() throws(SearchEngineError) {
        do { try store.markSynced(at: Date().timeIntervalSince1970) } catch { throw SearchEngineError(error) }
    }
}

/// Validates documents for one collection's write generation without a store read per document
/// (for streaming ingest, which reports bad lines one by one).
public struct DocumentValidator: Sendable {
    let collection: CollectionHandle
    let target: CollectionHandle.WriteTarget
    let deferEmbedding: Bool

    /// Throws `invalidDocument` (with `index`) or `modelUnavailable` for a document `upsert` would reject.
    public func validate(_ document: DocumentInput, index: Int) throws(SearchEngineError) {
        try collection.validate(document, index: index, target: target, deferEmbedding: deferEmbedding)
    }

    /// The dimensions vectors must have.
    public var dimensions: Int { target.generation.dimensions }
}

extension CollectionHandle {
    /// A validator for the collection's current write generation (for writes that embed now, or
    /// with `deferEmbedding` for writes a worker embeds, which need no model here).
    public func validator(deferEmbedding: Bool = false) throws(SearchEngineError) -> DocumentValidator {
        DocumentValidator(collection: self, target: try writeTarget(), deferEmbedding: deferEmbedding)
    }
}
