import Foundation
import GRDB

extension DocumentStore {
    /// Copies the store to a new file at `path` with SQLite's online backup, while writers go on:
    /// the copy is one consistent snapshot. Returns the copy's change seq (every change up to it
    /// is in the copy, none after).
    ///
    /// - Throws: `.database` when `path` exists or cannot be written.
    public func backup(to path: String) throws(DocumentStoreError) -> Int64 {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw .database(path: path, message: "the backup file exists already")
        }
        do {
            let destination = try DatabaseQueue(path: path)
            try pool.backup(to: destination)
            let seq = try destination.read { db in try Int64.fetchOne(db, sql: "SELECT seq FROM collection") ?? 0 }
            // One file: no -wal beside it.
            try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try destination.close()
            return seq
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
    }

    /// Folds the write-ahead log into the main file and closes every connection, so that the
    /// store is one file that can be renamed (``SQLiteCatalog/create(_:firstGeneration:)``). The
    /// store is unusable afterwards.
    func checkpointAndClose() throws(DocumentStoreError) {
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try pool.close()
        } catch {
            throw DocumentStoreError.classify(error, path: path)
        }
    }

    /// Everything wrong with the store: SQLite's `integrity_check`, then the invariants the schema
    /// cannot state — one current generation; no document or vector newer than the collection's
    /// seq; no seq held by two documents; every vector `4 × dimensions` bytes long. Empty when all
    /// is well. (Live documents without a vector wait for a worker: ``staleCount(generation:)``.)
    public func problems() throws(DocumentStoreError) -> [String] {
        try read { db in
            var problems: [String] = []
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if integrity != ["ok"] { problems += integrity.prefix(20).map { "integrity_check: \($0)" } }
            let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM collection") ?? -1
            if seq < 0 { problems.append("no collection row") }
            let current = try Int64.fetchAll(db, sql: "SELECT generation FROM generations WHERE state = 'current'")
            if current.count != 1 { problems.append("\(current.count) current generations (expected 1)") }
            if let newest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM documents"), newest > seq {
                problems.append("a document has seq \(newest), beyond the collection's seq \(seq)")
            }
            if let newest = try Int64.fetchOne(db, sql: "SELECT max(source_seq) FROM vectors"), newest > seq {
                problems.append("a vector has source seq \(newest), beyond the collection's seq \(seq)")
            }
            let duplicated =
                try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT seq FROM documents GROUP BY seq HAVING count(*) > 1)") ?? 0
            if duplicated > 0 { problems.append("\(duplicated) seqs are held by more than one document") }
            let badLength =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM vectors v JOIN generations g ON g.generation = v.generation
                        WHERE length(v.vector) != 4 * g.dimensions
                        """) ?? 0
            if badLength > 0 { problems.append("\(badLength) vectors do not have their generation's length") }
            return problems
        }
    }

    /// `PRAGMA quick_check` (structure only, much faster than ``problems()``); empty when it says ok.
    public func quickCheck() throws(DocumentStoreError) -> [String] {
        try read { db in
            let result = try String.fetchAll(db, sql: "PRAGMA quick_check")
            return result == ["ok"] ? [] : result.prefix(20).map { "quick_check: \($0)" }
        }
    }
}
