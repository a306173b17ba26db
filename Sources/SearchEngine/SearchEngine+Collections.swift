import DocumentStore
import Foundation

// Conveniences keyed by collection name, for the CLI and tests: each opens the collection's
// handle and calls it (see `CollectionHandle`, which owns the operations).
extension SearchEngine {
    /// Most documents in one `upsert` call.
    public static let maxBatchDocuments = 10_000
    /// Longest id, in UTF-8 bytes.
    public static let maxIDBytes = 1024
    /// Most vectors in one fetch or export page.
    public static let maxVectorsPerCall = 10_000
    /// How often `upsert` re-targets a write whose generation changed under it before giving up.
    static let writeAttempts = 5

    /// ``CollectionHandle/query(_:limits:)`` on `collection`.
    public func query(collection: String, _ request: QueryRequest) throws(SearchEngineError) -> QueryResponse {
        try self.collection(collection).query(request)
    }

    /// ``CollectionHandle/recommend(_:limits:)`` on `collection`.
    public func recommend(collection: String, _ request: RecommendRequest) throws(SearchEngineError) -> QueryResponse {
        try self.collection(collection).recommend(request)
    }

    /// ``CollectionHandle/document(id:includeVector:)`` on `collection`.
    public func document(collection: String, id: String, includeVector: Bool = false) throws(SearchEngineError) -> DocumentResult {
        try self.collection(collection).document(id: id, includeVector: includeVector)
    }

    /// ``CollectionHandle/servingFingerprint()`` of `collection`.
    public func servingFingerprint(collection: String) throws(SearchEngineError) -> String {
        try self.collection(collection).servingFingerprint()
    }

    /// ``CollectionHandle/upsert(documents:)`` on `collection`.
    public func upsert(collection: String, documents: [DocumentInput], deferEmbedding: Bool = false)
        throws(SearchEngineError) -> UpsertResult
    {
        try self.collection(collection).upsert(documents: documents, deferEmbedding: deferEmbedding)
    }

    /// ``CollectionHandle/delete(ids:)`` on `collection`.
    public func delete(collection: String, ids: [String]) throws(SearchEngineError) -> UpsertResult {
        try self.collection(collection).delete(ids: ids)
    }

    /// ``CollectionHandle/prune(keeping:)`` on `collection`.
    public func prune(collection: String, keeping keep: Set<String>) throws(SearchEngineError) -> UpsertResult {
        try self.collection(collection).prune(keeping: keep)
    }

    /// ``CollectionHandle/markSynced()`` on `collection`.
    public func markSynced(collection: String) throws(SearchEngineError) {
        try self.collection(collection).markSynced()
    }

    /// ``CollectionHandle/validate(_:index:)`` on `collection`.
    public func validate(_ document: DocumentInput, index: Int, collection: String) throws(SearchEngineError) {
        try self.collection(collection).validate(document, index: index)
    }

    /// ``CollectionHandle/validator()`` of `collection`.
    public func validator(collection: String, deferEmbedding: Bool = false) throws(SearchEngineError) -> DocumentValidator {
        try self.collection(collection).validator(deferEmbedding: deferEmbedding)
    }

    /// ``CollectionHandle/vectors(ids:)`` of `collection`.
    public func vectors(collection: String, ids: [String]) throws(SearchEngineError) -> VectorsResponse {
        try self.collection(collection).vectors(ids: ids)
    }

    /// ``CollectionHandle/exportVectors(cursor:limit:)`` of `collection`.
    public func exportVectors(collection: String, cursor: String?, limit: Int) throws(SearchEngineError) -> VectorsResponse {
        try self.collection(collection).exportVectors(cursor: cursor, limit: limit)
    }

    /// ``CollectionHandle/info()`` of `name`.
    public func collectionInfo(_ name: String) throws(SearchEngineError) -> CollectionInfo {
        try collection(name).info()
    }

    /// ``CollectionHandle/checkpoint()`` of `collection`.
    public func checkpoint(collection: String) throws(SearchEngineError) {
        try self.collection(collection).checkpoint()
    }

    /// ``CollectionHandle/catchUp()`` of `collection`.
    @discardableResult
    public func catchUp(collection: String) throws(SearchEngineError) -> IndexState {
        try self.collection(collection).catchUp()
    }

    /// ``CollectionHandle/beginModelChange(candidate:modelID:chunkTokens:chunkOverlap:)`` of `collection`.
    @discardableResult
    public func beginModelChange(
        collection: String, candidate: Bool = false, chunkTokens: Int? = nil, chunkOverlap: Int? = nil
    ) throws(SearchEngineError) -> GenerationInfo? {
        try self.collection(collection).beginModelChange(candidate: candidate, chunkTokens: chunkTokens, chunkOverlap: chunkOverlap)
    }

    /// ``CollectionHandle/completeModelChange(batchSize:progress:)`` of `collection`.
    @discardableResult
    public func completeModelChange(
        collection: String, batchSize: Int = 256, progress: ((ModelChangeProgress) -> Void)? = nil
    ) throws(SearchEngineError) -> Int64? {
        try self.collection(collection).completeModelChange(batchSize: batchSize, progress: progress)
    }

    /// Live documents by id (for tests reaching below the handle).
    func storedDocuments(_ follower: IndexFollower, ids: [String], generation: GenerationRecord, withVectors: Bool)
        throws(SearchEngineError) -> [String: StoredDocument]
    {
        try CollectionHandle(name: follower.name, engine: self, follower: follower)
            .storedDocuments(ids: ids, generation: generation, withVectors: withVectors)
    }
}
