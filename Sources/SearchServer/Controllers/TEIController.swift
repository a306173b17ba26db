import Hummingbird

/// `POST /embed` and `POST /tokenize`, compatible with Hugging Face text-embeddings-inference.
///
/// `/embed` answers a JSON array of vectors. As in TEI, `truncate` defaults to `false`: an input
/// over the model's maximum length is a 413 `input_too_long`. `normalize` defaults to `true`;
/// `false` is accepted only when the model itself does not normalize (this server returns vectors
/// after the model's own pooling, and cannot undo a normalization the model folder asks for).
struct TEIController {
    let service: EmbeddingService
    let limits: ServerConfiguration.Limits

    struct EmbedRequest: Decodable {
        let inputs: TextInputs
        let truncate: Bool?
        let normalize: Bool?
        let dimensions: Int?
    }

    struct TokenizeRequest: Decodable {
        let inputs: TextInputs
        let addSpecialTokens: Bool?
        enum CodingKeys: String, CodingKey {
            case inputs
            case addSpecialTokens = "add_special_tokens"
        }
    }

    /// `/tokenize`'s answer: per input, its tokens as `{"id", "special"}` (TEI's shape, without
    /// text offsets), written with ``JSONWriter``.
    struct Tokens: JSONWritable, ResponseGenerator {
        let sequences: [[Int32]]
        let special: Bool

        /// Bytes of one token in the answer: `{"id":30521,"special":false},`.
        static let tokenBytes = 30

        func write(to json: inout JSONWriter) {
            json.beginArray()
            for ids in sequences {
                json.beginArray()
                for (position, id) in ids.enumerated() {
                    json.beginObject()
                    json.key("id")
                    json.integer(id)
                    json.key("special")
                    json.bool(special && (position == 0 || position == ids.count - 1))
                    json.endObject()
                }
                json.endArray()
            }
            json.endArray()
        }
    }

    func addRoutes(to group: RouterGroup<QuiverRequestContext>) {
        group.post("embed", use: embed)
        group.post("tokenize", use: tokenize)
    }

    /// `/embed`'s answer: one array of floats per input, written with ``JSONWriter``.
    struct Vectors: JSONWritable, ResponseGenerator {
        let vectors: [[Float]]

        func write(to json: inout JSONWriter) {
            json.beginArray()
            for vector in vectors { json.numbers(vector) }
            json.endArray()
        }
    }

    @Sendable func embed(_ request: Request, context: QuiverRequestContext) async throws -> Vectors {
        let body = try await JSONBody.decode(EmbedRequest.self, from: request, limit: limits.maxBodyBytes)
        try InputValidation.check(body.inputs, field: "inputs", limits: limits)
        let embedder = try service.embedder()
        try VectorPostprocessing.checkDimensions(body.dimensions, modelDimension: embedder.dimension)
        let normalize = body.normalize ?? true
        if !normalize, embedder.pooling.normalize {
            throw APIError.invalidRequest("normalize=false is not supported: this model normalizes its embeddings")
        }
        let sequences = try service.sequences(for: body.inputs, truncate: body.truncate ?? false)
        let vectors = try await service.embed(tokenized: sequences)
        return Vectors(
            vectors: vectors.map {
                VectorPostprocessing.apply($0, dimensions: body.dimensions, normalize: normalize)
            })
    }

    @Sendable func tokenize(_ request: Request, context: QuiverRequestContext) async throws -> Tokens {
        let body = try await JSONBody.decode(TokenizeRequest.self, from: request, limit: limits.maxBodyBytes)
        try InputValidation.check(body.inputs, field: "inputs", limits: limits)
        guard case .texts(let texts, _) = body.inputs else {
            throw APIError.invalidRequest("inputs must be a string or an array of strings")
        }
        let embedder = try service.embedder()
        let tokenizer = embedder.tokenizer
        let special = body.addSpecialTokens ?? true
        // Not truncated: every text is within max_text_bytes, and a token covers at least one byte.
        let maxLength = limits.maxTextBytes.addingReportingOverflow(2).overflow ? Int.max : limits.maxTextBytes + 2
        var sequences: [[Int32]] = []
        sequences.reserveCapacity(texts.count)
        var tokens = 0
        for text in texts {
            var ids = tokenizer.encode(text, maxLength: maxLength)
            if !special { ids = Array(ids.dropFirst().dropLast()) }
            tokens += ids.count
            sequences.append(ids)
        }
        // The ids take 4 bytes a token; their JSON ~30: checked before the answer is written.
        let bytes = tokens.multipliedReportingOverflow(by: Tokens.tokenBytes)
        if bytes.overflow || bytes.partialValue > limits.maxResponseBytes {
            throw APIError.limitExceeded(
                limit: "max_response_bytes (\(tokens) tokens)", value: bytes.overflow ? .max : bytes.partialValue,
                allowed: limits.maxResponseBytes)
        }
        return Tokens(sequences: sequences, special: special)
    }
}
