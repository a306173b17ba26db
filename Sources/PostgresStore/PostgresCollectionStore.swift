import DocumentStore
import Foundation
import NIOCore
import PostgresNIO
import Synchronization

/// One collection of a PostgreSQL database: the store contract (Sources/DocumentStore/StoreProtocols.swift)
/// on the tables of ``PostgresSchema``, filtered by `collection_id`.
///
/// Writes lock the collection's row (`SELECT … FOR UPDATE`) before anything else, so writers of one
/// collection serialize there and hand out seqs and labels in commit order; readers never wait.
public final class PostgresCollectionStore: CollectionStore {
    let catalog: PostgresCatalog
    /// The collection's row id.
    let collectionID: Int64
    /// The collection's name (for messages).
    let name: String

    init(catalog: PostgresCatalog, collectionID: Int64, name: String) {
        self.catalog = catalog
        self.collectionID = collectionID
        self.name = name
    }

    /// Rows this store wrote since it last had the shared tables analyzed, and how many make the
    /// next analyze due (the collection's size then, at least ``analyzeMinimumRows``).
    private let growth = Mutex<(written: Int, threshold: Int)>((0, PostgresCollectionStore.analyzeMinimumRows))
    static let analyzeMinimumRows = 2_000

    /// Counts rows written and, once as many as the collection had at the last analyze (it about
    /// doubled), runs `ANALYZE` on the documents and vectors tables. Every collection shares
    /// them, so a collection created or bulk-loaded since autovacuum last analyzed them is
    /// estimated at about one row, and PostgreSQL then plans every statement filtered by
    /// `collection_id` as a walk over the whole collection (measured: a lookup of 6 labels
    /// 6.1 ms through the wrong index, an update of 2 documents 31 ms, in a fresh collection of
    /// 20,000; 0.1 and 0.6 ms after the analyze). Autovacuum alone waits for 10 % of the table
    /// to change, which a new collection in a large database may never reach. At most a
    /// logarithmic number of analyzes per collection and process; a failure is left to the next.
    func noteWritten(_ rows: Int) {
        guard rows > 0 else { return }
        let due = growth.withLock { state -> Bool in
            state.written += rows
            guard state.written >= state.threshold else { return false }
            state.written = 0
            return true
        }
        guard due else { return }
        let size = try? pool.withSession { session throws -> Int64 in
            _ = try session.execute("ANALYZE quiver_documents, quiver_vectors")
            return try session.query(
                "SELECT last_label FROM quiver_collections WHERE collection_id = $1", binds(collectionID)
            ).first?.get(0, Int64.self) ?? 0
        }
        if let size { growth.withLock { $0.threshold = max(Self.analyzeMinimumRows, Int(size)) } }
    }

    /// The primary: writes, and the reads a write depends on.
    var pool: PostgresPool { catalog.pool }
    /// Where the change feed and the query path read: the `--read-store` standby when given,
    /// else the primary.
    var readPool: PostgresPool { catalog.readPool }
    /// What errors name: the database (without password) and the collection.
    var path: String { "\(catalog.location) collection \(name)" }

    static let generationColumns =
        "g.generation, g.model_id, g.model_fingerprint, g.dimensions, g.state, g.created_at, g.completed_at, g.candidate, "
        + "g.chunk_tokens, g.chunk_overlap"

    /// The generation in `row`'s columns from `offset` on (``generationColumns``' order).
    func generation(_ row: StoreRow, at offset: Int) throws -> GenerationRecord {
        GenerationRecord(
            generation: try row.get(offset), modelID: try row.get(offset + 1), modelFingerprint: try row.get(offset + 2),
            dimensions: try row.get(offset + 3), state: GenerationState(rawValue: try row.get(offset + 4)) ?? .previous,
            createdAt: try row.get(offset + 5), completedAt: try row.get(offset + 6), candidate: try row.get(offset + 7),
            chunking: Chunking(tokens: try row.get(offset + 8), overlap: try row.get(offset + 9)))
    }

