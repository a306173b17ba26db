import DocumentStore
import Foundation
import Logging

/// One collection of an engine: every operation on it — query, recommend, upsert, delete,
/// export, model changes, info — goes through its handle (`engine.collection(name)`).
///
/// A handle is cheap (a reference to the engine and to the collection's ``IndexFollower``); get
/// one per request. It stays usable while the collection exists; after the collection is deleted
/// its calls fail.
public struct CollectionHandle: Sendable {
    /// The collection's name.
    public let name: String
    /// The engine it belongs to.
    public let engine: SearchEngine
    let follower: IndexFollower

    var store: any CollectionStore { follower.store }

    /// The store's current generation, without loading its index (for reads of stored vectors).
    func currentRecord() throws(SearchEngineError) -> GenerationRecord {
        do { return try store.state().current } catch { throw SearchEngineError(error) }
    }

    /// The model fingerprint of the generation serving queries (the model query text must be
    /// embedded with).
    public func servingFingerprint() throws(SearchEngineError) -> String {
        try currentRecord().modelFingerprint
    }

    /// Live documents by id in `generation`, with their vectors when asked.
    func storedDocuments(ids: [String], generation: GenerationRecord, withVectors: Bool)
        throws(SearchEngineError) -> [String: StoredDocument]
    {
        // No stored id contains a NUL; SQLite would match such an id cut at the NUL.
        let ids = ids.filter { !$0.containsNUL }
        do {
            return try store.documents(
                ids: ids, generation: generation.generation, dimensions: generation.dimensions,
                withVectors: withVectors)
        } catch { throw SearchEngineError(error) }
    }
}

extension SearchEngine {
    /// The handle of collection `name`, opening its store and starting its index follower on
    /// first use.
    ///
    /// - Throws: `invalidName`, `collectionNotFound`, or a storage error for a store that cannot
    ///   be opened.
    public func collection(_ name: String) throws(SearchEngineError) -> CollectionHandle {
        CollectionHandle(name: name, engine: self, follower: try runtime(name))
    }
}

extension String {
    /// Whether the string contains U+0000, which SQLite's text binding would cut the string at.
    var containsNUL: Bool { utf8.contains(0) }
}
