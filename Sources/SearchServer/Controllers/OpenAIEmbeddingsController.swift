import Hummingbird

/// `POST /v1/embeddings`, compatible with OpenAI's embeddings API.
///
/// `input` is a string, an array of strings, or token id arrays (this model's vocabulary);
/// `encoding_format` is `float` (default) or `base64` (little-endian float32); `dimensions` keeps
/// the first components and re-normalizes. Inputs longer than the model's maximum are truncated, as
/// the model would see them anyway. `model` is accepted whatever it names: this server serves one
/// model, reported back in `model`.
struct OpenAIEmbeddingsController {
    let service: EmbeddingService
    let limits: ServerConfiguration.Limits

    struct CreateRequest: Decodable {
        let input: TextInputs
        let model: String?
        let encodingFormat: String?
        let dimensions: Int?
        let user: String?

        enum CodingKeys: String, CodingKey {
            case input, model, dimensions, user
            case encodingFormat = "encoding_format"
        }
    }

    /// The answer; `Encodable` for tests, written with ``JSONWriter`` when served.
    struct CreateResponse: Encodable, JSONWritable, ResponseGenerator {
        struct Item: Encodable {
            let object = "embedding"
            let index: Int
            let embedding: Embedding
        }
        enum Embedding: Encodable {
            case floats([Float])
            case base64(String)

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .floats(let values): try container.encode(values)
                case .base64(let text): try container.encode(text)
                }
            }
        }
        struct Usage: Encodable {
            let promptTokens: Int
            let totalTokens: Int
            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case totalTokens = "total_tokens"
            }
        }
        let object = "list"
        let data: [Item]
        let model: String
        let usage: Usage

        func write(to json: inout JSONWriter) {
            json.beginObject()
            json.key("object")
            json.string(object)
            json.key("data")
            json.beginArray()
            for item in data {
                json.beginObject()
                json.key("object")
                json.string(item.object)
                json.key("index")
                json.integer(item.index)
                json.key("embedding")
                switch item.embedding {
                case .floats(let values): json.numbers(values)
                case .base64(let text): json.string(text)
                }
                json.endObject()
            }
            json.endArray()
            json.key("model")
            json.string(model)
            json.key("usage")
            json.beginObject()
            json.key("prompt_tokens")
            json.integer(usage.promptTokens)
            json.key("total_tokens")
            json.integer(usage.totalTokens)
            json.endObject()
            json.endObject()
        }
    }

    func addRoutes(to group: RouterGroup<QuiverRequestContext>) {
        group.post("v1/embeddings", use: create)
    }

    @Sendable func create(_ request: Request, context: QuiverRequestContext) async throws -> CreateResponse {
        let body = try await JSONBody.decode(CreateRequest.self, from: request, limit: limits.maxBodyBytes)
        try InputValidation.check(body.input, field: "input", limits: limits)
        let base64: Bool
        switch body.encodingFormat ?? "float" {
        case "float": base64 = false
        case "base64": base64 = true
        case let other: throw APIError.invalidRequest("encoding_format must be 'float' or 'base64' (got '\(other)')")
        }
        let embedder = try service.embedder()
        try VectorPostprocessing.checkDimensions(body.dimensions, modelDimension: embedder.dimension)
        let sequences = try service.sequences(for: body.input, truncate: true)
        let vectors = try await service.embed(tokenized: sequences)
        var tokens = 0
        for sequence in sequences { tokens += sequence.count }
        let items = vectors.enumerated().map { index, vector in
            let output = VectorPostprocessing.apply(vector, dimensions: body.dimensions, normalize: body.dimensions != nil)
            return CreateResponse.Item(index: index, embedding: base64 ? .base64(VectorPostprocessing.base64(output)) : .floats(output))
        }
        return CreateResponse(data: items, model: service.modelID, usage: .init(promptTokens: tokens, totalTokens: tokens))
    }
}
