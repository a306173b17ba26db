import Foundation
import Testing

@testable import Embedder

@Suite("BERT forward pass vs sentence-transformers")
struct ForwardFidelityTests {
    @Test("golden token ids → golden embeddings (cosine ≥ 0.99999)")
    func goldenIDs() throws {
        let embedder = try TestModel.embedder()
        let idsByText = Dictionary(Golden.tokens.map { ($0.text, $0.ids) }, uniquingKeysWith: { a, _ in a })
        let cases = Golden.embeddings.filter { idsByText[$0.text] != nil }
        #expect(cases.count >= 100)
        let vectors = try embedder.embed(tokenized: cases.map { idsByText[$0.text] ?? [] })
        var worst = 1.0
        var worstDelta: Float = 0
        for (golden, vector) in zip(cases, vectors) {
            worst = min(worst, cosine(golden.embedding, vector))
            worstDelta = max(worstDelta, maxAbsDiff(golden.embedding, vector))
        }
        print("forward fidelity: \(cases.count) cases, worst cosine \(worst), max |Δ| \(worstDelta)")
        #expect(worst >= 0.99999)
    }
}

@Suite("End-to-end fidelity: text → embedding vs sentence-transformers")
struct EndToEndFidelityTests {
    @Test("all 417 golden embeddings, including the empty string and texts past 256 tokens (cosine ≥ 0.99999)")
    func allGoldenTexts() throws {
        let embedder = try TestModel.embedder()
        let cases = Golden.embeddings
        #expect(cases.count == 417)
        let vectors = try embedder.embed(cases.map(\.text))
        var worst = 1.0
        var worstDelta: Float = 0
        for (golden, vector) in zip(cases, vectors) {
            #expect(embedder.tokenize(golden.text).count == golden.nTokens, "token count of \(golden.text.prefix(40))")
            let c = cosine(golden.embedding, vector)
            #expect(c >= 0.99999, "cosine \(c) for \(golden.text.prefix(60))")
            worst = min(worst, c)
            worstDelta = max(worstDelta, maxAbsDiff(golden.embedding, vector))
        }
        print("end-to-end fidelity: \(cases.count) texts, worst cosine \(worst), max |Δ| \(worstDelta)")
        #expect(worstDelta < 1e-5)
    }
}
