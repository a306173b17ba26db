import DocumentStore
import Embedder
import Foundation
import KeywordIndex
import Synchronization
import VectorIndex

/// Whether a text query found a good answer: a support portal's "we could not find this" signal.
///
/// Dense search always returns hits; the verdict says whether the best of them is an answer or the
/// nearest of unrelated documents. `confidence` is a probability from a logistic model of the
/// query's two candidate lists (see ``VerdictFeatures``), calibrated per collection and generation
/// from the collection's own documents (``VerdictCalibration``); `answered` is `confidence ≥
/// threshold`.
public struct Verdict: Sendable, Codable, Equatable {
    /// `confidence` reached the threshold.
    public var answered: Bool
    /// Probability (0–1) that the collection holds an answer to the query, by the calibration.
    public var confidence: Float
    /// The threshold `answered` was decided with.
    public var threshold: Float
}

/// What the verdict reads from one query's candidate lists — all of it at hand after a hybrid
/// search, so the verdict costs no extra search in the default mode.
///
/// - `top1`: the best vector similarity;
/// - `top1_minus_mean`: how far it stands above the next nine (a query's own similarity level
///   varies with its wording; an answer stands out of it);
/// - `keyword_agreement`: `1/r` when the vector list's best document is the keyword list's `r`-th
///   (of its first 10), else 0 — both retrievers agreeing is rare when neither found an answer.
///
/// Chosen by measurement (`scripts/relevance/verdict_study.py`, README "No good answer"): the gap
/// between the two best BM25 scores helped on real queries but hurt once fitted on pseudo-queries
/// (their words are the document's own, so their keyword gap is unlike a user's).
public struct VerdictFeatures: Sendable, Equatable {
    /// The feature names, in the order of ``values``.
    public static let names = ["top1", "top1_minus_mean", "keyword_agreement"]
    /// Candidates of each list the features look at.
    public static let depth = 10

    /// Values in ``names`` order.
    public var values: [Double]

    /// Features with these values (in ``names`` order).
    public init(values: [Double]) { self.values = values }

    /// Features of a query's lists: `vector` the vector search's documents best first (at least
    /// the first ``depth``), `keyword` the keyword search's. Nil without a vector hit.
    public init?(vector: [(label: Int64, score: Float)], keyword: [(label: Int64, score: Float)]) {
        guard let best = vector.first else { return nil }
        let rest = vector.dropFirst().prefix(Self.depth - 1)
        let mean = rest.isEmpty ? Double(best.score) : rest.reduce(0.0) { $0 + Double($1.score) } / Double(rest.count)
        var agreement = 0.0
        if let place = keyword.prefix(Self.depth).firstIndex(where: { $0.label == best.label }) { agreement = 1 / Double(place + 1) }
        values = [Double(best.score), Double(best.score) - mean, agreement]
    }
}

/// A logistic model from ``VerdictFeatures`` to a confidence, fitted for one generation of one
/// collection.
public struct VerdictCalibration: Sendable, Codable, Equatable {
    /// The generation it was fitted on (a generation change recalibrates).
    public var generation: Int64
    /// Weight per feature name.
    public var weights: [String: Double]
    /// The intercept.
    public var bias: Double
    /// Pseudo-queries it was fitted on (each gives an answerable and an unanswerable list).
    public var samples: Int
    /// Vectors in the serving index when it was fitted (passages in a chunked collection); an
    /// index that grows or shrinks by a quarter is recalibrated.
    public var indexSize: Int
    /// AUC of its confidence on its own pseudo-queries (a sanity figure, not a measure of
    /// relevance: the README gives the AUC on judged real queries).
    public var trainingAUC: Double
    /// When it was fitted (seconds since 1970).
    public var calibratedAt: Double

    enum CodingKeys: String, CodingKey {
        case generation, weights, bias, samples
        case indexSize = "index_size"
        case trainingAUC = "training_auc"
        case calibratedAt = "calibrated_at"
    }

    /// The confidence for `features`.
    public func confidence(_ features: VerdictFeatures) -> Float {
        var z = bias
        for (name, value) in zip(VerdictFeatures.names, features.values) { z += (weights[name] ?? 0) * value }
        return Float(1 / (1 + Foundation.exp(-z)))
    }

    /// The verdict for `features` at `threshold`.
    public func verdict(_ features: VerdictFeatures, threshold: Float) -> Verdict {
        let confidence = confidence(features)
        return Verdict(answered: confidence >= threshold, confidence: confidence, threshold: threshold)
    }
}

