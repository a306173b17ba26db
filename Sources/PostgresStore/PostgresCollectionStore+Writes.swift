import DocumentStore
import Foundation
import NIOCore
import PostgresNIO

// MARK: - DocumentWrites

extension PostgresCollectionStore {
    /// Locks the collection's row for the rest of the transaction and reads its counters: every
    /// writer of the collection queues here, so seqs and labels are handed out in commit order.
    /// `shared` takes the lock in share mode: such holders (re-embedding) do not wait for each
    /// other, only for writers, and writers for them.
    func lockCollection(_ session: PostgresSession, shared: Bool = false) throws -> (seq: Int64, lastLabel: Int64) {
        guard
            let row = try session.query(
                "SELECT seq, last_label FROM quiver_collections WHERE collection_id = $1 FOR \(shared ? "SHARE" : "UPDATE")",
                binds(collectionID)
            ).first
        else { throw DocumentStoreError.notInitialized(path: path) }
        return (try row.get(0), try row.get(1))
    }

    /// One transaction, whatever the batch size: the collection's row is locked, the ids looked up
    /// in one statement, each change numbered in input order exactly as the SQLite store does
    /// (a repeated id is a second change), and the final rows written with a few set statements.
    public func apply(generation: Int64, writes: [DocumentWrite], deletes: [String]) throws(DocumentStoreError) -> WriteOutcome {
        let outcome = try applyTransaction(generation: generation, writes: writes, deletes: deletes)
        noteWritten(outcome.inserted + outcome.updated)
        return outcome
    }

    private func applyTransaction(generation: Int64, writes: [DocumentWrite], deletes: [String]) throws(DocumentStoreError)
        -> WriteOutcome
    {
        try pool.transaction { session in
            var (seq, lastLabel) = try lockCollection(session)
            if !writes.isEmpty {
                let state = try session.query(
                    "SELECT state FROM quiver_generations WHERE collection_id = $1 AND generation = $2", binds(collectionID, generation)
                ).first?.get(0, String.self)
                guard state == GenerationState.current.rawValue || state == GenerationState.building.rawValue else {
                    throw DocumentStoreError.generationNotWritable(generation: generation)
                }
            }
            var known: [String: (label: Int64, deleted: Bool)] = [:]
            let lookup = Array(Set(writes.map(\.id)).union(deletes))
            if !lookup.isEmpty {
                for row in try session.query(
                    "SELECT id, label, deleted FROM quiver_documents WHERE collection_id = $1 AND id = ANY($2)",
                    binds(collectionID, lookup))
                {
                    known[try row.get(0, String.self)] = (try row.get(1), try row.get(2))
                }
            }
            var plan = WritePlan()
            var outcome = WriteOutcome()
            for item in writes {
                let found = known[item.id]
                if item.vector == nil, !item.pending, found == nil { continue }
                seq += 1
                let label: Int64
                if let found {
                    label = found.label
                    if found.deleted { outcome.inserted += 1 } else { outcome.updated += 1 }
                } else {
                    lastLabel += 1
                    label = lastLabel
                    outcome.inserted += 1
                }
                known[item.id] = (label, false)
                plan.documents[label] = .init(
                    id: item.id, title: item.title, text: item.text, metadata: item.metadata, updatedAt: item.updatedAt, seq: seq,
                    deleted: false)
                if let vector = item.vector {
                    plan.vectors[label] = .init(
                        hash: item.contentHash, embeddedAt: item.embeddedAt, seq: seq, vector: vector, chunks: item.chunks)
                    plan.touches[label] = nil
                } else if item.pending {
                    // No vector row is touched (as SQLite: one written earlier in the batch keeps
                    // its earlier seq, so the document is stale).
                } else if plan.vectors[label] != nil {
                    plan.vectors[label]?.seq = seq
                } else {
                    plan.touches[label] = seq
                }
            }
            for id in deletes {
                guard let found = known[id], !found.deleted else { continue }
                seq += 1
                outcome.deleted += 1
                known[id] = (found.label, true)
                // A tombstone keeps the stored updated_at (or the one this batch wrote).
                let written = plan.documents[found.label]
                plan.documents[found.label] = .init(
                    id: id, title: nil, text: nil, metadata: nil, updatedAt: written?.updatedAt ?? 0, seq: seq, deleted: true,
                    keepsStoredTime: written == nil)
                plan.vectors[found.label] = nil
                plan.touches[found.label] = nil
                plan.dropped.append(found.label)
            }
            try write(plan, generation: generation, session)
            try session.execute(
                "UPDATE quiver_collections SET seq = $2, last_label = $3 WHERE collection_id = $1", binds(collectionID, seq, lastLabel))
            outcome.seq = seq
            return outcome
        }
    }

