import Foundation
import Testing
import VectorMath

@testable import Embedder

/// The bf16 and int8 encoders' quality gates (issue 17) against fp32 and against
/// sentence-transformers.
@Suite("Reduced precision: bf16 and int8 against fp32")
struct PrecisionTests {
    static let bf16: Result<Embedder, EmbedderError> = Result { () throws(EmbedderError) in
        try Embedder(folder: TestModel.folder, options: .init(precision: .bf16))
    }
    /// At int8 with the calibrated layers (``Embedder/calibratedInt8InBF16``) kept in bf16.
    static let int8: Result<Embedder, EmbedderError> = Result { () throws(EmbedderError) in
        try Embedder(folder: TestModel.folder, options: .init(precision: .int8))
    }

    static func embedder(_ precision: Precision) throws -> Embedder {
        precision == .int8 ? try int8.get() : try bf16.get()
    }

    /// The gates: the least and the mean cosine a reduced precision must reach against
    /// fp32 (and against sentence-transformers' golden embeddings).
    static func gates(_ precision: Precision) -> (min: Double, mean: Double) {
        precision == .int8 ? (0.998, 0.9995) : (0.999, 0.9998)
    }

    /// fp32's vectors of ``texts``, computed once for both precisions.
    static let exact: Result<[[Float]], any Error> = Result { try TestModel.embedder().embed(texts) }

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

    @Test(
        "≥ 2,000 real texts: cosine vs fp32 (bf16 min ≥ 0.999, mean ≥ 0.9998; int8 min ≥ 0.998, mean ≥ 0.9995); the long ones are truncated",
        arguments: [Precision.bf16, .int8])
    func againstFP32(_ precision: Precision) throws {
        let fp32 = try TestModel.embedder()
        let model = try Self.embedder(precision)
        #expect(model.precision == precision)
        let texts = Self.texts
        #expect(texts.count >= 2000)
        #expect(texts.filter { fp32.tokenize($0).count == fp32.pooling.maxSequenceLength }.count >= 100)
        let exact = try Self.exact.get()
        let reduced = try model.embed(texts)
        let cosines = zip(exact, reduced).map { cosine($0, $1) }
        let (worst, mean) = Self.summary(cosines)
        let worstText = texts[cosines.firstIndex(of: worst) ?? 0]
        print(
            "\(precision) vs fp32: \(texts.count) texts, min cosine \(worst), mean \(mean); worst: \(worstText.prefix(60).debugDescription)"
        )
        let gate = Self.gates(precision)
        #expect(worst >= gate.min)
        #expect(mean >= gate.mean)
        // Reduced precision really is in use: not one vector is bit-identical to fp32's
        // (the empty string's and other short inputs' included, since every layer rounds).
        #expect(zip(exact, reduced).filter { $0 == $1 }.count < texts.count / 100)
    }

    @Test("the 417 golden embeddings of sentence-transformers: cosine at least the precision's gates", arguments: [Precision.bf16, .int8])
    func againstReference(_ precision: Precision) throws {
        let model = try Self.embedder(precision)
        let cases = Golden.embeddings
        #expect(cases.count == 417)
        let vectors = try model.embed(cases.map(\.text))
        let (worst, mean) = Self.summary(zip(cases, vectors).map { cosine($0.embedding, $1) })
        print("\(precision) vs sentence-transformers: \(cases.count) texts, min cosine \(worst), mean \(mean)")
        let gate = Self.gates(precision)
        #expect(worst >= gate.min)
        #expect(mean >= gate.mean)
    }

    @Test("a text embedded alone and inside a batch of 32 agrees to cosine ≥ 0.999999", arguments: [Precision.bf16, .int8])
    func aloneAndInBatch(_ precision: Precision) throws {
        let model = try Self.embedder(precision)
        let texts = Array(Self.texts.prefix(400))
        var worst = 1.0
        for start in stride(from: 0, to: texts.count, by: 32) {
            let batch = Array(texts[start..<min(texts.count, start + 32)])
            let together = try model.embed(batch)
            for index in [0, batch.count / 2, batch.count - 1] {
                let alone = try model.embed([batch[index]])
                worst = min(worst, cosine(alone[0], together[index]))
            }
        }
        print("\(precision) alone vs in a batch of 32: worst cosine \(worst)")
        #expect(worst >= 0.999999)
    }
}
