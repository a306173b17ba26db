import Foundation
import GRDB

extension DocumentStore {
    /// What the store holds for each of `ids` (absent ids are left out), with the content hash of
    /// the vector in `generation`.
    public func existing(ids: [String], generation: Int64) throws(DocumentStoreError) -> [String: ExistingDocument] {
        try read { db in
            var result: [String: ExistingDocument] = [:]
            result.reserveCapacity(ids.count)
            let statement = try db.cachedStatement(
                sql: """
                    SELECT d.label, d.deleted, v.content_hash, d.metadata, d.updated_at
                    FROM documents d LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label WHERE d.id = ?
                    """)
            for id in ids {
                guard let row = try Row.fetchOne(statement, arguments: [generation, id]) else { continue }
                let hash: Data? = try row.decode(atIndex: 2)
                result[id] = ExistingDocument(
                    label: try row.decode(atIndex: 0), deleted: try row.decode(Int.self, atIndex: 1) != 0,
                    contentHash: hash.map { [UInt8]($0) }, metadata: try row.decode(atIndex: 3),
                    updatedAt: try row.decode(atIndex: 4))
            }
            return result
        }
    }

    /// Upserts `writes` and deletes `deletes` in one transaction, writing vectors into
    /// `generation`. Each change gets the next sequence number. When this returns, the changes are
    /// committed (durable).
    ///
    /// A write without a vector (a metadata-only change) must name a document that has one in
    /// `generation`; otherwise it is skipped and counted nowhere. A `pending` write stores the
    /// document (new or not) and touches no vector: it stays stale until a worker embeds it.
    ///
    /// - Throws: `.generationNotWritable` when `writes` is not empty and `generation` is not
    ///   `current` or `building` inside the transaction (it was switched out or replaced after the
    ///   caller chose it): nothing is written, so a vector is never stored where no query reads it.
    public func apply(generation: Int64, writes: [DocumentWrite], deletes: [String]) throws(DocumentStoreError) -> WriteOutcome {
        try write { db in
            if !writes.isEmpty {
                let state = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT state FROM generations WHERE generation = ?"), arguments: [generation])
                guard state == GenerationState.current.rawValue || state == GenerationState.building.rawValue else {
                    throw DocumentStoreError.generationNotWritable(generation: generation)
                }
            }
            var seq = try Int64.fetchOne(db, sql: "SELECT seq FROM collection") ?? 0
            var outcome = WriteOutcome()
            let find = try db.cachedStatement(sql: "SELECT label, deleted FROM documents WHERE id = ?")
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO documents (id, title, text, metadata, updated_at, seq, deleted) VALUES (?, ?, ?, ?, ?, ?, 0)
                    """)
            let update = try db.cachedStatement(
                sql: """
                    UPDATE documents SET title = ?, text = ?, metadata = ?, updated_at = ?, seq = ?, deleted = 0 WHERE label = ?
                    """)
            let upsertVector = try db.cachedStatement(
                sql: """
                    INSERT INTO vectors (generation, label, content_hash, embedded_at, source_seq, vector, chunks, chunk_vectors)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (generation, label) DO UPDATE SET content_hash = excluded.content_hash,
                        embedded_at = excluded.embedded_at, source_seq = excluded.source_seq, vector = excluded.vector,
                        chunks = excluded.chunks, chunk_vectors = excluded.chunk_vectors
                    """)
            let touchVector = try db.cachedStatement(sql: "UPDATE vectors SET source_seq = ? WHERE generation = ? AND label = ?")
            for item in writes {
                let found = try Row.fetchOne(find, arguments: [item.id])
                if item.vector == nil, !item.pending, found == nil { continue }
                seq += 1
                let label: Int64
                if let found {
                    label = try found.decode(atIndex: 0)
                    let wasDeleted: Int = try found.decode(atIndex: 1)
                    if wasDeleted != 0 { outcome.inserted += 1 } else { outcome.updated += 1 }
                    try update.execute(arguments: [item.title, item.text, item.metadata, item.updatedAt, seq, label])
                } else {
                    try insert.execute(arguments: [item.id, item.title, item.text, item.metadata, item.updatedAt, seq])
                    label = db.lastInsertedRowID
                    outcome.inserted += 1
                }
                if let vector = item.vector {
                    try upsertVector.execute(arguments: [
                        generation, label, Data(item.contentHash), item.embeddedAt, seq,
                        Self.blob(vector), item.chunks.map { Self.spansBlob($0.spans) }, item.chunks.map { Self.blob($0.flat) },
                    ])
                } else if !item.pending {
                    try touchVector.execute(arguments: [seq, generation, label])
                }
            }
            let remove = try db.cachedStatement(
                sql: """
                    UPDATE documents SET deleted = 1, title = NULL, text = NULL, metadata = NULL, seq = ?
                    WHERE id = ? AND deleted = 0 RETURNING label
                    """)
            let dropVectors = try db.cachedStatement(sql: "DELETE FROM vectors WHERE label = ?")
            for id in deletes {
                guard let label = try Int64.fetchOne(remove, arguments: [seq + 1, id]) else { continue }
                seq += 1
                outcome.deleted += 1
                try dropVectors.execute(arguments: [label])
            }
            try db.execute(sql: "UPDATE collection SET seq = ?", arguments: [seq])
            outcome.seq = seq
            return outcome
        }
    }

    /// Ids of all live documents.
    public func liveIDs() throws(DocumentStoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM documents WHERE deleted = 0") }
    }
}
