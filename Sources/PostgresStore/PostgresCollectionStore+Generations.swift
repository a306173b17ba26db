import DocumentStore
import Foundation
import PostgresNIO

// MARK: - Generations

extension PostgresCollectionStore {
    /// As the SQLite store: a building generation with the same model and chunking is resumed
    /// (its `candidate` flag set), one with another is replaced; otherwise a new one is numbered
    /// after every existing one. The collection's row is locked, so two processes starting a
    /// model change together get one generation.
    public func beginGeneration(
        modelID: String, fingerprint: String, dimensions: Int, chunking: Chunking, at time: Double, candidate: Bool
    ) throws(DocumentStoreError) -> GenerationRecord {
        try pool.transaction { session in
            _ = try lockCollection(session)
            let all = try generations(session)
            if var building = all.first(where: { $0.state == .building }) {
                if building.modelFingerprint == fingerprint, building.dimensions == dimensions, building.chunking == chunking {
                    if building.candidate != candidate {
                        try session.execute(
                            "UPDATE quiver_generations SET candidate = $3 WHERE collection_id = $1 AND generation = $2",
                            binds(collectionID, building.generation, candidate))
                        building.candidate = candidate
                    }
                    return building
                }
                try session.execute(
                    "DELETE FROM quiver_generations WHERE collection_id = $1 AND generation = $2",
                    binds(collectionID, building.generation))
            }
            let record = GenerationRecord(
                generation: (all.map(\.generation).max() ?? 0) + 1, modelID: modelID, modelFingerprint: fingerprint,
                dimensions: dimensions, state: .building, createdAt: time, completedAt: nil, candidate: candidate, chunking: chunking)
            try Self.insert(record, collectionID: collectionID, session)
            return record
        }
    }

    public func discardGeneration(_ generation: Int64) throws(DocumentStoreError) -> Bool {
        try pool.transaction { session in
            _ = try lockCollection(session)
            return try session.execute(
                "DELETE FROM quiver_generations WHERE collection_id = $1 AND generation = $2 AND state = 'building'",
                binds(collectionID, generation)) > 0
        }
    }

    /// Each vector is kept only if its document is live and unchanged since it was read
    /// (`seq = sourceSeq`), checked inside the insert, under the collection's lock in share mode:
    /// no write is in flight between the check and the commit (without it, a document deleted by
    /// a write committing meanwhile could keep a vector row). Vectors of the current generation
    /// are changes (``storeAsChanges(generation:_:embeddedAt:_:)``), under the exclusive lock.
    public func writeGenerationVectors(generation: Int64, _ items: [GenerationVector], embeddedAt: Double)
        throws(DocumentStoreError) -> Int
    {
        guard !items.isEmpty else { return 0 }
        let written = try pool.transaction { session in
            if try generationState(generation, session) == GenerationState.current.rawValue {
                return try storeAsChanges(generation: generation, items, embeddedAt: embeddedAt, session)
            }
            _ = try lockCollection(session, shared: true)
            return try upsertVectors(
                generation: generation,
                Self.rows(items, embeddedAt: embeddedAt), onlyIfCurrent: true, session)
        }
        noteWritten(written)
        return written
    }

    /// The state of `generation`, nil when there is none; `lock` holds its row in key-share mode
    /// (a discard waits for the transaction).
    func generationState(_ generation: Int64, lock: Bool = false, _ session: PostgresSession) throws -> String? {
        try session.query(
            "SELECT state FROM quiver_generations WHERE collection_id = $1 AND generation = $2\(lock ? " FOR KEY SHARE" : "")",
            binds(collectionID, generation)
        ).first?.get(0, String.self)
    }

