/// BERT's tokenizer: `BertNormalizer`, `BertPreTokenizer` and greedy longest-match-first WordPiece,
/// token for token identical to Hugging Face `tokenizers` (checked against golden fixtures).
///
/// The pipeline runs in one pass over the text's Unicode scalars. ASCII words take a fast path
/// (table-driven cleaning, lowercasing and punctuation splitting); a word with any other scalar is
/// normalized by the book (NFD, drop Mn, full lowercase mapping) before WordPiece. Vocabulary
/// lookups hash byte slices of the word, so no `String` is built per candidate piece. Encoding stops
/// as soon as `maxLength` ids are reached, so huge inputs cost only their first words.
public struct WordPieceTokenizer: Sendable {
    /// The id of the token put first (`[CLS]`).
    public let clsID: Int32
    /// The id of the token put last (`[SEP]`).
    public let sepID: Int32
    /// The id used to pad batches (`[PAD]`).
    public let padID: Int32
    /// The id of a word that WordPiece cannot split into vocabulary pieces (`[UNK]`).
    public let unkID: Int32

    /// One more than the largest token id: the number of rows the embedding table must have.
    public var vocabularySize: Int { Int(maxID) + 1 }

    /// Normalization applied before splitting words.
    let options: BertNormalizationOptions
    /// Words with more scalars than this (after normalization) become `[UNK]`. Default 100.
    let maxInputCharsPerWord: Int
    /// Every vocabulary token, for the first piece of a word.
    let wordStarts: VocabularyTable
    /// Tokens that begin with the continuing-subword prefix ("##"), stored without it, for the
    /// pieces after the first.
    let continuations: VocabularyTable
    /// Per ASCII byte: its class under `options`.
    let asciiClasses: [ASCIIClass]
    /// Per ASCII byte: the byte after lowercasing (identity when `options.lowercase` is off).
    let asciiFolded: [UInt8]
    /// Per ASCII byte: the id of the byte as a one-scalar word (`unkID` if absent).
    let asciiSingleIDs: [Int32]
    /// Tokens matched verbatim in the raw text before normalization (the special tokens), longest
    /// first, as the reference splits them out.
    let specialTokens: [SpecialToken]
    /// Per ASCII byte: whether some special token starts with it (`[` for BERT's).
    let specialTokenStartsASCII: [Bool]
    /// Whether some special token starts with a non-ASCII scalar.
    let hasNonASCIISpecialTokenStart: Bool
    /// Largest id in the vocabulary or among the special tokens.
    let maxID: Int32

    /// A token found verbatim in the raw text and mapped straight to its id.
    struct SpecialToken: Sendable {
        var scalars: [Unicode.Scalar]
        var id: Int32
    }

