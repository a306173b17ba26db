import Foundation
import Testing

@testable import Embedder

/// Where the tests find the model folder and the golden fixtures.
enum TokenizerTestSupport {
    /// `TestModel.folder`.
    static var modelFolder: URL { TestModel.folder }

    /// The model's tokenizer; a missing model folder is a failure with instructions, not a skip.
    static func loadTokenizer() throws -> WordPieceTokenizer {
        let folder = modelFolder
        let json = folder.appendingPathComponent("tokenizer.json").path
        try #require(
            FileManager.default.fileExists(atPath: json),
            "model folder missing: \(folder.path) has no tokenizer.json. Install the model first (scripts/setup.sh) or set QUIVER_MODEL_DIR."
        )
        return try WordPieceTokenizer(folder: folder)
    }

    /// One golden line: a text and the reference's ids (with [CLS]/[SEP], truncated at 256).
    struct GoldenLine: Decodable, Sendable {
        var text: String
        var ids: [Int32]
    }

    static func goldenLines() throws -> [GoldenLine] {
        let url = try #require(
            Bundle.module.url(forResource: "minilm-tokens", withExtension: "jsonl", subdirectory: "Fixtures"),
            "fixture Fixtures/minilm-tokens.jsonl is not in the test bundle"
        )
        let data = try Data(contentsOf: url)
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(GoldenLine.self, from: Data($0)) }
    }

    /// max_seq_length of all-MiniLM-L6-v2 (sentence_bert_config.json), at which the fixtures were cut.
    static let maxSeqLength = 256
}

@Suite("Tokenizer: golden fixtures of the reference")
struct TokenizerGoldenTests {
    @Test("every fixture line matches the reference exactly")
    func allFixtureLines() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        let lines = try TokenizerTestSupport.goldenLines()
        #expect(lines.count == 1617)
        var failures = 0
        for (number, line) in lines.enumerated() {
            let ids = tokenizer.encode(line.text, maxLength: TokenizerTestSupport.maxSeqLength)
            if ids != line.ids {
                failures += 1
                if failures <= 10 {
                    Issue.record(
                        "line \(number + 1) \(line.text.prefix(60).debugDescription): got \(ids.prefix(40)) expected \(line.ids.prefix(40))"
                    )
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(lines.count) fixture lines differ")
    }

    @Test("special ids and vocabulary size of all-MiniLM-L6-v2")
    func specialIDs() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        #expect(tokenizer.clsID == 101)
        #expect(tokenizer.sepID == 102)
        #expect(tokenizer.padID == 0)
        #expect(tokenizer.unkID == 100)
        #expect(tokenizer.vocabularySize == 30522)
    }

    @Test("vocab.txt + tokenizer_config.json give the same ids as tokenizer.json")
    func vocabTextMatchesJSON() throws {
        let fromJSON = try TokenizerTestSupport.loadTokenizer()
        let folder = TokenizerTestSupport.modelFolder
        let fromText = try WordPieceTokenizer(
            vocabTXT: folder.appendingPathComponent("vocab.txt"),
            config: folder.appendingPathComponent("tokenizer_config.json")
        )
        #expect(fromText.vocabularySize == fromJSON.vocabularySize)
        for line in try TokenizerTestSupport.goldenLines() {
            #expect(fromText.encode(line.text, maxLength: 256) == line.ids)
        }
    }
}
