import Foundation
import Testing

@testable import Embedder

/// Seeded fuzzing of everything read from a model folder: `model.safetensors`, `tokenizer.json`,
/// `config.json`, and the tokenizer's input. Every input either loads (and then works: every
/// tensor reads, every encoding has ids inside the vocabulary and respects the length limit) or
/// fails with an `EmbedderError` naming the file — never a trap. Seeds are fixed, so every run
/// tries the same inputs; `Fixtures/fuzz/` holds a replay corpus of the interesting ones
/// (see `LoaderFuzzReplayTests`, and `scripts/reliability/make_fuzz_corpus.py` which wrote it).
///
/// Set `QUIVER_FUZZ_SEED` to run the generators with another seed (exploration; the default
/// seeds are what CI runs), and `QUIVER_FUZZ_SAVE=DIR` to keep every input that failed a check.
@Suite("Loader fuzz: safetensors, tokenizer.json, config.json, tokenizer input")
struct LoaderFuzzTests {
    /// A scratch folder removed at the end of the test.
    final class Scratch {
        let url: URL
        init() throws {
            // Thousands of small files: in memory when the machine has a tmpfs (no disk waits).
            let shm = URL(fileURLWithPath: "/dev/shm")
            let base = FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
            url = base.appendingPathComponent("quiver-fuzz-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static func seed(_ base: UInt64) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["QUIVER_FUZZ_SEED"], let value = UInt64(text) {
            return base ^ value &* 0x9E37_79B9_7F4A_7C15
        }
        return base
    }

    /// Keeps a failing input for the replay corpus when `QUIVER_FUZZ_SAVE` is set.
    static func save(_ data: Data, name: String) {
        guard let folder = ProcessInfo.processInfo.environment["QUIVER_FUZZ_SAVE"], !folder.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
    }

    // MARK: - safetensors

