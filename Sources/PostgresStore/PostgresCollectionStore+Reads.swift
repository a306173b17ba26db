import DocumentStore
import Foundation
import NIOCore
import PostgresNIO

// MARK: - DocumentReads
//
// Reads for queries, exports and the follower use `readPool` (a standby when `--read-store` is
// given); reads a write or a generation fill decides by (`existing`, `staleDocuments`,
// `staleCount`, `liveIDs` for a prune) use the primary, which is never behind.

extension PostgresCollectionStore {
    public func settings() throws(DocumentStoreError) -> CollectionSettings {
        let row = try readPool.withSession { session in
            try session.query(
                """
                SELECT name, metric, hnsw_m, hnsw_ef_construction, seq, created_at, last_sync_at, tuning
                FROM quiver_collections WHERE collection_id = $1
                """, binds(collectionID)
            ).first
        }
        guard let row else { throw .notInitialized(path: path) }
        do {
            return CollectionSettings(
                name: try row.get(0), metric: try row.get(1), hnswM: try row.get(2), hnswEfConstruction: try row.get(3),
                seq: try row.get(4), createdAt: try row.get(5), lastSyncAt: try row.get(6), tuning: try row.get(7))
        } catch {
            throw decoding(error)
        }
    }

    public func generations() throws(DocumentStoreError) -> [GenerationRecord] {
        try readPool.withSession { session in try generations(session) }
    }

    func generations(_ session: PostgresSession) throws -> [GenerationRecord] {
        try session.query(
            "SELECT \(Self.generationColumns) FROM quiver_generations g WHERE g.collection_id = $1 ORDER BY g.generation",
            binds(collectionID)
        ).map { try generation($0, at: 0) }
    }

    public func counts() throws(DocumentStoreError) -> (live: Int, deleted: Int) {
        try readPool.withSession { session in
            guard
                let row = try session.query(
                    """
                    SELECT count(*) FILTER (WHERE NOT deleted), count(*) FILTER (WHERE deleted)
                    FROM quiver_documents WHERE collection_id = $1
                    """, binds(collectionID)
                ).first
            else { return (0, 0) }
            return (Int(try row.get(0, Int64.self)), Int(try row.get(1, Int64.self)))
        }
    }

    /// The document query's columns; a column not asked for is selected as NULL, so its bytes are
    /// neither read (no TOAST fetch) nor sent. `$1` is the collection, `$2` the generation.
    private static func documentColumns(text: Bool, vector: Bool) -> String {
        """
        SELECT \(documentList(text: text, vector: vector))
        FROM quiver_documents d
        \(Self.leftVectorJoin)
        """
    }

    /// The select list `document(_:withVector:dimensions:)` reads (columns 0–10).
    private static func documentList(text: Bool, vector: Bool) -> String {
        """
        d.label, d.id, d.title, \(text ? "d.text" : "NULL::text"), d.metadata, d.updated_at, d.seq, v.embedded_at, \
        \(vector ? "v.vector" : "NULL::bytea"), v.chunks, \(vector ? "v.chunk_vectors" : "NULL::bytea")
        """
    }

    private func document(_ row: StoreRow, withVector: Bool, dimensions: Int) throws -> StoredDocument {
        StoredDocument(
            label: try row.get(0), id: try row.get(1), title: try row.get(2), text: try row.get(3), metadata: try row.get(4),
            updatedAt: try row.get(5), seq: try row.get(6), embeddedAt: try row.get(7),
            vector: withVector ? try row.get(8, ByteBuffer?.self).map { try floats($0, dimensions: dimensions) } : nil,
            chunks: try chunks(spans: try row.get(9), vectors: try row.get(10), dimensions: dimensions, withVectors: withVector))
    }

