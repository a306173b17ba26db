import DocumentStore
import Embedder
import Foundation

/// How a generation turns documents into vectors: one embedding of the title and text (truncated
/// to the model's window), or — in a chunked generation — one per passage plus the document's
/// pooled vector. Ingest and generation fills both embed through this, so they cannot disagree.
struct DocumentEmbedding: Sendable {
    let generation: GenerationRecord
    let embedder: Embedder
    /// Most passages one document may have.
    let maxPassages: Int
    let chunker: Chunker?

    init(generation: GenerationRecord, embedder: Embedder, maxPassages: Int) {
        self.generation = generation
        self.embedder = embedder
        self.maxPassages = maxPassages
        if generation.chunking.isOn {
            let tokenizer = embedder.tokenizer
            chunker = Chunker(
                tokens: min(generation.chunking.tokens, embedder.pooling.maxSequenceLength), overlap: generation.chunking.overlap,
                count: { tokenizer.count($0) })
        } else {
            chunker = nil
        }
    }

    /// What one document embeds to.
    struct Embedded: Sendable {
        /// The document's vector (the passages' pooled vector in a chunked generation).
        var vector: [Float]
        /// The passages, in a chunked generation.
        var chunks: ChunkVectors?
        /// How many passages the text had when only the first `maxPassages` were kept.
        var truncatedFrom: Int? = nil
    }

    /// The input of a document without chunking (and of a chunked one that fits the window whole):
    /// the title, a newline and the text.
    static func input(title: String?, text: String) -> String {
        title.map { $0.isEmpty ? text : "\($0)\n\(text)" } ?? text
    }

    /// Embeds documents; a document with more than `maxPassages` passages is a failure of its own
    /// (its reason) — or, with `keepFirstPassages`, embedded from its first `maxPassages` — and the
    /// others are embedded.
    func embed(_ documents: [(title: String?, text: String)], priority: Embedder.Priority, keepFirstPassages: Bool = false)
        throws(SearchEngineError) -> [Result<Embedded, DocumentRejection>]
    {
        guard let chunker else {
            let vectors: [[Float]]
            do { vectors = try embedder.embed(documents.map { Self.input(title: $0.title, text: $0.text) }, priority: priority) } catch {
                throw SearchEngineError(error)
            }
            return vectors.map { .success(Embedded(vector: $0, chunks: nil)) }
        }
        var plans: [Result<[Chunker.Passage], DocumentRejection>] = []
        var inputs: [String] = []
        var cut: [Int: Int] = [:]
        for (position, document) in documents.enumerated() {
            var passages = chunker.passages(title: document.title, text: document.text)
            if passages.count > maxPassages, keepFirstPassages {
                cut[position] = passages.count
                passages.removeLast(passages.count - maxPassages)
            }
            if passages.count > maxPassages {
                plans.append(.failure(tooManyPassages(passages.count, chunker)))
            } else {
                plans.append(.success(passages))
                inputs.append(contentsOf: passages.map(\.input))
            }
        }
        let vectors: [[Float]]
        do { vectors = try embedder.embed(inputs, priority: priority) } catch { throw SearchEngineError(error) }
        var next = 0
        return plans.enumerated().map { position, plan in
            plan.map { passages in
                let rows = vectors[next..<next + passages.count]
                next += passages.count
                return Embedded(
                    vector: Self.pooled(Array(rows)),
                    chunks: ChunkVectors(spans: passages.map(\.span), flat: rows.flatMap { $0 }), truncatedFrom: cut[position])
            }
        }
    }

    /// The refusal of a text that makes `count` passages, over ``maxPassages``.
    private func tooManyPassages(_ count: Int, _ chunker: Chunker) -> DocumentRejection {
        DocumentRejection(
            "the text makes \(count) passages of \(chunker.tokens) word pieces; at most \(maxPassages) are allowed (max_passages)")
    }

    /// The documents (by position) ``embed(_:priority:keepFirstPassages:)`` would refuse for
    /// their passage count, found by cutting them into passages without embedding: a deferred
    /// write refuses what a write that embeds would.
    func overPassageLimit(_ documents: [(title: String?, text: String)]) -> [Int: DocumentRejection] {
        guard let chunker else { return [:] }
        var refused: [Int: DocumentRejection] = [:]
        for (position, document) in documents.enumerated() {
            let count = chunker.passages(title: document.title, text: document.text).count
            if count > maxPassages { refused[position] = tooManyPassages(count, chunker) }
        }
        return refused
    }

    /// A document's vector from its passages' vectors: their mean, scaled to their mean length
    /// (so unit vectors pool to a unit vector). One passage's vector is the document's as is.
    static func pooled(_ rows: [[Float]]) -> [Float] {
        guard let first = rows.first else { return [] }
        guard rows.count > 1 else { return first }
        var sum = [Float](repeating: 0, count: first.count)
        var meanNorm: Float = 0
        for row in rows {
            var squares: Float = 0
            for (i, x) in row.enumerated() where i < sum.count {
                sum[i] += x
                squares += x * x
            }
            meanNorm += squares.squareRoot() / Float(rows.count)
        }
        let norm = sum.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, norm.isFinite else { return sum.map { $0 / Float(rows.count) } }
        return sum.map { $0 * meanNorm / norm }
    }
}

/// Why one document of a write was refused while the others were written.
public struct DocumentRejection: Error, Sendable, Equatable {
    /// What is wrong with it.
    public var reason: String

    init(_ reason: String) { self.reason = reason }
}

/// HNSW labels of passages: a chunked generation's index holds one vector per passage, labelled
/// `document label << 10 | passage number`, so a document's passages are the labels
/// `label << 10 ..< label << 10 + count` and a hit names both.
enum PassageLabel {
    static let bits = 10
    /// Passages one document can have in an index (the label's low bits).
    static let limit = 1 << bits

    /// The index label of passage `passage` of `document`, or nil when it does not fit.
    static func make(_ document: Int64, _ passage: Int) -> UInt64? {
        guard document >= 0, document < Int64(1) << (63 - bits), passage >= 0, passage < limit else { return nil }
        return UInt64(document) << UInt64(bits) | UInt64(passage)
    }

    /// The document of an index label.
    static func document(_ label: UInt64) -> Int64 { Int64(bitPattern: label >> UInt64(bits)) }

    /// The passage number of an index label.
    static func passage(_ label: UInt64) -> Int { Int(label & UInt64(limit - 1)) }
}
