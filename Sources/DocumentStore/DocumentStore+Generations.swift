import Foundation
import GRDB

extension DocumentStore {
    /// Every generation, oldest first.
    public func generations() throws(DocumentStoreError) -> [GenerationRecord] {
        try read { db in try Self.generations(db) }
    }

    static func generations(_ db: Database) throws -> [GenerationRecord] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT generation, model_id, model_fingerprint, dimensions, state, created_at, completed_at, candidate,
                        chunk_tokens, chunk_overlap
                    FROM generations ORDER BY generation
                    """)
        ).map { row in
            let state: String = try row.decode(atIndex: 4)
            return GenerationRecord(
                generation: try row.decode(atIndex: 0), modelID: try row.decode(atIndex: 1),
                modelFingerprint: try row.decode(atIndex: 2), dimensions: try row.decode(atIndex: 3),
                state: GenerationState(rawValue: state) ?? .previous, createdAt: try row.decode(atIndex: 5),
                completedAt: try row.decode(atIndex: 6), candidate: (try row.decode(atIndex: 7) as Int64) != 0,
                chunking: Chunking(tokens: try row.decode(atIndex: 8), overlap: try row.decode(atIndex: 9)))
        }
    }

    static func insert(_ generation: GenerationRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO generations (generation, model_id, model_fingerprint, dimensions, state, created_at, completed_at, candidate,
                    chunk_tokens, chunk_overlap)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                generation.generation, generation.modelID, generation.modelFingerprint, generation.dimensions,
                generation.state.rawValue, generation.createdAt, generation.completedAt, generation.candidate ? 1 : 0,
                generation.chunking.tokens, generation.chunking.overlap,
            ])
    }

    /// Starts a `building` generation for a new model or chunking, numbered after every existing
    /// one. An existing building generation with the same fingerprint and chunking is returned
    /// instead (a resumed model change), with its `candidate` flag set to `candidate`; one with
    /// another is replaced (its vectors are dropped).
    public func beginGeneration(
        modelID: String, fingerprint: String, dimensions: Int, chunking: Chunking, at time: Double, candidate: Bool
    ) throws(DocumentStoreError) -> GenerationRecord {
        try write { db in
            let all = try Self.generations(db)
            if var building = all.first(where: { $0.state == .building }) {
                if building.modelFingerprint == fingerprint, building.dimensions == dimensions, building.chunking == chunking {
                    if building.candidate != candidate {
                        try db.execute(
                            sql: "UPDATE generations SET candidate = ? WHERE generation = ?",
                            arguments: [candidate ? 1 : 0, building.generation])
                        building.candidate = candidate
                    }
                    return building
                }
                try db.execute(sql: "DELETE FROM generations WHERE generation = ?", arguments: [building.generation])
            }
            let next = (all.map(\.generation).max() ?? 0) + 1
            let record = GenerationRecord(
                generation: next, modelID: modelID, modelFingerprint: fingerprint,
                dimensions: dimensions, state: .building, createdAt: time, completedAt: nil, candidate: candidate,
                chunking: chunking)
            try Self.insert(record, db)
            return record
        }
    }

    /// Drops the building generation `generation` and its vectors (a discarded candidate or an
    /// abandoned model change). Returns false when no building generation has that number.
    @discardableResult
    public func discardGeneration(_ generation: Int64) throws(DocumentStoreError) -> Bool {
        try write { db in
            try db.execute(
                sql: "DELETE FROM generations WHERE generation = ? AND state = 'building'", arguments: [generation])
            return db.changesCount > 0
        }
    }

    /// Live documents whose vector in `generation` is missing or older than the document, in label
    /// order after `afterLabel`: the work left before the generation can be switched in.
    public func staleDocuments(generation: Int64, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [StoredDocument] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.label, d.id, d.title, d.text, d.metadata, d.updated_at, d.seq
                    FROM documents d LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label
                    WHERE d.deleted = 0 AND d.label > ? AND (v.label IS NULL OR v.source_seq < d.seq)
                    ORDER BY d.label LIMIT ?
                    """, arguments: [generation, afterLabel, limit]
            ).map { row in
                StoredDocument(
                    label: try row.decode(atIndex: 0), id: try row.decode(atIndex: 1),
                    title: try row.decode(atIndex: 2), text: try row.decode(atIndex: 3),
                    metadata: try row.decode(atIndex: 4), updatedAt: try row.decode(atIndex: 5),
                    seq: try row.decode(atIndex: 6), embeddedAt: nil, vector: nil)
            }
        }
    }

    /// Number of live documents without an up-to-date vector in `generation`.
    public func staleCount(generation: Int64, writtenThrough: Int64?) throws(DocumentStoreError) -> Int {
        try read { db in try Self.staleCount(generation, db, writtenThrough: writtenThrough) }
    }

    static func staleCount(_ generation: Int64, _ db: Database, writtenThrough: Int64? = nil) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT count(*) FROM documents d LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label
                WHERE d.deleted = 0 AND (v.label IS NULL OR v.source_seq < d.seq) AND d.seq <= ?
                """, arguments: [generation, writtenThrough ?? Int64.max]) ?? 0
    }

    /// Stores vectors computed for a generation, each only if its document has not changed since
    /// (`source_seq` still equals the document's `seq`). Returns how many were kept.
    ///
    /// A vector stored into the **current** generation (a pending document embedded by a worker)
    /// is a change the index followers must see: its document gets the next seq (in label order),
    /// and vectors of other generations that were up to date with the document move with it.
    public func writeGenerationVectors(generation: Int64, _ items: [GenerationVector], embeddedAt: Double)
        throws(DocumentStoreError) -> Int
    {
        try write { db in
            let state = try String.fetchOne(
                db.cachedStatement(sql: "SELECT state FROM generations WHERE generation = ?"), arguments: [generation])
            let isCurrent = state == GenerationState.current.rawValue
            var seq = try Int64.fetchOne(db, sql: "SELECT seq FROM collection") ?? 0
            let live = try db.cachedStatement(sql: "SELECT 1 FROM documents WHERE label = ? AND seq = ? AND deleted = 0")
            let renumber = try db.cachedStatement(sql: "UPDATE documents SET seq = ? WHERE label = ?")
            let follow = try db.cachedStatement(
                sql: "UPDATE vectors SET source_seq = ? WHERE label = ? AND source_seq = ? AND generation <> ?")
            let store = try db.cachedStatement(
                sql: """
                    INSERT INTO vectors (generation, label, content_hash, embedded_at, source_seq, vector, chunks, chunk_vectors)
                    SELECT ?, label, ?, ?, seq, ?, ?, ? FROM documents WHERE label = ? AND seq = ? AND deleted = 0
                    ON CONFLICT (generation, label) DO UPDATE SET content_hash = excluded.content_hash,
                        embedded_at = excluded.embedded_at, source_seq = excluded.source_seq, vector = excluded.vector,
                        chunks = excluded.chunks, chunk_vectors = excluded.chunk_vectors
                    """)
            var kept = 0
            for item in isCurrent ? items.sorted(by: { $0.label < $1.label }) : items {
                var sourceSeq = item.sourceSeq
                if isCurrent {
                    guard try Row.fetchOne(live, arguments: [item.label, item.sourceSeq]) != nil else { continue }
                    seq += 1
                    try renumber.execute(arguments: [seq, item.label])
                    try follow.execute(arguments: [seq, item.label, item.sourceSeq, generation])
                    sourceSeq = seq
                }
                try store.execute(arguments: [
                    generation, Data(item.contentHash), embeddedAt, Self.blob(item.vector),
                    item.chunks.map { Self.spansBlob($0.spans) }, item.chunks.map { Self.blob($0.flat) }, item.label, sourceSeq,
                ])
                kept += db.changesCount
            }
            if isCurrent { try db.execute(sql: "UPDATE collection SET seq = ?", arguments: [seq]) }
            return kept
        }
    }

    /// Makes `generation` current in one transaction: the current one becomes `previous`, the
    /// previous one is deleted with its vectors.
    ///
    /// - Throws: `.generationIncomplete` when a live document still lacks an up-to-date vector in it.
    public func switchGeneration(to generation: Int64, at time: Double) throws(DocumentStoreError) {
        try write { db in
            let all = try Self.generations(db)
            guard let target = all.first(where: { $0.generation == generation }) else {
                throw DocumentStoreError.generationNotFound(generation)
            }
            if target.state == .current { return }  // already switched in: the rollback copy stays
            let missing = try Self.staleCount(generation, db)
            guard missing == 0 else { throw DocumentStoreError.generationIncomplete(generation: generation, missing: missing) }
            try db.execute(sql: "DELETE FROM generations WHERE state = 'previous' AND generation != ?", arguments: [generation])
            try db.execute(sql: "UPDATE generations SET state = 'previous' WHERE state = 'current'")
            try db.execute(
                sql: "UPDATE generations SET state = 'current', completed_at = ?, candidate = 0 WHERE generation = ?",
                arguments: [time, generation])
        }
    }
}
