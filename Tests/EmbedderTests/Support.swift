import Foundation
import QuiverTestSupport
import Testing

@testable import Embedder

/// The default model for tests (`TestPaths.modelFolder`).
enum TestModel {
    static let folder = TestPaths.modelFolder

    /// The default model, loaded once for the whole test run. A missing model is a test failure
    /// (run `make setup`), not a skip.
    static let shared: Result<Embedder, EmbedderError> = Result { () throws(EmbedderError) in
        try Embedder(folder: folder)
    }

    static func embedder() throws -> Embedder {
        try shared.get()
    }
}

/// The golden outputs of sentence-transformers (see Fixtures/README.md).
enum Golden {
    struct TokenCase: Decodable {
        let text: String
        let ids: [Int32]
    }
    struct EmbeddingCase: Decodable {
        let text: String
        let nTokens: Int
        let embedding: [Float]
        enum CodingKeys: String, CodingKey {
            case text, embedding
            case nTokens = "n_tokens"
        }
    }

    static func lines<T: Decodable>(_ name: String, as type: T.Type) throws -> [T] {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "jsonl") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: name])
        }
        let decoder = JSONDecoder()
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try decoder.decode(T.self, from: Data($0.utf8))
        }
    }

    static let tokens: [TokenCase] = (try? lines("minilm-tokens", as: TokenCase.self)) ?? []
    static let embeddings: [EmbeddingCase] = (try? lines("minilm-embeddings", as: EmbeddingCase.self)) ?? []
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