    /// Opens `data` as a safetensors file and reads every tensor it declares. Returns the error, or
    /// nil when the file opened. The mapping is released before this returns, so the next case may
    /// overwrite the file.
    static func openSafeTensors(_ data: Data, at url: URL) throws -> EmbedderError? {
        try data.write(to: url)
        do throws(EmbedderError) {
            let file = try SafeTensorsFile(url: url)
            for (name, info) in file.tensors {
                do throws(EmbedderError) {
                    let values = try file.floats(name, shape: info.shape)
                    #expect(values.count == info.shape.reduce(1, *), "\(name)")
                } catch {
                    // Only an unknown dtype may fail after the header was accepted.
                    guard case .unsupportedDType = error else {
                        Issue.record("tensor \(name) failed to read after the header was accepted: \(error)")
                        return error
                    }
                }
            }
            // Accepted tensors never overlap (the format forbids it; the reader checks).
            let ranges = file.tensors.values.map(\.range).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound <= b.lowerBound, "\(a) overlaps \(b)") }
            return nil
        } catch {
            guard case .malformedFile(let path, _) = error, path == url.path else {
                Issue.record("unexpected error kind: \(error)")
                return error
            }
            return error
        }
    }

    /// A header entry.
    static func entry(_ dtype: Any, _ shape: Any, _ offsets: Any) -> [String: Any] {
        ["dtype": dtype, "shape": shape, "data_offsets": offsets]
    }

    /// A file from a header given as raw JSON bytes; `declared` overrides the length field.
    static func file(json: Data, data: Data, declared: UInt64? = nil) -> Data {
        var out = Data()
        withUnsafeBytes(of: (declared ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data)
        return out
    }

    static func file(header: [String: Any], data: Data, declared: UInt64? = nil) -> Data {
        file(json: (try? JSONSerialization.data(withJSONObject: header)) ?? Data("{}".utf8), data: data, declared: declared)
    }

    /// A valid little file: three F32 tensors back to back, one empty, and metadata.
    static func validHeader() -> ([String: Any], Data) {
        let header: [String: Any] = [
            "__metadata__": ["format": "pt"],
            "a": entry("F32", [2, 3], [0, 24]), "b": entry("F32", [4], [24, 40]), "empty": entry("F32", [0, 5], [40, 40]),
            "h": entry("F16", [2], [40, 44]),
        ]
        return (header, Data((0..<44).map { UInt8($0 &* 37 & 0x3F) }))
    }

    /// A random JSON value, occasionally deeply nested or of an absurd size.
    static func randomJSON(_ rng: inout SeededGenerator, depth: Int = 0) -> Any {
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: return NSNull()
        case 1: return Bool.random(using: &rng)
        case 2:
            return [-1, 0, 1, 2, 3, 8, 24, 1 << 31, 1 << 32, Int(Int32.max), Int.max / 2, -(1 << 40)][Int.random(in: 0..<12, using: &rng)]
        case 3: return [0.5, -0.0, 1e300, -1e300, 1e15, 9.007199254740993e15, 2.5e-320][Int.random(in: 0..<7, using: &rng)]
        case 4:
            return ["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "f32", "F33", "", "F32\u{0}", "🙂"][
                Int.random(in: 0..<12, using: &rng)]
        case 5: return String(repeating: "x", count: Int.random(in: 0..<3, using: &rng) == 0 ? 100_000 : 3)
        case 6 where depth < 4: return (0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomJSON(&rng, depth: depth + 1) }
        case 7 where depth < 4:
            var object: [String: Any] = [:]
            for key in ["dtype", "shape", "data_offsets", "x"] where Bool.random(using: &rng) {
                object[key] = randomJSON(&rng, depth: depth + 1)
            }
            return object
        case 8: return [Int.random(in: -3...50, using: &rng), Int.random(in: -3...50, using: &rng)]
        case 9: return [[1, 2], [3]]
        case 10: return Array(repeating: 2, count: Int.random(in: 0..<70, using: &rng))  // product overflows at 63
        case 11: return [[Int.max / 4, 8], [1 << 32, 1 << 32, 1 << 32]].randomElement(using: &rng)!
        default: return Int.random(in: -2...64, using: &rng)
        }
    }

    /// Deeply nested JSON text: `[[[…]]]` or `{"a":{"a":…}}`, `depth` levels, optionally unclosed.
    static func nested(depth: Int, object: Bool, closed: Bool) -> Data {
        var text = object ? "{\"t\":" : ""
        text += String(repeating: object ? "{\"a\":" : "[", count: depth)
        text += "1"
        if closed { text += String(repeating: object ? "}" : "]", count: depth) }
        text += object ? "}" : ""
        return Data(text.utf8)
    }

    @Test("2,400 seeded header mutations: lengths, offsets, overlaps, dtypes, shapes, nesting, bad JSON")
    func safetensorsHeaderMutations() throws {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent("model.safetensors")
        var rng = SeededGenerator(state: Self.seed(0x5AFE))
        let (valid, payload) = Self.validHeader()
        #expect(try Self.openSafeTensors(Self.file(header: valid, data: payload), at: url) == nil, "the base file must load")
        var rejected = 0
        for iteration in 0..<2_400 {
            var header = valid
            var json: Data?
            var declared: UInt64?
            var data = payload
            var mustFail = false
            switch iteration % 12 {
            case 0:  // the length field: huge, "negative", past the end, zero, off by one
                declared = [UInt64.max, UInt64(Int64.max), 1 << 63, UInt64(bitPattern: -8), 1 << 40, 100 << 20 + 1, 0]
                    .randomElement(using: &rng)!
                mustFail = true
            case 1:
                let json = try JSONSerialization.data(withJSONObject: header)
                declared = UInt64(json.count) + UInt64.random(in: 1...3, using: &rng)  // swallows data bytes or runs past the end
                data = Data()
                mustFail = true
            case 2:  // offsets outside the data, reversed, negative
                let name = ["a", "b", "h"].randomElement(using: &rng)!
                header[name] = Self.entry(
                    "F32", [1],
                    [[44, 48], [40, 36], [-4, 0], [0, 1 << 40], [Int.max / 2, Int.max / 2 + 4]]
                        .randomElement(using: &rng)!)
                mustFail = true
            case 3:  // overlapping tensors
                let begin = Int.random(in: 0...32, using: &rng) / 4 * 4
                header["overlap"] = Self.entry("F32", [2], [begin, begin + 8])
                header["a"] = Self.entry("F32", [6], [0, 24])
                mustFail = begin < 40
            case 4:  // dtype strings and their sizes, sometimes with a random shape too
                header["b"] = Self.entry(Self.randomJSON(&rng), Bool.random(using: &rng) ? [4] : Self.randomJSON(&rng), [24, 40])
            case 5:  // shapes
                header["a"] = Self.entry("F32", Self.randomJSON(&rng), [0, 24])
            case 6:  // whole entries replaced by random JSON
                header[["a", "b", "empty", "__metadata__", "new", ""].randomElement(using: &rng)!] = Self.randomJSON(&rng)
            case 7:  // deeply nested values or top level
                let depth = [10, 100, 1_000, 5_000].randomElement(using: &rng)!
                json = Self.nested(depth: depth, object: Bool.random(using: &rng), closed: Bool.random(using: &rng))
                mustFail = true  // never an object of tensor entries
            case 8:  // malformed JSON: truncated, trailing garbage, NUL, invalid UTF-8, not an object
                var text = try JSONSerialization.data(withJSONObject: header)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: text = text.prefix(Int.random(in: 0..<text.count, using: &rng))
                case 1: text.append(contentsOf: Array("}}garbage".utf8))
                case 2: text[Int.random(in: 0..<text.count, using: &rng)] = 0
                case 3: text[Int.random(in: 0..<text.count, using: &rng)] = 0xFF
                case 4: text = Data("[1,2,3]".utf8)
                default: text = Data("\"a string\"".utf8)
                }
                json = text
                mustFail = true
            case 9:  // byte flips inside the JSON text
                var text = try JSONSerialization.data(withJSONObject: header)
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    text[Int.random(in: 0..<text.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
                json = text
            case 10:  // data section truncated
                data = payload.prefix(Int.random(in: 0..<payload.count, using: &rng))
                mustFail = true
            default:  // several random mutations at once
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    header[["a", "b", "h", "empty", "x"].randomElement(using: &rng)!] = Self.randomJSON(&rng)
                }
            }
            let bytes =
                json.map { Self.file(json: $0, data: data, declared: declared) }
                ?? Self.file(header: header, data: data, declared: declared)
            let error = try Self.openSafeTensors(bytes, at: url)
            if error != nil { rejected += 1 }
            if mustFail && error == nil {
                Issue.record("case \(iteration) (kind \(iteration % 12)) was accepted")
                Self.save(bytes, name: "header-\(iteration).safetensors")
            }
        }
        #expect(rejected > 1_200, "only \(rejected) of 2400 rejected: the generator lost its teeth")
    }

    @Test("3,000 seeded byte-level mutations and 2,000 random files")
    func safetensorsByteMutations() throws {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent("model.safetensors")
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        let good = ModelFolderFixture.safetensors(fixture.tensors(), dtype: "F32")
        var rng = SeededGenerator(state: Self.seed(0xB17E))
        let headerEnd = 8 + Int(good.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for _ in 0..<3_000 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let position = Int.random(in: 0..<min(bytes.count, headerEnd + 16), using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 1: bytes[position] = UInt8.random(in: 0...255, using: &rng)
                case 2: bytes.remove(at: position)
                case 3: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: position)
                default: bytes = bytes.prefix(position)
                }
                if bytes.isEmpty { break }
            }
            _ = try Self.openSafeTensors(bytes, at: url)
        }
        for _ in 0..<2_000 {
            let count = [0, 1, 7, 8, 9, 16, 100, 4096].randomElement(using: &rng)!
            var bytes = Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
            if count >= 8, Bool.random(using: &rng) {  // a plausible length field
                let length = UInt64.random(in: 0...UInt64(count - 8), using: &rng)
                bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: length.littleEndian) { Data($0) })
            }
            _ = try Self.openSafeTensors(bytes, at: url)
        }
    }

    @Test("400 mutated weight files in a model folder: Embedder loads and embeds, or names the problem")
    func mutatedModelFolders() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        let path = fixture.url.appendingPathComponent("model.safetensors")
        let good = try Data(contentsOf: path)
        let headerEnd = 8 + Int(good.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SeededGenerator(state: Self.seed(0xF01D))
        var loaded = 0
        for _ in 0..<400 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                // Mostly the header; sometimes the weights (which must still load: any float is a weight).
                let position =
                    Bool.random(using: &rng)
                    ? Int.random(in: 8..<headerEnd, using: &rng)
                    : Int.random(in: headerEnd..<bytes.count, using: &rng)
                bytes[position] = UInt8.random(in: 0...255, using: &rng)
            }
            try bytes.write(to: path)
            do throws(EmbedderError) {
                let embedder = try Embedder(folder: fixture.url)
                let vectors = try embedder.embed(["hello world", "", "a b hello!"])
                #expect(vectors.allSatisfy { $0.count == 8 })
                loaded += 1
            } catch {
                switch error {
                case .malformedFile(let p, _): #expect(p == path.path)
                case .missingTensor, .tensorShapeMismatch, .unsupportedDType: break
                default: Issue.record("unexpected error \(error)")
                }
            }
        }
        #expect(loaded > 0)
    }

    // MARK: - tokenizer.json, config.json

    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", ",", "!", "a", "b", "##lo", "hel"]

    /// A small valid WordPiece `tokenizer.json`.
    static func tokenizerJSON() -> [String: Any] {
        var vocab: [String: Any] = [:]
        for (i, token) in vocabulary.enumerated() { vocab[token] = i }
        let added: [[String: Any]] = (0..<5).map { i in
            [
                "id": i, "content": vocabulary[i], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
                "special": true,
            ]
        }
        return [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": [
                "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": NSNull(), "lowercase": true,
            ],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [
                    ["SpecialToken": ["id": "[CLS]", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                    ["SpecialToken": ["id": "[SEP]", "type_id": 0]],
                ],
            ] as [String: Any],
            "model": [
                "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                "vocab": vocab,
            ]
                as [String: Any],
        ]
    }

    /// A copy of `value` with one seeded change somewhere in its tree: a value replaced by random
    /// JSON, a key removed or added, an array element dropped or duplicated.
    static func mutate(_ value: Any, _ rng: inout SeededGenerator, depth: Int = 0) -> Any {
        let here = depth > 0 && Int.random(in: 0..<4, using: &rng) == 0
        if here { return randomTokenizerValue(&rng) }
        if var object = value as? [String: Any], !object.isEmpty {
            let keys = object.keys.sorted()
            let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: object[key] = nil
            case 1:
                object[["type", "id", "content", "vocab", "unk_token", "normalized", "zz"].randomElement(using: &rng)!] =
                    randomTokenizerValue(&rng)
            default: object[key] = mutate(object[key]!, &rng, depth: depth + 1)
            }
            return object
        }
        if var array = value as? [Any], !array.isEmpty {
            let i = Int.random(in: 0..<array.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: array.remove(at: i)
            case 1: array.append(array[i])
            default: array[i] = mutate(array[i], &rng, depth: depth + 1)
            }
            return array
        }
        return randomTokenizerValue(&rng)
    }

    static func randomTokenizerValue(_ rng: inout SeededGenerator) -> Any {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return NSNull()
        case 1: return Bool.random(using: &rng)
        case 2: return [-1, 0, 1, 5, 13, 14, 1_000, Int(Int32.max), Int(Int32.max) + 1, -(1 << 40)].randomElement(using: &rng)!
        case 3: return [0.5, 1e300, -2.5].randomElement(using: &rng)!
        case 4:
            return [
                "", "[UNK]", "[CLS]", "##", "#", "hello", "WordPiece", "BPE", "BertNormalizer", "Whitespace", " ", "\u{0}", "é", "[", "]",
            ]
            .randomElement(using: &rng)!
        case 5: return [] as [Any]
        case 6: return [:] as [String: Any]
        case 7: return ["a": 1, "": -1, "[UNK]": 99] as [String: Any]
        case 8: return ["x", "y", "[UNK]", "[CLS]", "[SEP]"]
        default: return [["id": -1, "content": "neg"], ["id": 3, "content": ""], ["content": "x"]] as [[String: Any]]
        }
    }

    /// Random text for a small vocabulary: its words, pieces, specials, separators and random scalars.
    static func randomText(_ rng: inout SeededGenerator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0..<40, using: &rng) {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: text += vocabulary.randomElement(using: &rng)!
            case 1: text += [" ", "  ", "\t", "\n", ",", "!", "hello", "HeLLo", "neg", "x", "é", "中"].randomElement(using: &rng)!
            case 2: text.unicodeScalars.append(TokenizerRobustnessTests.randomScalar(&rng))
            case 3: text += String(repeating: "a", count: Int.random(in: 90...110, using: &rng))
            default: text += "hel" + (Bool.random(using: &rng) ? "lo" : "los")
            }
        }
        return text
    }

    /// Encodes seeded random texts and checks every id and length.
    static func checkEncodings(_ tokenizer: WordPieceTokenizer, _ rng: inout SeededGenerator, count: Int) {
        for _ in 0..<count {
            let text = randomText(&rng)
            let maxLength = [-5, 0, 1, 2, 3, 8, 64, 512].randomElement(using: &rng)!
            let ids = tokenizer.encode(text, maxLength: maxLength)
            #expect(ids.count >= 2 && ids.count <= max(maxLength, 2), "\(ids.count) ids for maxLength \(maxLength)")
            #expect(ids.first == tokenizer.clsID && ids.last == tokenizer.sepID)
            #expect(
                ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize },
                "ids \(ids) outside 0..<\(tokenizer.vocabularySize) for \(text.debugDescription)")
        }
    }

    @Test("1,000 seeded tokenizer.json mutations: a named error, or a tokenizer whose ids stay in range")
    func tokenizerJSONMutations() throws {
        let scratch = try Scratch()
        let url = scratch.url.appendingPathComponent("tokenizer.json")
        var rng = SeededGenerator(state: Self.seed(0x70C))
        var loaded = 0
        for iteration in 0..<1_000 {
            var root: Any = Self.tokenizerJSON()
            for _ in 0..<Int.random(in: 1...3, using: &rng) { root = Self.mutate(root, &rng) }
            var bytes = (try? JSONSerialization.data(withJSONObject: root)) ?? Data("{}".utf8)
            if iteration % 5 == 4 {  // byte-level damage on top
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            try bytes.write(to: url)
            do throws(EmbedderError) {
                let tokenizer = try WordPieceTokenizer(folder: scratch.url)
                loaded += 1
                Self.checkEncodings(tokenizer, &rng, count: 20)
            } catch {
                #expect(error.description.contains("tokenizer.json"), "\(error)")
            }
        }
        #expect(loaded > 50 && loaded < 1_000, "\(loaded) of 1000 loaded")
    }

    @Test("800 seeded config.json mutations: a named error, or a folder that loads and embeds")
    func configMutations() throws {
        var fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        let path = fixture.url.appendingPathComponent("config.json")
        var rng = SeededGenerator(state: Self.seed(0xC0F))
        let base = fixture.config
        var loaded = 0
        for iteration in 0..<800 {
            var config = base
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                let key = (base.keys.sorted() + ["position_embedding_type", "model_type"]).randomElement(using: &rng)!
                config[key] = Bool.random(using: &rng) ? Self.randomJSON(&rng) : Self.randomTokenizerValue(&rng)
            }
            fixture.config = config
            var bytes = (try? JSONSerialization.data(withJSONObject: config)) ?? Data()
            if iteration % 4 == 3 { bytes = bytes.prefix(Int.random(in: 0..<max(1, bytes.count), using: &rng)) }
            try bytes.write(to: path)
            do throws(EmbedderError) {
                let embedder = try Embedder(folder: fixture.url)
                let vectors = try embedder.embed(["hello world!", ""])
                #expect(vectors.allSatisfy { $0.count == embedder.dimension })
                loaded += 1
            } catch {
                switch error {
                case .invalidConfiguration(let p, _), .malformedFile(let p, _), .unsupportedArchitecture(let p, _):
                    #expect(p == path.path || p.hasSuffix("model.safetensors") || p.hasSuffix("tokenizer.json"), "\(error)")
                case .missingTensor, .tensorShapeMismatch: break  // a size the weights do not have
                default: Issue.record("unexpected error \(error)")
                }
            }
        }
        #expect(loaded > 0, "no mutated config loaded at all")
    }

    // MARK: - tokenizer input

    @Test("tokenizer: 3,000 random UTF-8 byte strings, 3,000 strings of random scalars, long runs")
    func tokenizerInput() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        var rng = SeededGenerator(state: Self.seed(0x7E47))
        func check(_ text: String, _ maxLength: Int) {
            let ids = tokenizer.encode(text, maxLength: maxLength)
            #expect(ids.count >= 2 && ids.count <= max(maxLength, 2))
            #expect(ids.first == tokenizer.clsID && ids.last == tokenizer.sepID)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
        }
        for _ in 0..<3_000 {
            // Well-formed UTF-8 of random scalars of every length class, plus broken sequences.
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0..<120, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes.append(UInt8.random(in: 0...0x7F, using: &rng))
                case 1: appendUTF8(TokenizerRobustnessTests.randomScalar(&rng), to: &bytes)
                case 2:
                    bytes += [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF]]
                        .randomElement(using: &rng)!
                default: bytes.append(UInt8.random(in: 0...255, using: &rng))
                }
            }
            check(String(decoding: bytes, as: UTF8.self), [0, 2, 5, 128, 256].randomElement(using: &rng)!)
        }
        for _ in 0..<3_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<300, using: &rng) { scalars.append(TokenizerRobustnessTests.randomScalar(&rng)) }
            check(String(scalars), Int.random(in: -1...300, using: &rng))
        }
        // Long inputs of one repeated random scalar (word limits, marks, CJK, controls).
        for _ in 0..<40 {
            let scalar = TokenizerRobustnessTests.randomScalar(&rng)
            let text = String(String.UnicodeScalarView(repeatElement(scalar, count: Int.random(in: 50_000...200_000, using: &rng))))
            check(text, 256)
            check("[CLS]" + text + "[SEP]", 8)
        }
    }
}

