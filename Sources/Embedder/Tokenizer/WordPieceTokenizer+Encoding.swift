import Foundation

/// The mutable part of one `encode` call: the ids so far and the word being collected.
struct EncodingState {
    /// Ids produced so far (including `[CLS]` when `encode` put it there).
    var ids: [Int32]
    /// Stop once `ids` holds this many ids.
    let contentLimit: Int
    /// Bytes of the current word: folded ASCII, and raw UTF-8 of any other scalar.
    var word: [UInt8] = []
    /// Scalars in `word` (exact only while `wordNeedsNormalization` is false).
    var wordScalars = 0
    /// The word holds a non-ASCII scalar and must be normalized before WordPiece.
    var wordNeedsNormalization = false

    init(contentLimit: Int, capacity: Int) {
        self.contentLimit = contentLimit
        ids = []
        ids.reserveCapacity(capacity)
        word.reserveCapacity(64)
    }

    var isFull: Bool { ids.count >= contentLimit }
}

extension WordPieceTokenizer {
    /// Normalizes, pre-tokenizes and WordPiece-encodes `text`, appending ids to `state` until it is
    /// full.
    ///
    /// Words end at whitespace, ASCII punctuation, CJK ideographs and special tokens — all of them
    /// canonical starters, so normalizing each word alone equals normalizing the whole text.
    func tokenize(_ text: String, into state: inout EncodingState) {
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        let end = scalars.endIndex
        while index < end, !state.isFull {
            let scalar = scalars[index]
            let value = scalar.value
            if value < 0x80 ? specialTokenStartsASCII[Int(value)] : hasNonASCIISpecialTokenStart,
                let (id, next) = matchSpecialToken(in: scalars, at: index)
            {
                flushWord(&state)
                if !state.isFull { state.ids.append(id) }
                index = next
                continue
            }
            index = scalars.index(after: index)
            if value < 0x80 {
                let byte = UInt8(truncatingIfNeeded: value)
                switch asciiClasses[Int(byte)] {
                case .word:
                    state.word.append(asciiFolded[Int(byte)])
                    state.wordScalars &+= 1
                case .whitespace:
                    flushWord(&state)
                case .punctuation:
                    flushWord(&state)
                    if !state.isFull { state.ids.append(asciiSingleIDs[Int(byte)]) }
                case .removed:
                    break
                }
                continue
            }
            let flags = BertUnicode.flags(scalar)
            if options.cleanText, flags.contains(.removedByCleaning) { continue }
            if flags.contains(.whitespace) {
                flushWord(&state)
                continue
            }
            let isolated = options.handleChineseChars && BertUnicode.isChineseCharacter(value)
            if isolated { flushWord(&state) }
            appendUTF8(scalar, to: &state.word)
            state.wordNeedsNormalization = true
            if isolated { flushWord(&state) }
        }
        flushWord(&state)
        if state.ids.count > state.contentLimit { state.ids.removeLast(state.ids.count - state.contentLimit) }
    }

    /// The id and end of the special token starting at `index`, if one does (longest wins).
    @inline(__always)
    private func matchSpecialToken(
        in scalars: String.UnicodeScalarView, at index: String.UnicodeScalarView.Index
    ) -> (Int32, String.UnicodeScalarView.Index)? {
        let first = scalars[index]
        for token in specialTokens where token.scalars.first == first {
            var position = index
            var matched = true
            for expected in token.scalars {
                guard position < scalars.endIndex, scalars[position] == expected else {
                    matched = false
                    break
                }
                position = scalars.index(after: position)
            }
            if matched { return (token.id, position) }
        }
        return nil
    }

    /// Encodes the word collected in `state` (if any) and clears it.
    private func flushWord(_ state: inout EncodingState) {
        guard !state.word.isEmpty else { return }
        if state.wordNeedsNormalization {
            normalizeAndEncode(state.word, into: &state)
        } else {
            appendWordPieces(state.word, scalarCount: state.wordScalars, to: &state.ids)
        }
        if state.ids.count > state.contentLimit { state.ids.removeLast(state.ids.count - state.contentLimit) }
        state.word.removeAll(keepingCapacity: true)
        state.wordScalars = 0
        state.wordNeedsNormalization = false
    }