    /// The vector row of document `d` in generation `$2`, probed through the primary key once per
    /// document. A plain join lets PostgreSQL plan a nested loop whose inner side scans every
    /// vector of the collection per document whenever its statistics underestimate the
    /// collection (one created or bulk-loaded since the last ANALYZE): measured 5.1 s for a stale
    /// count over 4,000 documents, 11 ms with this probe. The subquery cannot be flattened
    /// (`OFFSET 0`), so the join is always a per-document index probe.
    static let leftVectorJoin = "LEFT \(vectorJoin)"
    /// ``leftVectorJoin`` for documents that must have the vector.
    static let vectorJoin = """
        JOIN LATERAL (
            SELECT * FROM quiver_vectors v WHERE v.collection_id = d.collection_id AND v.generation = $2 AND v.label = d.label
            OFFSET 0) v ON true
        """

    static func insert(_ record: GenerationRecord, collectionID: Int64, _ session: PostgresSession) throws {
        var values = binds(
            collectionID, record.generation, record.modelID, record.modelFingerprint, record.dimensions, record.state.rawValue,
            record.createdAt)
        values.append(record.completedAt)
        values.append(record.candidate)
        values.append(record.chunking.tokens)
        values.append(record.chunking.overlap)
        try session.execute(
            """
            INSERT INTO quiver_generations (collection_id, generation, model_id, model_fingerprint, dimensions, state, created_at,
                completed_at, candidate, chunk_tokens, chunk_overlap)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """, values)
    }

    /// A vector blob's floats (checked against `dimensions` when given).
    func floats(_ buffer: ByteBuffer, dimensions: Int?) throws(DocumentStoreError) -> [Float] {
        guard let floats = buffer.withUnsafeReadableBytes({ StoredBlob.floats($0, dimensions: dimensions) }) else {
            throw .corrupted(path: path, reason: "vector blob of \(buffer.readableBytes) bytes")
        }
        return floats
    }

    /// A row's passages from its spans and passage-vector columns (nil without spans).
    func chunks(spans: ByteBuffer?, vectors: ByteBuffer?, dimensions: Int, withVectors: Bool) throws -> ChunkVectors? {
        guard let spans else { return nil }
        return try spans.withUnsafeReadableBytes { spanBytes in
            if let vectors {
                return try vectors.withUnsafeReadableBytes { vectorBytes in
                    try StoredBlob.chunks(
                        spans: spanBytes, vectors: vectorBytes, dimensions: dimensions, withVectors: withVectors, path: path)
                }
            }
            return try StoredBlob.chunks(spans: spanBytes, vectors: nil, dimensions: dimensions, withVectors: withVectors, path: path)
        }
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
}

// MARK: - ChangeFeed

extension PostgresCollectionStore {
    /// Every read is a round trip to the server.
    public var isRemote: Bool { true }

    /// The catalog's (``PostgresCatalog/statePatience``).
    public var statePatience: Duration { catalog.statePatience }

    /// From the timelines the collection's writes recorded (schema version 3): the lowest seq a
    /// timeline after `timeline` started from.
    public func forkSeq(afterTimeline timeline: Int64) throws(DocumentStoreError) -> Int64? {
        try readPool.withSession { session in
            try session.query(
                "SELECT min(base_seq) FROM quiver_timelines WHERE collection_id = $1 AND timeline > $2", binds(collectionID, timeline)
            ).first?.get(0, Int64?.self)
        }
    }

    public func state() throws(DocumentStoreError) -> StoreState {
        // Every query reads this: a prepared statement (no parse or plan per call).
        let row = try readPool.withSession { session in
            try session.queryPrepared(
                """
                SELECT c.seq, c.last_sync_at, c.tuning, c.timeline, \(Self.generationColumns)
                FROM quiver_collections c LEFT JOIN quiver_generations g ON g.collection_id = c.collection_id AND g.state = 'current'
                WHERE c.collection_id = $1
                """, [PostgresData(int64: collectionID)]
            ).first
        }
        guard let row else { throw .notInitialized(path: path) }
        do {
            guard try row.get(4, Int64?.self) != nil else { throw DocumentStoreError.notInitialized(path: path) }
            let timeline = try row.get(3, Int64.self)
            return StoreState(
                current: try generation(row, at: 4), seq: try row.get(0), lastSyncAt: try row.get(1), tuning: try row.get(2),
                timeline: timeline == 0 ? nil : timeline)
        } catch {
            throw decoding(error)
        }
    }

