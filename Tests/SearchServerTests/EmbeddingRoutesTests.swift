import Embedder
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VectorMath

@testable import SearchServer

@Suite("Embedding routes")
struct EmbeddingRoutesTests {
    static let texts = ["how do I reset my password", "billing address change", "Export my data to CSV, please!"]

    @Test("POST /v1/embeddings: string and array input, float vectors equal to the embedder's, usage counts tokens")
    func openAIFloat() async throws {
        let embedder = try TestModel.embedder()
        let expected = try embedder.embed(Self.texts)
        let tokens = Self.texts.map { embedder.tokenize($0).count }
        try await makeApp().test(.router) { client in
            let single = try await client.post(
                "/v1/embeddings", json: #"{"input": "how do I reset my password", "model": "text-embedding-3-small"}"#)
            #expect(single.status == .ok)
            let one = try single.decode(OpenAIResponse.self)
            #expect(one.object == "list" && one.model == "all-MiniLM-L6-v2")
            #expect(one.data.count == 1 && one.data[0].object == "embedding" && one.data[0].index == 0)
            #expect(maxAbsDiff(one.data[0].embedding.floats ?? [], expected[0]) <= 1e-5)
            #expect(one.usage.promptTokens == tokens[0] && one.usage.totalTokens == tokens[0])

            let body = try String(decoding: JSONEncoder().encode(["input": Self.texts]), as: UTF8.self)
            let many = try await client.post("/v1/embeddings", json: body).decode(OpenAIResponse.self)
            #expect(many.data.map(\.index) == [0, 1, 2])
            for (item, vector) in zip(many.data, expected) {
                #expect(maxAbsDiff(item.embedding.floats ?? [], vector) <= 1e-5)
            }
            #expect(many.usage.promptTokens == tokens.reduce(0, +))
        }
    }

    @Test(
        "a bf16 or int8 server: /v1/info and every response's model say so, the vectors are that encoder's, a metric labels it",
        arguments: [Precision.bf16, .int8])
    func reducedPrecisionServer(_ precision: Precision) async throws {
        let reduced = try Embedder(folder: TestModel.folder, options: .init(precision: precision))
        let id = "all-MiniLM-L6-v2@\(precision)"
        let exact = try TestModel.embedder().embed(Self.texts)
        let expected = try reduced.embed(Self.texts)
        var configuration = ServerConfiguration(port: 0, modelFolder: TestModel.folder, precision: precision)
        configuration.batching.coalesce = false
        let app = try buildApplication(configuration: configuration, embedder: reduced, logger: testLogger)
        try await app.test(.router) { client in
            let info = try await client.get("/v1/info")
            let json = try JSONSerialization.jsonObject(with: Data(info.body.readableBytesView)) as? [String: Any]
            let model = json?["model"] as? [String: Any]
            #expect(model?["id"] as? String == id && model?["precision"] as? String == precision.rawValue, "\(info.text)")
            let kernels = json?["kernels"] as? [String: Any]
            #expect(kernels?["bf16"] as? String == Kernels.bf16.rawValue)
            #expect(kernels?["int8"] as? String == (Precision.int8.isNative ? "vpdpbusd" : "avx2"))
            let body = try String(decoding: JSONEncoder().encode(["input": Self.texts]), as: UTF8.self)
            let answer = try await client.post("/v1/embeddings", json: body).decode(OpenAIResponse.self)
            #expect(answer.model == id)
            for (index, item) in answer.data.enumerated() {
                let vector = item.embedding.floats ?? []
                #expect(maxAbsDiff(vector, expected[index]) <= 1e-6)
                #expect(maxAbsDiff(vector, exact[index]) > 1e-5, "input \(index) got the fp32 vector")
            }
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"quiver_model_info{model="\#(id)",precision="\#(precision)"} 1"#), "\(metrics.prefix(2000))")
        }
        // An explicit id gets the suffix too, once.
        #expect(ServerConfiguration(modelID: "minilm", precision: .bf16).modelID == "minilm@bf16")
        #expect(ServerConfiguration(modelID: "minilm@bf16", precision: .bf16).modelID == "minilm@bf16")
        #expect(ServerConfiguration(modelID: "minilm", precision: .int8).modelID == "minilm@int8")
        #expect(ServerConfiguration(modelID: "minilm").modelID == "minilm")
    }

    @Test("POST /v1/embeddings: base64 is little-endian float32; dimensions truncates and re-normalizes")
    func openAIBase64AndDimensions() async throws {
        let embedder = try TestModel.embedder()
        let full = try embedder.embed("billing address change")
        try await makeApp().test(.router) { client in
            let encoded = try await client.post(
                "/v1/embeddings", json: #"{"input": ["billing address change"], "encoding_format": "base64"}"#)
            #expect(encoded.status == .ok)
            let vector = try encoded.decode(OpenAIResponse.self).data[0].embedding
            guard case .base64 = vector else {
                Issue.record("expected a base64 string")
                return
            }
            #expect(maxAbsDiff(vector.floats ?? [], full) <= 1e-5)

            let truncated = try await client.post("/v1/embeddings", json: #"{"input": "billing address change", "dimensions": 64}"#)
            let short = try truncated.decode(OpenAIResponse.self).data[0].embedding.floats ?? []
            #expect(short.count == 64)
            #expect(abs(norm(short) - 1) <= 1e-5)
            let prefix = Array(full.prefix(64))
            let scale = 1 / norm(prefix)
            #expect(maxAbsDiff(short, prefix.map { $0 * scale }) <= 1e-5)
        }
    }

    @Test("POST /v1/embeddings: token id arrays embed like the text they encode; over-long input is truncated")
    func openAITokensAndTruncation() async throws {
        let embedder = try TestModel.embedder()
        let ids = embedder.tokenize("billing address change")
        let inner = ids.dropFirst().dropLast().map(String.init).joined(separator: ",")
        let expected = try embedder.embed("billing address change")
        let long = String(repeating: "password reset ", count: 400)
        try await makeApp().test(.router) { client in
            for json in [
                #"{"input": [\#(inner)]}"#, #"{"input": [[\#(inner)]]}"#,
                #"{"input": [[\#(ids.map(String.init).joined(separator: ","))]]}"#,
            ] {
                let response = try await client.post("/v1/embeddings", json: json)
                #expect(response.status == .ok, "\(response.text)")
                #expect(maxAbsDiff(try response.decode(OpenAIResponse.self).data[0].embedding.floats ?? [], expected) <= 1e-5)
            }
            let truncated = try await client.post("/v1/embeddings", json: #"{"input": "\#(long)"}"#)
            #expect(truncated.status == .ok)
            #expect(try truncated.decode(OpenAIResponse.self).usage.promptTokens == embedder.pooling.maxSequenceLength)
        }
    }

    @Test("POST /embed: TEI shape, equal vectors, truncate and normalize and dimensions")
    func teiEmbed() async throws {
        let embedder = try TestModel.embedder()
        let expected = try embedder.embed(Self.texts)
        let long = String(repeating: "password reset ", count: 400)
        try await makeApp().test(.router) { client in
            let one = try await client.post("/embed", json: #"{"inputs": "how do I reset my password"}"#)
            #expect(one.status == .ok)
            let single = try one.decode([[Float]].self)
            #expect(single.count == 1 && maxAbsDiff(single[0], expected[0]) <= 1e-5)

            let body = try String(decoding: JSONEncoder().encode(["inputs": Self.texts]), as: UTF8.self)
            let many = try await client.post("/embed", json: body).decode([[Float]].self)
            #expect(many.count == 3)
            for (vector, reference) in zip(many, expected) { #expect(maxAbsDiff(vector, reference) <= 1e-5) }

            let tooLong = try await client.post("/embed", json: #"{"inputs": "\#(long)"}"#)
            expectError(tooLong, .contentTooLarge, code: "input_too_long", messageContains: "truncate")
            let truncated = try await client.post("/embed", json: #"{"inputs": "\#(long)", "truncate": true}"#)
            #expect(truncated.status == .ok)

            let dims = try await client.post("/embed", json: #"{"inputs": ["a", "b"], "dimensions": 8}"#).decode([[Float]].self)
            #expect(dims.map(\.count) == [8, 8])
            #expect(dims.allSatisfy { abs(norm($0) - 1) <= 1e-5 })

            let normalized = try await client.post("/embed", json: #"{"inputs": "a", "normalize": true}"#)
            #expect(normalized.status == .ok)
            let unnormalized = try await client.post("/embed", json: #"{"inputs": "a", "normalize": false}"#)
            expectError(unnormalized, .unprocessableContent, code: "invalid_request", messageContains: "normalize")
        }
    }

    @Test("POST /tokenize: ids with [CLS]/[SEP] marked special, as the tokenizer; add_special_tokens=false drops them")
    func tokenize() async throws {
        let embedder = try TestModel.embedder()
        struct Token: Decodable {
            let id: Int32
            let special: Bool
        }
        try await makeApp().test(.router) { client in
            let response = try await client.post("/tokenize", json: #"{"inputs": ["hello world", "Reset PASSWORD?"]}"#)
            #expect(response.status == .ok)
            let tokens = try response.decode([[Token]].self)
            #expect(tokens.map { $0.map(\.id) } == [embedder.tokenize("hello world"), embedder.tokenize("Reset PASSWORD?")])
            #expect(tokens[0].map(\.special) == [true, false, false, true])
            let plain = try await client.post("/tokenize", json: #"{"inputs": "hello world", "add_special_tokens": false}"#)
            #expect(
                try plain.decode([[Token]].self).map { $0.map(\.id) } == [Array(embedder.tokenize("hello world").dropFirst().dropLast())])
            let notTruncated = try await client.post("/tokenize", json: #"{"inputs": "\#(String(repeating: "word ", count: 300))"}"#)
            #expect(try notTruncated.decode([[Token]].self)[0].count == 302)
        }
    }
}
