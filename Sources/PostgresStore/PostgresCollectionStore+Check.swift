import DocumentStore
import Foundation
import PostgresNIO

// MARK: - Invariants (`quiver check --store URL`)

extension PostgresCollectionStore {
    /// The invariants the schema cannot state, read on the primary in one repeatable-read
    /// snapshot: one current generation; no document or vector newer than the collection's seq;
    /// no seq held by two documents; every vector `4 × dimensions` bytes long. PostgreSQL checks
    /// its own pages and indexes (`amcheck`, `pg_checksums`): not repeated here. Empty when sound.
    public func problems() throws(DocumentStoreError) -> [String] {
        try pool.transaction(readOnly: true) { session in try problems(session) }
    }

    private func problems(_ session: PostgresSession) throws -> [String] {
        var problems: [String] = []
        func count(_ sql: String) throws -> Int64 {
            try session.query(sql, binds(collectionID)).first?.get(0, Int64.self) ?? 0
        }
        guard let seq = try session.query("SELECT seq FROM quiver_collections WHERE collection_id = $1", binds(collectionID)).first
        else { return ["no collection row"] }
        let collectionSeq = try seq.get(0, Int64.self)
        let current = try count("SELECT count(*) FROM quiver_generations WHERE collection_id = $1 AND state = 'current'")
        if current != 1 { problems.append("\(current) current generations (expected 1)") }
        let newestDocument = try count("SELECT coalesce(max(seq), 0) FROM quiver_documents WHERE collection_id = $1")
        if newestDocument > collectionSeq {
            problems.append("a document has seq \(newestDocument), beyond the collection's seq \(collectionSeq)")
        }
        let newestVector = try count("SELECT coalesce(max(source_seq), 0) FROM quiver_vectors WHERE collection_id = $1")
        if newestVector > collectionSeq {
            problems.append("a vector has source seq \(newestVector), beyond the collection's seq \(collectionSeq)")
        }
        let duplicated = try count(
            """
            SELECT count(*) FROM (SELECT seq FROM quiver_documents WHERE collection_id = $1 GROUP BY seq HAVING count(*) > 1) s
            """)
        if duplicated > 0 { problems.append("\(duplicated) seqs are held by more than one document") }
        let badLength = try count(
            """
            SELECT count(*) FROM quiver_vectors v
            JOIN quiver_generations g ON g.collection_id = v.collection_id AND g.generation = v.generation
            WHERE v.collection_id = $1 AND length(v.vector) <> 4 * g.dimensions
            """)
        if badLength > 0 { problems.append("\(badLength) vectors do not have their generation's length") }
        return problems
    }
}