    public func changes(after seq: Int64, generation: Int64, dimensions: Int, limit: Int) throws(DocumentStoreError) -> [DocumentChange] {
        try readPool.withSession { session in
            try session.query(
                """
                SELECT d.label, d.seq, d.deleted, v.vector, d.id, v.chunks, v.chunk_vectors FROM quiver_documents d
                \(Self.leftVectorJoin)
                WHERE d.collection_id = $1 AND d.seq > $3 ORDER BY d.seq LIMIT $4
                """, binds(collectionID, generation, seq, Int64(max(0, limit)))
            ).map { row in
                DocumentChange(
                    label: try row.get(0), id: try row.get(4), seq: try row.get(1), deleted: try row.get(2),
                    vector: try row.get(3, ByteBuffer?.self).map { try floats($0, dimensions: dimensions) },
                    chunks: try chunks(
                        spans: try row.get(5), vectors: try row.get(6), dimensions: dimensions, withVectors: true))
            }
        }
    }

    public func textChanges(after seq: Int64, limit: Int) throws(DocumentStoreError) -> [TextChange] {
        try readPool.withSession { session in
            try session.query(
                """
                SELECT label, seq, deleted, title, text FROM quiver_documents
                WHERE collection_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
                """, binds(collectionID, seq, Int64(max(0, limit)))
            ).map { row in
                TextChange(
                    label: try row.get(0), seq: try row.get(1), deleted: try row.get(2), title: try row.get(3),
                    text: try row.get(4, String?.self) ?? "")
            }
        }
    }

    public func vectorPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> VectorPage {
        try readPool.withSession { session in
            var page = VectorPage(labels: [], ids: [], flat: [])
            let rows = try session.query(
                """
                SELECT d.label, v.vector, d.id, v.chunks, v.chunk_vectors
                FROM quiver_documents d \(Self.vectorJoin)
                WHERE d.collection_id = $1 AND NOT d.deleted AND d.label > $3 ORDER BY d.label LIMIT $4
                """, binds(collectionID, generation, afterLabel, Int64(max(0, limit))))
            page.flat.reserveCapacity(rows.count * dimensions)
            page.counts.reserveCapacity(rows.count)
            for row in rows {
                page.labels.append(try row.get(0))
                if let passages = try chunks(spans: try row.get(3), vectors: try row.get(4), dimensions: dimensions, withVectors: true) {
                    page.flat.append(contentsOf: passages.flat)
                    page.counts.append(passages.spans.count)
                } else {
                    page.flat.append(contentsOf: try floats(try row.get(1), dimensions: dimensions))
                    page.counts.append(1)
                }
                page.ids.append(try row.get(2))
            }
            return page
        }
    }

    public func vectorCount(generation: Int64) throws(DocumentStoreError) -> Int {
        try readPool.withSession { session in
            try session.query(
                """
                SELECT coalesce(sum(coalesce(length(v.chunks) / 8, 1)), 0)::bigint
                FROM quiver_documents d \(Self.vectorJoin)
                WHERE d.collection_id = $1
                """, binds(collectionID, generation)
            ).first.map { Int(try $0.get(0, Int64.self)) } ?? 0
        }
    }

    public func liveLabels(afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [(label: Int64, id: String)] {
        try readPool.withSession { session in
            try session.query(
                """
                SELECT label, id FROM quiver_documents WHERE collection_id = $1 AND NOT deleted AND label > $2
                ORDER BY label LIMIT $3
                """, binds(collectionID, afterLabel, Int64(max(0, limit)))
            ).map { row in (label: try row.get(0, Int64.self), id: try row.get(1, String.self)) }
        }
    }

    /// A decoding failure (a column of an unexpected type) as a store error.
    func decoding(_ error: any Error) -> DocumentStoreError {
        if let error = error as? DocumentStoreError { return error }
        return .corrupted(path: path, reason: String(reflecting: error))
    }
}