    /// Vectors of the current generation (pending documents a worker embedded) stored as changes
    /// that index followers read: under the collection's exclusive lock, each document still live
    /// and at its source seq gets the next seq (label order), its vector that seq, and vectors of
    /// other generations that were up to date with it move along (they stay up to date).
    func storeAsChanges(generation: Int64, _ items: [GenerationVector], embeddedAt: Double, _ session: PostgresSession)
        throws -> Int
    {
        var (seq, _) = try lockCollection(session)
        var live: [Int64: Int64] = [:]
        for row in try session.query(
            "SELECT label, seq FROM quiver_documents WHERE collection_id = $1 AND label = ANY($2) AND NOT deleted",
            binds(collectionID, items.map(\.label)))
        {
            live[try row.get(0, Int64.self)] = try row.get(1, Int64.self)
        }
        var rows: [VectorRow] = []
        var oldSeqs: [Int64] = []
        for item in items.sorted(by: { $0.label < $1.label }) where live[item.label] == item.sourceSeq {
            seq += 1
            live[item.label] = seq
            oldSeqs.append(item.sourceSeq)
            rows.append(
                VectorRow(
                    label: item.label, hash: item.contentHash, embeddedAt: embeddedAt, sourceSeq: seq, vector: item.vector,
                    chunks: item.chunks))
        }
        guard !rows.isEmpty else { return 0 }
        let labels = rows.map(\.label)
        let seqs = rows.map(\.sourceSeq)
        try session.execute(
            """
            UPDATE quiver_documents d SET seq = t.seq FROM unnest($2::bigint[], $3::bigint[]) AS t(label, seq)
            WHERE d.collection_id = $1 AND d.label = t.label
            """, binds(collectionID, labels, seqs))
        try session.execute(
            """
            UPDATE quiver_vectors v SET source_seq = t.seq
            FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS t(label, old, seq)
            WHERE v.collection_id = $1 AND v.generation <> $2 AND v.label = t.label AND v.source_seq = t.old
            """, binds(collectionID, generation, labels, oldSeqs, seqs))
        try upsertVectors(generation: generation, rows, onlyIfCurrent: false, session)
        try session.execute("UPDATE quiver_collections SET seq = $2 WHERE collection_id = $1", binds(collectionID, seq))
        return rows.count
    }

    /// The claim is the rows' lock: `FOR UPDATE OF d SKIP LOCKED` takes documents no other worker
    /// holds and keeps them for the transaction while `embed` runs; the vectors are written in
    /// the same transaction. The collection's row is not locked (a writer holding it and waiting
    /// for a claimed document would otherwise deadlock with the claim's commit): the row locks
    /// keep the claimed documents unchanged until the commit, and the generation's row is held
    /// in key-share mode so a discard waits for the batch. A writer touching a claimed document
    /// waits for the batch (seconds at most: keep batches small). A worker killed mid-batch loses
    /// its connection, and PostgreSQL rolls the claim back at once.
    ///
    /// The current generation (pending documents) is claimed with transaction-scoped advisory
    /// locks on the documents' labels instead, which writers never take: its vectors are changes,
    /// stored under the collection's exclusive lock at the end (``storeAsChanges``), and a worker
    /// holding row locks while it waits for that lock would deadlock with a writer holding the
    /// lock and waiting for a row. A document written meanwhile keeps no vector (its seq moved).
    public func claimStale(
        generation: Int64, afterLabel: Int64, limit: Int, embeddedAt: Double,
        embed: ([StoredDocument]) -> [GenerationVector]
    ) throws(DocumentStoreError) -> StaleClaim {
        let claim = try claimTransaction(generation: generation, afterLabel: afterLabel, limit: limit, embeddedAt: embeddedAt, embed: embed)
        noteWritten(claim.written)
        return claim
    }