    /// The final state of every row a write transaction touches.
    struct WritePlan {
        struct Document {
            var id: String
            var title: String?
            var text: String?
            var metadata: String?
            var updatedAt: Double
            var seq: Int64
            var deleted: Bool
            /// A tombstone of a row not written earlier in the batch: its updated_at stays.
            var keepsStoredTime = false
        }
        struct Vector {
            var hash: [UInt8]
            var embeddedAt: Double
            var seq: Int64
            var vector: [Float]
            var chunks: ChunkVectors?
        }
        var documents: [Int64: Document] = [:]
        var vectors: [Int64: Vector] = [:]
        /// Metadata-only changes of documents whose vector row (if any) only moves its source seq.
        var touches: [Int64: Int64] = [:]
        /// Deleted documents: every generation's vector row goes.
        var dropped: [Int64] = []
    }

    private func write(_ plan: WritePlan, generation: Int64, _ session: PostgresSession) throws {
        // Tombstones of rows this batch did not write keep their updated_at: a plain update.
        let tombstones = plan.documents.filter(\.value.keepsStoredTime).sorted { $0.key < $1.key }
        if !tombstones.isEmpty {
            try session.execute(
                """
                UPDATE quiver_documents d SET deleted = true, title = NULL, text = NULL, metadata = NULL, seq = t.seq
                FROM unnest($2::bigint[], $3::bigint[]) AS t(label, seq) WHERE d.collection_id = $1 AND d.label = t.label
                """, binds(collectionID, tombstones.map(\.key), tombstones.map(\.value.seq)))
        }
        let rows = plan.documents.filter { !$0.value.keepsStoredTime }.sorted { $0.key < $1.key }
        if !rows.isEmpty {
            // Arrays cannot hold NULL through the client: each nullable column travels with a
            // "present" flag and becomes NULL where the flag is false.
            var values = binds(collectionID, rows.map(\.key), rows.map(\.value.id))
            values.append(rows.map { $0.value.title ?? "" })
            values.append(rows.map { $0.value.title != nil })
            values.append(rows.map { $0.value.text ?? "" })
            values.append(rows.map { $0.value.text != nil })
            values.append(rows.map { $0.value.metadata ?? "" })
            values.append(rows.map { $0.value.metadata != nil })
            values.append(rows.map(\.value.updatedAt))
            values.append(rows.map(\.value.seq))
            values.append(rows.map(\.value.deleted))
            try session.execute(
                """
                INSERT INTO quiver_documents AS d (collection_id, label, id, title, text, metadata, updated_at, seq, deleted)
                SELECT $1, r.label, r.id, CASE WHEN r.has_title THEN r.title END, CASE WHEN r.has_text THEN r.text END,
                    CASE WHEN r.has_metadata THEN r.metadata END, r.updated_at, r.seq, r.deleted
                FROM unnest($2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::boolean[], $8::text[],
                    $9::boolean[], $10::double precision[], $11::bigint[], $12::boolean[])
                    AS r(label, id, title, has_title, text, has_text, metadata, has_metadata, updated_at, seq, deleted)
                ON CONFLICT (collection_id, label) DO UPDATE SET title = excluded.title, text = excluded.text,
                    metadata = excluded.metadata, updated_at = excluded.updated_at, seq = excluded.seq, deleted = excluded.deleted
                """, values)
        }
        if !plan.dropped.isEmpty {
            try session.execute(
                "DELETE FROM quiver_vectors WHERE collection_id = $1 AND label = ANY($2)", binds(collectionID, plan.dropped))
        }
        if !plan.vectors.isEmpty {
            let rows = plan.vectors.sorted { $0.key < $1.key }
            try upsertVectors(
                generation: generation,
                rows.map {
                    VectorRow(
                        label: $0.key, hash: $0.value.hash, embeddedAt: $0.value.embeddedAt, sourceSeq: $0.value.seq,
                        vector: $0.value.vector, chunks: $0.value.chunks)
                }, onlyIfCurrent: false, session)
        }
        if !plan.touches.isEmpty {
            let rows = plan.touches.sorted { $0.key < $1.key }
            try session.execute(
                """
                UPDATE quiver_vectors v SET source_seq = t.seq FROM unnest($3::bigint[], $4::bigint[]) AS t(label, seq)
                WHERE v.collection_id = $1 AND v.generation = $2 AND v.label = t.label
                """, binds(collectionID, generation, rows.map(\.key), rows.map(\.value)))
        }
    }