/// Fitting and measuring the verdict's logistic model (plain gradient descent on standardized
/// features with a little L2; a few hundred rows of three features fit in milliseconds).
public enum VerdictModel {
    /// Weights and bias, in the features' own units, that fit `rows` (features, label 1 =
    /// answerable).
    public static func fit(_ rows: [(features: [Double], label: Bool)], iterations: Int = 2000, rate: Double = 0.5, l2: Double = 1e-3)
        -> (weights: [Double], bias: Double)
    {
        let width = rows.first?.features.count ?? 0
        guard width > 0, rows.count >= 2 else { return ([Double](repeating: 0, count: width), 0) }
        let n = Double(rows.count)
        var mean = [Double](repeating: 0, count: width)
        var spread = [Double](repeating: 0, count: width)
        for row in rows { for j in 0..<width { mean[j] += row.features[j] / n } }
        for row in rows { for j in 0..<width { spread[j] += (row.features[j] - mean[j]) * (row.features[j] - mean[j]) / n } }
        spread = spread.map { $0 > 1e-18 ? $0.squareRoot() : 1 }
        let z = rows.map { row in (0..<width).map { (row.features[$0] - mean[$0]) / spread[$0] } }
        let y = rows.map { $0.label ? 1.0 : 0.0 }
        var w = [Double](repeating: 0, count: width)
        var b = 0.0
        for _ in 0..<iterations {
            var gradient = [Double](repeating: 0, count: width)
            var gradientB = 0.0
            for (x, target) in zip(z, y) {
                var s = b
                for j in 0..<width { s += w[j] * x[j] }
                let error = 1 / (1 + Foundation.exp(-s)) - target
                for j in 0..<width { gradient[j] += error * x[j] }
                gradientB += error
            }
            for j in 0..<width { w[j] -= rate * (gradient[j] / n + l2 * w[j]) }
            b -= rate * gradientB / n
        }
        // Back to the features' own units: w·(x − μ)/σ + b.
        let weights = (0..<width).map { w[$0] / spread[$0] }
        let bias = b - (0..<width).reduce(0.0) { $0 + w[$1] * mean[$1] / spread[$1] }
        return (weights, bias)
    }

    /// The probability that a random positive scores above a random negative (ties count half):
    /// the area under the ROC curve. 0.5 with no positives or no negatives.
    public static func auc(positives: [Double], negatives: [Double]) -> Double {
        guard !positives.isEmpty, !negatives.isEmpty else { return 0.5 }
        let sorted = negatives.sorted()
        var total = 0.0
        for p in positives {
            // Negatives below p, and equal to it.
            var low = 0
            var high = sorted.count
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid] < p { low = mid + 1 } else { high = mid }
            }
            var equalEnd = low
            while equalEnd < sorted.count, sorted[equalEnd] == p { equalEnd += 1 }
            total += Double(low) + Double(equalEnd - low) / 2
        }
        return total / Double(positives.count * negatives.count)
    }
}

/// Pseudo-queries drawn from a collection's own documents: a run of 4–8 consecutive words from
/// its title (three words or more) or from a sentence of 5–30 words in the text's first 4,000
/// characters — as short as a user's question, and not the document's whole sentence (which
/// would match it far more closely than a user's words do). Chosen by measurement over whole
/// sentences with a third of their words dropped and bags of five random words (README, "No good
/// answer"). Deterministic for a seed.
enum PseudoQuery {
    static func make(title: String?, text: String, seed: UInt64) -> String? {
        var random = SplitMix64(seed: seed)
        var candidates: [[Substring]] = []
        if let title {
            let words = title.split(whereSeparator: \.isWhitespace)
            if words.count >= 3 { candidates.append(words) }
        }
        let head = text.prefix(4_000)
        for sentence in head.split(whereSeparator: { ".!?\n".contains($0) }) {
            let words = sentence.split(whereSeparator: \.isWhitespace)
            if (5...30).contains(words.count) { candidates.append(words) }
        }
        guard !candidates.isEmpty else { return nil }
        let words = candidates[Int(random.next() % UInt64(candidates.count))]
        let length = 4 + Int(random.next() % 5)
        guard words.count > length else { return words.joined(separator: " ") }
        let start = Int(random.next() % UInt64(words.count - length + 1))
        return words[start..<(start + length)].joined(separator: " ")
    }
}

/// One collection's verdict calibration: the fitted model for the serving generation, fitted on
/// a thread of its own the first time a query asks for it (queries answer without a verdict until
/// then), and again after a generation change or when the collection has grown or shrunk by a
/// quarter. Kept in memory and in the generation's folder (`verdict.json`), so a restarted server
/// answers with a verdict at once instead of fitting again (a fit embeds and searches
/// ``sampleSize`` short texts: seconds). The file is derived: one that is missing, unreadable, of
/// another generation or of another feature set is ignored and the calibration fitted again; one
/// that cannot be written costs only that refit after a restart.
final class VerdictCalibrator: Sendable {
    /// Pseudo-queries per calibration.
    static let sampleSize = 512
    /// Fewest live documents a calibration needs (fewer: no verdict).
    static let minimumDocuments = 20