    private func claimTransaction(
        generation: Int64, afterLabel: Int64, limit: Int, embeddedAt: Double, embed: ([StoredDocument]) -> [GenerationVector]
    ) throws(DocumentStoreError) -> StaleClaim {
        try pool.transaction { session in
            let state = try generationState(generation, lock: true, session)
            guard state == GenerationState.current.rawValue || state == GenerationState.building.rawValue else {
                throw DocumentStoreError.generationNotWritable(generation: generation)
            }
            let current = state == GenerationState.current.rawValue
            // The lock is taken first; staleness is read again after it, in a new statement (a new
            // snapshot): a row whose claim another worker committed while this one waited for its
            // lock is locked with this statement's older view of its vectors, and would be
            // embedded twice.
            //
            // The plan must walk the documents in label order from `afterLabel` and probe each
            // one's vector, stopping at `limit`: any plan that joins the whole generation first
            // (a hash join, or a nested loop over a materialized vector scan — what PostgreSQL
            // picks while the new generation's statistics say it is empty) makes every claim
            // cost the whole collection, and a model change quadratic (measured: 1 s per claim
            // at 20,000 documents). The vector is probed in a lateral subquery that cannot be
            // flattened (`OFFSET 0`), and sorts and bitmap scans are off for this transaction.
            _ = try session.query(
                "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)")
            let stale = """
                SELECT d.label FROM quiver_documents d
                LEFT JOIN LATERAL (
                    SELECT v.source_seq FROM quiver_vectors v
                    WHERE v.collection_id = d.collection_id AND v.generation = $2 AND v.label = d.label OFFSET 0
                ) v ON true
                WHERE d.collection_id = $1 AND NOT d.deleted AND d.label > $3 AND (v.source_seq IS NULL OR v.source_seq < d.seq)
                ORDER BY d.label
                """
            // Advisory locks are tried on stale documents only (the outer filter runs on the
            // subquery's rows, in label order, until `limit` are held): keys (collection, label).
            let locked = try session.query(
                current
                    ? """
                    SELECT s.label FROM (\(stale) OFFSET 0) s
                    WHERE pg_try_advisory_xact_lock($5::int4, (s.label % 2147483647)::int4) LIMIT $4
                    """
                    : "\(stale) LIMIT $4 FOR UPDATE OF d SKIP LOCKED",
                current
                    ? binds(collectionID, generation, afterLabel, Int64(max(1, limit)), Self.claimKey(collectionID))
                    : binds(collectionID, generation, afterLabel, Int64(max(1, limit)))
            ).map { try $0.get(0, Int64.self) }
            guard let last = locked.last else { return StaleClaim(claimed: 0, lastLabel: nil, written: 0) }
            // The planner settings were for the walk only: the re-read looks up `limit` labels,
            // which a bitmap scan does best.
            _ = try session.query(
                "SELECT set_config('enable_sort', 'on', true), set_config('enable_bitmapscan', 'on', true)")
            let page = try staleDocuments("d.label = ANY($3) ORDER BY d.label", binds(collectionID, generation, locked), session)
            guard !page.isEmpty else { return StaleClaim(claimed: 0, lastLabel: last, written: 0) }
            let items = embed(page)
            let written =
                current
                ? try storeAsChanges(generation: generation, items, embeddedAt: embeddedAt, session)
                : try upsertVectors(
                    generation: generation,
                    Self.rows(items, embeddedAt: embeddedAt), onlyIfCurrent: true, session)
            return StaleClaim(claimed: page.count, lastLabel: last, written: written)
        }
    }

    /// The first key of a collection's claim locks (the second is the label): two collections
    /// sharing it only make their workers skip each other's documents now and then.
    static func claimKey(_ collectionID: Int64) -> Int32 {
        Int32(truncatingIfNeeded: collectionID ^ 0x5155_4956)
    }

    /// Re-embedded vectors as rows.
    static func rows(_ items: [GenerationVector], embeddedAt: Double) -> [VectorRow] {
        items.map {
            VectorRow(
                label: $0.label, hash: $0.contentHash, embeddedAt: embeddedAt, sourceSeq: $0.sourceSeq, vector: $0.vector,
                chunks: $0.chunks)
        }
    }

    /// In one transaction holding the collection's lock (no write can land between the check and
    /// the switch): the current generation becomes `previous`, the previous one is deleted with
    /// its vectors.
    public func switchGeneration(to generation: Int64, at time: Double) throws(DocumentStoreError) {
        try pool.transaction { session in
            _ = try lockCollection(session)
            guard let target = try generations(session).first(where: { $0.generation == generation }) else {
                throw DocumentStoreError.generationNotFound(generation)
            }
            // Already switched in (by another worker that completed it too): nothing to do; the
            // rollback copy stays.
            if target.state == .current { return }
            let missing = try staleCount(generation, session)
            guard missing == 0 else { throw DocumentStoreError.generationIncomplete(generation: generation, missing: missing) }
            try session.execute(
                "DELETE FROM quiver_generations WHERE collection_id = $1 AND state = 'previous' AND generation <> $2",
                binds(collectionID, generation))
            try session.execute(
                "UPDATE quiver_generations SET state = 'previous' WHERE collection_id = $1 AND state = 'current'", binds(collectionID))
            try session.execute(
                """
                UPDATE quiver_generations SET state = 'current', completed_at = $3, candidate = false
                WHERE collection_id = $1 AND generation = $2
                """, binds(collectionID, generation, time))
        }
    }
}
