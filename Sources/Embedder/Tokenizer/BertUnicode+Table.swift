import Foundation

/// What BERT's normalizer and pre-tokenizer need to know about one scalar, as bits.
struct ScalarFlags: OptionSet, Sendable {
    let rawValue: UInt8
    /// Nonspacing mark (Mn) in the reference's table: dropped when stripping accents.
    static let nonspacingMark = ScalarFlags(rawValue: 1 << 0)
    /// Punctuation for the pre-tokenizer: a word of its own.
    static let punctuation = ScalarFlags(rawValue: 1 << 1)
    /// White_Space (or `\t \n \r`): ends a word.
    static let whitespace = ScalarFlags(rawValue: 1 << 2)
    /// Lowercasing changes it.
    static let changesWhenLowercased = ScalarFlags(rawValue: 1 << 3)
    /// NFD leaves it alone and it never takes part in canonical reordering (combining class 0, or
    /// a nonspacing mark that accent stripping drops anyway): a word made only of such scalars
    /// needs no NFD pass.
    static let decompositionInert = ScalarFlags(rawValue: 1 << 4)
    /// Removed by `cleanText`.
    static let removedByCleaning = ScalarFlags(rawValue: 1 << 5)
    /// NFD gives one starter followed only by nonspacing marks (é → e + U+0301): with accents
    /// stripped it is just that starter (`BertUnicode.strippedBases`), no NFD pass needed.
    static let stripsToBase = ScalarFlags(rawValue: 1 << 6)
}

extension BertUnicode {
    /// Flags of every BMP scalar, computed once per process on first use (tens of milliseconds):
    /// Unicode property look-ups and per-scalar NFD are far too slow for the per-scalar hot path.
    static let basicPlaneFlags: [UInt8] = (0..<0x1_0000).map { (value: UInt32) -> UInt8 in
        guard let scalar = Unicode.Scalar(value) else { return 0 }
        return computeFlags(scalar, checkDecomposition: true).rawValue
    }

    /// For BMP scalars flagged `.stripsToBase`: the starter their NFD begins with.
    static let strippedBases: [UInt32: Unicode.Scalar] = {
        var bases: [UInt32: Unicode.Scalar] = [:]
        for value in UInt32(0x80)..<0x1_0000 {
            guard let scalar = Unicode.Scalar(value), let base = strippedBase(scalar) else { continue }
            bases[value] = base
        }
        return bases
    }()

    /// The first scalar of `scalar`'s NFD when that is a starter followed only by nonspacing marks.
    static func strippedBase(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        let decomposed = Array(String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars)
        guard decomposed.count > 1, let base = decomposed.first, base != scalar,
            base.properties.canonicalCombiningClass.rawValue == 0,
            decomposed.dropFirst().allSatisfy({ isNonspacingMark($0) })
        else { return nil }
        return base
    }

    /// The flags of `scalar`; outside the BMP without `.decompositionInert` (callers then take the
    /// general NFD path).
    @inline(__always)
    static func flags(_ scalar: Unicode.Scalar) -> ScalarFlags {
        let value = scalar.value
        if value < 0x1_0000 {
            let table = basicPlaneFlags
            let index = Int(value)
            return index < table.count ? ScalarFlags(rawValue: table[index]) : computeFlags(scalar, checkDecomposition: false)
        }
        return computeFlags(scalar, checkDecomposition: false)
    }

    static func computeFlags(_ scalar: Unicode.Scalar, checkDecomposition: Bool) -> ScalarFlags {
        var flags: ScalarFlags = []
        let mark = isNonspacingMark(scalar)
        if mark { flags.insert(.nonspacingMark) }
        if isPunctuation(scalar) { flags.insert(.punctuation) }
        if isWhitespace(scalar) { flags.insert(.whitespace) }
        if scalar.properties.changesWhenLowercased { flags.insert(.changesWhenLowercased) }
        if isRemovedByCleaning(scalar) { flags.insert(.removedByCleaning) }
        if checkDecomposition {
            let decomposed = String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars
            let unchanged = decomposed.count == 1 && decomposed.first == scalar
            if unchanged, scalar.properties.canonicalCombiningClass.rawValue == 0 || mark {
                flags.insert(.decompositionInert)
            } else if !unchanged, strippedBase(scalar) != nil {
                flags.insert(.stripsToBase)
            }
        }
        return flags
    }

    /// True for precomposed Hangul syllables, which NFD splits into conjoining jamo.
    @inline(__always)
    static func isHangulSyllable(_ value: UInt32) -> Bool { (0xAC00..<0xAC00 + 11172).contains(value) }

    /// The canonical decomposition of a Hangul syllable (Unicode's arithmetic: L V [T]).
    @inline(__always)
    static func decomposeHangul(_ value: UInt32, _ body: (Unicode.Scalar) -> Void) {
        let index = value &- 0xAC00
        let lead = 0x1100 + index / 588
        let vowel = 0x1161 + (index % 588) / 28
        let trail = 0x11A7 + index % 28
        if let scalar = Unicode.Scalar(lead) { body(scalar) }
        if let scalar = Unicode.Scalar(vowel) { body(scalar) }
        if trail != 0x11A7, let scalar = Unicode.Scalar(trail) { body(scalar) }
    }
}
