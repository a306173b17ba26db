import Foundation
import Testing
import VectorMath

@testable import Embedder

/// The bf16 encoder's quality gates (issue 17) against fp32 and against sentence-transformers.
@Suite("Reduced precision: bf16 against fp32")
struct PrecisionTests {
    static let bf16: Result<Embedder, EmbedderError> = Result { () throws(EmbedderError) in
        try Embedder(folder: TestModel.folder, options: .init(precision: .bf16))
    }

    /// At least 2,000 real texts of mixed length: the fixtures' 117 edge cases (non-English
    /// scripts, emoji, control characters, URLs, code, numbers, very long inputs) and 1,800
    /// docstrings of Python's standard library, plus 120 runs of six docstrings each, long
    /// enough that the model truncates them at 256 tokens, and 200 pairs of docstrings.
    static let texts: [String] = {
        var seen = Set<String>()
        var texts: [String] = []
        for text in Golden.tokens.map(\.text) + Golden.embeddings.map(\.text) where seen.insert(text).inserted {
            texts.append(text)
        }
        let docstrings = texts.filter { $0.count > 200 }
        for start in stride(from: 0, to: min(docstrings.count - 6, 720), by: 6) {
            texts.append(docstrings[start..<(start + 6)].joined(separator: "\n\n"))
        }
        for start in stride(from: 1, to: min(docstrings.count - 2, 801), by: 4) {
            texts.append(docstrings[start..<(start + 2)].joined(separator: "\n\n"))
        }
        return texts
    }()

    static func summary(_ cosines: [Double]) -> (min: Double, mean: Double) {
        (cosines.min() ?? 0, cosines.reduce(0, +) / Double(max(1, cosines.count)))
    }

    @Test("≥ 2,000 real texts: cosine vs fp32 min ≥ 0.999, mean ≥ 0.9998; the long ones are truncated")
    func againstFP32() throws {
        let fp32 = try TestModel.embedder()
        let bf16 = try Self.bf16.get()
        #expect(bf16.precision == .bf16)
        let texts = Self.texts
        #expect(texts.count >= 2000)
        #expect(texts.filter { fp32.tokenize($0).count == fp32.pooling.maxSequenceLength }.count >= 100)
        let exact = try fp32.embed(texts)
        let reduced = try bf16.embed(texts)
        let cosines = zip(exact, reduced).map { cosine($0, $1) }
        let (worst, mean) = Self.summary(cosines)
        let worstText = texts[cosines.firstIndex(of: worst) ?? 0]
        print("bf16 vs fp32: \(texts.count) texts, min cosine \(worst), mean \(mean); worst: \(worstText.prefix(60).debugDescription)")
        #expect(worst >= 0.999)
        #expect(mean >= 0.9998)
        // Reduced precision really is in use: not one vector is bit-identical to fp32's
        // (the empty string's and other short inputs' included, since every layer rounds).
        #expect(zip(exact, reduced).filter { $0 == $1 }.count < texts.count / 100)
    }

    @Test("the 417 golden embeddings of sentence-transformers: cosine min ≥ 0.999, mean ≥ 0.9998")
    func againstReference() throws {
        let bf16 = try Self.bf16.get()
        let cases = Golden.embeddings
        #expect(cases.count == 417)
        let vectors = try bf16.embed(cases.map(\.text))
        let (worst, mean) = Self.summary(zip(cases, vectors).map { cosine($0.embedding, $1) })
        print("bf16 vs sentence-transformers: \(cases.count) texts, min cosine \(worst), mean \(mean)")
        #expect(worst >= 0.999)
        #expect(mean >= 0.9998)
    }

    @Test("a text embedded alone and inside a batch of 32 agrees to cosine ≥ 0.999999")
    func aloneAndInBatch() throws {
        let bf16 = try Self.bf16.get()
        let texts = Array(Self.texts.prefix(400))
        var worst = 1.0
        for start in stride(from: 0, to: texts.count, by: 32) {
            let batch = Array(texts[start..<min(texts.count, start + 32)])
            let together = try bf16.embed(batch)
            for index in [0, batch.count / 2, batch.count - 1] {
                let alone = try bf16.embed([batch[index]])
                worst = min(worst, cosine(alone[0], together[index]))
            }
        }
        print("bf16 alone vs in a batch of 32: worst cosine \(worst)")
        #expect(worst >= 0.999999)
    }
}
