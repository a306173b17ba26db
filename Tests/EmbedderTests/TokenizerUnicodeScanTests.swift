import Foundation
import Testing

@testable import Embedder

/// Differential tests against reference outputs made by `scripts/bench/tokenizer_bench.py`:
/// `--scan FILE` writes the reference's ids for every Unicode scalar in three contexts (3.3 M
/// lines, ~40 MB: too large to ship), `--random FILE` writes seeded random mixtures. Opt-in:
/// set `QUIVER_TOKENIZER_SCAN` and/or `QUIVER_TOKENIZER_RANDOM` to those files.
@Suite("Tokenizer: differential against reference dumps (opt-in)")
struct TokenizerUnicodeScanTests {
    static let scanPath = ProcessInfo.processInfo.environment["QUIVER_TOKENIZER_SCAN"]
    static let randomPath = ProcessInfo.processInfo.environment["QUIVER_TOKENIZER_RANDOM"]

    /// The three contexts the scan puts each scalar in; must match the generator.
    static func context(_ scalar: Unicode.Scalar, _ kind: Int) -> String {
        let c = String(Character(scalar))
        switch kind {
        case 0: return c
        case 1: return "x" + c + "x"
        default: return "E" + c + "\u{301}a"
        }
    }

    @Test(
        "every scalar, alone and in two contexts, as the reference",
        .enabled(if: scanPath != nil, "set QUIVER_TOKENIZER_SCAN (see tokenizer_bench.py --scan)"))
    func everyScalar() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        let text = try String(contentsOfFile: try #require(Self.scanPath), encoding: .utf8)
        var checked = 0
        var mismatches = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 3, let value = UInt32(parts[0], radix: 16), let kind = Int(parts[1]),
                let scalar = Unicode.Scalar(value)
            else { continue }
            let expected = parts[2].split(separator: " ").compactMap { Int32($0) }
            checked += 1
            if tokenizer.tokenIDs(Self.context(scalar, kind)) != expected {
                mismatches += 1
                if mismatches <= 10 { Issue.record("U+\(parts[0]) context \(kind): expected \(expected)") }
            }
        }
        #expect(checked == 3 * 1_112_064)
        #expect(mismatches == 0)
    }

    @Test(
        "seeded random mixtures as the reference",
        .enabled(if: randomPath != nil, "set QUIVER_TOKENIZER_RANDOM (see tokenizer_bench.py --random)"))
    func randomMixtures() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        let data = try Data(contentsOf: URL(fileURLWithPath: try #require(Self.randomPath)))
        var mismatches = 0
        for chunk in data.split(separator: UInt8(ascii: "\n")) {
            let line = try JSONDecoder().decode(TokenizerTestSupport.GoldenLine.self, from: Data(chunk))
            if tokenizer.encode(line.text, maxLength: Int.max) != line.ids {
                mismatches += 1
                if mismatches <= 10 { Issue.record("\(line.text.debugDescription): expected \(line.ids)") }
            }
        }
        #expect(mismatches == 0)
    }
}
