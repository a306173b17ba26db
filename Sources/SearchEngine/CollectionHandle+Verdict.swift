import DocumentStore
import Foundation
import KeywordIndex
import VectorIndex

extension CollectionHandle {
    /// The verdict of a text query whose candidate lists were `vector` (best first, at least
    /// ``VerdictFeatures/depth`` when the collection has them) and `keyword`, or nil while the
    /// serving generation has no calibration yet (one is then started in the background, in an
    /// engine that ``SearchEngine/calibratesVerdictInBackground``) or for a candidate generation.
    /// `threshold`: the request's, else the collection's setting (``CollectionTuning``).
    func verdict(
        _ serving: ServingGeneration, vector: [(label: Int64, score: Float)], keyword: [(label: Int64, score: Float)],
        threshold: Float
    ) -> Verdict? {
        let record = serving.record
        guard !record.candidate, let features = VerdictFeatures(vector: vector, keyword: keyword) else { return nil }
        let calibrator = follower.verdictCalibrator
        let size = serving.index.count
        if engine.calibratesVerdictInBackground {
            let handle = self
            calibrator.refreshIfNeeded(generation: record.generation, indexSize: size) { () throws -> VerdictCalibration in
                try handle.calibrateVerdict(serving)
            }
        }
        guard let calibration = calibrator.current(generation: record.generation) else { return nil }
        return calibration.verdict(features, threshold: threshold)
    }

    /// Fits the verdict's model for `serving` from the collection's own documents: up to
    /// ``VerdictCalibrator/sampleSize`` documents drawn at random (seeded by the generation), one
    /// pseudo-query from each (``PseudoQuery``), searched in both lists; its lists as they are are
    /// the answerable examples, the same lists without its document the unanswerable ones —
    /// exactly what a query would see had that document never been written.
    ///
    /// - Throws: `unavailable` for a collection with fewer than
    ///   ``VerdictCalibrator/minimumDocuments`` documents or without a keyword index;
    ///   `modelUnavailable`; storage errors.
    func calibrateVerdict(_ serving: ServingGeneration) throws(SearchEngineError) -> VerdictCalibration {
        let record = serving.record
        let depth = VerdictFeatures.depth
        var labels: [Int64] = []
        var after: Int64 = 0
        do {
            while labels.count < 100_000 {
                let page = try store.liveLabels(afterLabel: after, limit: 10_000)
                guard let last = page.last else { break }
                labels.append(contentsOf: page.map(\.label))
                after = last.label
            }
        } catch { throw SearchEngineError(error) }
        guard labels.count >= VerdictCalibrator.minimumDocuments else {
            throw .unavailable(
                "a verdict needs at least \(VerdictCalibrator.minimumDocuments) documents to calibrate on (\(name) has \(labels.count))")
        }
        var random = SplitMix64(seed: UInt64(bitPattern: record.generation) &* 0x2545_F491_4F6C_DD1D)
        let sampleCount = min(VerdictCalibrator.sampleSize, labels.count)
        for i in 0..<sampleCount {
            let j = i + Int(random.next() % UInt64(labels.count - i))
            labels.swapAt(i, j)
        }
        let sample = Array(labels.prefix(sampleCount))
        let documents: [Int64: StoredDocument]
        do {
            documents = try store.documents(
                labels: sample, generation: record.generation, dimensions: record.dimensions, withVectors: false, withText: true)
        } catch { throw SearchEngineError(error) }
        var queries: [(label: Int64, text: String)] = []
        for label in sample {
            guard let document = documents[label] else { continue }
            if let text = PseudoQuery.make(title: document.title, text: document.text ?? "", seed: random.next()) {
                queries.append((label, text))
            }
        }
        guard queries.count >= VerdictCalibrator.minimumDocuments else {
            throw .unavailable("too few documents of \(name) with a title or sentence to calibrate the verdict on")
        }
        // Embedded like a write (background priority in a server): queries keep their latency. In
        // steps of 64, so that a cancel (the collection closing, a shutdown) stops it soon.
        guard let embedder = engine.model(fingerprint: record.modelFingerprint)?.embedder else {
            throw .modelUnavailable(collection: name, fingerprint: record.modelFingerprint)
        }
        var vectors: [[Float]] = []
        for start in stride(from: 0, to: queries.count, by: 64) {
            guard !follower.verdictCalibrator.isCancelled else { throw .unavailable("the verdict calibration of \(name) was cancelled") }
            let texts = queries[start..<min(start + 64, queries.count)].map(\.text)
            do { vectors += try embedder.embed(texts, priority: engine.writePriority) } catch { throw SearchEngineError(error) }
        }
        guard vectors.count == queries.count else { throw .modelUnavailable(collection: name, fingerprint: record.modelFingerprint) }
        var rows: [(features: [Double], label: Bool)] = []
        for (query, vector) in zip(queries, vectors) {
            let vectorList = try vectorSearch(serving, vector, k: depth + 1, ef: nil, accepts: nil).map {
                (label: $0.label, score: $0.score)
            }
            let keywordList = try follower.keyword.search(query.text, limit: depth + 1, allowed: nil).map {
                (label: $0.label, score: $0.score)
            }
            if let answerable = VerdictFeatures(vector: Array(vectorList.prefix(depth)), keyword: Array(keywordList.prefix(depth))) {
                rows.append((answerable.values, true))
            }
            if let unanswerable = VerdictFeatures(
                vector: Array(vectorList.filter { $0.label != query.label }.prefix(depth)),
                keyword: Array(keywordList.filter { $0.label != query.label }.prefix(depth)))
            {
                rows.append((unanswerable.values, false))
            }
        }
        let (weights, bias) = VerdictModel.fit(rows)
        var calibration = VerdictCalibration(
            generation: record.generation, weights: Dictionary(uniqueKeysWithValues: zip(VerdictFeatures.names, weights)), bias: bias,
            samples: queries.count, indexSize: serving.index.count, trainingAUC: 0.5, calibratedAt: Date().timeIntervalSince1970)
        let scored = rows.map { (calibration.confidence(VerdictFeatures(values: $0.features)), $0.label) }
        calibration.trainingAUC = VerdictModel.auc(
            positives: scored.filter(\.1).map { Double($0.0) }, negatives: scored.filter { !$0.1 }.map { Double($0.0) })
        engine.logger.info(
            "verdict calibrated",
            metadata: [
                "collection": "\(name)", "generation": "\(record.generation)", "samples": "\(queries.count)",
                "training_auc": "\(String(format: "%.3f", calibration.trainingAUC))",
            ])
        return calibration
    }

    /// Fits the serving generation's verdict calibration now, on the calling thread, and keeps it
    /// (tests, and callers that answer once and exit).
    @discardableResult
    public func calibrateVerdictNow() throws(SearchEngineError) -> VerdictCalibration {
        let (serving, _) = try follower.snapshot()
        let calibration = try calibrateVerdict(serving)
        follower.verdictCalibrator.store(calibration)
        return calibration
    }
}
