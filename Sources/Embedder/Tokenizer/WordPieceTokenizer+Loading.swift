import Foundation

extension WordPieceTokenizer {
    /// Loads `tokenizer.json` if present, else `vocab.txt` + `tokenizer_config.json`
    /// (do_lower_case, strip_accents, tokenize_chinese_chars), from a Hugging Face model folder.
    ///
    /// From `tokenizer.json` it reads the WordPiece model (vocab, unk_token,
    /// continuing_subword_prefix, max_input_chars_per_word), the `BertNormalizer`, the
    /// `BertPreTokenizer`, `[CLS]`/`[SEP]` from the post-processor and the added tokens. Its
    /// truncation and padding sections are ignored: callers truncate with `encode(_:maxLength:)`.
    public init(folder: URL) throws(EmbedderError) {
        let json = folder.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json)
            return
        }
        let vocab = folder.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocab.path) else {
            throw .missingFile(path: json.path + " (or " + vocab.path + ")")
        }
        try self.init(vocabTXT: vocab, config: folder.appendingPathComponent("tokenizer_config.json"))
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is WordPiece with BERT's normalizer and
    /// pre-tokenizer.
    init(tokenizerJSON url: URL) throws(EmbedderError) {
        let path = url.path
        let root = try Self.readJSONObject(url)
        guard let model = root["model"] as? [String: Any] else {
            throw .malformedFile(path: path, reason: "no \"model\" object")
        }
        if let type = model["type"] as? String, type != "WordPiece" {
            throw .invalidConfiguration(path: path, reason: "model type \(type) is not WordPiece")
        }
        var vocabulary: [(token: String, id: Int32)] = []
        if let map = model["vocab"] as? [String: Any] {
            vocabulary.reserveCapacity(map.count)
            for (token, value) in map {
                guard let id = Self.int32(value) else {
                    throw .malformedFile(path: path, reason: "vocab id of \(token.debugDescription) is not an integer")
                }
                vocabulary.append((token, id))
            }
            // Dictionary order is random; sort so that duplicate-free tables are built reproducibly.
            vocabulary.sort { $0.id < $1.id }
        } else if let list = model["vocab"] as? [String] {
            vocabulary = list.enumerated().map { ($0.element, Int32(truncatingIfNeeded: $0.offset)) }
        } else {
            throw .malformedFile(path: path, reason: "model.vocab is neither an object nor a list of tokens")
        }
        let unk = model["unk_token"] as? String ?? "[UNK]"
        let prefix = model["continuing_subword_prefix"] as? String ?? "##"
        let maxChars = model["max_input_chars_per_word"].flatMap(Self.int32).map(Int.init) ?? 100

        let options = try Self.normalizationOptions(root["normalizer"], path: path)
        if let preTokenizer = root["pre_tokenizer"] as? [String: Any],
            let type = preTokenizer["type"] as? String, type != "BertPreTokenizer"
        {
            throw .invalidConfiguration(path: path, reason: "pre_tokenizer \(type) is not supported (only BertPreTokenizer)")
        }

        var specials: [(token: String, id: Int32)] = []
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let content = added["content"] as? String, let id = added["id"].flatMap(Self.int32) else {
                throw .malformedFile(path: path, reason: "an added token lacks content or id")
            }
            // Tokens with `normalized: true` are matched on normalized text by the reference; BERT
            // folders only carry `normalized: false` special tokens, matched on the raw text.
            if added["normalized"] as? Bool != true { specials.append((content, id)) }
        }
        let (cls, sep) = Self.clsAndSep(root["post_processor"])
        let padding = root["padding"] as? [String: Any]
        try self.init(
            vocabulary: vocabulary, options: options, unkToken: unk,
            clsToken: cls ?? "[CLS]", sepToken: sep ?? "[SEP]",
            padToken: padding?["pad_token"] as? String ?? "[PAD]",
            specialTokens: specials, continuingSubwordPrefix: prefix,
            maxInputCharsPerWord: maxChars, source: path
        )
    }

    /// Loads `vocab.txt` (one token per line, id = line number) with the options of
    /// `tokenizer_config.json` (BertTokenizer's defaults when that file is absent).
    init(vocabTXT url: URL, config configURL: URL) throws(EmbedderError) {
        let text = try Self.readText(url)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let vocabulary = lines.enumerated().map { (token: String($0.element), id: Int32(truncatingIfNeeded: $0.offset)) }
        var config: [String: Any] = [:]
        if FileManager.default.fileExists(atPath: configURL.path) {
            config = try Self.readJSONObject(configURL)
        }
        func token(_ key: String, _ fallback: String) -> String {
            if let string = config[key] as? String { return string }
            if let object = config[key] as? [String: Any], let content = object["content"] as? String { return content }
            return fallback
        }
        let lowercase = config["do_lower_case"] as? Bool ?? true
        let options = BertNormalizationOptions(
            cleanText: true,
            handleChineseChars: config["tokenize_chinese_chars"] as? Bool ?? true,
            stripAccents: config["strip_accents"] as? Bool,
            lowercase: lowercase
        )
        let names = [
            token("unk_token", "[UNK]"), token("sep_token", "[SEP]"), token("pad_token", "[PAD]"),
            token("cls_token", "[CLS]"), token("mask_token", "[MASK]"),
        ]
        var ids: [String: Int32] = [:]
        for entry in vocabulary where ids[entry.token] == nil { ids[entry.token] = entry.id }
        let specials = names.compactMap { name in ids[name].map { (token: name, id: $0) } }
        try self.init(
            vocabulary: vocabulary, options: options, unkToken: names[0], clsToken: names[3],
            sepToken: names[1], padToken: names[2], specialTokens: specials, source: url.path
        )
    }

    /// Options from a `normalizer` object: `BertNormalizer`, or none at all.
    private static func normalizationOptions(_ value: Any?, path: String) throws(EmbedderError) -> BertNormalizationOptions {
        guard let normalizer = value as? [String: Any] else {
            return BertNormalizationOptions(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        }
        guard normalizer["type"] as? String == "BertNormalizer" else {
            let type = normalizer["type"] as? String ?? "?"
            throw .invalidConfiguration(path: path, reason: "normalizer \(type) is not supported (only BertNormalizer)")
        }
        let lowercase = normalizer["lowercase"] as? Bool ?? true
        return BertNormalizationOptions(
            cleanText: normalizer["clean_text"] as? Bool ?? true,
            handleChineseChars: normalizer["handle_chinese_chars"] as? Bool ?? true,
            stripAccents: normalizer["strip_accents"] as? Bool,
            lowercase: lowercase
        )
    }

    /// The `[CLS]` and `[SEP]` tokens named by a `TemplateProcessing` or `BertProcessing`
    /// post-processor.
    private static func clsAndSep(_ value: Any?) -> (String?, String?) {
        guard let processor = value as? [String: Any] else { return (nil, nil) }
        if let cls = processor["cls"] as? [Any], let sep = processor["sep"] as? [Any] {
            return (cls.first as? String, sep.first as? String)
        }
        // TemplateProcessing: the first and last special token of the single-sequence template.
        guard let single = processor["single"] as? [Any] else { return (nil, nil) }
        let specials = single.compactMap { piece -> String? in
            ((piece as? [String: Any])?["SpecialToken"] as? [String: Any])?["id"] as? String
        }
        return (specials.first, specials.count > 1 ? specials.last : nil)
    }

    private static func int32(_ value: Any) -> Int32? {
        guard let number = value as? NSNumber else { return nil }
        let int = number.int64Value
        guard Double(int) == number.doubleValue, let result = Int32(exactly: int) else { return nil }
        return result
    }

    private static func readText(_ url: URL) throws(EmbedderError) -> String {
        let data = try readData(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformedFile(path: url.path, reason: "not UTF-8 text")
        }
        return text
    }

    private static func readData(_ url: URL) throws(EmbedderError) -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: "\(error)")
        }
    }

    private static func readJSONObject(_ url: URL) throws(EmbedderError) -> [String: Any] {
        let data = try readData(url)
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw .malformedFile(path: url.path, reason: "invalid JSON: \(error)")
        }
        guard let object = value as? [String: Any] else {
            throw .malformedFile(path: url.path, reason: "the top level is not a JSON object")
        }
        return object
    }
}
