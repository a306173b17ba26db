import Foundation
import Testing

@testable import Embedder

/// SplitMix64: a small seeded generator, so that every run tries the same inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Tokenizer: never crashes, always well-formed")
struct TokenizerRobustnessTests {
    static func checkShape(_ ids: [Int32], _ tokenizer: WordPieceTokenizer, maxLength: Int) {
        #expect(ids.count >= 2)
        #expect(ids.count <= max(maxLength, 2))
        #expect(ids.first == tokenizer.clsID)
        #expect(ids.last == tokenizer.sepID)
        #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
    }

    /// A random scalar: mostly from any plane, sometimes ASCII, marks, CJK, specials' brackets.
    static func randomScalar(_ rng: inout SeededGenerator) -> Unicode.Scalar {
        while true {
            let value: UInt32
            switch UInt8.random(in: 0..<6, using: &rng) {
            case 0: value = UInt32.random(in: 0..<0x80, using: &rng)
            case 1: value = UInt32.random(in: 0x300..<0x370, using: &rng)
            case 2: value = UInt32.random(in: 0..<0x3_0000, using: &rng)
            case 3: value = [0x5B, 0x5D, 0x20, 0xFFFD, 0x130, 0x200B][Int.random(in: 0..<6, using: &rng)]
            default: value = UInt32.random(in: 0...0x10_FFFF, using: &rng)
            }
            if let scalar = Unicode.Scalar(value) { return scalar }
        }
    }

    @Test("10,000 seeded random strings of random scalars", arguments: [1, 2])
    func randomStrings(seed: UInt64) throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        var rng = SeededGenerator(state: seed)
        for _ in 0..<5_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<200, using: &rng) { scalars.append(Self.randomScalar(&rng)) }
            let text = String(scalars)
            let maxLength = Int.random(in: -1...300, using: &rng)
            Self.checkShape(tokenizer.encode(text, maxLength: maxLength), tokenizer, maxLength: maxLength)
        }
    }

    @Test("invalid UTF-8 bytes (repaired by String) and lone specials")
    func invalidBytes() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        var rng = SeededGenerator(state: 3)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = String(decoding: bytes, as: UTF8.self)
            Self.checkShape(tokenizer.encode(text, maxLength: 256), tokenizer, maxLength: 256)
        }
        for text in ["[", "[CLS", "[CLS][SEP][PAD]", "[[[[", "]]]"] {
            Self.checkShape(tokenizer.encode(text, maxLength: 4), tokenizer, maxLength: 4)
        }
    }

    @Test("huge inputs: long words, long runs of marks, 20 MB of text")
    func hugeInputs() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        let cases = [
            String(repeating: "a", count: 5_000_000),
            String(repeating: "e\u{301}", count: 1_000_000),
            String(repeating: "\u{301}", count: 1_000_000),
            String(repeating: "한", count: 500_000),
            String(repeating: "word ", count: 4_000_000),
            String(repeating: "\u{0}", count: 1_000_000) + "tail",
            String(repeating: " ", count: 1_000_000) + "tail",
        ]
        for text in cases {
            for maxLength in [2, 3, 256, 100_000] {
                Self.checkShape(tokenizer.encode(text, maxLength: maxLength), tokenizer, maxLength: maxLength)
            }
        }
        #expect(tokenizer.encode(String(repeating: "word ", count: 4_000_000), maxLength: 256).count == 256)
        #expect(tokenizer.encode(String(repeating: " ", count: 1_000_000) + "tail", maxLength: 256) == [101, 5725, 102])
    }
}
