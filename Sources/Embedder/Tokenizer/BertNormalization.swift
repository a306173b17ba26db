/// The text normalization of BERT's tokenizer (Hugging Face `BertNormalizer`), as options.
///
/// Applied in this order, as the reference does: clean the text, isolate CJK ideographs, strip
/// accents (canonical decomposition, then drop nonspacing marks), lowercase (full per-scalar Unicode
/// lowercase mapping, so `İ` without accent stripping becomes `i̇`).
public struct BertNormalizationOptions: Sendable, Equatable {
    /// Remove U+0000, U+FFFD and "other" scalars (categories Cc, Cf, Cn, Co, Cs, except `\t \n \r`),
    /// and turn every whitespace scalar into a space. Default true.
    public var cleanText: Bool
    /// Put spaces around CJK ideographs so each becomes its own word. Default true.
    public var handleChineseChars: Bool
    /// Decompose canonically (NFD) and drop nonspacing marks (Mn). Default: follows `lowercase`.
    public var stripAccents: Bool
    /// Map every scalar to its full Unicode lowercase mapping. Default true (uncased models).
    public var lowercase: Bool

    /// Creates options; `stripAccents: nil` follows `lowercase`, as in BERT's configuration files.
    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }
}

/// What the normalizer and pre-tokenizer do with one ASCII byte.
enum ASCIIClass: UInt8, Sendable {
    /// Part of a word (after lowercasing, when enabled).
    case word
    /// Ends the current word and is dropped.
    case whitespace
    /// Ends the current word and forms a word of its own.
    case punctuation
    /// Dropped without ending the word (control characters under `cleanText`).
    case removed
}

/// Unicode predicates of BERT's normalizer and pre-tokenizer, on single scalars.
enum BertUnicode {
    /// True for the CJK ideograph blocks BERT isolates (not Hangul, Hiragana or Katakana). The gap
    /// 0x2B820...0x2B91F is deliberate: the reference list starts its next block at 0x2B920.
    @inline(__always)
    static func isChineseCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// Whitespace as BERT sees it: `\t \n \r` and every scalar with Unicode's White_Space property.
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }

    /// Scalars `cleanText` removes: U+0000, U+FFFD, and categories Cc, Cf, Co, Cs except the
    /// whitespace controls `\t \n \r`.
    @inline(__always)
    static func isRemovedByCleaning(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x00, 0xFFFD: return true
        default: break
        }
        switch referenceCategory(scalar) {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// Punctuation as BERT's pre-tokenizer sees it: all non-alphanumeric printable ASCII, and
    /// every scalar in a Unicode P* category.
    @inline(__always)
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (33...47).contains(value) || (58...64).contains(value)
                || (91...96).contains(value) || (123...126).contains(value)
        }
        switch referenceCategory(scalar) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// True for nonspacing marks (Mn) as the reference's category table sees them.
    @inline(__always)
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        referenceCategory(scalar) == .nonspacingMark
    }

    /// The general category as the reference's tables have it.
    ///
    /// Hugging Face `tokenizers` takes Mn, P*, Cc, Cf and Co from Unicode 8.0 tables: scalars
    /// assigned later are "unassigned" there, which it neither removes, splits nor strips. A few
    /// scalars changed category after 8.0; they keep their 8.0 category here.
    @inline(__always)
    static func referenceCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory {
        let properties = scalar.properties
        guard let age = properties.age, age.major < 9 else { return .unassigned }
        switch scalar.value {
        case 0x1885, 0x1886: return .otherLetter
        case 0x166D, 0x111C9: return .otherPunctuation
        case 0x1734, 0x1171E: return .nonspacingMark
        case 0xA9BD: return .spacingMark
        default: return properties.generalCategory
        }
    }

    /// The 128-entry classification of ASCII bytes under `options`.
    static func asciiTable(_ options: BertNormalizationOptions) -> [ASCIIClass] {
        (0..<128).map { (value: UInt32) -> ASCIIClass in
            guard let scalar = Unicode.Scalar(value) else { return .removed }
            if options.cleanText, isRemovedByCleaning(scalar) { return .removed }
            if isWhitespace(scalar) { return .whitespace }
            if isPunctuation(scalar) { return .punctuation }
            return .word
        }
    }
}
