import Embedder
import Foundation
import Hummingbird
import NIOCore
import SearchEngine
import SearchServer

/// The collection routes. Reads are on `routes.read`, writes on `routes.admin`; every engine call
/// runs through ``EngineRunner`` (never on an event loop); text queries are embedded through the
/// server's ``EmbeddingService`` (the dynamic batcher).
struct CollectionsController: Sendable {
    let module: CollectionsModule
    let context: APIModuleContext
    let metrics: CollectionMetrics

    var limits: ServerConfiguration.Limits { context.configuration.limits }
    var runner: EngineRunner { module.runner }

    /// Default page of the vector export (the largest is `max_vector_ids`).
    static let defaultExportLimit = 1000
    /// Largest `Quiver-Ids` header of a raw export page, in bytes.
    static let maxIDsHeaderBytes = 256 << 10

    func addRoutes(to routes: APIRoutes) {
        routes.read.get("v1/collections", use: list)
        routes.admin.post("v1/collections", use: create)
        routes.read.get("v1/collections/{collection}", use: info)
        routes.admin.delete("v1/collections/{collection}", use: deleteCollection)
        routes.admin.patch("v1/collections/{collection}", use: updateSettings)
        routes.admin.put("v1/collections/{collection}/documents", use: upsert)
        routes.read.get("v1/collections/{collection}/documents/{id}", use: document)
        routes.admin.delete("v1/collections/{collection}/documents/{id}", use: deleteDocument)
        routes.read.post("v1/collections/{collection}/query", use: query)
        routes.read.post("v1/collections/{collection}/query/batch", use: batchQuery)
        routes.read.post("v1/collections/{collection}/recommend", use: recommend)
        routes.read.post("v1/collections/{collection}/evaluate", use: evaluate)
        routes.read.post("v1/collections/{collection}/feedback", use: feedback)
        routes.read.get("v1/collections/{collection}/insights", use: insights)
        routes.read.post("v1/collections/{collection}/vectors", use: vectorsByID)
        routes.read.get("v1/collections/{collection}/vectors", use: exportVectors)
        addGenerationRoutes(to: routes)
    }

    // MARK: - Collections

    @Sendable func list(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let infos = try await runner.read { () throws(SearchEngineError) in try engine.listCollections() }
        for info in infos { metrics.update(info) }
        return try JSONResponse.make(CollectionList(collections: infos))
    }

