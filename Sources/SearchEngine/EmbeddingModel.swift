import Crypto
import DocumentStore
import Embedder
import Foundation
import VectorMath

/// A model the engine can embed with, and the fingerprint that tags every vector it produced.
///
/// The fingerprint is SHA-256 over the weights file, the tokenizer and configuration files, and
/// the pooling settings (mode, normalization, max length): two folders with the same fingerprint
/// produce the same vectors. The encoder's precision is part of the model: at bf16 the fingerprint
/// is derived from the fp32 one and the precision (at int8 with its calibrated bf16 layers), and the id gets `@bf16` or `@int8` appended, so vectors of
/// two precisions never share a generation and changing the precision is a model change. A model without an embedder (`external`) accepts only
/// bring-your-own vectors.
public struct EmbeddingModel: Sendable {
    /// A readable name: the model folder's name, or "external".
    public let id: String
    /// Hex SHA-256 of weights, tokenizer and pooling (see the type's documentation).
    public let fingerprint: String
    /// Length of every vector.
    public let dimensions: Int
    /// The encoder, or nil for an external (bring-your-own-vector) model.
    public let embedder: Embedder?
    /// The encoder's arithmetic (fp32 for an external model).
    public var precision: Precision { embedder?.precision ?? .fp32 }

    /// Wraps an embedder with a fingerprint computed elsewhere.
    public init(id: String, fingerprint: String, embedder: Embedder) {
        self.id = id
        self.fingerprint = fingerprint
        self.dimensions = embedder.dimension
        self.embedder = embedder
    }

    /// A model's id at `precision`: `id` for fp32, `id@bf16` for bf16, `id@int8` for int8 (an id that already ends so is kept).
    public static func id(_ id: String, precision: Precision) -> String {
        let suffix = "@" + precision.rawValue
        return precision == .fp32 || id.hasSuffix(suffix) ? id : id + suffix
    }

    /// The fingerprint of the fp32 model `fingerprint` run at `precision`: itself for fp32, else
    /// SHA-256 over it and the precision's recipe (``Embedder/recipe(_:int8InBF16:)``: the name,
    /// and at int8 the layers kept in bf16, so a new calibration is a new model).
    public static func fingerprint(_ fingerprint: String, precision: Precision) -> String {
        Self.fingerprint(fingerprint, recipe: Embedder.recipe(precision))
    }

    /// The fingerprint of the fp32 model `fingerprint` run with an embedder's `recipe`.
    static func fingerprint(_ fingerprint: String, recipe: String) -> String {
        guard recipe != Precision.fp32.rawValue else { return fingerprint }
        var hasher = SHA256()
        hasher.update(data: Data("quiver-model-precision-v1\n\(fingerprint)\n\(recipe)\n".utf8))
        return FileDigest.hex(hasher.finalize())
    }

    /// A model that cannot embed: collections using it take bring-your-own vectors of
    /// `dimensions` floats only. Its fingerprint is `external-<id>-<dimensions>`.
    public static func external(id: String = "external", dimensions: Int) -> EmbeddingModel {
        EmbeddingModel(id: id, fingerprint: "external-\(id)-\(dimensions)", dimensions: dimensions, embedder: nil)
    }

    /// Whether `fingerprint` is an external model's (real fingerprints are hex SHA-256).
    public static func isExternal(fingerprint: String) -> Bool {
        fingerprint.hasPrefix("external-")
    }

    private init(id: String, fingerprint: String, dimensions: Int, embedder: Embedder?) {
        self.id = id
        self.fingerprint = fingerprint
        self.dimensions = dimensions
        self.embedder = embedder
    }

    /// Loads the model folder at `options.precision` and computes its fingerprint.
    ///
    /// - Throws: `.embedding` when the folder does not load, `.io` when a file cannot be hashed.
    public static func load(folder: URL, options: Embedder.Options = .init()) throws(SearchEngineError) -> EmbeddingModel {
        let embedder: Embedder
        do { embedder = try Embedder(folder: folder, options: options) } catch { throw SearchEngineError(error) }
        let fingerprint = Self.fingerprint(
            try Self.fingerprint(folder: folder, pooling: embedder.pooling, precision: .fp32), recipe: embedder.recipe)
        let name = folder.standardizedFileURL.lastPathComponent
        return EmbeddingModel(
            id: id(name.isEmpty ? "model" : name, precision: embedder.precision), fingerprint: fingerprint, embedder: embedder)
    }

    /// The fingerprint of a model folder at `precision` without loading its weights (its
    /// configuration and pooling files are read): the fingerprint ``load(folder:options:)`` would give.
    ///
    /// - Throws: `.embedding` when the configuration does not load, `.io` when a file cannot be read.
    public static func fingerprint(folder: URL, precision: Precision = .fp32) throws(SearchEngineError) -> String {
        try fingerprint(folder: folder, pooling: try pooling(folder: folder), precision: precision)
    }

    /// The pooling settings of a model folder, read from its configuration files without loading
    /// the weights (a quick check that a folder is a model folder).
    ///
    /// - Throws: `.embedding` when the configuration does not load.
    public static func pooling(folder: URL) throws(SearchEngineError) -> PoolingConfig {
        do {
            let config = try BertConfig(url: folder.appendingPathComponent("config.json"))
            return try PoolingConfig(folder: folder, maxPositions: config.maxPositions)
        } catch { throw SearchEngineError(error) }
    }

    /// Files that decide the vectors, hashed in this order when present.
    static let fingerprintFiles = [
        "model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
        "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
    ]

    /// The fingerprint of a model folder with `pooling` (the loaded embedder's) at `precision`:
    /// lets a caller that already loaded the folder (the HTTP server) wrap its embedder without
    /// loading the weights twice.
    ///
    /// - Throws: `.io` when a file cannot be read.
    public static func fingerprint(folder: URL, pooling: PoolingConfig, precision: Precision = .fp32) throws(SearchEngineError) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("quiver-model-fingerprint-v1\n".utf8))
        for name in fingerprintFiles {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            hasher.update(data: Data("\(name)\n".utf8))
            try FileDigest.update(&hasher, with: url)
        }
        hasher.update(data: Data("pooling=\(pooling.mode.rawValue) normalize=\(pooling.normalize) max=\(pooling.maxSequenceLength)\n".utf8))
        return fingerprint(FileDigest.hex(hasher.finalize()), precision: precision)
    }

}

/// The content hash that decides whether a document must be re-embedded: SHA-256 over the model
/// fingerprint, the title, the text and (bring-your-own) the vector's bytes, each length-prefixed.
/// Metadata is not part of it: a metadata change never costs an embedding.
enum ContentHash {
    static func compute(fingerprint: String, title: String?, text: String?, vector: [Float]?, chunking: Chunking = .off) -> [UInt8] {
        var hasher = SHA256()
        func field(_ bytes: some Collection<UInt8>, tag: UInt8) {
            var header = [tag]
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { header.append(contentsOf: $0) }
            hasher.update(data: header)
            hasher.update(data: Array(bytes))
        }
        field(fingerprint.utf8, tag: 1)
        if let title { field(title.utf8, tag: 2) }
        if let text { field(text.utf8, tag: 3) }
        if let vector {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(vector.count * 4)
            for x in vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            field(bytes, tag: 4)
        }
        // Passages are cut by the generation's setting: another setting, other vectors.
        if chunking.isOn, vector == nil { field("\(chunking.tokens)/\(chunking.overlap)".utf8, tag: 5) }
        return Array(hasher.finalize())
    }
}
