import Foundation
import Testing

@testable import Embedder

@Suite("Tokenizer: WordPiece and normalization rules")
struct TokenizerUnitTests {
    /// A toy vocabulary: ids are positions.
    static let tokens = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "a", "##a",
        "!", "hello", "ca", "##fe", "caf", "##é", "i", "##stanbul", ",", "`",
    ]

    static func toy(_ options: BertNormalizationOptions = BertNormalizationOptions(), maxChars: Int = 100) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(
            vocabulary: tokens.enumerated().map { ($0.element, Int32($0.offset)) },
            options: options, maxInputCharsPerWord: maxChars
        )
    }

    @Test("greedy longest match first with ## continuations")
    func greedy() throws {
        let tokenizer = try Self.toy()
        #expect(tokenizer.tokenIDs("unaffable") == [5, 6, 7])
        #expect(tokenizer.tokenIDs("aaa") == [8, 9, 9])
        // Greedy takes "caf", then "##e" is missing: no backtracking to "ca" + "##fe".
        #expect(tokenizer.tokenIDs("cafe") == [1])
    }

    @Test("a word whose pieces do not all exist becomes a single [UNK]")
    func unknownWord() throws {
        let tokenizer = try Self.toy()
        #expect(tokenizer.tokenIDs("unaffablez") == [1])
        #expect(tokenizer.tokenIDs("hello zzz hello") == [11, 1, 11])
    }

    @Test("words longer than max_input_chars_per_word scalars are [UNK]")
    func longWords() throws {
        let tokenizer = try Self.toy(maxChars: 5)
        #expect(tokenizer.tokenIDs("aaaaa") == [8, 9, 9, 9, 9])
        #expect(tokenizer.tokenIDs("aaaaaa") == [1])
    }

    @Test("punctuation is isolated, whitespace splits, controls vanish")
    func preTokenization() throws {
        let tokenizer = try Self.toy()
        #expect(tokenizer.tokenIDs("hello,hello!") == [11, 18, 11, 10])
        #expect(tokenizer.tokenIDs("\thello\u{0}\u{7}\r\n hel\u{200B}lo ") == [11, 11])
    }

    @Test("lowercase and accent stripping follow the options")
    func options() throws {
        let uncased = try Self.toy()
        #expect(uncased.tokenIDs("HELLO") == [11])
        #expect(uncased.tokenIDs("İSTANBUL") == [16, 17])
        let cased = try Self.toy(BertNormalizationOptions(lowercase: false))
        #expect(cased.tokenIDs("HELLO") == [1])
        #expect(cased.tokenIDs("café") == [14, 15])
        let keepAccents = try Self.toy(BertNormalizationOptions(stripAccents: false, lowercase: true))
        #expect(keepAccents.tokenIDs("CAFÉ") == [14, 15])
    }

    @Test("special tokens in the raw text map to their ids; lowercase look-alikes do not")
    func specialTokensInText() throws {
        let tokenizer = try Self.toy()
        #expect(tokenizer.tokenIDs("hello[MASK]a") == [11, 4, 8])
        #expect(tokenizer.tokenIDs("[mask]") == [1, 1, 1])
    }

    @Test("truncation keeps [CLS] first and [SEP] last, at most maxLength ids")
    func truncation() throws {
        let tokenizer = try Self.toy()
        let text = String(repeating: "hello ", count: 50)
        #expect(tokenizer.encode(text, maxLength: 5) == [2, 11, 11, 11, 3])
        #expect(tokenizer.encode(text, maxLength: 2) == [2, 3])
        #expect(tokenizer.encode(text, maxLength: 0) == [2, 3])
        #expect(tokenizer.encode("", maxLength: 256) == [2, 3])
        // A word's pieces are cut mid-word, as the reference truncates ids, not words.
        #expect(tokenizer.encode("unaffable", maxLength: 4) == [2, 5, 6, 3])
    }

    @Test("a vocabulary without [UNK] is rejected")
    func missingUnknown() {
        #expect(throws: EmbedderError.self) {
            try WordPieceTokenizer(vocabulary: [("[CLS]", 0), ("[SEP]", 1)])
        }
    }

    @Test("a missing model folder is a missingFile error")
    func missingFolder() {
        #expect(throws: EmbedderError.self) {
            try WordPieceTokenizer(folder: URL(fileURLWithPath: "/nonexistent/quiver-model"))
        }
    }
}

/// Behaviour of the reference (Hugging Face tokenizers 0.23.3) on scalars where Unicode tables
/// differ by version; expected ids were read from the reference.
@Suite("Tokenizer: reference quirks on the real vocabulary")
struct TokenizerReferenceQuirkTests {
    @Test(
        "scalars assigned after Unicode 8.0 are neither removed, split nor stripped",
        arguments: [
            ("x\u{0378}x", [100]),  // unassigned: kept, so the word is [UNK]
            ("x\u{2E43}x", [100]),  // Po since Unicode 9: not punctuation for the reference
            ("x\u{1734}x", [22038]),  // Mn in 8.0 (Mc today): stripped
            ("x\u{A9BD}x", [100]),  // Mc in 8.0 (Mn today): kept
            ("\u{130}stanbul", [9960]),  // NFD, drop U+0307, then lowercase
            ("x\u{AD}y", [1060, 2100]),  // soft hyphen (Cf) removed: "xy" → x ##y
            ("a\u{E000}b", [11113]),  // private use removed
            ("x\u{1FEF}x", [1060, 1036, 1060]),  // decomposes to "`", which is punctuation
            ("e\u{301}\u{300}", [1041]),
            ("hello [MASK] world", [7592, 103, 2088]),
            ("[mask]", [1031, 7308, 1033]),
            (String(repeating: "a", count: 101), [100]),
            (String(repeating: "é", count: 100) + "e", [100]),
        ] as [(String, [Int32])])
    func quirk(text: String, expected: [Int32]) throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        #expect(tokenizer.tokenIDs(text) == expected)
    }
}
