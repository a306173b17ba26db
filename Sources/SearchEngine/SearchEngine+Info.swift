import DocumentStore
import Foundation

extension SearchEngine {
    /// A collection's settings, counts, generations and index state.
    public func collectionInfo(_ name: String) throws(SearchEngineError) -> CollectionInfo {
        let runtime = try runtime(name)
        let (serving, state) = try runtime.snapshot()
        let store = runtime.store
        do {
            let counts = try store.counts()
            var generations: [GenerationInfo] = []
            for record in try store.generations() {
                generations.append(
                    GenerationInfo(
                        generation: record.generation, state: record.state.rawValue,
                        model: ModelInfo(id: record.modelID, fingerprint: record.modelFingerprint),
                        dimensions: record.dimensions,
                        pending: record.state == .building ? try store.staleCount(generation: record.generation) : nil))
            }
            let settings = runtime.settings
            return CollectionInfo(
                name: name, documents: counts.live, tombstones: counts.deleted, dimensions: serving.record.dimensions,
                distance: settings.metric, hnsw: .init(m: settings.hnswM, efConstruction: settings.hnswEfConstruction),
                model: ModelInfo(id: serving.record.modelID, fingerprint: serving.record.modelFingerprint),
                generations: generations, index: indexState(serving, state),
                createdAt: Timestamp(seconds: settings.createdAt))
        } catch {
            throw SearchEngineError(error)
        }
    }

    /// The engine's models and every collection.
    public func info() throws(SearchEngineError) -> EngineInfo {
        EngineInfo(
            dataDirectory: dataDirectory.path,
            models: models.map { ModelInfo(id: $0.id, fingerprint: $0.fingerprint) },
            collections: try listCollections())
    }
}