/// Replays `Fixtures/fuzz/`: inputs kept because they once broke something or sit on an edge.
/// Files named `reject-*` must fail with an `EmbedderError` naming the file; `accept-*` must load;
/// others only must not trap. Texts in `text/` must tokenize well-formed.
@Suite("Loader fuzz: replay corpus")
struct LoaderFuzzReplayTests {
    static func corpus(_ folder: String) throws -> [URL] {
        let root = try #require(Bundle.module.url(forResource: "Fixtures/fuzz/\(folder)", withExtension: nil), "Fixtures/fuzz/\(folder)")
        return try FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func expectation(_ url: URL) -> Bool? {
        let name = url.lastPathComponent
        if name.hasPrefix("reject-") { return false }
        if name.hasPrefix("accept-") { return true }
        return nil
    }

    @Test("safetensors corpus")
    func safetensors() throws {
        let scratch = try LoaderFuzzTests.Scratch()
        let files = try Self.corpus("safetensors")
        #expect(files.count >= 10)
        for file in files {
            let target = scratch.url.appendingPathComponent("model.safetensors")
            let error = try LoaderFuzzTests.openSafeTensors(try Data(contentsOf: file), at: target)
            if let expected = Self.expectation(file) {
                #expect((error == nil) == expected, "\(file.lastPathComponent): \(error.map { "\($0)" } ?? "loaded")")
            }
        }
    }

    @Test("tokenizer.json corpus")
    func tokenizerJSON() throws {
        let scratch = try LoaderFuzzTests.Scratch()
        let files = try Self.corpus("tokenizer")
        #expect(files.count >= 5)
        var rng = SeededGenerator(state: 99)
        for file in files {
            try Data(contentsOf: file).write(to: scratch.url.appendingPathComponent("tokenizer.json"), options: .atomic)
            let result = Result { () throws(EmbedderError) in try WordPieceTokenizer(folder: scratch.url) }
            switch result {
            case .success(let tokenizer):
                #expect(Self.expectation(file) != false, "\(file.lastPathComponent) loaded")
                LoaderFuzzTests.checkEncodings(tokenizer, &rng, count: 200)
                for text in ["neg", "x neg x", "[CLS]neg[SEP]", "", "hello hellos world"] {
                    let ids = tokenizer.encode(text, maxLength: 16)
                    #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "\(file.lastPathComponent): \(ids)")
                }
            case .failure(let error):
                #expect(Self.expectation(file) != true, "\(file.lastPathComponent): \(error)")
                #expect(error.description.contains("tokenizer.json"), "\(file.lastPathComponent): \(error)")
            }
        }
    }

    @Test("config.json corpus")
    func config() throws {
        let fixture = try ModelFolderFixture()
        defer { fixture.remove() }
        try fixture.writeAll()
        let files = try Self.corpus("config")
        #expect(files.count >= 5)
        for file in files {
            try Data(contentsOf: file).write(to: fixture.url.appendingPathComponent("config.json"), options: .atomic)
            let result = Result { () throws(EmbedderError) in try Embedder(folder: fixture.url) }
            switch result {
            case .success(let embedder):
                #expect(Self.expectation(file) != false, "\(file.lastPathComponent) loaded")
                #expect(try embedder.embed("hello world").count == embedder.dimension)
            case .failure(let error):
                #expect(Self.expectation(file) != true, "\(file.lastPathComponent): \(error)")
                #expect(error.description.contains("config.json"), "\(file.lastPathComponent): \(error)")
            }
        }
    }

    @Test("text corpus through the real tokenizer")
    func texts() throws {
        let tokenizer = try TokenizerTestSupport.loadTokenizer()
        let files = try Self.corpus("text")
        #expect(files.count >= 5)
        for file in files {
            let text = String(decoding: try Data(contentsOf: file), as: UTF8.self)
            for maxLength in [2, 3, 256, 100_000] {
                let ids = tokenizer.encode(text, maxLength: maxLength)
                #expect(ids.count >= 2 && ids.count <= maxLength, "\(file.lastPathComponent)")
                #expect(ids.first == tokenizer.clsID && ids.last == tokenizer.sepID)
                #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "\(file.lastPathComponent)")
            }
        }
    }
}
