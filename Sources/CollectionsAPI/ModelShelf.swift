import Embedder
import Foundation
import Logging
import SearchEngine
import Synchronization
import VectorMath

/// The model folders a server may load beside its own (`quiver serve --candidate-model DIR`):
/// a candidate generation of one of them is queried, evaluated, built and promoted with it, and a
/// collection promoted to it keeps being served by it. Each folder is offered at every precision
/// (`all-MiniLM-L6-v2`, `all-MiniLM-L6-v2@bf16` and `all-MiniLM-L6-v2@int8`: the server's own folder given here is how a
/// running server moves a collection to another precision). Each folder is fingerprinted at start
/// (configuration and files hashed, weights not loaded); the engine loads one when a generation
/// needs it and drops it when no open collection uses it (``SearchEngine/releaseUnusedModels()``).
/// The command line uses one for its `--candidate-model` folders too.
public final class ModelShelf: ModelProvider {
    struct Entry: Sendable {
        let id: String
        let fingerprint: String
        let folder: URL
        let precision: Precision
    }

    let entries: [Entry]
    let tokenBudget: Int
    let logger: Logger

    /// Fingerprints every folder.
    ///
    /// - Parameter tokenBudget: the loaded embedders' most tokens in one forward pass.
    /// - Throws: when a folder is not a model folder (`quiver serve` checks its folders before it
    ///   starts, so a typo stops the start).
    public init(folders: [URL], tokenBudget: Int = 4096, logger: Logger) throws(SearchEngineError) {
        var entries: [Entry] = []
        for folder in folders {
            let fingerprint = try EmbeddingModel.fingerprint(folder: folder)
            let name = folder.standardizedFileURL.lastPathComponent
            for precision in Precision.allCases {
                let derived = EmbeddingModel.fingerprint(fingerprint, precision: precision)
                guard !entries.contains(where: { $0.fingerprint == derived }) else { continue }
                entries.append(
                    Entry(
                        id: EmbeddingModel.id(name.isEmpty ? "model" : name, precision: precision), fingerprint: derived, folder: folder,
                        precision: precision))
            }
        }
        self.entries = entries
        self.tokenBudget = tokenBudget
        self.logger = logger
    }

    public var available: [(id: String, fingerprint: String)] { entries.map { ($0.id, $0.fingerprint) } }

    public func load(fingerprint: String) -> EmbeddingModel? {
        guard let entry = entries.first(where: { $0.fingerprint == fingerprint }) else { return nil }
        let start = ContinuousClock.now
        do {
            let loaded = try EmbeddingModel.load(folder: entry.folder, options: .init(tokenBudget: tokenBudget, precision: entry.precision))
            // The folder may have been replaced since the server started: its vectors would not
            // be the generation's.
            guard loaded.fingerprint == fingerprint, let embedder = loaded.embedder else {
                logger.error(
                    "model folder changed since the server started; not loaded",
                    metadata: ["folder": "\(entry.folder.path)", "expected": "\(fingerprint.prefix(12))"])
                return nil
            }
            logger.info(
                "model loaded",
                metadata: [
                    "model": "\(entry.id)", "fingerprint": "\(fingerprint.prefix(12))", "weights_mib": "\(embedder.weightBytes >> 20)",
                    "seconds": "\(String(format: "%.2f", (ContinuousClock.now - start) / .seconds(1)))",
                ])
            return EmbeddingModel(id: entry.id, fingerprint: fingerprint, embedder: embedder)
        } catch {
            logger.error("model failed to load", metadata: ["folder": "\(entry.folder.path)", "error": "\(error)"])
            return nil
        }
    }
}