    public func documents(labels: [Int64], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool)
        throws(DocumentStoreError) -> [Int64: StoredDocument]
    {
        guard !labels.isEmpty else { return [:] }
        let found = try liveDocuments(
            "d.label = ANY($3)", binds(collectionID, generation, labels), dimensions: dimensions, withVectors: withVectors,
            withText: withText)
        return Dictionary(found.map { ($0.label, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The hits' documents and passages in one statement: each passage's span is read from the
    /// spans blob in SQL (little-endian int32 pairs, see `StoredBlob`), so a query costs one
    /// round trip here instead of two.
    public func hitDocuments(
        labels: [Int64], passages: [Int64: Int], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool
    ) throws(DocumentStoreError) -> (documents: [Int64: StoredDocument], passages: [Int64: String]) {
        guard !labels.isEmpty else { return ([:], [:]) }
        let wanted = labels.map { label -> Int64 in
            guard let passage = passages[label], passage >= 0, passage < Self.maxPassageIndex else { return -1 }
            return Int64(passage)
        }
        return try readPool.withSession { session in
            var documents: [Int64: StoredDocument] = [:]
            var texts: [Int64: String] = [:]
            // Every query with hits runs this: prepared once per connection (no parse per query;
            // PostgreSQL's plan cache then skips planning once a generic plan does as well).
            let values = [
                PostgresData(int64: collectionID), PostgresData(int64: generation),
                PostgresData(array: labels.map { PostgresData(int64: $0) }, elementType: .int8),
                PostgresData(array: wanted.map { PostgresData(int64: $0) }, elementType: .int8),
            ]
            for row in try session.queryPrepared(Self.hitColumns(text: withText, vector: withVectors), values) {
                let document = try document(row, withVector: withVectors, dimensions: dimensions)
                if documents[document.label] == nil { documents[document.label] = document }
                if let text = try row.get(11, String?.self) { texts[document.label] = text }
            }
            return (documents, texts)
        }
    }

    /// Passage indexes at or above this are not looked up (their byte offset would overflow SQL's
    /// `integer`; no document has that many passages).
    static let maxPassageIndex = 1 << 27

    /// `documentColumns` over a list of labels with a passage index each (-1: none), plus the
    /// passage's text. (The bounds checks sit in `CASE`s: PostgreSQL may evaluate a select list
    /// before a `WHERE` of a subquery it pulled up.)
    private static func hitColumns(text: Bool, vector: Bool) -> String {
        func int32(_ at: String) -> String {
            "(get_byte(v.chunks, \(at)) | (get_byte(v.chunks, \(at) + 1) << 8) | (get_byte(v.chunks, \(at) + 2) << 16)"
                + " | (get_byte(v.chunks, \(at) + 3) << 24))"
        }
        return """
            SELECT \(documentList(text: text, vector: vector)), \
            CASE WHEN p.start >= 0 AND p.stop >= p.start THEN substr(d.text, p.start + 1, p.stop - p.start) END
            FROM unnest($3::bigint[], $4::bigint[]) AS s(label, passage)
            JOIN quiver_documents d ON d.collection_id = $1 AND d.label = s.label AND NOT d.deleted
            \(Self.leftVectorJoin)
            LEFT JOIN LATERAL (
                SELECT CASE WHEN s.passage >= 0 AND s.passage * 8 + 8 <= octet_length(v.chunks) THEN \(int32("q.o")) END AS start,
                    CASE WHEN s.passage >= 0 AND s.passage * 8 + 8 <= octet_length(v.chunks) THEN \(int32("q.o + 4")) END AS stop
                FROM (SELECT (s.passage * 8)::integer AS o) q
            ) p ON true
            """
    }

    public func documents(ids: [String], generation: Int64, dimensions: Int, withVectors: Bool)
        throws(DocumentStoreError) -> [String: StoredDocument]
    {
        guard !ids.isEmpty else { return [:] }
        let found = try liveDocuments(
            "d.id = ANY($3)", binds(collectionID, generation, ids), dimensions: dimensions, withVectors: withVectors, withText: true)
        return Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Live documents matching `condition` (over `values`: the collection, the generation, then
    /// the condition's own).
    private func liveDocuments(
        _ condition: String, _ values: PostgresBindings, dimensions: Int, withVectors: Bool, withText: Bool
    ) throws(DocumentStoreError) -> [StoredDocument] {
        try readPool.withSession { session in
            try session.query(
                Self.documentColumns(text: withText, vector: withVectors)
                    + " WHERE d.collection_id = $1 AND \(condition) AND NOT d.deleted", values
            ).map { try document($0, withVector: withVectors, dimensions: dimensions) }
        }
    }

    public func existing(ids: [String], generation: Int64) throws(DocumentStoreError) -> [String: ExistingDocument] {
        guard !ids.isEmpty else { return [:] }
        return try pool.withSession { session in
            var result: [String: ExistingDocument] = [:]
            for row in try session.query(
                """
                SELECT d.id, d.label, d.deleted, v.content_hash, d.metadata, d.updated_at FROM quiver_documents d
                \(Self.leftVectorJoin)
                WHERE d.collection_id = $1 AND d.id = ANY($3)
                """, binds(collectionID, generation, ids))
            {
                let hash = try row.get(3, ByteBuffer?.self)
                result[try row.get(0)] = ExistingDocument(
                    label: try row.get(1), deleted: try row.get(2), contentHash: hash.map { Array($0.readableBytesView) },
                    metadata: try row.get(4), updatedAt: try row.get(5))
            }
            return result
        }
    }

    public func labels(matching conditions: [FieldCondition], generation: Int64) throws(DocumentStoreError) -> Set<Int64> {
        var values = binds(collectionID, generation)
        var sql = """
            SELECT d.label FROM quiver_documents d
            \(Self.leftVectorJoin)
            WHERE d.collection_id = $1 AND NOT d.deleted
            """
        for condition in conditions { sql += " AND " + PostgresFilter.clause(condition, binding: &values) }
        return try readPool.withSession { session in
            Set(try session.query(sql, values).map { try $0.get(0, Int64.self) })
        }
    }

    public func liveIDs() throws(DocumentStoreError) -> [String] {
        try pool.withSession { session in
            try session.query("SELECT id FROM quiver_documents WHERE collection_id = $1 AND NOT deleted", binds(collectionID))
                .map { try $0.get(0, String.self) }
        }
    }

    /// PostgreSQL's `substr` counts characters of a UTF-8 database (code points, the unit of the
    /// spans), so only the passage is sent.
    public func passageTexts(_ spans: [(label: Int64, span: ChunkSpan)]) throws(DocumentStoreError) -> [Int64: String] {
        let valid = spans.filter { $0.span.start >= 0 && $0.span.end >= $0.span.start }
        guard !valid.isEmpty else { return [:] }
        return try readPool.withSession { session in
            var result: [Int64: String] = [:]
            for row in try session.query(
                """
                SELECT s.label, substr(d.text, (s.start + 1)::integer, (s.stop - s.start)::integer)
                FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS s(label, start, stop)
                JOIN quiver_documents d ON d.collection_id = $1 AND d.label = s.label AND NOT d.deleted
                """,
                binds(collectionID, valid.map(\.label), valid.map { Int64($0.span.start) }, valid.map { Int64($0.span.end) }))
            {
                guard let text = try row.get(1, String?.self) else { continue }
                result[try row.get(0, Int64.self)] = text
            }
            return result
        }
    }

    public func exportPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int, withText: Bool)
        throws(DocumentStoreError) -> [StoredDocument]
    {
        try readPool.withSession { session in
            try session.query(
                Self.documentColumns(text: withText, vector: true) + """
                     WHERE d.collection_id = $1 AND NOT d.deleted AND v.vector IS NOT NULL AND d.label > $3
                    ORDER BY d.label LIMIT $4
                    """, binds(collectionID, generation, afterLabel, Int64(max(0, limit)))
            ).map { try document($0, withVector: true, dimensions: dimensions) }
        }
    }

    public func staleDocuments(generation: Int64, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [StoredDocument] {
        try pool.withSession { session in
            try staleDocuments(
                "d.label > $3 ORDER BY d.label LIMIT $4", binds(collectionID, generation, afterLabel, Int64(max(0, limit))), session)
        }
    }

    /// Live documents lacking an up-to-date vector in generation `$2` of collection `$1`, and
    /// matching `condition` (which may go on with an order and a limit), with their text.
    func staleDocuments(_ condition: String, _ values: PostgresBindings, _ session: PostgresSession) throws -> [StoredDocument] {
        try session.query(
            """
            SELECT d.label, d.id, d.title, d.text, d.metadata, d.updated_at, d.seq FROM quiver_documents d
            \(Self.leftVectorJoin)
            WHERE d.collection_id = $1 AND NOT d.deleted AND (v.label IS NULL OR v.source_seq < d.seq) AND \(condition)
            """, values
        ).map { row in
            StoredDocument(
                label: try row.get(0), id: try row.get(1), title: try row.get(2), text: try row.get(3), metadata: try row.get(4),
                updatedAt: try row.get(5), seq: try row.get(6), embeddedAt: nil, vector: nil)
        }
    }

    public func staleCount(generation: Int64, writtenThrough: Int64?) throws(DocumentStoreError) -> Int {
        try pool.withSession { session in try staleCount(generation, session, writtenThrough: writtenThrough) }
    }

    func staleCount(_ generation: Int64, _ session: PostgresSession, writtenThrough: Int64? = nil) throws -> Int {
        Int(
            try session.query(
                """
                SELECT count(*) FROM quiver_documents d
                \(Self.leftVectorJoin)
                WHERE d.collection_id = $1 AND NOT d.deleted AND (v.label IS NULL OR v.source_seq < d.seq) AND d.seq <= $3
                """, binds(collectionID, generation, writtenThrough ?? Int64.max)
            ).first?.get(0, Int64.self) ?? 0)
    }
}
