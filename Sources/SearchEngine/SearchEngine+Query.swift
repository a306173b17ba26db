import DocumentStore
import Foundation
import VectorIndex

extension SearchEngine {
    /// Allowed `k`.
    public static let kRange = 1...1000
    /// Allowed `ef`.
    public static let efRange = 1...100_000
    /// Collections with at most this many vectors are searched exactly (a scan of 2,048
    /// 384-dim vectors takes ~0.1 ms), as are queries asking for half the collection or more.
    public static let exactSearchLimit = 2048

    /// The `k` documents nearest to a text, a vector or a stored document, with freshness, the
    /// index state and timings. Text is embedded with the model of the serving generation.
    ///
    /// - Throws: `invalidQuery` (none or several of text/vector/id, bad k/ef), `dimensionMismatch`,
    ///   `documentNotFound` (query by id), `invalidFilter`, `modelUnavailable`.
    public func query(collection: String, _ request: QueryRequest) throws(SearchEngineError) -> QueryResponse {
        let given = [request.text != nil, request.vector != nil, request.id != nil].filter { $0 }.count
        guard given == 1 else { throw .invalidQuery("give exactly one of text, vector or id") }
        let runtime = try runtime(collection)
        let (serving, state) = try runtime.snapshot()
        let record = serving.record
        var timings = QueryTimings()
        var exclude: Set<Int64> = []
        let vector: [Float]
        if let text = request.text {
            guard let embedder = model(fingerprint: record.modelFingerprint)?.embedder else {
                throw .modelUnavailable(collection: collection, fingerprint: record.modelFingerprint)
            }
            let start = DispatchTime.now()
            do { vector = try embedder.embed(text) } catch { throw SearchEngineError(error) }
            timings.embedMs = milliseconds(since: start)
        } else if let given = request.vector {
            vector = given
        } else {
            let id = request.id ?? ""
            let found = try storedDocuments(runtime, ids: [id], generation: record, withVectors: true)
            guard let document = found[id], let stored = document.vector else {
                throw .documentNotFound(collection: collection, id: id)
            }
            vector = stored
            exclude.insert(document.label)
        }
        return try search(
            runtime, serving, state, vector: vector, k: request.k, ef: request.ef, filter: request.filter,
            exclude: exclude, include: Set(request.include ?? []), timings: timings)
    }

    /// A text query whose text the caller already embedded — the HTTP server embeds query text
    /// through its shared dynamic batcher rather than on the engine's thread. `request.text` is
    /// what was embedded (it may be nil); `request.vector` and `request.id` must be nil.
    ///
    /// The serving generation must have been built with the model `embedded.fingerprint` names
    /// (queries never mix models), else `modelUnavailable`. The response's `embed_ms` is the
    /// caller's `embedded.embedMs`.
    public func query(collection: String, _ request: QueryRequest, embedded: EmbeddedQueryText) throws(SearchEngineError) -> QueryResponse {
        guard request.vector == nil, request.id == nil else {
            throw .invalidQuery("give exactly one of text, vector or id")
        }
        let runtime = try runtime(collection)
        let (serving, state) = try runtime.snapshot()
        guard serving.record.modelFingerprint == embedded.fingerprint else {
            throw .modelUnavailable(collection: collection, fingerprint: serving.record.modelFingerprint)
        }
        var timings = QueryTimings()
        timings.embedMs = embedded.embedMs
        return try search(
            runtime, serving, state, vector: embedded.vector, k: request.k, ef: request.ef, filter: request.filter,
            exclude: [], include: Set(request.include ?? []), timings: timings)
    }

    /// The model fingerprint of the generation serving `collection` (the model its query text must
    /// be embedded with).
    public func servingFingerprint(collection: String) throws(SearchEngineError) -> String {
        try currentRecord(runtime(collection)).modelFingerprint
    }

    /// "More like these, less like those" (see `RecommendRequest`).
    public func recommend(collection: String, _ request: RecommendRequest) throws(SearchEngineError) -> QueryResponse {
        guard !request.positive.isEmpty else { throw .invalidQuery("positive needs at least one id") }
        let negative = request.negative ?? []
        guard request.positive.count + negative.count <= 1000 else { throw .invalidQuery("at most 1000 example ids") }
        let runtime = try runtime(collection)
        let (serving, state) = try runtime.snapshot()
        let found = try storedDocuments(runtime, ids: request.positive + negative, generation: serving.record, withVectors: true)
        func mean(_ ids: [String]) throws(SearchEngineError) -> [Float] {
            var sum = [Float](repeating: 0, count: serving.record.dimensions)
            for id in ids {
                guard let vector = found[id]?.vector else { throw .documentNotFound(collection: collection, id: id) }
                for i in sum.indices { sum[i] += vector[i] }
            }
            return sum.map { $0 / Float(ids.count) }
        }
        let positive = try mean(request.positive)
        var vector = positive
        if !negative.isEmpty {
            let away = try mean(negative)
            vector = zip(positive, away).map { 2 * $0 - $1 }
        }
        let exclude = Set(found.values.map(\.label))
        return try search(
            runtime, serving, state, vector: vector, k: request.k, ef: request.ef, filter: request.filter,
            exclude: exclude, include: Set(request.include ?? []), timings: QueryTimings())
    }

