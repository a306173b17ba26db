/// Character references (`&amp;`, `&#233;`, `&#xE9;`) in HTML and Markdown text.
///
/// The common named references (HTML 4's Latin-1, symbol and punctuation sets, which is what
/// exported pages use) and every numeric one. A reference that is unknown, unterminated (no `;`)
/// or invalid (a surrogate, zero, beyond U+10FFFF) is kept as its literal text. Numeric
/// references 128–159 are read as Windows-1252, as browsers do (`&#146;` is `’`).
enum HTMLEntities {
    /// Longest name looked up (`&thetasym;` is 8); longer runs are not references.
    static let maxNameLength = 10
    /// Most digits read in a numeric reference (`&#x10FFFF;` has 6).
    static let maxDigits = 8

    /// Decodes the reference starting at `bytes[start]` (an `&`): the UTF-8 bytes it stands for
    /// and the index after its `;`, or nil when it is not a valid reference.
    static func decode(_ bytes: [UInt8], at start: Int) -> (value: [UInt8], end: Int)? {
        var i = start + 1
        guard i < bytes.count else { return nil }
        if bytes[i] == UInt8(ascii: "#") {
            i += 1
            var hex = false
            if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "x") {
                hex = true
                i += 1
            }
            var value: UInt32 = 0
            var digits = 0
            while i < bytes.count, digits <= maxDigits, let digit = digitValue(bytes[i], hex: hex) {
                value = value &* (hex ? 16 : 10) &+ digit
                digits += 1
                i += 1
            }
            guard digits > 0, digits <= maxDigits, i < bytes.count, bytes[i] == UInt8(ascii: ";") else { return nil }
            if (0x80...0x9F).contains(value), let mapped = windows1252[Int(value - 0x80)] { value = mapped }
            guard value != 0, let scalar = Unicode.Scalar(value) else { return nil }
            return (Array(String(Character(scalar)).utf8), i + 1)
        }
        let nameStart = i
        while i < bytes.count, i - nameStart <= maxNameLength, isASCIIAlphanumeric(bytes[i]) { i += 1 }
        guard i > nameStart, i - nameStart <= maxNameLength, i < bytes.count, bytes[i] == UInt8(ascii: ";") else { return nil }
        let name = String(decoding: bytes[nameStart..<i], as: UTF8.self)
        guard let value = named[name] else { return nil }
        return (Array(value.utf8), i + 1)
    }

    /// `bytes` with every valid reference decoded.
    static func decodeAll(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        let array = Array(bytes)
        guard array.contains(UInt8(ascii: "&")) else { return array }
        var out: [UInt8] = []
        out.reserveCapacity(array.count)
        var i = 0
        while i < array.count {
            if array[i] == UInt8(ascii: "&"), let (value, end) = decode(array, at: i) {
                out.append(contentsOf: value)
                i = end
            } else {
                out.append(array[i])
                i += 1
            }
        }
        return out
    }

    private static func digitValue(_ byte: UInt8, hex: Bool) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f") where hex: UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F") where hex: UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Windows-1252 for 0x80–0x9F (nil: undefined there, kept as the C1 control).
    private static let windows1252: [UInt32?] = [
        0x20AC, nil, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, nil, 0x017D, nil,
        nil, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, nil, 0x017E, 0x0178,
    ]

    /// HTML 4's named references (Latin-1, symbols, Greek, punctuation) plus `&apos;`.
    static let named: [String: String] = {
        var table: [String: String] = [
            "quot": "\"", "amp": "&", "apos": "'", "lt": "<", "gt": ">",
            "OElig": "Œ", "oelig": "œ", "Scaron": "Š", "scaron": "š", "Yuml": "Ÿ", "circ": "ˆ", "tilde": "˜",
            "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}", "zwnj": "\u{200C}", "zwj": "\u{200D}",
            "lrm": "\u{200E}", "rlm": "\u{200F}", "ndash": "–", "mdash": "—", "lsquo": "‘", "rsquo": "’", "sbquo": "‚",
            "ldquo": "“", "rdquo": "”", "bdquo": "„", "dagger": "†", "Dagger": "‡", "permil": "‰", "lsaquo": "‹",
            "rsaquo": "›", "euro": "€", "fnof": "ƒ", "bull": "•", "hellip": "…", "prime": "′", "Prime": "″",
            "oline": "‾", "frasl": "⁄", "weierp": "℘", "image": "ℑ", "real": "ℜ", "trade": "™", "alefsym": "ℵ",
            "larr": "←", "uarr": "↑", "rarr": "→", "darr": "↓", "harr": "↔", "crarr": "↵", "lArr": "⇐", "uArr": "⇑",
            "rArr": "⇒", "dArr": "⇓", "hArr": "⇔", "forall": "∀", "part": "∂", "exist": "∃", "empty": "∅",
            "nabla": "∇", "isin": "∈", "notin": "∉", "ni": "∋", "prod": "∏", "sum": "∑", "minus": "−", "lowast": "∗",
            "radic": "√", "prop": "∝", "infin": "∞", "ang": "∠", "and": "∧", "or": "∨", "cap": "∩", "cup": "∪",
            "int": "∫", "there4": "∴", "sim": "∼", "cong": "≅", "asymp": "≈", "ne": "≠", "equiv": "≡", "le": "≤",
            "ge": "≥", "sub": "⊂", "sup": "⊃", "nsub": "⊄", "sube": "⊆", "supe": "⊇", "oplus": "⊕", "otimes": "⊗",
            "perp": "⊥", "sdot": "⋅", "lceil": "⌈", "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋", "lang": "⟨",
            "rang": "⟩", "loz": "◊", "spades": "♠", "clubs": "♣", "hearts": "♥", "diams": "♦",
        ]
        // Latin-1 (U+00A0…U+00FF), in code point order.
        let latin1 = [
            "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not", "shy",
            "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1", "ordm",
            "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig",
            "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve",
            "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN",
            "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil", "egrave", "eacute", "ecirc",
            "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml",
            "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
        ]
        for (offset, name) in latin1.enumerated() {
            if let scalar = Unicode.Scalar(UInt32(0xA0 + offset)) { table[name] = String(Character(scalar)) }
        }
        // Greek letters: Α…Ω (skipping the unassigned U+03A2), α…ω with final sigma, and three symbols.
        let upper = [
            "Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa", "Lambda", "Mu", "Nu", "Xi",
            "Omicron", "Pi", "Rho", "", "Sigma", "Tau", "Upsilon", "Phi", "Chi", "Psi", "Omega",
        ]
        for (offset, name) in upper.enumerated() where !name.isEmpty {
            if let scalar = Unicode.Scalar(UInt32(0x391 + offset)) { table[name] = String(Character(scalar)) }
            if let scalar = Unicode.Scalar(UInt32(0x3B1 + offset)) { table[name.lowercased()] = String(Character(scalar)) }
        }
        table["sigmaf"] = "ς"
        table["thetasym"] = "ϑ"
        table["upsih"] = "ϒ"
        table["piv"] = "ϖ"
        return table
    }()
}
