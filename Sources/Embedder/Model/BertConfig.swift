import Foundation

/// The architecture hyper-parameters of a BERT-family encoder, from a model folder's `config.json`.
public struct BertConfig: Sendable, Equatable {
    /// Width of every token vector (384 for all-MiniLM-L6-v2).
    public var hiddenSize: Int
    /// Number of transformer layers.
    public var layerCount: Int
    /// Attention heads per layer; must divide `hiddenSize`.
    public var headCount: Int
    /// Width of the feed-forward layer.
    public var intermediateSize: Int
    /// Epsilon of every LayerNorm.
    public var layerNormEps: Float
    /// Number of learned position embeddings (the hard limit on sequence length).
    public var maxPositions: Int
    /// Rows of the word-embedding table.
    public var vocabularySize: Int
    /// Rows of the token-type table.
    public var typeVocabularySize: Int

    /// Width of one attention head.
    public var headSize: Int { hiddenSize / headCount }

    /// Model types whose weights follow BERT's layout (`embeddings.*`, `encoder.layer.N.*`).
    static let supportedModelTypes: Set<String> = ["bert"]

    /// Reads and validates `config.json`.
    public init(url: URL) throws(EmbedderError) {
        let file = try JSONFile(url: url)
        let modelType = try file.string("model_type") ?? "bert"
        guard Self.supportedModelTypes.contains(modelType) else {
            throw .unsupportedArchitecture(path: file.path, found: "model_type \"\(modelType)\"")
        }
        let activation = try file.string("hidden_act") ?? "gelu"
        guard activation == "gelu" else {
            throw .unsupportedArchitecture(path: file.path, found: "hidden_act \"\(activation)\" (supported: gelu)")
        }
        let positionType = try file.string("position_embedding_type") ?? "absolute"
        guard positionType == "absolute" else {
            throw .unsupportedArchitecture(path: file.path, found: "position_embedding_type \"\(positionType)\"")
        }
        hiddenSize = try file.requiredInt("hidden_size", in: 1...65_536)
        layerCount = try file.requiredInt("num_hidden_layers", in: 1...1_024)
        headCount = try file.requiredInt("num_attention_heads", in: 1...1_024)
        intermediateSize = try file.requiredInt("intermediate_size", in: 1...1_048_576)
        maxPositions = try file.requiredInt("max_position_embeddings", in: 2...1_048_576)
        vocabularySize = try file.requiredInt("vocab_size", in: 1...10_000_000)
        typeVocabularySize = try file.int("type_vocab_size", in: 1...1_024) ?? 2
        let eps = try file.double("layer_norm_eps") ?? 1e-12
        guard eps > 0, eps < 1 else {
            throw .invalidConfiguration(path: file.path, reason: "layer_norm_eps must be in (0, 1), found \(eps)")
        }
        layerNormEps = Float(eps)
        guard hiddenSize % headCount == 0 else {
            throw .invalidConfiguration(
                path: file.path, reason: "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(headCount)")
        }
    }
}