    /// Creates a tokenizer from a vocabulary and options (the form `tokenizer.json` and `vocab.txt`
    /// both reduce to). Throws `.malformedFile(path: source, …)` when a required token is missing.
    ///
    /// - Parameters:
    ///   - vocabulary: token and id pairs; the first occurrence of a token wins.
    ///   - specialTokens: tokens split out of the raw text verbatim, with their ids.
    init(
        vocabulary: [(token: String, id: Int32)],
        options: BertNormalizationOptions = BertNormalizationOptions(),
        unkToken: String = "[UNK]",
        clsToken: String = "[CLS]",
        sepToken: String = "[SEP]",
        padToken: String = "[PAD]",
        specialTokens: [(token: String, id: Int32)]? = nil,
        continuingSubwordPrefix: String = "##",
        maxInputCharsPerWord: Int = 100,
        source: String = "vocabulary"
    ) throws(EmbedderError) {
        var starts = VocabularyTable(expectedCount: vocabulary.count)
        var continued = VocabularyTable(expectedCount: vocabulary.count / 4)
        let prefix = Array(continuingSubwordPrefix.utf8)
        var ids: [String: Int32] = [:]
        var maxID: Int32 = -1
        for (token, id) in vocabulary {
            guard id >= 0 else {
                throw .malformedFile(path: source, reason: "negative id \(id) for token \(token.debugDescription)")
            }
            let bytes = Array(token.utf8)
            starts.insert(bytes, id: id)
            if bytes.starts(with: prefix) { continued.insert(bytes.dropFirst(prefix.count), id: id) }
            if ids[token] == nil { ids[token] = id }
            maxID = max(maxID, id)
        }
        let specials =
            specialTokens
            ?? [unkToken, clsToken, sepToken, padToken, "[MASK]"].compactMap { token in
                ids[token].map { (token: token, id: $0) }
            }
        // A special token is emitted with its own id even when the vocabulary has the token under
        // another id, so every special id must be a valid one and count towards the vocabulary size.
        for special in specials {
            guard special.id >= 0 else {
                throw .malformedFile(path: source, reason: "negative id \(special.id) for special token \(special.token.debugDescription)")
            }
            maxID = max(maxID, special.id)
            if ids[special.token] == nil { ids[special.token] = special.id }
        }
        func required(_ token: String, _ role: String) throws(EmbedderError) -> Int32 {
            guard let id = ids[token] else {
                throw .malformedFile(path: source, reason: "the \(role) token \(token.debugDescription) is not in the vocabulary")
            }
            return id
        }
        unkID = try required(unkToken, "unknown")
        clsID = try required(clsToken, "classifier")
        sepID = try required(sepToken, "separator")
        padID = ids[padToken] ?? 0
        guard maxInputCharsPerWord > 0 else {
            throw .invalidConfiguration(path: source, reason: "max_input_chars_per_word must be positive")
        }
        self.options = options
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.maxID = maxID
        self.wordStarts = starts
        self.continuations = prefix.isEmpty ? starts : continued
        asciiClasses = BertUnicode.asciiTable(options)
        let folded = (0..<128).map { (byte: UInt8) -> UInt8 in
            options.lowercase && (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
        }
        asciiFolded = folded
        asciiSingleIDs = folded.map { starts.lookup([$0], 0, 1) ?? ids[unkToken] ?? 0 }
        self.specialTokens =
            specials
            .filter { !$0.token.isEmpty }
            .map { SpecialToken(scalars: Array($0.token.unicodeScalars), id: $0.id) }
            .sorted { $0.scalars.count > $1.scalars.count }
        let firsts = self.specialTokens.compactMap { $0.scalars.first?.value }
        specialTokenStartsASCII = (0..<128).map { firsts.contains(UInt32($0)) }
        hasNonASCIISpecialTokenStart = firsts.contains { $0 >= 0x80 }
    }

    /// Token ids with `[CLS]` first and `[SEP]` last, truncated so the result has at most
    /// `maxLength` ids; a `maxLength` below 2 counts as 2. Never traps, whatever the input.
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        let limit = max(maxLength, 2)
        var state = EncodingState(contentLimit: limit - 1, capacity: min(limit, text.utf8.count + 2))
        state.ids.append(clsID)
        tokenize(text, into: &state)
        state.ids.append(sepID)
        return state.ids
    }

    /// How many word pieces `text` has, without `[CLS]`/`[SEP]` and without truncation. Words end
    /// at whitespace, so the count of a text cut at whitespace is the sum of its parts' counts.
    public func count(_ text: String) -> Int {
        var state = EncodingState(contentLimit: Int.max, capacity: text.utf8.count / 4 + 1)
        tokenize(text, into: &state)
        return state.ids.count
    }

    /// The word pieces of `text` without `[CLS]`/`[SEP]` and without truncation.
    func tokenIDs(_ text: String) -> [Int32] {
        var state = EncodingState(contentLimit: Int.max, capacity: text.utf8.count / 4 + 1)
        tokenize(text, into: &state)
        return state.ids
    }
}