    /// The store's current generation, without loading its index (for reads of stored vectors).
    func currentRecord(_ runtime: IndexFollower) throws(SearchEngineError) -> GenerationRecord {
        do { return try runtime.store.state().current } catch { throw SearchEngineError(error) }
    }

    func storedDocuments(_ runtime: IndexFollower, ids: [String], generation: GenerationRecord, withVectors: Bool)
        throws(SearchEngineError) -> [String: StoredDocument]
    {
        do {
            return try runtime.store.documents(
                ids: ids, generation: generation.generation, dimensions: generation.dimensions,
                withVectors: withVectors)
        } catch { throw SearchEngineError(error) }
    }

    private func search(
        _ runtime: IndexFollower, _ serving: ServingGeneration, _ state: StoreState, vector: [Float], k: Int, ef: Int?,
        filter: QueryFilter?, exclude: Set<Int64>, include: Set<IncludeField>, timings: QueryTimings
    ) throws(SearchEngineError) -> QueryResponse {
        guard Self.kRange.contains(k) else { throw .invalidQuery("k must be in \(Self.kRange)") }
        if let ef { guard Self.efRange.contains(ef) else { throw .invalidQuery("ef must be in \(Self.efRange)") } }
        let record = serving.record
        guard vector.count == record.dimensions else {
            throw .dimensionMismatch(expected: record.dimensions, actual: vector.count)
        }
        guard vector.allSatisfy(\.isFinite) else { throw .invalidQuery("vector has a non-finite number") }
        var timings = timings
        let searchStart = DispatchTime.now()
        var allowed: Set<Int64>?
        if let filter {
            let conditions = try filter.conditions()
            if !conditions.isEmpty {
                do { allowed = try runtime.store.labels(matching: conditions, generation: record.generation) } catch {
                    throw SearchEngineError(error)
                }
            }
        }
        let predicate: ((UInt64) -> Bool)?
        switch (allowed, exclude.isEmpty) {
        case (nil, true): predicate = nil
        case (nil, false): predicate = { !exclude.contains(Int64(bitPattern: $0)) }
        case (let allowed?, _):
            predicate = { label in
                let label = Int64(bitPattern: label)
                return allowed.contains(label) && !exclude.contains(label)
            }
        }
        let hits: [SearchHit]
        if allowed?.isEmpty == true || serving.index.count == 0 {
            hits = []
        } else {
            do {
                if serving.index.count <= Self.exactSearchLimit || k * 2 >= serving.index.count {
                    // Small collections are scanned: exact, and cheaper than walking a graph.
                    hits = try serving.index.exactSearch(vector, k: k, filter: predicate)
                } else {
                    hits = try serving.index.search(vector, k: k, ef: ef.map { max($0, k) }, filter: predicate)
                }
            } catch {
                throw SearchEngineError(error)
            }
        }
        timings.searchMs = milliseconds(since: searchStart)

        let fetchStart = DispatchTime.now()
        let documents: [Int64: StoredDocument]
        do {
            documents = try runtime.store.documents(
                labels: hits.map { Int64(bitPattern: $0.label) }, generation: record.generation,
                dimensions: record.dimensions, withVectors: include.contains(.vector),
                withText: include.contains(.text))
        } catch { throw SearchEngineError(error) }
        let model = ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint)
        let now = Date().timeIntervalSince1970
        var results: [QueryHit] = []
        results.reserveCapacity(hits.count)
        for hit in hits {
            // A document deleted after the index snapshot is skipped, never returned stale.
            guard let document = documents[Int64(bitPattern: hit.label)] else { continue }
            let score = runtime.metric == .l2 ? -hit.distance : 1 - hit.distance
            results.append(
                QueryHit(
                    id: document.id, score: score, title: document.title,
                    text: include.contains(.text) ? document.text : nil, metadata: JSONValue.parse(document.metadata),
                    vector: include.contains(.vector) ? document.vector : nil,
                    freshness: freshness(document, serving: serving, model: model, now: now)))
        }
        timings.fetchMs = milliseconds(since: fetchStart)
        return QueryResponse(results: results, index: indexState(serving, state), model: model, timings: timings)
    }

    func freshness(_ document: StoredDocument, serving: ServingGeneration, model: ModelInfo, now: Double) -> Freshness {
        Freshness(
            updatedAt: Timestamp(seconds: document.updatedAt), embeddedAt: document.embeddedAt.map(Timestamp.init(seconds:)),
            indexedAt: serving.indexedAt(seq: document.seq).map(Timestamp.init(seconds:)), model: model,
            ageSeconds: max(0, now - (document.embeddedAt ?? document.updatedAt)))
    }

    /// A stored document by id, with its freshness (and its vector when asked).
    public func document(collection: String, id: String, includeVector: Bool = false) throws(SearchEngineError) -> DocumentResult {
        let runtime = try runtime(collection)
        let (serving, _) = try runtime.snapshot()
        let found = try storedDocuments(runtime, ids: [id], generation: serving.record, withVectors: includeVector)
        guard let document = found[id] else { throw .documentNotFound(collection: collection, id: id) }
        let model = ModelInfo(id: serving.record.modelID, fingerprint: serving.record.modelFingerprint)
        return DocumentResult(
            id: document.id, title: document.title, text: document.text,
            metadata: JSONValue.parse(document.metadata), vector: document.vector,
            freshness: freshness(document, serving: serving, model: model, now: Date().timeIntervalSince1970),
            seq: document.seq)
    }
}

func milliseconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds) / 1e6
}
