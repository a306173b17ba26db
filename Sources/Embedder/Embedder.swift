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
        /// Forward passes run at once for one call with several batches. Default: the number of
        /// active processors. Each pass runs its GEMMs on one thread (see ``blasThreads``), so
        /// the element-wise work and attention are parallel too, and no BLAS thread pool spins
        /// waiting on a busy core.
        public var workers: Int
        /// Threads OpenBLAS uses inside one GEMM, set process-wide when the embedder loads.
        /// Default 1: parallelism comes from ``workers`` (measured faster on 2 cores, and far
        /// faster when the cores are shared; see BENCHMARKS.md).
        public var blasThreads: Int
        /// A call with at most this many tokens in all runs as one forward pass shared by all the
        /// workers (each computes its share of every step: GEMM columns, attention heads,
        /// LayerNorm rows), instead of one pass per worker. Few rows make a GEMM memory-bound (it
        /// streams every weight once per pass), so for a handful of short queries one pass
        /// streaming the weights once beats one pass per worker streaming them once each.
        /// Default 256: with the packed GEMM, one pass per worker wins from ~250 tokens up (measured
        /// on 2 cores; see BENCHMARKS.md, "Small batches").
        public var columnSplitTokens: Int
        /// A forward pass of at most this many tokens runs its dense layers on Quiver's own GEMM
        /// over weights packed at load time (`VectorMath.matmulPacked`) instead of OpenBLAS, which
        /// re-packs the weights on every call. Default: every pass on the AVX-512 kernels (they beat
        /// OpenBLAS at every size measured: BENCHMARKS.md, "AVX-512"), 512 tokens on AVX2; 0
        /// always uses OpenBLAS.
        public var packedGEMMTokens: Int
        /// The dense layers' arithmetic: ``Precision/fp32`` (default, exact to the reference) or
        /// ``Precision/bf16`` (weights rounded once at load, every pass on the bf16 kernel;
        /// ``packedGEMMTokens`` does not apply) or ``Precision/int8`` (the calibrated layers in
        /// bf16, see ``int8InBF16``).
        public var precision: Precision
        /// At ``Precision/int8``, the dense layers (``DenseLayer`` names, `layer.kind`) that stay
        /// in bf16. Default ``Embedder/calibratedInt8InBF16``, decided by a measured calibration
        /// (`PrecisionCompare --calibrate`); other sets are for that calibration.
        public var int8InBF16: Set<String>

        /// The defaults documented on each property.
        public init(
            tokenBudget: Int = 4096, maxBatchSize: Int = 256,
            workers: Int = CPUBudget.machine.embedWorkers, blasThreads: Int = 1,
            columnSplitTokens: Int = 256, packedGEMMTokens: Int = Kernels.active == .avx512 ? Int.max : 512,
            precision: Precision = .fp32, int8InBF16: Set<String> = Embedder.calibratedInt8InBF16
        ) {
            self.precision = precision
            self.int8InBF16 = int8InBF16
            self.tokenBudget = tokenBudget
            self.maxBatchSize = maxBatchSize
            self.workers = workers
            self.blasThreads = blasThreads
            self.columnSplitTokens = columnSplitTokens
            self.packedGEMMTokens = packedGEMMTokens
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

    /// Bytes of the model's weights in memory (the tensors and their packed copies).
    public var weightBytes: Int { model.weightBytes }
    private let workspaces = Mutex<[Workspace]>([])
    /// The workers as one team for a call that is a single small pass (see `columnSplitTokens`).
    private let team: ForwardTeam
    /// Low-priority threads for ``Priority/background`` calls, started on the first one.
    private let background = Mutex<BackgroundWorkers?>(nil)

    /// How a call's forward passes are scheduled against other work in the process.
    public enum Priority: Sendable, Equatable {
        /// On the calling thread and the embedder's normal-priority helpers (queries).
        case interactive
        /// Only on low-priority threads (`nice` 19) while the caller waits: bulk work such as
        /// document writes, which then takes the cores only when interactive calls leave them.
        case background
    }

    /// The dense layers' arithmetic (``Options/precision``).
    public var precision: Precision { options.precision }

    /// What decides this embedder's vectors beyond the model's files: the precision's name, and at
    /// int8 the layers kept in bf16 (`int8;bf16=0.output,…`). Enters the model fingerprint.
    public var recipe: String { Self.recipe(options.precision, int8InBF16: options.int8InBF16) }

    /// ``recipe`` of an embedder with these options.
    public static func recipe(_ precision: Precision, int8InBF16: Set<String> = calibratedInt8InBF16) -> String {
        precision == .int8 ? "int8;bf16=" + int8InBF16.sorted().joined(separator: ",") : precision.rawValue
    }

    /// One of a transformer layer's four dense layers.
    public enum DenseLayer: String, Sendable, CaseIterable {
        /// The fused query, key and value projection.
        case qkv
        /// Attention's output projection.
        case attentionOutput = "attention_output"
        /// The feed-forward expansion (before GELU).
        case intermediate
        /// The feed-forward contraction (after GELU).
        case output

        /// `"\(layer).\(kind)"`, e.g. `5.output`.
        public static func name(layer: Int, _ kind: DenseLayer) -> String { "\(layer).\(kind.rawValue)" }
    }

    /// The dense layers an int8 encoder keeps in bf16, decided by `PrecisionCompare --calibrate
    /// 0.9985,0.9996` on 1,401 texts no quality gate or benchmark uses (600 documents and 400
    /// queries of the corpus, the empty text and 400 one- to three-word query prefixes): each layer
    /// quantized alone (the others in bf16) to rank them, then, from all-int8, the most sensitive
    /// layer put back in bf16 one at a time until the whole model reached min cosine 0.9985 and
    /// mean 0.9996 against fp32 (margins over the gates 0.998 and 0.9995): 12 of the 24 layers. Measured on
    /// 2026-12-05: `Benchmarks/results/encoder-int8-2026-12-05/calibration.json`; see
    /// docs/ARCHITECTURE.md, "Precision (int8)".
    public static let calibratedInt8InBF16: Set<String> = [
        "0.output", "1.output", "1.qkv", "2.intermediate", "2.output", "2.qkv", "3.intermediate", "3.output", "3.qkv",
        "4.intermediate", "4.qkv", "5.qkv",
    ]

    /// Length of every embedding.
    public var dimension: Int { config.hiddenSize }

    /// Loads the model folder at `folder` (`config.json`, `model.safetensors`, the tokenizer files
    /// and the optional sentence-transformers files), validating every file and tensor.
    public init(folder: URL, options: Options = Options()) throws(EmbedderError) {
        guard options.tokenBudget >= 2, options.maxBatchSize >= 1, options.workers >= 1, options.blasThreads >= 1 else {
            throw .invalidInput(reason: "tokenBudget must be ≥ 2; maxBatchSize, workers and blasThreads ≥ 1")
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
        self.model = try BertModel(weights: weights, config: config, precision: options.precision, int8InBF16: options.int8InBF16)
        self.team = ForwardTeam(size: options.workers)
        VectorMath.setBLASThreads(options.blasThreads)
    }

    /// Token ids of `text` as the model sees them: `[CLS] … [SEP]`, truncated to
    /// `pooling.maxSequenceLength`.
    public func tokenize(_ text: String) -> [Int32] {
        tokenizer.encode(text, maxLength: pooling.maxSequenceLength)
    }

    /// One embedding per text, in input order.
    public func embed(_ texts: [String], priority: Priority = .interactive) throws(EmbedderError) -> [[Float]] {
        try embed(tokenized: texts.map(tokenize), priority: priority)
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
    public func embed(tokenized sequences: [[Int32]], priority: Priority = .interactive) throws(EmbedderError) -> [[Float]] {
        try validate(sequences)
        let h = dimension
        let batches = planBatches(sequences)
        let flat = UnsafeMutablePointer<Float>.allocate(capacity: max(1, sequences.count * h))
        defer { flat.deallocate() }
        let sink = RowSink(base: flat)
        // A call that is one pass (a lone query, a few coalesced ones: planBatches keeps a call of
        // at most columnSplitTokens together) would leave the other workers idle: the team runs
        // it together instead.
        if batches.count == 1, options.workers > 1, priority == .interactive {
            encodeAsTeam(batch: batches[0], of: sequences, scatterInto: sink.base)
            return (0..<sequences.count).map { i in Array(UnsafeBufferPointer(start: flat + i * h, count: h)) }
        }
        // Otherwise forward passes run side by side, one per worker, each with its own workspace
        // and single-threaded GEMMs (see Options.workers). Batches are dealt round-robin: they
        // hold similar token counts, so the workers finish together.
        let workerCount = min(options.workers, batches.count)
        let run = { @Sendable (worker: Int) in
            guard worker < workerCount else { return }
            let workspace = self.checkOutWorkspace()
            defer { self.checkIn(workspace) }
            for b in stride(from: worker, to: batches.count, by: max(1, workerCount)) {
                self.encode(batch: batches[b], of: sequences, workspace: workspace, scatterInto: sink.base)
            }
        }
        if priority == .background {
            backgroundWorkers().run(run)
        } else if workerCount > 1 {
            // The team's own threads first: Dispatch's pool also runs the process's Swift tasks
            // (a server's request handlers), which would wait behind a pass holding its threads.
            // When another call holds the team, Dispatch's threads do it.
            if !team.run({ member in run(member.index) }) {
                DispatchQueue.concurrentPerform(iterations: workerCount, execute: run)
            }
        } else if workerCount == 1 {
            run(0)
        }
        return (0..<sequences.count).map { i in Array(UnsafeBufferPointer(start: flat + i * h, count: h)) }
    }

    private func backgroundWorkers() -> BackgroundWorkers {
        background.withLock { workers in
            if let workers { return workers }
            let started = BackgroundWorkers(count: options.workers)
            workers = started
            return started
        }
    }

    /// The result matrix shared by the workers of one call: each writes only the rows of its own
    /// batches, and the call reads it after every worker has returned.
    private struct RowSink: @unchecked Sendable {
        let base: UnsafeMutablePointer<Float>
    }

    /// Input indices grouped into forward passes: sorted by length, each pass under
    /// `tokenBudget` tokens (less when that gives every worker a pass, unless the whole call is
    /// at most `columnSplitTokens`) and `maxBatchSize` inputs.
    func planBatches(_ sequences: [[Int32]]) -> [[Int]] {
        let order = sequences.indices.sorted { sequences[$0].count < sequences[$1].count }
        // Cut at least `workers` batches when the input allows, so a call that fits one budget
        // (a coalesced batch of queries) still keeps every worker busy.
        let total = sequences.reduce(0) { $0 + $1.count }
        let longest = sequences.map(\.count).max() ?? 1
        let perWorker = (total + options.workers - 1) / max(1, options.workers)
        // A small call stays one pass (its GEMMs are then split by columns, see embed).
        let budget =
            total <= options.columnSplitTokens
            ? max(longest, min(options.tokenBudget, total))
            : max(longest, min(options.tokenBudget, perWorker))
        var batches: [[Int]] = []
        var batch: [Int] = []
        var tokens = 0
        for index in order {
            let length = sequences[index].count
            if !batch.isEmpty, tokens + length > budget || batch.count >= options.maxBatchSize {
                batches.append(batch)
                batch = []
                tokens = 0
            }
            batch.append(index)
            tokens += length
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }

    /// The ids and lengths of one forward pass over `batch` (indices into `sequences`).
    private func passInput(_ batch: [Int], of sequences: [[Int32]]) -> (ids: [Int32], lengths: [Int]) {
        var ids: [Int32] = []
        ids.reserveCapacity(batch.reduce(0) { $0 + sequences[$1].count })
        for index in batch { ids.append(contentsOf: sequences[index]) }
        return (ids, batch.map { sequences[$0].count })
    }

    /// Copies a pass's pooled rows to their places: row `i` of the pass lands at row `batch[i]`.
    private func scatter(_ pooled: UnsafePointer<Float>, batch: [Int], into output: UnsafeMutablePointer<Float>) {
        let h = dimension
        for (slot, index) in batch.enumerated() {
            (output + index * h).update(from: pooled + slot * h, count: h)
        }
    }

    /// One forward pass on the calling thread.
    private func encode(
        batch: [Int], of sequences: [[Int32]], workspace: Workspace, scatterInto output: UnsafeMutablePointer<Float>
    ) {
        let (ids, lengths) = passInput(batch, of: sequences)
        workspace.reserve(tokens: ids.count, longest: lengths.max() ?? 1, config: config)
        let pooled = workspace.pooledOutput(rows: batch.count, width: dimension)
        model.encode(
            ids: ids, lengths: lengths, pooling: pooling, workspace: workspace, output: pooled,
            packed: ids.count <= options.packedGEMMTokens)
        scatter(pooled, batch: batch, into: output)
    }

    /// One forward pass run by the whole team (the calling thread and the helpers), or by the
    /// calling thread alone when another call holds the team.
    private func encodeAsTeam(batch: [Int], of sequences: [[Int32]], scatterInto output: UnsafeMutablePointer<Float>) {
        let workspace = checkOutWorkspace()
        defer { checkIn(workspace) }
        let (ids, lengths) = passInput(batch, of: sequences)
        workspace.reserve(tokens: ids.count, longest: lengths.max() ?? 1, members: team.size, config: config)
        let pooled = RowSink(base: workspace.pooledOutput(rows: batch.count, width: dimension))
        let packed = ids.count <= options.packedGEMMTokens
        let model = self.model
        let pooling = self.pooling
        let ranAsTeam = team.run { member in
            model.encode(
                ids: ids, lengths: lengths, pooling: pooling, workspace: workspace, output: pooled.base,
                packed: packed, member: member)
        }
        if !ranAsTeam {
            model.encode(ids: ids, lengths: lengths, pooling: pooling, workspace: workspace, output: pooled.base, packed: packed)
        }
        scatter(pooled.base, batch: batch, into: output)
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