    /// The path for a word with non-ASCII scalars: NFD and drop nonspacing marks (when stripping
    /// accents), full lowercase mapping (when lowercasing), then split at whitespace and
    /// punctuation that normalization produced, and encode each resulting word.
    ///
    /// Words whose scalars NFD leaves alone (most Cyrillic, Greek, CJK, Thai...) and Hangul
    /// syllables (decomposed arithmetically) skip Foundation's NFD; any other word is decomposed
    /// as a whole, which also puts its combining marks in canonical order.
    private func normalizeAndEncode(_ raw: [UInt8], into state: inout EncodingState) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(raw.count)
        var needsNFD = false
        for scalar in String(decoding: raw, as: UTF8.self).unicodeScalars {
            scalars.append(scalar)
            if options.stripAccents, !needsNFD, scalar.value >= 0x80, !BertUnicode.isHangulSyllable(scalar.value),
                BertUnicode.flags(scalar).isDisjoint(with: [.decompositionInert, .stripsToBase])
            {
                needsNFD = true
            }
        }
        if needsNFD {
            scalars = Array(String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping.unicodeScalars)
        }
        var pending = PendingWord(capacity: raw.count)
        for var scalar in scalars {
            if state.ids.count >= state.contentLimit { return }
            if options.stripAccents, !needsNFD, scalar.value >= 0x80,
                BertUnicode.flags(scalar).contains(.stripsToBase),
                let base = BertUnicode.strippedBases[scalar.value]
            {
                scalar = base
            }
            if options.stripAccents, BertUnicode.isHangulSyllable(scalar.value) {
                BertUnicode.decomposeHangul(scalar.value) { pending.add($0, tokenizer: self, ids: &state.ids) }
                continue
            }
            if scalar.value < 0x80 {
                // ASCII from NFD (İ → I + U+0307) still needs folding.
                let folded = asciiFolded[Int(scalar.value)]
                pending.add(Unicode.Scalar(folded), tokenizer: self, ids: &state.ids)
                continue
            }
            let flags = BertUnicode.flags(scalar)
            if options.stripAccents, flags.contains(.nonspacingMark) { continue }
            if options.lowercase, flags.contains(.changesWhenLowercased) {
                for lowered in scalar.properties.lowercaseMapping.unicodeScalars {
                    pending.add(lowered, tokenizer: self, ids: &state.ids)
                }
            } else {
                pending.add(scalar, tokenizer: self, ids: &state.ids)
            }
        }
        pending.finish(tokenizer: self, ids: &state.ids)
    }

    /// Greedy longest-match-first WordPiece of one normalized word (`scalarCount` scalars):
    /// appends its pieces, or `[UNK]` alone if the word is too long or any piece is missing.
    @inline(__always)
    func appendWordPieces(_ word: [UInt8], scalarCount: Int, to ids: inout [Int32]) {
        if scalarCount > maxInputCharsPerWord {
            ids.append(unkID)
            return
        }
        let mark = ids.count
        let count = word.count
        var start = 0
        while start < count {
            let isFirst = start == 0
            let longest = isFirst ? wordStarts.maxKeyLength : continuations.maxKeyLength
            var end = min(count, start &+ longest)
            while end > start, end < count, Self.isContinuationByte(word[end]) { end &-= 1 }
            var found: Int32?
            while end > start {
                let id = isFirst ? wordStarts.lookup(word, start, end) : continuations.lookup(word, start, end)
                if let id {
                    found = id
                    break
                }
                end &-= 1
                while end > start, Self.isContinuationByte(word[end]) { end &-= 1 }
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unkID)
                return
            }
            ids.append(id)
            start = end
        }
    }

    @inline(__always)
    static func isContinuationByte(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}

/// A word being collected from normalized scalars, split at whitespace and punctuation.
private struct PendingWord {
    var bytes: [UInt8] = []
    var scalarCount = 0

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func add(_ scalar: Unicode.Scalar, tokenizer: WordPieceTokenizer, ids: inout [Int32]) {
        let flags = BertUnicode.flags(scalar)
        if flags.contains(.whitespace) {
            finish(tokenizer: tokenizer, ids: &ids)
        } else if flags.contains(.punctuation) {
            finish(tokenizer: tokenizer, ids: &ids)
            appendUTF8(scalar, to: &bytes)
            tokenizer.appendWordPieces(bytes, scalarCount: 1, to: &ids)
            bytes.removeAll(keepingCapacity: true)
        } else {
            appendUTF8(scalar, to: &bytes)
            scalarCount &+= 1
        }
    }

    mutating func finish(tokenizer: WordPieceTokenizer, ids: inout [Int32]) {
        if !bytes.isEmpty { tokenizer.appendWordPieces(bytes, scalarCount: scalarCount, to: &ids) }
        bytes.removeAll(keepingCapacity: true)
        scalarCount = 0
    }
}

/// Appends the UTF-8 encoding of `scalar` to `bytes`.
@inline(__always)
func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
    let value = scalar.value
    switch value {
    case 0..<0x80:
        bytes.append(UInt8(truncatingIfNeeded: value))
    case 0x80..<0x800:
        bytes.append(UInt8(truncatingIfNeeded: 0xC0 | (value >> 6)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
    case 0x800..<0x10000:
        bytes.append(UInt8(truncatingIfNeeded: 0xE0 | (value >> 12)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
    default:
        bytes.append(UInt8(truncatingIfNeeded: 0xF0 | (value >> 18)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 12) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
    }
}
