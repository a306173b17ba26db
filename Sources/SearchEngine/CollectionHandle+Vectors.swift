import DocumentStore
import Foundation

extension CollectionHandle {
    /// Stored vectors of the serving generation by id, in request order, each tagged with its
    /// model fingerprint; ids without a live document are listed in `missing`.
    ///
    /// - Throws: `limitExceeded("max_response_bytes (estimated)")` before any read when `ids`
    ///   vectors would exceed `maxResponseBytes` as JSON (see ``ResponseBudget``).
    public func vectors(ids: [String], maxResponseBytes: Int = .max) throws(SearchEngineError) -> VectorsResponse {
        guard ids.count <= SearchEngine.maxVectorsPerCall else { throw .invalidQuery("at most \(SearchEngine.maxVectorsPerCall) ids") }
        let record = try currentRecord()
        try ResponseBudget(limit: maxResponseBytes).check(
            hits: ids.count, perHit: ResponseBudget.vectorBytes(record.dimensions) + Self.vectorItemBytes)
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

    /// Bytes of a vector item besides its numbers: id, model fingerprint, time and keys.
    static let vectorItemBytes = 192

    /// One page of every vector of the serving generation, in a stable order. Pass the returned
    /// `nextCursor` to get the next page; it is nil after the last one.
    ///
    /// A page holds `limit` vectors, or fewer when they would take more than `maxPageBytes` with
    /// `bytesPerFloat` bytes per number (4 for raw float32 rows, ``ResponseBudget/floatBytes`` for
    /// JSON): a page is sized in bytes, so a 65,536-dimension collection gets short pages, never a
    /// huge one. At least one vector per page.
    ///
    /// - Throws: `invalidQuery` for a malformed cursor or a limit outside 1…10,000.
    public func exportVectors(
        cursor: String?, limit: Int, maxPageBytes: Int = .max, bytesPerFloat: Int = ResponseBudget.floatBytes
    ) throws(SearchEngineError) -> VectorsResponse {
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
        let rowBytes = ResponseBudget.estimate(hits: record.dimensions, perHit: max(bytesPerFloat, 1)) + Self.vectorItemBytes
        let rows = max(1, min(limit, maxPageBytes / max(rowBytes, 1)))
        let page: [StoredDocument]
        do {
            page = try runtime.store.exportPage(
                generation: record.generation, dimensions: record.dimensions,
                afterLabel: after, limit: rows, withText: false)
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
            nextCursor: page.count == rows ? page.last.map { String($0.label) } : nil)
    }
}
