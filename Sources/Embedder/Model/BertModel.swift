import Foundation
import VectorMath

/// A BERT encoder's weights, loaded from a safetensors file and laid out for the forward pass.
///
/// Ported from the structure of Hugging Face `modeling_bert.py` (`BertEmbeddings`,
/// `BertSelfAttention`, `BertSelfOutput`, `BertIntermediate`, `BertOutput`): the same tensors,
/// with Q, K and V fused into one `[3·hidden, hidden]` matrix so one GEMM projects all three, and
/// every dense layer's weight also kept packed for the small-pass GEMM (`PackedMatrix`; +42.5 MB
/// for all-MiniLM-L6-v2).
final class BertModel: Sendable {
    /// The token, position and type embeddings and their LayerNorm.
    struct Embeddings: Sendable {
        let word: Tensor, position: Tensor, tokenType: Tensor
        let normWeight: Tensor, normBias: Tensor
    }

    /// A dense layer `y = x·Wᵀ + b`: the weight `[outputs, inputs]` as stored (for OpenBLAS), the
    /// same weight packed once for the small-pass kernel (fp32), or rounded and packed as bf16
    /// (bf16: every pass runs on it), and the bias.
    struct Linear: Sendable {
        let weight: Tensor, bias: Tensor
        let packed: PackedMatrix?
        let packedBF16: PackedMatrixBF16?
        let packedInt8: PackedMatrixInt8?
        let outputs: Int, inputs: Int

        init(weight: Tensor, bias: Tensor, outputs: Int, inputs: Int, precision: Precision) {
            self.weight = weight
            self.bias = bias
            self.outputs = outputs
            self.inputs = inputs
            switch precision {
            case .fp32:
                packed = PackedMatrix(weight: weight.pointer, outputs: outputs, inputs: inputs)
                packedBF16 = nil
                packedInt8 = nil
            case .bf16:
                packed = nil
                packedBF16 = PackedMatrixBF16(weight: weight.pointer, outputs: outputs, inputs: inputs)
                packedInt8 = nil
            case .int8:
                packed = nil
                packedBF16 = nil
                packedInt8 = PackedMatrixInt8(weight: weight.pointer, outputs: outputs, inputs: inputs)
            }
        }

        /// Panels of 16 output columns.
        var panelCount: Int { (outputs + PackedMatrix.panelWidth - 1) / PackedMatrix.panelWidth }

        /// Bytes of the packed copy.
        var packedBytes: Int { packed?.byteCount ?? packedBF16?.byteCount ?? packedInt8?.byteCount ?? 0 }
    }

    /// One transformer layer.
    struct Layer: Sendable {
        /// `[3H, H]`: rows 0..<H project queries, H..<2H keys, 2H..<3H values.
        let qkv: Linear
        let attentionOut: Linear
        let attentionNormWeight: Tensor, attentionNormBias: Tensor
        let intermediate: Linear
        let output: Linear
        let outputNormWeight: Tensor, outputNormBias: Tensor
    }

    let config: BertConfig
    /// The dense layers' arithmetic.
    let precision: Precision
    let embeddings: Embeddings
    let layers: [Layer]

    /// Bytes of weights held in memory: every tensor (4 bytes an element) and every packed copy
    /// of a dense layer's weights.
    var weightBytes: Int {
        var elements = embeddings.word.count + embeddings.position.count + embeddings.tokenType.count
        elements += embeddings.normWeight.count + embeddings.normBias.count
        var packed = 0
        for layer in layers {
            for linear in [layer.qkv, layer.attentionOut, layer.intermediate, layer.output] {
                elements += linear.weight.count + linear.bias.count
                packed += linear.packedBytes
            }
            elements += layer.attentionNormWeight.count + layer.attentionNormBias.count
            elements += layer.outputNormWeight.count + layer.outputNormBias.count
        }
        return elements * 4 + packed
    }

    /// Loads every tensor the configuration implies, checking names and shapes. Accepts both the
    /// bare layout (`embeddings.…`) and the one saved from `BertForXxx` heads (`bert.embeddings.…`).
    /// Loads the weights. At ``Precision/int8`` the dense layers named in `int8InBF16`
    /// (``Embedder/DenseLayer`` names such as `5.output`) run in bf16 instead.
    init(
        weights file: SafeTensorsFile, config: BertConfig, precision: Precision = .fp32, int8InBF16: Set<String> = []
    ) throws(EmbedderError) {
        self.config = config
        self.precision = precision
        func layerPrecision(_ layer: Int, _ kind: Embedder.DenseLayer) -> Precision {
            precision == .int8 && int8InBF16.contains(Embedder.DenseLayer.name(layer: layer, kind)) ? .bf16 : precision
        }
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let h = config.hiddenSize
        let i = config.intermediateSize
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
            func linear(_ name: String, _ kind: Embedder.DenseLayer, outputs: Int, inputs: Int) throws(EmbedderError) -> Linear {
                Linear(
                    weight: try tensor(p + name + ".weight", [outputs, inputs]), bias: try tensor(p + name + ".bias", [outputs]),
                    outputs: outputs, inputs: inputs, precision: layerPrecision(n, kind))
            }
            layers.append(
                Layer(
                    qkv: Linear(weight: qkvWeight, bias: qkvBias, outputs: 3 * h, inputs: h, precision: layerPrecision(n, .qkv)),
                    attentionOut: try linear("attention.output.dense", .attentionOutput, outputs: h, inputs: h),
                    attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                    attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                    intermediate: try linear("intermediate.dense", .intermediate, outputs: i, inputs: h),
                    output: try linear("output.dense", .output, outputs: h, inputs: i),
                    outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
                    outputNormBias: try tensor(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
    }
}
