import Foundation
import Testing

@testable import Embedder

/// Every way a model folder can be wrong ends in a clear `EmbedderError` naming the file, never a crash.
@Suite("Model folder loading and its errors")
struct ModelLoadingTests {
    private func load(_ fixture: ModelFolderFixture) -> Result<Embedder, EmbedderError> {
        Result { () throws(EmbedderError) in try Embedder(folder: fixture.url) }
    }

    private func expectError(
        _ fixture: ModelFolderFixture, _ matches: (EmbedderError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        switch load(fixture) {
        case .success: Issue.record("loaded a broken folder", sourceLocation: sourceLocation)
        case .failure(let error): #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a valid small folder loads and embeds; F16 and BF16 weights convert on load")
    func validFolderAllDTypes() throws {
        var outputs: [String: [Float]] = [:]
        for dtype in ["F32", "F16", "BF16"] {
            let fixture = try ModelFolderFixture()
            defer { fixture.remove() }
            // Round weights through bf16 first so all three files hold the same values exactly.
            let tensors = fixture.tensors().map { t in
                (name: t.name, shape: t.shape, values: t.values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
            }
            try fixture.writeAll(dtype: dtype, tensors: tensors)
            let embedder = try load(fixture).get()
            #expect(embedder.dimension == 8)
            outputs[dtype] = try embedder.embed(tokenized: [[2, 5, 6, 3]])[0]
        }
        let f32 = try #require(outputs["F32"])
        #expect(f32.count == 8)
        #expect(maxAbsDiff(f32, try #require(outputs["F16"])) < 1e-3)
        #expect(outputs["F32"] == outputs["BF16"])
    }

    @Test("a missing folder or config.json is named")
    func missingFiles() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        expectError(fixture) { $0 == .missingFile(path: fixture.url.appendingPathComponent("config.json").path) }
        fixture.remove()
        expectError(fixture) { $0 == .missingFile(path: fixture.url.path) }
    }

    @Test("a missing model.safetensors is named")
    func missingWeights() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        try FileManager.default.removeItem(at: fixture.url.appendingPathComponent("model.safetensors"))
        expectError(fixture) { $0 == .missingFile(path: fixture.url.appendingPathComponent("model.safetensors").path) }
    }

    @Test("unsupported architectures and bad hyper-parameters")
    func badConfig() throws {
        var fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        fixture.config["model_type"] = "gpt2"
        try fixture.writeAll()
        expectError(fixture) { if case .unsupportedArchitecture = $0 { true } else { false } }
        fixture.config["model_type"] = "bert"
        fixture.config["num_attention_heads"] = 3
        try fixture.writeAll()
        expectError(fixture) { if case .invalidConfiguration(_, let reason) = $0 { reason.contains("divisible") } else { false } }
        fixture.config["num_attention_heads"] = 2
        fixture.config["hidden_size"] = "eight"
        try fixture.writeAll()
        expectError(fixture) { if case .invalidConfiguration(_, let reason) = $0 { reason.contains("hidden_size") } else { false } }
        try Data("{not json".utf8).write(to: fixture.url.appendingPathComponent("config.json"))
        expectError(fixture) { if case .malformedFile(let path, _) = $0 { path.hasSuffix("config.json") } else { false } }
    }

    @Test(
        "truncated, malformed or out-of-bounds safetensors are rejected",
        arguments: [
            "truncated", "short", "header-not-json", "header-past-end", "offsets-outside", "shape-disagrees", "header-not-object",
        ])
    func brokenSafetensors(kind: String) throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        let path = fixture.url.appendingPathComponent("model.safetensors")
        let good = try Data(contentsOf: path)
        let broken: Data
        switch kind {
        case "truncated": broken = good.prefix(good.count / 2)
        case "short": broken = good.prefix(5)
        case "header-not-json": broken = ModelFolderFixture.withHeader([:], data: Data()).prefix(8) + Data("{{{{".utf8)
        case "header-past-end":
            var data = good
            data.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
            broken = data
        case "offsets-outside":
            broken = ModelFolderFixture.withHeader(
                ["embeddings.word_embeddings.weight": ["dtype": "F32", "shape": [12, 8], "data_offsets": [0, 384]]],
                data: Data(count: 16))
        case "shape-disagrees":
            broken = ModelFolderFixture.withHeader(
                ["embeddings.word_embeddings.weight": ["dtype": "F32", "shape": [12, 8], "data_offsets": [0, 16]]],
                data: Data(count: 16))
        default: broken = ModelFolderFixture.withHeader([:], data: Data()).prefix(8) + Data("[1,2]".utf8)
        }
        // Fix up the declared header length for the hand-built ones.
        var file = broken
        if kind == "header-not-json" || kind == "header-not-object" {
            let length = UInt64(file.count - 8)
            file.replaceSubrange(0..<8, with: withUnsafeBytes(of: length.littleEndian) { Data($0) })
        }
        try file.write(to: path)
        expectError(fixture) { if case .malformedFile(let p, _) = $0 { p == path.path } else { false } }
    }

    @Test("a missing tensor, a wrong shape and an unsupported dtype are named")
    func badTensors() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        var tensors = fixture.tensors()
        tensors.removeAll { $0.name == "encoder.layer.0.output.dense.bias" }
        try fixture.writeAll(tensors: tensors)
        expectError(fixture) { $0 == .missingTensor(name: "encoder.layer.0.output.dense.bias") }

        tensors = fixture.tensors().map { t in
            t.name == "encoder.layer.0.intermediate.dense.weight" ? (name: t.name, shape: [8, 16], values: t.values) : t
        }
        try fixture.writeAll(tensors: tensors)
        expectError(fixture) {
            $0 == .tensorShapeMismatch(name: "encoder.layer.0.intermediate.dense.weight", expected: [16, 8], actual: [8, 16])
        }

        let path = fixture.url.appendingPathComponent("model.safetensors")
        try fixture.writeAll()
        var header: [String: Any] = [:]
        var data = Data()
        for t in fixture.tensors() {
            let begin = data.count
            let dtype = t.name.hasSuffix("word_embeddings.weight") ? "F64" : "F32"
            for value in t.values {
                if dtype == "F64" {
                    withUnsafeBytes(of: Double(value).bitPattern.littleEndian) { data.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
                }
            }
            header[t.name] = ["dtype": dtype, "shape": t.shape, "data_offsets": [begin, data.count]]
        }
        try ModelFolderFixture.withHeader(header, data: data).write(to: path)
        expectError(fixture) { $0 == .unsupportedDType(tensor: "embeddings.word_embeddings.weight", dtype: "F64") }
    }

    @Test("bad encode input is an error, not a crash")
    func badInput() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        let embedder = try load(fixture).get()
        #expect(throws: EmbedderError.self) { try embedder.embed(tokenized: [[]]) }
        #expect(throws: EmbedderError.self) { try embedder.embed(tokenized: [[2, 99, 3]]) }
        #expect(throws: EmbedderError.self) { try embedder.embed(tokenized: [[2, -1, 3]]) }
        #expect(throws: EmbedderError.self) { try embedder.embed(tokenized: [Array(repeating: 5, count: 17)]) }
        #expect(try embedder.embed(tokenized: []).isEmpty)
    }
}
