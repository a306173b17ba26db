import Foundation
import QuiverTestSupport

@testable import SearchEngine

/// A tiny BERT folder (hidden size 8, one layer, 24 words) with seeded random weights: a real
/// model for the engine — it tokenizes, embeds and has a fingerprint — that loads and runs in
/// microseconds. Two seeds give two different models of the same size.
enum TinyModel {
    static let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
        "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau",
    ]
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words

    /// Writes the folder and loads it.
    static func make(seed: UInt64, in parent: URL) throws -> EmbeddingModel {
        let folder = parent.appendingPathComponent("tiny-\(seed)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let h = 8
        let inner = 16
        let v = vocabulary.count
        let p = 32
        let config: [String: Any] = [
            "model_type": "bert", "hidden_size": h, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": inner, "max_position_embeddings": p, "vocab_size": v, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        try vocabulary.joined(separator: "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try JSONSerialization.data(withJSONObject: ["do_lower_case": true])
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        var random = SeededVectors(seed: seed)
        var tensors: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [v, h]), ("embeddings.position_embeddings.weight", [p, h]),
            ("embeddings.token_type_embeddings.weight", [2, h]),
            ("embeddings.LayerNorm.weight", [h]), ("embeddings.LayerNorm.bias", [h]),
        ]
        let prefix = "encoder.layer.0."
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            tensors += [(prefix + name + ".weight", [h, h]), (prefix + name + ".bias", [h])]
        }
        tensors += [
            (prefix + "intermediate.dense.weight", [inner, h]), (prefix + "intermediate.dense.bias", [inner]),
            (prefix + "output.dense.weight", [h, inner]), (prefix + "output.dense.bias", [h]),
        ]
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            tensors += [(prefix + norm + ".weight", [h]), (prefix + norm + ".bias", [h])]
        }
        var header: [String: Any] = [:]
        var data = Data()
        for (name, shape) in tensors {
            let count = shape.reduce(1, *)
            var values = random.vector(count).map { $0 * 0.5 }
            if name.hasSuffix("LayerNorm.weight") { values = values.map { $0 + 1 } }
            let begin = data.count
            for x in values { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [begin, data.count]]
        }
        let json = try JSONSerialization.data(withJSONObject: header)
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(data)
        try file.write(to: folder.appendingPathComponent("model.safetensors"))
        return try EmbeddingModel.load(folder: folder)
    }

    /// A text of `count` words chosen by `n`'s digits: distinct n give distinct texts.
    static func text(_ n: Int, words count: Int = 6) -> String {
        var n = n
        var out: [String] = []
        for _ in 0..<count {
            out.append(words[n % words.count])
            n /= words.count
        }
        return out.joined(separator: " ")
    }
}