    private struct State {
        var calibration: VerdictCalibration?
        var running = false
        var failure: String?
        var failedAt = 0.0
        /// Generations whose file was read already (read once each).
        var read: Set<Int64> = []
    }

    private let state = Mutex(State())
    /// Where calibrations are kept between runs (nil: memory only).
    private let files: CollectionFiles?

    /// A calibrator keeping its calibrations in `files`' generation folders (nil: memory only).
    init(files: CollectionFiles? = nil) { self.files = files }

    /// The calibration kept in `generation`'s folder, if it is one for that generation and for
    /// today's features.
    private func stored(_ generation: Int64) -> VerdictCalibration? {
        guard let files, let data = FileManager.default.contents(atPath: files.verdictPath(generation)) else { return nil }
        guard let calibration = try? JSONDecoder().decode(VerdictCalibration.self, from: data),
            calibration.generation == generation, Set(calibration.weights.keys) == Set(VerdictFeatures.names),
            calibration.weights.values.allSatisfy(\.isFinite), calibration.bias.isFinite, calibration.indexSize >= 0
        else { return nil }
        return calibration
    }

    /// Loads `generation`'s kept calibration the first time that generation is asked for.
    private func loadIfNeeded(_ state: inout State, generation: Int64) {
        guard state.calibration?.generation != generation, !state.read.contains(generation) else { return }
        state.read.insert(generation)
        if let kept = stored(generation) { state.calibration = kept }
    }

    /// Keeps `calibration` in its generation's folder (atomically: a crash leaves the old file or
    /// the new one) when that folder exists: the folder is the index checkpoint's, and one made
    /// here would read as a checkpoint to `quiver check`. Best effort: see the type's
    /// documentation.
    private func keep(_ calibration: VerdictCalibration) {
        guard let files, let data = try? JSONEncoder().encode(calibration) else { return }
        var isFolder: ObjCBool = false
        let folder = files.generationDirectory(calibration.generation).path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else { return }
        try? data.write(to: URL(fileURLWithPath: files.verdictPath(calibration.generation)), options: .atomic)
    }
    /// Set by ``cancel()``: a fit in progress stops at its next step, and none starts.
    private let cancelled = Atomic<Bool>(false)

    /// Whether ``cancel()`` was called.
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Stops a fit in progress at its next step (a few dozen embeddings at most) and waits up to
    /// `seconds` for it to end: called when the collection closes and at shutdown, so that no fit
    /// runs into a process's exit.
    @discardableResult
    func cancel(waitSeconds seconds: Double = 10) -> Bool {
        cancelled.store(true, ordering: .releasing)
        return waitIdle(seconds: seconds)
    }

    /// The calibration for `generation`, when one is fitted (here or by an earlier run).
    func current(generation: Int64) -> VerdictCalibration? {
        state.withLock { state in
            loadIfNeeded(&state, generation: generation)
            return state.calibration?.generation == generation ? state.calibration : nil
        }
    }

    /// Why the last calibration failed, if it did.
    var failure: String? { state.withLock { $0.failure } }

    /// Starts a calibration unless one is running, the current one fits `generation` and
    /// `indexSize`, or one failed less than a minute ago. `fit` runs on a thread of its own.
    func refreshIfNeeded(generation: Int64, indexSize: Int, fit: @escaping @Sendable () throws -> VerdictCalibration) {
        let start = state.withLock { state -> Bool in
            if state.running || isCancelled { return false }
            loadIfNeeded(&state, generation: generation)
            if let c = state.calibration, c.generation == generation,
                Double(abs(indexSize - c.indexSize)) <= Double(max(c.indexSize, 1)) * 0.25
            {
                return false
            }
            if state.failure != nil, Date().timeIntervalSince1970 - state.failedAt < 60 { return false }
            state.running = true
            return true
        }
        guard start else { return }
        let thread = Thread { [self] in
            ThreadControl.nameCurrentThread("quiver-verdict")
            do {
                let fitted = try fit()
                keep(fitted)
                state.withLock {
                    $0.calibration = fitted
                    $0.failure = nil
                    $0.running = false
                }
            } catch {
                state.withLock {
                    $0.failure = "\(error)"
                    $0.failedAt = Date().timeIntervalSince1970
                    $0.running = false
                }
            }
        }
        thread.qualityOfService = .utility
        thread.start()
    }

    /// Keeps `calibration` (fitted by the caller), in memory and in its generation's folder.
    func store(_ calibration: VerdictCalibration) {
        keep(calibration)
        state.withLock {
            $0.calibration = calibration
            $0.failure = nil
        }
    }

    /// Waits (up to `seconds`) for a running calibration to end (``cancel(waitSeconds:)``, tests).
    func waitIdle(seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while state.withLock({ $0.running }) {
            if Date() >= end { return false }
            usleep(5_000)
        }
        return true
    }
}
