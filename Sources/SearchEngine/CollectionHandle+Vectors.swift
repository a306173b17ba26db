import DocumentStore
import Foundation

extension CollectionHandle {
    /// Stored vectors of the serving generation by id, in request order, each tagged with its
    /// model fingerprint; ids without a live document are listed in `missing`.
    public func vectors(ids: [String]) throws(SearchEngineError) -> VectorsResponse {
        guard ids.count <= SearchEngine.maxVectorsPerCall else { throw .invalidQuery("at most \(SearchEngine.maxVectorsPerCall) ids") }
        let runtime = follower
        let record = try currentRecord()
        let found = try storedDocuments(ids: ids, generation: record, withVectors: true)
        var items: [VectorsResponse.Item] = []
        var missing: [String] = []
        for id in ids {
            if let document = found[id], let vector = document.vector {
                items.append(
                    .init(
                        id: id, vector: vector, model: record.modelFingerprint,
                        embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:))))
            } else {
                missing.append(id)
            }
        }
        return VectorsResponse(
            vectors: items, missing: missing, generation: record.generation,
            model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint), nextCursor: nil)
    }

    /// One page of every vector of the serving generation, in a stable order. Pass the returned
    /// `nextCursor` to get the next page; it is nil after the last one.
    ///
    /// - Throws: `invalidQuery` for a malformed cursor or a limit outside 1…10,000.
    public func exportVectors(cursor: String?, limit: Int) throws(SearchEngineError) -> VectorsResponse {
        guard (1...SearchEngine.maxVectorsPerCall).contains(limit) else {
            throw .invalidQuery("limit must be in 1...\(SearchEngine.maxVectorsPerCall)")
        }
        var after: Int64 = 0
        if let cursor {
            guard let value = Int64(cursor), value >= 0 else { throw .invalidQuery("malformed cursor") }
            after = value
        }
        let runtime = follower
        let record = try currentRecord()
        let page: [StoredDocument]
        do {
            page = try runtime.store.exportPage(
                generation: record.generation, dimensions: record.dimensions,
                afterLabel: after, limit: limit, withText: false)
        } catch { throw SearchEngineError(error) }
        let items = page.compactMap { document in
            document.vector.map {
                VectorsResponse.Item(
                    id: document.id, vector: $0, model: record.modelFingerprint,
                    embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:)))
            }
        }
        return VectorsResponse(
            vectors: items, missing: [], generation: record.generation,
            model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint),
            nextCursor: page.count == limit ? page.last.map { String($0.label) } : nil)
    }
}
