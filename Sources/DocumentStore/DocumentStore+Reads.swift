import Foundation
import GRDB

extension DocumentStore {
    /// Changes after `seq` in sequence order (at most `limit`), each with the document's vector in
    /// `generation` if it has one: what an index needs to catch up.
    public func changes(after seq: Int64, generation: Int64, dimensions: Int, limit: Int) throws(DocumentStoreError) -> [DocumentChange] {
        try read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT d.label, d.seq, d.deleted, v.vector, d.id, v.chunks, v.chunk_vectors FROM documents d
                    LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label
                    WHERE d.seq > ? ORDER BY d.seq LIMIT ?
                    """, arguments: [generation, seq, limit])
            var changes: [DocumentChange] = []
            while let row = try rows.next() {
                let blob: Data? = try row.decode(atIndex: 3)
                changes.append(
                    DocumentChange(
                        label: try row.decode(atIndex: 0), id: try row.decode(atIndex: 4), seq: try row.decode(atIndex: 1),
                        deleted: try row.decode(Int.self, atIndex: 2) != 0,
                        vector: try blob.map { try vector($0, dimensions: dimensions) },
                        chunks: try chunks(
                            spans: try row.decode(atIndex: 5), vectors: try row.decode(atIndex: 6), dimensions: dimensions,
                            withVectors: true)))
            }
            return changes
        }
    }

    /// Changes after `seq` in sequence order (at most `limit`), with each document's title and
    /// text: what a text index needs to catch up.
    public func textChanges(after seq: Int64, limit: Int) throws(DocumentStoreError) -> [TextChange] {
        try read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT label, seq, deleted, title, text FROM documents WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [seq, limit])
            var changes: [TextChange] = []
            while let row = try rows.next() {
                let text: String? = try row.decode(atIndex: 4)
                changes.append(
                    TextChange(
                        label: try row.decode(atIndex: 0), seq: try row.decode(atIndex: 1),
                        deleted: try row.decode(Int.self, atIndex: 2) != 0, title: try row.decode(atIndex: 3), text: text ?? ""))
            }
            return changes
        }
    }

    /// Live vectors of `generation` with labels after `afterLabel`, in label order, as a flat
    /// array (`labels.count × dimensions`) with their ids, at most `limit`: the input of an index
    /// rebuild.
    public func vectorPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> VectorPage {
        try read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT d.label, v.vector, d.id, v.chunks, v.chunk_vectors
                    FROM documents d CROSS JOIN vectors v ON v.generation = ? AND v.label = d.label
                    WHERE d.deleted = 0 AND d.label > ? ORDER BY d.label LIMIT ?
                    """, arguments: [generation, afterLabel, limit])
            var page = VectorPage(labels: [], ids: [], flat: [])
            page.flat.reserveCapacity(min(limit, 4096) * dimensions)
            while let row = try rows.next() {
                page.labels.append(try row.decode(atIndex: 0))
                if let passages = try chunks(
                    spans: try row.decode(atIndex: 3), vectors: try row.decode(atIndex: 4), dimensions: dimensions, withVectors: true)
                {
                    page.flat.append(contentsOf: passages.flat)
                    page.counts.append(passages.spans.count)
                } else {
                    let blob: Data = try row.decode(atIndex: 1)
                    page.flat.append(contentsOf: try vector(blob, dimensions: dimensions))
                    page.counts.append(1)
                }
                page.ids.append(try row.decode(atIndex: 2))
            }
            return page
        }
    }

    /// Number of index vectors of `generation`: how many labels an index of it caught up to the
    /// store's seq holds (a delete drops the document's vectors): one per row, or one per passage
    /// in a chunked generation (the spans blob's length; no vector blob is read).
    ///
    /// This count, the rebuild pages and every other read find a document's vector row the same
    /// way — by (generation, label) from the document — so a damaged primary-key index of
    /// `vectors` (which a range scan and a point lookup can read differently without SQLite
    /// noticing) cannot make the index and the store's answers disagree.
    public func vectorCount(generation: Int64) throws(DocumentStoreError) -> Int {
        try read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT coalesce(sum(coalesce(length(v.chunks) / 8, 1)), 0)
                    FROM documents d CROSS JOIN vectors v ON v.generation = ? AND v.label = d.label
                    """, arguments: [generation]) ?? 0
        }
    }

    /// Labels and ids of live documents after `afterLabel`, in label order (at most `limit`).
    public func liveLabels(afterLabel: Int64, limit: Int) throws(DocumentStoreError) -> [(label: Int64, id: String)] {
        try read { db in
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT label, id FROM documents WHERE deleted = 0 AND label > ? ORDER BY label LIMIT ?"),
                arguments: [afterLabel, limit])
            var result: [(label: Int64, id: String)] = []
            while let row = try rows.next() { result.append((try row.decode(atIndex: 0), try row.decode(atIndex: 1))) }
            return result
        }
    }

    private static let documentColumns = documentColumns(text: true, vector: true)

    /// The document query's columns; a column not asked for is selected as NULL, so neither its
    /// bytes nor a copy of them are read (a hit's text can be kilobytes, a vector 1.5 KB).
    private static func documentColumns(text: Bool, vector: Bool) -> String {
        """
        SELECT d.label, d.id, d.title, \(text ? "d.text" : "NULL"), d.metadata, d.updated_at, d.seq, v.embedded_at, \
        \(vector ? "v.vector" : "NULL"), v.chunks, \(vector ? "v.chunk_vectors" : "NULL")
        FROM documents d LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label
        """
    }

    private static let byLabel = [false, true].flatMap { text in
        [false, true].map { vector in documentColumns(text: text, vector: vector) + " WHERE d.label = ? AND d.deleted = 0" }
    }

    private func document(_ row: Row, withVector: Bool, dimensions: Int) throws -> StoredDocument {
        let blob: Data? = withVector ? try row.decode(atIndex: 8) : nil
        return StoredDocument(
            label: try row.decode(atIndex: 0), id: try row.decode(atIndex: 1), title: try row.decode(atIndex: 2),
            text: try row.decode(atIndex: 3), metadata: try row.decode(atIndex: 4), updatedAt: try row.decode(atIndex: 5),
            seq: try row.decode(atIndex: 6), embeddedAt: try row.decode(atIndex: 7),
            vector: try blob.map { try vector($0, dimensions: dimensions) },
            chunks: try chunks(
                spans: try row.decode(atIndex: 9), vectors: try row.decode(atIndex: 10), dimensions: dimensions,
                withVectors: withVector))
    }

    /// Live documents with these labels (absent ones left out), with their `generation` vectors if
    /// asked; without their text when `withText` is false (then `text` is nil).
    public func documents(labels: [Int64], generation: Int64, dimensions: Int, withVectors: Bool, withText: Bool = true)
        throws(DocumentStoreError) -> [Int64: StoredDocument]
    {
        try read { db in
            let statement = try db.cachedStatement(sql: Self.byLabel[(withText ? 2 : 0) + (withVectors ? 1 : 0)])
            var result: [Int64: StoredDocument] = [:]
            for label in labels {
                guard let row = try Row.fetchOne(statement, arguments: [generation, label]) else { continue }
                result[label] = try document(row, withVector: withVectors, dimensions: dimensions)
            }
            return result
        }
    }

    /// Live documents with these ids (absent ones left out), with their `generation` vectors if asked.
    public func documents(ids: [String], generation: Int64, dimensions: Int, withVectors: Bool)
        throws(DocumentStoreError) -> [String: StoredDocument]
    {
        try read { db in
            let statement = try db.cachedStatement(sql: Self.documentColumns + " WHERE d.id = ? AND d.deleted = 0")
            var result: [String: StoredDocument] = [:]
            for id in ids {
                guard let row = try Row.fetchOne(statement, arguments: [generation, id]) else { continue }
                result[id] = try document(row, withVector: withVectors, dimensions: dimensions)
            }
            return result
        }
    }

    /// A page of live documents with vectors in `generation`, in label order after `afterLabel`;
    /// their text is read only when `withText` is true.
    public func exportPage(generation: Int64, dimensions: Int, afterLabel: Int64, limit: Int, withText: Bool = true)
        throws(DocumentStoreError) -> [StoredDocument]
    {
        try read { db in
            try Row.fetchAll(
                db,
                sql: Self.documentColumns(text: withText, vector: true) + """
                     WHERE d.deleted = 0 AND v.vector IS NOT NULL AND d.label > ? ORDER BY d.label LIMIT ?
                    """, arguments: [generation, afterLabel, limit]
            ).map { row in
                try document(row, withVector: true, dimensions: dimensions)
            }
        }
    }

    /// The characters `span` of each live document's text, by label. SQLite's `substr` counts a
    /// UTF-8 text in characters (code points), the unit of the spans, so only the passage is
    /// copied out of the row.
    public func passageTexts(_ spans: [(label: Int64, span: ChunkSpan)]) throws(DocumentStoreError) -> [Int64: String] {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT substr(text, ?, ?) FROM documents WHERE label = ? AND deleted = 0")
            var result: [Int64: String] = [:]
            for (label, span) in spans where span.start >= 0 && span.end >= span.start {
                guard let text = try String.fetchOne(statement, arguments: [span.start + 1, span.end - span.start, label]) else {
                    continue
                }
                result[label] = text
            }
            return result
        }
    }

    /// Labels of live documents satisfying every condition (an empty list matches all).
    public func labels(matching conditions: [FieldCondition], generation: Int64) throws(DocumentStoreError) -> Set<Int64> {
        var sql =
            "SELECT d.label FROM documents d LEFT JOIN vectors v ON v.generation = ? AND v.label = d.label"
            + " WHERE d.deleted = 0"
        var values: [DatabaseValue] = [generation.databaseValue]
        for condition in conditions {
            let (clause, arguments) = condition.sql()
            sql += " AND " + clause
            values.append(contentsOf: arguments)
        }
        let arguments = StatementArguments(values)
        return try read { db in Set(try Int64.fetchAll(db, sql: sql, arguments: arguments)) }
    }
}
