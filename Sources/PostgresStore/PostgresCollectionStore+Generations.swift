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
    /// a write committing meanwhile could keep a vector row).
    public func writeGenerationVectors(generation: Int64, _ items: [GenerationVector], embeddedAt: Double)
        throws(DocumentStoreError) -> Int
    {
        guard !items.isEmpty else { return 0 }
        return try pool.transaction { session in
            _ = try lockCollection(session, shared: true)
            return try upsertVectors(
                generation: generation,
                items.map {
                    VectorRow(
                        label: $0.label, hash: $0.contentHash, embeddedAt: embeddedAt, sourceSeq: $0.sourceSeq, vector: $0.vector,
                        chunks: $0.chunks)
                }, onlyIfCurrent: true, session)
        }
    }

    /// In one transaction holding the collection's lock (no write can land between the check and
    /// the switch): the current generation becomes `previous`, the previous one is deleted with
    /// its vectors.
    public func switchGeneration(to generation: Int64, at time: Double) throws(DocumentStoreError) {
        try pool.transaction { session in
            _ = try lockCollection(session)
            guard try generations(session).contains(where: { $0.generation == generation }) else {
                throw DocumentStoreError.generationNotFound(generation)
            }
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
