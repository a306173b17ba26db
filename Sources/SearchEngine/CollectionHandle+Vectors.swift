import DocumentStore
import Foundation

extension CollectionHandle {
    /// Stored vectors of the serving generation by id, in request order, each tagged with its
    /// model fingerprint; ids without a live document are listed in `missing`. A document's vector
    /// in a chunked collection is the mean of its passages' vectors, scaled to their mean length
    /// (unit vectors stay unit vectors); `chunks` adds every passage's vector with its offsets.
    ///
    /// - Throws: `limitExceeded("max_response_bytes (estimated)")` before any read when `ids`
    ///   vectors would exceed `maxResponseBytes` as JSON (see ``ResponseBudget``), and when the
    ///   passages read exceed it.
    public func vectors(ids: [String], chunks: Bool = false, maxResponseBytes: Int = .max) throws(SearchEngineError)
        -> VectorsResponse
    {
        guard ids.count <= SearchEngine.maxVectorsPerCall else { throw .invalidQuery("at most \(SearchEngine.maxVectorsPerCall) ids") }
        let record = try currentRecord()
        let budget = ResponseBudget(limit: maxResponseBytes)
        try budget.check(hits: ids.count, perHit: ResponseBudget.vectorBytes(record.dimensions) + Self.vectorItemBytes)
        let found = try storedDocuments(ids: ids, generation: record, withVectors: true)
        var items: [VectorsResponse.Item] = []
        var missing: [String] = []
        for id in ids {
            if let document = found[id], let vector = document.vector {
                var item = VectorsResponse.Item(
                    id: id, vector: vector, model: record.modelFingerprint,
                    embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:)))
                if chunks {
                    item.chunks = Self.passageVectors(document, dimensions: record.dimensions)
                    try budget.charge((item.chunks?.count ?? 0) * (ResponseBudget.vectorBytes(record.dimensions) + 48))
                }
                items.append(item)
            } else {
                missing.append(id)
            }
        }
        return VectorsResponse(
            vectors: items, missing: missing, generation: record.generation,
            model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint), nextCursor: nil)
    }

    /// A document's passage vectors with their offsets (nil without passages).
    static func passageVectors(_ document: StoredDocument, dimensions: Int) -> [VectorsResponse.PassageVector]? {
        guard let chunks = document.chunks, dimensions > 0, chunks.flat.count == chunks.spans.count * dimensions else { return nil }
        return chunks.spans.enumerated().map { index, span in
            VectorsResponse.PassageVector(
                start: span.start, end: span.end, vector: Array(chunks.flat[index * dimensions..<(index + 1) * dimensions]))
        }
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
    ///
    /// With `chunks`, each item carries its passages' vectors too (see ``vectors(ids:chunks:maxResponseBytes:)``);
    /// the page is then sized by the documents' passage counts.
    public func exportVectors(
        cursor: String?, limit: Int, maxPageBytes: Int = .max, bytesPerFloat: Int = ResponseBudget.floatBytes, chunks: Bool = false
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
        var items: [VectorsResponse.Item] = []
        var bytes = 0
        var last: Int64?
        for document in page {
            guard let vector = document.vector else { continue }
            var item = VectorsResponse.Item(
                id: document.id, vector: vector, model: record.modelFingerprint,
                embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:)))
            if chunks {
                item.chunks = Self.passageVectors(document, dimensions: record.dimensions)
                // Passages make items larger: the page ends before it outgrows its bytes (one
                // document at least).
                let size = rowBytes * (1 + (item.chunks?.count ?? 0))
                if !items.isEmpty, bytes + size > maxPageBytes { break }
                bytes += size
            }
            items.append(item)
            last = document.label
        }
        let full = page.count == rows || items.count < page.count
        return VectorsResponse(
            vectors: items, missing: [], generation: record.generation,
            model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint),
            nextCursor: full ? last.map { String($0) } : nil)
    }
}
