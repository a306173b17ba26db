import DocumentStore
import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Verdict: no good answer")
struct VerdictTests {
    @Test("AUC equals the share of positive–negative pairs ordered right, ties counted half")
    func aucMatchesPairCount() {
        var random = SeededVectors(seed: 5)
        for trial in 0..<50 {
            // Coarse values so that ties happen.
            let positives = (0..<(1 + trial % 17)).map { _ in Double(random.next() % 7) }
            let negatives = (0..<(1 + trial % 13)).map { _ in Double(random.next() % 7) }
            var wins = 0.0
            for p in positives { for n in negatives { wins += p > n ? 1 : p == n ? 0.5 : 0 } }
            let expected = wins / Double(positives.count * negatives.count)
            #expect(abs(VerdictModel.auc(positives: positives, negatives: negatives) - expected) < 1e-12)
        }
        #expect(VerdictModel.auc(positives: [], negatives: [1]) == 0.5)
    }

    @Test("the fit finds the informative feature, in the features' own units")
    func fitSeparates() {
        var random = SeededVectors(seed: 11)
        var rows: [(features: [Double], label: Bool)] = []
        for _ in 0..<400 {
            // Feature 0 carries the label (offset and scaled, to exercise the standardization);
            // feature 1 is noise.
            let label = random.next() % 2 == 0
            let signal = 100 + 5 * (Double(random.vector(1)[0]) + (label ? 1.5 : -1.5))
            rows.append(([signal, Double(random.vector(1)[0]) * 1000], label))
        }
        let (weights, bias) = VerdictModel.fit(rows)
        #expect(weights[0] > 0)
        #expect(abs(weights[1]) * 1000 < abs(weights[0]) * 5)
        let calibration = VerdictCalibration(
            generation: 1, weights: ["top1": weights[0], "top1_minus_mean": weights[1], "keyword_agreement": 0], bias: bias,
            samples: rows.count, indexSize: rows.count, trainingAUC: 0, calibratedAt: 0)
        let scores = rows.map { Double(calibration.confidence(VerdictFeatures(values: [$0.features[0], $0.features[1], 0]))) }
        let auc = VerdictModel.auc(
            positives: zip(scores, rows).filter { $1.label }.map(\.0), negatives: zip(scores, rows).filter { !$1.label }.map(\.0))
        #expect(auc > 0.95)
        // Probabilities: most positives above one half, most negatives below.
        #expect(zip(scores, rows).filter { $1.label && $0 >= 0.5 }.count > 150)
        #expect(zip(scores, rows).filter { !$1.label && $0 < 0.5 }.count > 150)
    }

    @Test("features: the best score, its lead over the next nine, and where the keyword list has the vector list's best")
    func features() throws {
        let vector: [(label: Int64, score: Float)] = (0..<12).map { (Int64($0), 0.9 - Float($0) * 0.05) }
        let keyword: [(label: Int64, score: Float)] = [(7, 9), (3, 8), (0, 4)]
        let values = try #require(VerdictFeatures(vector: vector, keyword: keyword)).values
        let mean = (1...9).map { 0.9 - Double($0) * 0.05 }.reduce(0, +) / 9
        #expect(abs(values[0] - 0.9) < 1e-6)
        #expect(abs(values[1] - (0.9 - mean)) < 1e-6)
        #expect(values[2] == 1.0 / 3)
        #expect(try #require(VerdictFeatures(vector: vector, keyword: [])).values[2] == 0)
        // The vector list's best beyond the keyword list's first ten counts as absent.
        let far = (1...10).map { (label: Int64(100 + $0), score: Float(20 - $0)) } + [(label: Int64(0), score: Float(1))]
        #expect(try #require(VerdictFeatures(vector: vector, keyword: far)).values[2] == 0)
        #expect(VerdictFeatures(vector: [], keyword: keyword) == nil)
    }

    @Test("pseudo-queries are 4–8 consecutive words of the title or of a sentence, the same for the same seed")
    func pseudoQueries() throws {
        let text = "Short one. This sentence has exactly nine words in it today.\nAnother line with quite a few words to pick from here."
        for seed in UInt64(0)..<200 {
            let query = try #require(PseudoQuery.make(title: "Reset your account password now", text: text, seed: seed))
            #expect(query == PseudoQuery.make(title: "Reset your account password now", text: text, seed: seed))
            let words = query.split(separator: " ")
            #expect((4...8).contains(words.count))
            let sources = ["Reset your account password now", text.replacingOccurrences(of: "\n", with: " ")]
            #expect(sources.contains { $0.contains(query) })
        }
        #expect(PseudoQuery.make(title: "Hi", text: "Too short. Also.", seed: 1) == nil)
        #expect(PseudoQuery.make(title: nil, text: "", seed: 1) == nil)
    }

