import Foundation

/// How token vectors become one sentence vector, from the sentence-transformers files of a model
/// folder (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`).
public struct PoolingConfig: Sendable, Equatable {
    /// The pooling strategies sentence-transformers' `Pooling` module offers that this runtime runs.
    public enum Mode: String, Sendable, Equatable {
        /// Average of the token vectors under the attention mask.
        case mean
        /// The `[CLS]` token's vector.
        case cls
        /// Element-wise maximum over the token vectors.
        case max
        /// Sum of token vectors divided by √(token count).
        case meanSqrtLength = "mean_sqrt_len"
    }

    /// The pooling strategy.
    public var mode: Mode
    /// Whether a `Normalize` module follows pooling (L2-normalized output).
    public var normalize: Bool
    /// Token limit per input, `[CLS]` and `[SEP]` included; longer inputs are truncated.
    public var maxSequenceLength: Int

    /// Mean pooling, normalized, 256 tokens: all-MiniLM-L6-v2's settings.
    public init(mode: Mode = .mean, normalize: Bool = true, maxSequenceLength: Int = 256) {
        self.mode = mode
        self.normalize = normalize
        self.maxSequenceLength = maxSequenceLength
    }

    /// Reads the sentence-transformers files of `folder`. A folder without them (a plain
    /// Hugging Face BERT) gets mean pooling, no normalization and `maxPositions` tokens.
    public init(folder: URL, maxPositions: Int) throws(EmbedderError) {
        let modulesURL = folder.appendingPathComponent("modules.json")
        var poolingPath = "1_Pooling"
        var normalize = false
        if FileManager.default.fileExists(atPath: modulesURL.path) {
            let modules = try Self.readModules(modulesURL)
            normalize = modules.contains { $0.type.hasSuffix(".Normalize") }
            if let pooling = modules.first(where: { $0.type.hasSuffix(".Pooling") }) {
                poolingPath = pooling.path
            }
        }
        var mode = Mode.mean
        let poolingURL = folder.appendingPathComponent(poolingPath).appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: poolingURL.path) {
            mode = try Self.readMode(poolingURL)
        }
        var maxLength = maxPositions
        let sbertURL = folder.appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sbertURL.path) {
            let file = try JSONFile(url: sbertURL)
            if let configured = try file.int("max_seq_length", in: 2...1_048_576) {
                maxLength = min(configured, maxPositions)
            }
        }
        self.init(mode: mode, normalize: normalize, maxSequenceLength: maxLength)
    }

    private static func readModules(_ url: URL) throws(EmbedderError) -> [(type: String, path: String)] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        guard let list = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw .malformedFile(path: url.path, reason: "expected a JSON list of module objects")
        }
        var modules: [(type: String, path: String)] = []
        for entry in list {
            guard let type = entry["type"] as? String else {
                throw .malformedFile(path: url.path, reason: "a module has no \"type\"")
            }
            let path = entry["path"] as? String ?? ""
            // The pooling path names a sub-folder of the model folder: never let it climb out.
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw .malformedFile(path: url.path, reason: "module path \"\(path)\" leaves the model folder")
            }
            modules.append((type, path))
        }
        return modules
    }

    private static func readMode(_ url: URL) throws(EmbedderError) -> Mode {
        let file = try JSONFile(url: url)
        if let name = try file.string("pooling_mode") {
            guard let mode = Mode(rawValue: name) else {
                throw .unsupportedArchitecture(path: file.path, found: "pooling_mode \"\(name)\"")
            }
            return mode
        }
        var enabled: [Mode] = []
        if try file.bool("pooling_mode_cls_token") == true { enabled.append(.cls) }
        if try file.bool("pooling_mode_mean_tokens") == true { enabled.append(.mean) }
        if try file.bool("pooling_mode_max_tokens") == true { enabled.append(.max) }
        if try file.bool("pooling_mode_mean_sqrt_len_tokens") == true { enabled.append(.meanSqrtLength) }
        for unsupported in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"] where try file.bool(unsupported) == true {
            throw .unsupportedArchitecture(path: file.path, found: unsupported)
        }
        guard enabled.count <= 1 else {
            throw .unsupportedArchitecture(
                path: file.path, found: "several pooling modes at once (\(enabled.map(\.rawValue).joined(separator: ", ")))")
        }
        return enabled.first ?? .mean
    }
}
