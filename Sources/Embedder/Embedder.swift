import Foundation
import Synchronization
import VectorMath

/// A sentence-embedding model loaded from a Hugging Face / sentence-transformers folder: the
/// tokenizer, the BERT encoder and the pooling that turns text into one vector.
///
/// One instance serves any number of concurrent callers: the weights are immutable and every
/// forward pass borrows its own scratch ``Workspace`` from a pool, so steady-state encoding does
/// not allocate activations.
public final class Embedder: Sendable {
    /// Batching limits for one forward pass.
    public struct Options: Sendable, Equatable {
        /// Most tokens (padding-free: the sum of the inputs' lengths) in one forward pass. Larger
        /// batches amortize GEMM set-up; smaller ones keep activations in cache. Default 4096.
        public var tokenBudget: Int
        /// Most inputs in one forward pass. Default 256.
        public var maxBatchSize: Int

        /// The defaults documented on each property.
        public init(tokenBudget: Int = 4096, maxBatchSize: Int = 256) {
            self.tokenBudget = tokenBudget
            self.maxBatchSize = maxBatchSize
        }
    }

    /// The encoder's architecture.
    public let config: BertConfig
    /// Pooling, normalization and the token limit per input.
    public let pooling: PoolingConfig
    /// Text → token ids, exactly as the reference tokenizer.
    public let tokenizer: WordPieceTokenizer
    /// Batching limits.
    public let options: Options
    let model: BertModel
    private let workspaces = Mutex<[Workspace]>([])

    /// Length of every embedding.
    public var dimension: Int { config.hiddenSize }

    /// Loads the model folder at `folder` (`config.json`, `model.safetensors`, the tokenizer files
    /// and the optional sentence-transformers files), validating every file and tensor.
    public init(folder: URL, options: Options = Options()) throws(EmbedderError) {
        guard options.tokenBudget >= 2, options.maxBatchSize >= 1 else {
            throw .invalidInput(reason: "tokenBudget must be ≥ 2 and maxBatchSize ≥ 1")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missingFile(path: folder.path)
        }
        let config = try BertConfig(url: folder.appendingPathComponent("config.json"))
        let weights = try SafeTensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let tokenizer = try WordPieceTokenizer(folder: folder)
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw .invalidConfiguration(
                path: folder.appendingPathComponent("config.json").path,
                reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but vocab_size is \(config.vocabularySize)")
        }
        self.config = config
        self.pooling = try PoolingConfig(folder: folder, maxPositions: config.maxPositions)
        self.tokenizer = tokenizer
        self.options = options
        self.model = try BertModel(weights: weights, config: config)
    }

    /// Token ids of `text` as the model sees them: `[CLS] … [SEP]`, truncated to
    /// `pooling.maxSequenceLength`.
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(text, maxLength: pooling.maxSequenceLength)
    }

    /// One embedding per text, in input order.
    public func embed(_ texts: [String]) throws(EmbedderError) -> [[Float]] {
        try embed(tokenized: texts.map(tokenize))
    }

    /// One embedding for one text.
    public func embed(_ text: String) throws(EmbedderError) -> [Float] {
        try embed(tokenized: [tokenize(text)])[0]
    }

    /// One embedding per token sequence, in input order.
    ///
    /// Sequences are sorted by length and cut into forward passes under ``Options/tokenBudget``,
    /// so each pass holds sequences of similar length. Each sequence must be non-empty, no longer
    /// than `pooling.maxSequenceLength`, with ids inside the vocabulary.
    public func embed(tokenized sequences: [[Int32]]) throws(EmbedderError) -> [[Float]] {
        try validate(sequences)
        let h = dimension
        var results = [[Float]](repeating: [], count: sequences.count)
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        let workspace = checkOutWorkspace()
        defer { checkIn(workspace) }
        var output = [Float](repeating: 0, count: min(options.maxBatchSize, sequences.count) * h)
        var cursor = 0
        while cursor < order.count {
            var batch: [Int] = []
            var tokens = 0
            while cursor < order.count, batch.count < options.maxBatchSize {
                let length = sequences[order[cursor]].count
                if !batch.isEmpty, tokens + length > options.tokenBudget { break }
                batch.append(order[cursor])
                tokens += length
                cursor += 1
            }
            var ids: [Int32] = []
            ids.reserveCapacity(tokens)
            for index in batch { ids.append(contentsOf: sequences[index]) }
            let lengths = batch.map { sequences[$0].count }
            output.withUnsafeMutableBufferPointer { out in
                guard let base = out.baseAddress else { return }
                model.encode(ids: ids, lengths: lengths, pooling: pooling, workspace: workspace, output: base)
            }
            for (slot, index) in batch.enumerated() {
                results[index] = Array(output[(slot * h)..<((slot + 1) * h)])
            }
        }
        return results
    }

    private func validate(_ sequences: [[Int32]]) throws(EmbedderError) {
        let vocabulary = Int32(clamping: config.vocabularySize)
        let limit = pooling.maxSequenceLength
        for (index, sequence) in sequences.enumerated() {
            guard !sequence.isEmpty, sequence.count <= limit else {
                throw .invalidInput(reason: "sequence \(index) has \(sequence.count) tokens; allowed 1...\(limit)")
            }
            if let bad = sequence.first(where: { $0 < 0 || $0 >= vocabulary }) {
                throw .invalidInput(reason: "sequence \(index) has token id \(bad) outside the vocabulary 0..<\(vocabulary)")
            }
        }
    }

    private func checkOutWorkspace() -> Workspace {
        workspaces.withLock { $0.popLast() } ?? Workspace()
    }

    private func checkIn(_ workspace: Workspace) {
        workspaces.withLock { $0.append(workspace) }
    }
}
