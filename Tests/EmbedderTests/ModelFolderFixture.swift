import Foundation

@testable import Embedder

/// Builds small model folders on disk — valid ones with random weights, and broken ones — so the
/// loader's every error path can be exercised without the real model.
struct ModelFolderFixture {
    let url: URL
    var config: [String: Any] = [
        "model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "max_position_embeddings": 16, "vocab_size": 12, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    ]
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", ",", "!", "a", "b"]

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Every tensor of a BERT with `config`'s sizes, seeded random values.
    func tensors(seed: UInt64 = 7) -> [(name: String, shape: [Int], values: [Float])] {
        let h = config["hidden_size"] as? Int ?? 8
        let i = config["intermediate_size"] as? Int ?? 16
        let v = config["vocab_size"] as? Int ?? 12
        let p = config["max_position_embeddings"] as? Int ?? 16
        var state = seed
        func random(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 2000) / 2000 * 0.5
            }
        }
        var list: [(String, [Int], [Float])] = [
            ("embeddings.word_embeddings.weight", [v, h], random(v * h)),
            ("embeddings.position_embeddings.weight", [p, h], random(p * h)),
            ("embeddings.token_type_embeddings.weight", [2, h], random(2 * h)),
            ("embeddings.LayerNorm.weight", [h], random(h).map { $0 + 1 }),
            ("embeddings.LayerNorm.bias", [h], random(h)),
        ]
        let prefix = "encoder.layer.0."
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            list.append((prefix + name + ".weight", [h, h], random(h * h)))
            list.append((prefix + name + ".bias", [h], random(h)))
        }
        list.append((prefix + "intermediate.dense.weight", [i, h], random(i * h)))
        list.append((prefix + "intermediate.dense.bias", [i], random(i)))
        list.append((prefix + "output.dense.weight", [h, i], random(h * i)))
        list.append((prefix + "output.dense.bias", [h], random(h)))
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            list.append((prefix + norm + ".weight", [h], random(h).map { $0 + 1 }))
            list.append((prefix + norm + ".bias", [h], random(h)))
        }
        return list.map { (name: $0.0, shape: $0.1, values: $0.2) }
    }

    /// Writes config.json, vocab.txt, tokenizer_config.json and model.safetensors (dtype F32, F16 or BF16).
    func writeAll(dtype: String = "F32", tensors: [(name: String, shape: [Int], values: [Float])]? = nil) throws {
        try writeJSON("config.json", config)
        try Self.vocabulary.joined(separator: "\n").write(to: url.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try writeJSON("tokenizer_config.json", ["do_lower_case": true, "tokenize_chinese_chars": true])
        try Self.safetensors(tensors ?? self.tensors(), dtype: dtype).write(to: url.appendingPathComponent("model.safetensors"))
    }

    func writeJSON(_ name: String, _ object: Any) throws {
        try JSONSerialization.data(withJSONObject: object).write(to: url.appendingPathComponent(name))
    }

    /// A safetensors file: 8-byte length, JSON header, data.
    static func safetensors(_ tensors: [(name: String, shape: [Int], values: [Float])], dtype: String) -> Data {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data = Data()
        for tensor in tensors {
            let begin = data.count
            for value in tensor.values {
                switch dtype {
                case "F16": withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { data.append(contentsOf: $0) }
                case "BF16": withUnsafeBytes(of: UInt16(value.bitPattern >> 16).littleEndian) { data.append(contentsOf: $0) }
                default: withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
                }
            }
            header[tensor.name] = ["dtype": dtype, "shape": tensor.shape, "data_offsets": [begin, data.count]]
        }
        return withHeader(header, data: data)
    }

    static func withHeader(_ header: [String: Any], data: Data) -> Data {
        let json = (try? JSONSerialization.data(withJSONObject: header)) ?? Data()
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(data)
        return file
    }
}