    @Sendable func create(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, model) = try module.engine()
        let body = try await JSONBody.decode(CreateCollectionBody.self, from: request, limit: limits.maxBodyBytes)
        let external = body.model == CollectionOptions.externalModel
        if let wanted = body.model, !external, wanted != model.id, wanted != model.fingerprint {
            throw APIError.invalidRequest(
                "model: this server serves \"\(model.id)\"; use \"\(CollectionOptions.externalModel)\" with dimensions for your own "
                    + "vectors (got \"\(EngineErrors.shortened(wanted))\")")
        }
        if let dimensions = body.dimensions, !external, dimensions != model.dimensions {
            throw APIError.invalidRequest("dimensions: the model \"\(model.id)\" has \(model.dimensions) dimensions (got \(dimensions))")
        }
        if let distance = body.distance, !["cosine", "dot", "l2"].contains(distance) {
            throw APIError.invalidRequest("distance must be cosine, dot or l2 (got \"\(EngineErrors.shortened(distance))\")")
        }
        let defaults = CollectionOptions.HNSW()
        let hnsw = body.hnsw.map {
            CollectionOptions.HNSW(m: $0.m ?? defaults.m, efConstruction: $0.efConstruction ?? defaults.efConstruction)
        }
        let options = CollectionOptions(
            name: body.name, model: external ? CollectionOptions.externalModel : nil,
            dimensions: external ? body.dimensions : nil, distance: body.distance, hnsw: hnsw,
            chunkTokens: body.chunkTokens, chunkOverlap: body.chunkOverlap)
        // The engine checks an external collection's dimensions and the HNSW parameters, naming the field.
        let info = try await runner.write { () throws(SearchEngineError) in try engine.createCollection(options) }
        metrics.update(info)
        return try JSONResponse.make(info, status: .created)
    }

    @Sendable func info(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        var info = try await runner.read { () throws(SearchEngineError) in try engine.collectionInfo(name) }
        info.build = module.builds.build(of: name)
        metrics.update(info)
        return try JSONResponse.make(info)
    }

    /// `PATCH /v1/collections/{c}`: a JSON merge patch of the settings its owner may change at any
    /// time (``CollectionTuning``); answers with the collection's description.
    @Sendable func updateSettings(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let patch = try await JSONBody.decode([String: JSONValue].self, from: request, limit: limits.maxBodyBytes)
        guard !patch.isEmpty else {
            throw APIError.invalidRequest("the body names no setting (settings: \(CollectionTuning.keys.joined(separator: ", ")))")
        }
        var info = try await runner.write { () throws(SearchEngineError) in
            try engine.collection(name).updateTuning(patch)
            return try engine.collectionInfo(name)
        }
        info.build = module.builds.build(of: name)
        metrics.update(info)
        return try JSONResponse.make(info)
    }

    @Sendable func deleteCollection(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        // Not under a generation build, promote or discard of this server (their threads write
        // to its store); the claim keeps a new one from starting during the delete.
        if let running = module.builds.claim(name, for: "a delete") { throw GenerationRoutes.busy(name, running, module.builds) }
        defer { module.builds.release(name) }
        try await runner.write { () throws(SearchEngineError) in try engine.deleteCollection(name) }
        module.builds.forget(name)
        metrics.removed(name)
        return try JSONResponse.make(CollectionDeleted(name: name, deleted: true))
    }

    // MARK: - Documents

    @Sendable func upsert(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        _ = try QueryString.bool(request, "wait")
        let body = try await JSONBody.decode(DocumentsBody.self, from: request, limit: limits.maxBodyBytes)
        let documents = body.documents
        guard !documents.isEmpty else { throw APIError.invalidRequest("documents must not be empty") }
        guard documents.count <= limits.maxBatchInputs else {
            throw APIError.limitExceeded(limit: "max_batch_inputs", value: documents.count, allowed: limits.maxBatchInputs)
        }
        // A document's size is checked by the engine (max_document_bytes, max_passages): one too
        // large is refused on its own and listed in the answer's `rejected`; the rest is written.
        let deferEmbedding = body.deferEmbedding ?? false
        let response = try await write(engine, name) { () throws(SearchEngineError) in
            try engine.upsert(collection: name, documents: documents, deferEmbedding: deferEmbedding)
        }
        if deferEmbedding, module.options.embedsDeferredWrites { module.deferred.kick(name, engine: engine) }
        return response
    }

    /// Runs a document write on the write pool, then answers with its counts and the collection's
    /// index state, and updates the collection's metrics.
    private func write(
        _ engine: SearchEngine, _ name: String, _ body: @escaping @Sendable () throws(SearchEngineError) -> UpsertResult
    ) async throws -> Response {
        let logger = module.logger
        let (result, index) = try await runner.write { () throws(SearchEngineError) in
            let result = try body()
            // Committed: nothing below may turn the answer into an error.
            guard let handle = engine.openCollection(name) ?? (try? engine.collection(name)) else {
                logger.warning("write stored; its collection could not be asked for the index state", metadata: ["collection": "\(name)"])
                return (result, IndexState.unknown(generation: result.generation, storeSeq: result.seq))
            }
            return (result, handle.indexState(afterWriteAt: result.seq, generation: result.generation))
        }
        metrics.wrote(name, result)
        metrics.update(name, index: index, written: result)
        metrics.checkpointFailing(engine.checkpointFailures())
        return try JSONResponse.make(WriteResponse(result, index: index))
    }

    @Sendable func document(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let id = documentID(context)
        var includeVector = false
        if let include = request.uri.queryParameters.get("include") {
            for field in include.split(separator: ",", omittingEmptySubsequences: true) {
                switch field {
                case "vector": includeVector = true
                case "text": break  // the text is always returned
                default: throw APIError.invalidRequest("include: unknown field \"\(EngineErrors.shortened(String(field)))\" (vector)")
                }
            }
        }
        let withVector = includeVector
        let result = try await runner.read { () throws(SearchEngineError) in
            try engine.document(collection: name, id: id, includeVector: withVector)
        }
        return try JSONResponse.make(result)
    }

    @Sendable func deleteDocument(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let id = documentID(context)
        return try await write(engine, name) { () throws(SearchEngineError) in
            let result = try engine.delete(collection: name, ids: [id])
            guard result.deleted > 0 else { throw .documentNotFound(collection: name, id: id) }
            return result
        }
    }

    // MARK: - Queries

    @Sendable func query(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, model) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(QueryRequest.self, from: request, limit: limits.maxBodyBytes)
        try engineCall { () throws(SearchEngineError) in try body.validate(limits: queryLimits) }
        if body.generation == .candidate { try candidateNotBeingBuilt(name) }
        let handle = try await collection(engine, name)
        let response: QueryResponse
        do {
            response = try await handle.query(body, embedder: queryEmbedder(model, engine: engine), limits: queryLimits)
        } catch { throw runner.apiError(error) }
        metrics.verdicts(name, [response])
        shadow(body, answer: response, handle: handle, engine: engine, model: model)
        return response.jsonResponse()
    }

    @Sendable func batchQuery(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, model) = try module.engine()
        let name = collectionName(context)
        let data = try await JSONBody.read(request, limit: limits.maxBodyBytes)
        let queries: [QueryRequest]
        // A recommendation job's batch of plain vector queries is read without JSONDecoder (the
        // same requests it would give); anything else is decoded as before.
        if let simple = data.withUnsafeBytes({ VectorQueryParser.parseBatch($0) }) {
            queries = simple.map { QueryRequest(vector: $0.vector, k: $0.k ?? 10, ef: $0.ef, withPayload: $0.withPayload ?? true) }
        } else {
            queries = try JSONBody.decode(BatchQueryBody.self, from: data).queries
        }
        guard !queries.isEmpty else { throw APIError.invalidRequest("queries must not be empty") }
        guard queries.count <= limits.maxBatchInputs else {
            throw APIError.limitExceeded(limit: "max_batch_inputs", value: queries.count, allowed: limits.maxBatchInputs)
        }
        try engineCall { () throws(SearchEngineError) in
            for (index, query) in queries.enumerated() { try query.validate(limits: queryLimits, field: "queries[\(index)].") }
        }
        if queries.contains(where: { $0.generation == .candidate }) { try candidateNotBeingBuilt(name) }
        let handle = try await collection(engine, name)
        // Every text of the batch is embedded in one call to the batcher; the queries run on the
        // read pool's threads in parallel.
        let results: [QueryResponse]
        do {
            results = try await handle.query(batch: queries, embedder: queryEmbedder(model, engine: engine), limits: queryLimits)
        } catch { throw runner.apiError(error) }
        metrics.verdicts(name, results)
        for (query, answer) in zip(queries, results) { shadow(query, answer: answer, handle: handle, engine: engine, model: model) }
        return BatchQueryResponse(results: results).jsonResponse()
    }

    /// Runs judged queries in each configuration (`quiver eval` over HTTP): the same report.
    @Sendable func evaluate(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, model) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(EvaluateBody.self, from: request, limit: limits.maxBodyBytes)
        let queries: [JudgedQuery]
        switch (body.queries, body.judgments) {
        case (let given?, nil):
            queries = given
        case (nil, "feedback"?):
            // Users' judgments in the collection's query log (`quiver eval --judgments feedback`).
            let handle = try await collection(engine, name)
            queries = try await runner.read { () throws(SearchEngineError) in try handle.feedbackJudgments().queries }
            guard !queries.isEmpty else {
                throw APIError.invalidRequest(
                    "judgments: no feedback with a helpful document in the query log of \(name) (turn query_log on; clients send feedback)")
            }
        case (nil, let other?):
            throw APIError.invalidRequest("judgments: the only source is \"feedback\" (got \"\(EngineErrors.shortened(other))\")")
        case (_?, _?):
            throw APIError.invalidRequest("give queries or judgments, not both")
        case (nil, nil):
            throw APIError.invalidRequest("give queries (judged queries) or judgments: \"feedback\"")
        }
        guard !queries.isEmpty else { throw APIError.invalidRequest("queries must not be empty") }
        let maxQueries = EvaluateBody.maxQueries
        guard queries.count <= maxQueries else {
            throw APIError.limitExceeded(limit: "evaluate queries", value: queries.count, allowed: maxQueries)
        }
        let configurations = body.configurations ?? [EvaluationConfiguration(mode: .vector)]
        guard !configurations.isEmpty, configurations.count <= EvaluateBody.maxConfigurations else {
            throw APIError.invalidRequest("configurations must hold 1 to \(EvaluateBody.maxConfigurations) entries")
        }
        // Every query runs once per configuration: the product is the request's cost.
        let runs = queries.count * configurations.count
        guard runs <= EvaluateBody.maxRuns else {
            throw APIError.limitExceeded(limit: "evaluate queries × configurations", value: runs, allowed: EvaluateBody.maxRuns)
        }
        let k = body.k ?? 10
        if configurations.contains(where: { $0.generation == .candidate }) { try candidateNotBeingBuilt(name) }
        try engineCall { () throws(SearchEngineError) in
            try QueryRequest.validate(k: k, ef: body.ef, limits: queryLimits)
            for (index, configuration) in configurations.enumerated() {
                if let fusion = configuration.fusion {
                    guard configuration.mode == .hybrid else {
                        throw .invalidQuery("configurations[\(index)]: fusion applies to mode hybrid only")
                    }
                    try fusion.validate(field: "configurations[\(index)].")
                }
            }
            for (index, query) in queries.enumerated() {
                try QueryRequest(text: query.text, k: k, ef: body.ef, filter: query.filter).validate(
                    limits: queryLimits, field: "queries[\(index)].")
            }
        }
        let handle = try await collection(engine, name)
        let report: EvaluationReport
        do {
            report = try await handle.evaluate(
                queries, configurations: configurations, k: k, ef: body.ef, embedder: queryEmbedder(model, engine: engine),
                limits: queryLimits)
        } catch { throw runner.apiError(error) }
        let encoded: Data
        do { encoded = try JSONResponse.encoder.encode(report) } catch { throw APIError.internalError }
        // The per-query detail grows with the queries: the server's response limit applies.
        guard encoded.count <= limits.maxResponseBytes else {
            throw APIError.limitExceeded(limit: "max_response_bytes", value: encoded.count, allowed: limits.maxResponseBytes)
        }
        return JSONResponse.make(encoded: encoded)
    }

    /// Sends a drawn share of live text queries (the collection's `shadow_rate`) to its candidate
    /// generation too, after the answer and off the request (``ShadowTraffic``); not while this
    /// server builds, promotes or discards a generation of the collection.
    func shadow(_ request: QueryRequest, answer: QueryResponse, handle: CollectionHandle, engine: SearchEngine, model: EmbeddingModel) {
        guard request.text != nil, request.generation != .candidate, handle.drawsShadow() else { return }
        guard module.builds.operation(on: handle.name) == nil else { return }
        let embedder = queryEmbedder(model, engine: engine)
        let limits = queryLimits
        let metrics = self.metrics
        module.shadows.start {
            if await handle.shadow(request, answer: answer, embedder: embedder, limits: limits) { metrics.shadowed(handle.name) }
        }
    }

    /// `POST /v1/collections/{c}/feedback`: a user's judgment of a hit of a logged query. On the
    /// read key: feedback comes from the portals that query.
    @Sendable func feedback(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(FeedbackBody.self, from: request, limit: limits.maxBodyBytes)
        let handle = try await collection(engine, name)
        try await runner.read { () throws(SearchEngineError) in
            try handle.addFeedback(queryID: body.queryID, id: body.id, helpful: body.helpful)
        }
        metrics.feedback(name, helpful: body.helpful)
        return try JSONResponse.make(FeedbackRecorded(queryID: body.queryID, id: body.id, helpful: body.helpful))
    }

    /// `GET /v1/collections/{c}/insights?since=…`: the report of the collection's query log.
    @Sendable func insights(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        var since: Double?
        if let text = request.uri.queryParameters.get("since").map({ String($0) }), !text.isEmpty {
            guard let parsed = Double(text) ?? Timestamp(iso8601: text)?.seconds, parsed.isFinite else {
                throw APIError.invalidRequest(
                    "since: expected seconds since 1970 or an ISO 8601 time (got \"\(EngineErrors.shortened(text))\")")
            }
            since = parsed
        }
        let handle = try await collection(engine, name)
        let wanted = since
        let report = try await runner.read { () throws(SearchEngineError) in try handle.insights(since: wanted) }
        return try JSONResponse.make(report)
    }

    @Sendable func recommend(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(RecommendBody.self, from: request, limit: limits.maxBodyBytes)
        let k = body.k ?? 10
        try engineCall { () throws(SearchEngineError) in try QueryRequest.validate(k: k, ef: body.ef, limits: queryLimits) }
        guard !body.positive.isEmpty else { throw APIError.invalidRequest("positive must name at least one document id") }
        let examples = body.positive.count + (body.negative?.count ?? 0)
        guard examples <= limits.maxBatchInputs else {
            throw APIError.limitExceeded(limit: "max_batch_inputs", value: examples, allowed: limits.maxBatchInputs)
        }
        let recommendation = RecommendRequest(
            positive: body.positive, negative: body.negative, k: k, ef: body.ef,
            filter: body.filter, include: body.include, withPayload: body.withPayload ?? true)
        let response = try await runner.read { () throws(SearchEngineError) in
            try engine.collection(name).recommend(recommendation, limits: queryLimits)
        }
        return response.jsonResponse()
    }

    // MARK: - Vectors

    @Sendable func vectorsByID(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(VectorIDsBody.self, from: request, limit: limits.maxBodyBytes)
        guard !body.ids.isEmpty else { throw APIError.invalidRequest("ids must not be empty") }
        guard body.ids.count <= limits.maxVectorIDs else {
            throw APIError.limitExceeded(limit: "max_vector_ids", value: body.ids.count, allowed: limits.maxVectorIDs)
        }
        let ids = body.ids
        let chunks = body.chunks ?? false
        let maxBytes = limits.maxResponseBytes
        // Up to max_vector_ids vectors within max_response_bytes (checked before the read):
        // fetched and encoded on the blocking pool.
        // The engine's errors (unknown collection, …) propagate; only a failure to encode its
        // answer — a bug — becomes the 500 below.
        let encoded = try await runner.read { () throws(SearchEngineError) in
            let response = try engine.collection(name).vectors(ids: ids, chunks: chunks, maxResponseBytes: maxBytes)
            return try? JSONResponse.encoder.encode(response)
        }
        guard let encoded else { throw APIError.internalError }
        return JSONResponse.make(encoded: encoded)
    }

    @Sendable func exportVectors(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let limit = try QueryString.positiveInt(request, "limit") ?? Self.defaultExportLimit
        guard limit <= limits.maxVectorIDs else {
            throw APIError.limitExceeded(limit: "max_vector_ids (export limit)", value: limit, allowed: limits.maxVectorIDs)
        }
        let cursor = request.uri.queryParameters.get("cursor").flatMap { $0.isEmpty ? nil : $0 }
        if let cursor, Int64(cursor).map({ $0 < 0 }) ?? true {
            throw APIError.invalidRequest("cursor: malformed (pass the Quiver-Next-Cursor of the previous page)")
        }
        let format = request.uri.queryParameters.get("format") ?? "ndjson"
        guard format == "ndjson" || format == "f32" else {
            throw APIError.invalidRequest("format must be ndjson or f32 (got \"\(EngineErrors.shortened(format))\")")
        }
        // The page is read and encoded on the blocking pool; it holds `limit` vectors or fewer, as
        // many as fit in max_response_bytes.
        let raw = format == "f32"
        let chunks = try QueryString.bool(request, "chunks") ?? false
        if chunks, raw {
            throw APIError.invalidRequest("chunks=true needs format=ndjson (f32 rows hold one vector per document)")
        }
        let maxBytes = limits.maxResponseBytes
        let (page, encoded) = try await runner.read { () throws(SearchEngineError) in
            let page = try engine.collection(name).exportVectors(
                cursor: cursor, limit: limit, maxPageBytes: maxBytes, bytesPerFloat: raw ? 4 : ResponseBudget.floatBytes,
                chunks: chunks)
            return (page, Self.encode(page, raw: raw))
        }
        guard let encoded else { throw APIError.internalError }
        var headers = HTTPFields()
        QuiverHeader.set(QuiverHeader.model, page.model.fingerprint, in: &headers)
        QuiverHeader.set(QuiverHeader.modelID, page.model.id, in: &headers)
        QuiverHeader.set(QuiverHeader.generation, String(page.generation), in: &headers)
        QuiverHeader.set(QuiverHeader.count, String(page.vectors.count), in: &headers)
        if let first = page.vectors.first { QuiverHeader.set(QuiverHeader.dimensions, String(first.vector.count), in: &headers) }
        if let next = page.nextCursor { QuiverHeader.set(QuiverHeader.nextCursor, next, in: &headers) }
        if raw {
            guard encoded.ids.utf8.count <= Self.maxIDsHeaderBytes else {
                throw APIError.limitExceeded(
                    limit: "max_ids_header_bytes (lower limit)", value: encoded.ids.utf8.count,
                    allowed: Self.maxIDsHeaderBytes)
            }
            QuiverHeader.set(QuiverHeader.ids, encoded.ids, in: &headers)
            headers[.contentType] = "application/octet-stream"
        } else {
            headers[.contentType] = "application/x-ndjson"
        }
        let buffer = encoded.body
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// A page as NDJSON lines, or as little-endian float32 rows plus the `Quiver-Ids` value;
    /// nil if a line cannot be encoded.
    static func encode(_ page: VectorsResponse, raw: Bool) -> (body: ByteBuffer, ids: String)? {
        var buffer = ByteBuffer()
        var ids = ""
        if raw {
            for (index, item) in page.vectors.enumerated() {
                if index > 0 { ids += "," }
                ids += item.id.addingPercentEncoding(withAllowedCharacters: idCharacters) ?? ""
            }
            buffer.reserveCapacity(page.vectors.reduce(0) { $0 + $1.vector.count * 4 })
            for item in page.vectors {
                for x in item.vector { buffer.writeInteger(x.bitPattern, endianness: .little) }
            }
        } else {
            let encoder = JSONResponse.encoder
            for item in page.vectors {
                let line = VectorLine(
                    id: item.id, vector: item.vector, model: item.model, embeddedAt: item.embeddedAt, chunks: item.chunks)
                guard let data = try? encoder.encode(line) else { return nil }
                buffer.writeBytes(data)
                buffer.writeInteger(UInt8(ascii: "\n"))
            }
        }
        return (buffer, ids)
    }

    /// Unreserved characters (RFC 3986) stay as they are in `Quiver-Ids`; everything else,
    /// including the separating comma, is percent-encoded.
    static let idCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    // MARK: - Helpers

    func collectionName(_ context: QuiverRequestContext) -> String {
        context.parameters.get("collection") ?? ""
    }

    /// The `{id}` path segment, percent-decoded (ids may contain any character).
    func documentID(_ context: QuiverRequestContext) -> String {
        let raw = context.parameters.get("id") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// The server's limits on one query (text length, k, ef and the answer's size), checked by the engine.
    var queryLimits: QueryLimits {
        QueryLimits(maxK: limits.maxK, maxEf: limits.maxEf, maxTextBytes: limits.maxTextBytes, maxResponseBytes: limits.maxResponseBytes)
    }

    /// Runs a synchronous engine check, mapping its error to the API's.
    func engineCall(_ body: () throws(SearchEngineError) -> Void) throws(APIError) {
        do { try body() } catch { throw EngineErrors.apiError(error, logger: module.logger) }
    }

    /// The handle of collection `name`: from memory when it is open (no hop), else opened on the
    /// read pool (404 for an unknown collection).
    func collection(_ engine: SearchEngine, _ name: String) async throws(APIError) -> CollectionHandle {
        if let open = engine.openCollection(name) { return open }
        return try await runner.read { () throws(SearchEngineError) in try engine.collection(name) }
    }

    /// 409 while this server builds, promotes or discards a generation of `name`: a candidate is
    /// queried or evaluated once it is filled (a partly filled one would answer from some of its
    /// documents; an evaluation would fill it a second time beside the build).
    func candidateNotBeingBuilt(_ name: String) throws(APIError) {
        if let running = module.builds.operation(on: name) { throw GenerationRoutes.busy(name, running, module.builds) }
    }

    /// Query text goes through the server's batcher and cache for the server's model; for another
    /// model the engine has (or loads from a `--candidate-model` folder), through the cache and
    /// that model's encoder on the read pool.
    func queryEmbedder(_ model: EmbeddingModel, engine: SearchEngine) -> BatcherQueryEmbedder {
        BatcherQueryEmbedder(controller: self, fingerprint: model.fingerprint, engine: engine)
    }

    /// Vectors of query texts through the server's batcher — or `other`, the encoder of another
    /// model — (cached ones skip it), and the time it took in ms.
    func embed(_ texts: [String], fingerprint: String, other: Embedder? = nil) async throws(APIError) -> ([[Float]], Double) {
        let start = ContinuousClock.now
        var vectors = [[Float]?](repeating: nil, count: texts.count)
        var missing: [Int] = []
        for (index, text) in texts.enumerated() {
            if let cached = module.cache.get(QueryEmbeddingCache.key(fingerprint: fingerprint, text: text)) {
                vectors[index] = cached
            } else {
                missing.append(index)
            }
        }
        if module.cache.capacity > 0 {
            metrics.cacheHits.increment(by: texts.count - missing.count)
            metrics.cacheMisses.increment(by: missing.count)
        }
        if !missing.isEmpty {
            let embedded: [[Float]]
            if let other {
                // Not the server's model: its own encoder, off the cooperative pool.
                let texts = missing.map { texts[$0] }
                embedded = try await runner.read { () throws(SearchEngineError) in
                    do { return try other.embed(texts) } catch { throw SearchEngineError.embedding("\(error)") }
                }
            } else {
                let service = context.embeddings
                let sequences = try service.tokenize(missing.map { texts[$0] }, truncate: true)
                embedded = try await service.embed(tokenized: sequences)
            }
            guard embedded.count == missing.count else { throw .internalError }
            for (index, vector) in zip(missing, embedded) {
                vectors[index] = vector
                module.cache.put(QueryEmbeddingCache.key(fingerprint: fingerprint, text: texts[index]), vector)
            }
            if module.cache.capacity > 0 { metrics.cacheEntries.record(module.cache.count) }
        }
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return (vectors.compactMap { $0 }, ms)
    }
}

/// The server's query embedder: the dynamic batcher behind the query-embedding cache. It embeds
/// for the server's model only; a collection served by another model gets nil (409).
struct BatcherQueryEmbedder: QueryEmbedder {
    let controller: CollectionsController
    let fingerprint: String
    let engine: SearchEngine

    func embed(_ texts: [String], fingerprint: String) async throws -> [[Float]]? {
        if fingerprint == self.fingerprint { return try await controller.embed(texts, fingerprint: fingerprint).0 }
        // Another model (a candidate's): loaded by the engine from the server's model folders
        // when it has it (seconds the first time), on the read pool.
        let engine = self.engine
        var model = engine.models.first { $0.fingerprint == fingerprint }
        if model == nil {
            // Loading reads and packs the weights (seconds): on a thread of its own.
            model = try await controller.onOwnThread("quiver-model-load") { () throws(SearchEngineError) in
                engine.model(fingerprint: fingerprint)
            }
        }
        guard let embedder = model?.embedder else { return nil }
        return try await controller.embed(texts, fingerprint: fingerprint, other: embedder).0
    }
}