    /// A vector row to store.
    struct VectorRow {
        var label: Int64
        var hash: [UInt8]
        var embeddedAt: Double
        var sourceSeq: Int64
        var vector: [Float]
        var chunks: ChunkVectors?
    }

    /// Inserts or replaces vector rows of `generation`; with `onlyIfCurrent`, a row is kept only
    /// when its document is live and still at `sourceSeq` (a re-embedding racing a write loses).
    /// Returns how many rows were written.
    @discardableResult
    func upsertVectors(generation: Int64, _ rows: [VectorRow], onlyIfCurrent: Bool, _ session: PostgresSession) throws -> Int {
        var values = binds(
            collectionID, generation, rows.map(\.label), rows.map { Self.buffer($0.hash) }, rows.map(\.embeddedAt),
            rows.map(\.sourceSeq), rows.map { Self.buffer(StoredBlob.bytes($0.vector)) })
        values.append(rows.map { Self.buffer($0.chunks.map { StoredBlob.bytes($0.spans) } ?? []) })
        values.append(rows.map { $0.chunks != nil })
        values.append(rows.map { Self.buffer($0.chunks.map { StoredBlob.bytes($0.flat) } ?? []) })
        let guardClause =
            onlyIfCurrent
            ? "JOIN quiver_documents d ON d.collection_id = $1 AND d.label = r.label AND d.seq = r.source_seq AND NOT d.deleted" : ""
        return try session.execute(
            """
            INSERT INTO quiver_vectors (collection_id, generation, label, content_hash, embedded_at, source_seq, vector, chunks,
                chunk_vectors)
            SELECT $1, $2, r.label, r.hash, r.embedded_at, r.source_seq, r.vector, CASE WHEN r.chunked THEN r.chunks END,
                CASE WHEN r.chunked THEN r.chunk_vectors END
            FROM unnest($3::bigint[], $4::bytea[], $5::double precision[], $6::bigint[], $7::bytea[], $8::bytea[], $9::boolean[],
                $10::bytea[]) AS r(label, hash, embedded_at, source_seq, vector, chunks, chunked, chunk_vectors)
            \(guardClause)
            ON CONFLICT (collection_id, generation, label) DO UPDATE SET content_hash = excluded.content_hash,
                embedded_at = excluded.embedded_at, source_seq = excluded.source_seq, vector = excluded.vector,
                chunks = excluded.chunks, chunk_vectors = excluded.chunk_vectors
            """, values)
    }

    public func markSynced(at time: Double) throws(DocumentStoreError) {
        _ = try pool.withSession { session in
            try session.execute("UPDATE quiver_collections SET last_sync_at = $2 WHERE collection_id = $1", binds(collectionID, time))
        }
    }

    public func updateTuning(_ change: (String?) -> String?) throws(DocumentStoreError) -> String? {
        try pool.transaction { session in
            guard
                let row = try session.query(
                    "SELECT tuning FROM quiver_collections WHERE collection_id = $1 FOR UPDATE", binds(collectionID)
                ).first
            else { throw DocumentStoreError.notInitialized(path: path) }
            let json = change(try row.get(0, String?.self))
            var values = binds(collectionID)
            if let json { values.append(json) } else { values.appendNull() }
            try session.execute("UPDATE quiver_collections SET tuning = $2 WHERE collection_id = $1", values)
            return json
        }
    }
}