    /// A collection "c" of `count` documents of eight tiny-model words each.
    func withCollection(_ count: Int, _ body: (SearchEngine, CollectionHandle) throws -> Void) throws {
        let directory = try TemporaryDirectory("quiver-verdict")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let engine = try makeEngine(directory.url, models: [model], calibratesVerdictInBackground: true)
        try engine.createCollection(CollectionOptions(name: "c"))
        let documents = (0..<count).map { DocumentInput(id: "d\($0)", text: TinyModel.text($0 * 7919 + 13, words: 8)) }
        _ = try engine.upsert(collection: "c", documents: documents)
        try body(engine, try engine.collection("c"))
    }

    @Test("text queries carry the calibrated verdict: the confidence of their own lists, at the threshold asked")
    func verdictOnQueries() throws {
        try withCollection(80) { engine, handle in
            let query = TinyModel.text(5 * 7919 + 13, words: 8).split(separator: " ").prefix(5).joined(separator: " ")
            // The first text query starts the calibration in the background and answers without one.
            #expect(try handle.query(QueryRequest(text: query, k: 3, mode: .vector)).verdict == nil)
            #expect(handle.follower.verdictCalibrator.waitIdle(seconds: 60))
            let info = try handle.info()
            let calibration = try #require(info.verdict)
            #expect(calibration.generation == info.index.generation)
            #expect(calibration.samples == 80)
            #expect(calibration.trainingAUC > 0.5)
            for mode in [SearchMode.vector, .hybrid] {
                let answer = try handle.query(QueryRequest(text: query, k: 3, mode: mode))
                let verdict = try #require(answer.verdict)
                #expect((0...1).contains(verdict.confidence))
                #expect(verdict.threshold == SearchEngine.defaultVerdictThreshold)
                #expect(verdict.answered == (verdict.confidence >= verdict.threshold))
                // The same confidence from the lists as the client sees them.
                let vector = try handle.query(QueryRequest(text: query, k: 10, withPayload: false, mode: .vector)).results
                let keyword = try handle.query(QueryRequest(text: query, k: 10, withPayload: false, mode: .keyword)).results
                let labels = Dictionary(uniqueKeysWithValues: (vector + keyword).map(\.id).uniqued().enumerated().map { ($1, Int64($0)) })
                let features = try #require(
                    VerdictFeatures(
                        vector: vector.map { (labels[$0.id] ?? -1, $0.score) }, keyword: keyword.map { (labels[$0.id] ?? -1, $0.score) }))
                #expect(abs(calibration.confidence(features) - verdict.confidence) < 1e-6)
            }
            #expect(try handle.query(QueryRequest(text: query, mode: .vector, verdictThreshold: 0)).verdict?.answered == true)
            let strict = try #require(try handle.query(QueryRequest(text: query, mode: .vector, verdictThreshold: 1)).verdict)
            #expect(strict.answered == (strict.confidence >= 1))
            // No verdict for keyword mode, vector or id queries.
            #expect(try handle.query(QueryRequest(text: query, mode: .keyword)).verdict == nil)
            #expect(try handle.query(QueryRequest(id: "d1")).verdict == nil)
            // The threshold is checked.
            #expect(throws: SearchEngineError.self) { try handle.query(QueryRequest(text: query, mode: .keyword, verdictThreshold: 0.5)) }
            #expect(throws: SearchEngineError.self) { try handle.query(QueryRequest(text: query, verdictThreshold: 1.5)) }
            #expect(throws: SearchEngineError.self) { try handle.query(QueryRequest(text: query, verdictThreshold: .nan)) }

            // The collection's threshold: a stored setting every query without its own applies.
            let confidence = try #require(try handle.query(QueryRequest(text: query, mode: .vector)).verdict).confidence
            let above = min(1, confidence + 0.01)
            #expect(try handle.updateTuning(["verdict_threshold": .number(Double(above))]).verdictThreshold == above)
            let judged = try #require(try handle.query(QueryRequest(text: query, mode: .vector)).verdict)
            #expect(judged.threshold == above && !judged.answered)
            #expect(try engine.collectionInfo("c").settings.verdictThreshold == above)
            // A request's own threshold still wins.
            #expect(try handle.query(QueryRequest(text: query, mode: .vector, verdictThreshold: 0)).verdict?.answered == true)
            // Another engine on the same data reads it from the store.
            let other = try makeEngine(engine.dataDirectory, models: engine.models)
            #expect(try other.collection("c").tuning().verdictThreshold == above)
            // null returns it to the default.
            #expect(try handle.updateTuning(["verdict_threshold": .null]).verdictThreshold == nil)
            #expect(try handle.query(QueryRequest(text: query, mode: .vector)).verdict?.threshold == SearchEngine.defaultVerdictThreshold)
        }
    }

    @Test("a calibration is kept in its generation's folder: a restarted engine answers with it at once; a bad file is refitted")
    func calibrationKept() throws {
        try withCollection(60) { engine, handle in
            try handle.checkpoint()
            let fitted = try handle.calibrateVerdictNow()
            let files = handle.follower.files
            let path = files.verdictPath(fitted.generation)
            #expect(FileManager.default.fileExists(atPath: path))
            let query = TinyModel.text(3 * 7919 + 13, words: 8).split(separator: " ").prefix(5).joined(separator: " ")

            // Another engine on the same data (a restart): the first query has the verdict, and
            // no fit runs (none is allowed to: this engine does not calibrate in the background).
            let restarted = try makeEngine(engine.dataDirectory, models: engine.models)
            let again = try restarted.collection("c")
            #expect(try again.info().verdict == fitted)
            let verdict = try #require(try again.query(QueryRequest(text: query, mode: .vector)).verdict)
            let original = try #require(try handle.query(QueryRequest(text: query, mode: .vector)).verdict)
            #expect(abs(verdict.confidence - original.confidence) < 1e-6)

            // A damaged file, one of another generation, one of other features: each ignored.
            var foreign = fitted
            foreign.generation += 1
            var otherFeatures = fitted
            otherFeatures.weights["retired_feature"] = 1
            for bad in [
                Data("{not json".utf8), try JSONEncoder().encode(foreign), try JSONEncoder().encode(otherFeatures), Data(),
            ] {
                try bad.write(to: URL(fileURLWithPath: path))
                let fresh = try makeEngine(engine.dataDirectory, models: engine.models)
                let reopened = try fresh.collection("c")
                #expect(try reopened.info().verdict == nil)
                #expect(try reopened.query(QueryRequest(text: query, mode: .vector)).verdict == nil)
                // Fitting again replaces the file.
                let refitted = try reopened.calibrateVerdictNow()
                let kept = try JSONDecoder().decode(VerdictCalibration.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
                #expect(refitted == kept)
            }
        }
    }

    @Test("collection settings: a merge patch, checked whole before anything is stored; a newer build's keys are kept")
    func tuningPatches() throws {
        try withCollection(3) { engine, handle in
            #expect(try handle.tuning() == CollectionTuning())
            #expect(try engine.collectionInfo("c").settings.verdictThreshold == SearchEngine.defaultVerdictThreshold)
            try handle.updateTuning(["verdict_threshold": .number(0.4)])
            // Refused whole: an unknown key, a value out of range, a wrong type.
            for bad: [String: JSONValue] in [
                ["verdict_threshold": .number(0.2), "shadow_rat": .number(1)], ["verdict_threshold": .number(1.5)],
                ["verdict_threshold": .number(-0.1)], ["verdict_threshold": .string("0.3")], ["verdict_threshold": .bool(true)],
            ] {
                #expect(throws: SearchEngineError.self) { try handle.updateTuning(bad) }
            }
            #expect(try handle.tuning().verdictThreshold == 0.4)
            // The stored form is the shortest decimal; a key this build does not know is kept.
            _ = try handle.store.updateTuning { _ in #"{"future_setting":[1,2],"verdict_threshold":0.3}"# }
            #expect(try handle.tuning().verdictThreshold == 0.3)
            try handle.updateTuning(["verdict_threshold": .number(0.6)])
            #expect(try handle.store.settings().tuning == #"{"future_setting":[1,2],"verdict_threshold":0.6}"#)
            try handle.updateTuning(["verdict_threshold": .null])
            #expect(try handle.store.settings().tuning == #"{"future_setting":[1,2]}"#)
            // A stored value this build cannot read leaves the setting at its default.
            #expect(CollectionTuning(stored: #"{"verdict_threshold":"high"}"#) == CollectionTuning())
            #expect(CollectionTuning(stored: #"{"verdict_threshold":7}"#) == CollectionTuning())
            #expect(CollectionTuning(stored: nil) == CollectionTuning())
        }
    }

    @Test("a collection too small to calibrate answers without a verdict and says why")
    func tooSmall() throws {
        try withCollection(5) { _, handle in
            #expect(throws: SearchEngineError.self) { try handle.calibrateVerdictNow() }
            #expect(try handle.query(QueryRequest(text: "alpha beta gamma", mode: .hybrid)).verdict == nil)
            #expect(handle.follower.verdictCalibrator.waitIdle(seconds: 60))
            let info = try handle.info()
            #expect(info.verdict == nil)
            #expect(info.verdictError?.contains("at least 20 documents") == true)
            #expect(try handle.query(QueryRequest(text: "alpha beta gamma", mode: .hybrid)).verdict == nil)
        }
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
