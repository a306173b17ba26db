import Foundation

/// A BERT encoder's weights, loaded from a safetensors file and laid out for the forward pass.
///
/// Ported from the structure of Hugging Face `modeling_bert.py` (`BertEmbeddings`,
/// `BertSelfAttention`, `BertSelfOutput`, `BertIntermediate`, `BertOutput`): the same tensors,
/// with Q, K and V fused into one `[3·hidden, hidden]` matrix so one GEMM projects all three.
final class BertModel: Sendable {
    /// The token, position and type embeddings and their LayerNorm.
    struct Embeddings: Sendable {
        let word: Tensor, position: Tensor, tokenType: Tensor
        let normWeight: Tensor, normBias: Tensor
    }

    /// One transformer layer.
    struct Layer: Sendable {
        /// `[3H, H]`: rows 0..<H project queries, H..<2H keys, 2H..<3H values.
        let qkvWeight: Tensor, qkvBias: Tensor
        let attentionOutWeight: Tensor, attentionOutBias: Tensor
        let attentionNormWeight: Tensor, attentionNormBias: Tensor
        let intermediateWeight: Tensor, intermediateBias: Tensor
        let outputWeight: Tensor, outputBias: Tensor
        let outputNormWeight: Tensor, outputNormBias: Tensor
    }

    let config: BertConfig
    let embeddings: Embeddings
    let layers: [Layer]

    /// Loads every tensor the configuration implies, checking names and shapes. Accepts both the
    /// bare layout (`embeddings.…`) and the one saved from `BertForXxx` heads (`bert.embeddings.…`).
    init(weights file: SafeTensorsFile, config: BertConfig) throws(EmbedderError) {
        self.config = config
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let h = config.hiddenSize, i = config.intermediateSize
        func load(_ name: String, _ shape: [Int]) throws(EmbedderError) -> [Float] {
            try file.floats(prefix + name, shape: shape)
        }
        func tensor(_ name: String, _ shape: [Int]) throws(EmbedderError) -> Tensor {
            Tensor(try load(name, shape))
        }
        embeddings = Embeddings(
            word: try tensor("embeddings.word_embeddings.weight", [config.vocabularySize, h]),
            position: try tensor("embeddings.position_embeddings.weight", [config.maxPositions, h]),
            tokenType: try tensor("embeddings.token_type_embeddings.weight", [config.typeVocabularySize, h]),
            normWeight: try tensor("embeddings.LayerNorm.weight", [h]),
            normBias: try tensor("embeddings.LayerNorm.bias", [h]))
        var layers: [Layer] = []
        for n in 0..<config.layerCount {
            let p = "encoder.layer.\(n)."
            let qkvWeight = Tensor(concatenating: [
                try load(p + "attention.self.query.weight", [h, h]),
                try load(p + "attention.self.key.weight", [h, h]),
                try load(p + "attention.self.value.weight", [h, h]),
            ])
            let qkvBias = Tensor(concatenating: [
                try load(p + "attention.self.query.bias", [h]),
                try load(p + "attention.self.key.bias", [h]),
                try load(p + "attention.self.value.bias", [h]),
            ])
            layers.append(Layer(
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                attentionOutWeight: try tensor(p + "attention.output.dense.weight", [h, h]),
                attentionOutBias: try tensor(p + "attention.output.dense.bias", [h]),
                attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try tensor(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try tensor(p + "intermediate.dense.bias", [i]),
                outputWeight: try tensor(p + "output.dense.weight", [h, i]),
                outputBias: try tensor(p + "output.dense.bias", [h]),
                outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try tensor(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
    }
}
