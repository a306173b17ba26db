import DocumentStore
import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Keyword and hybrid search")
struct HybridTests {
    // MARK: Fusion against a reference written separately

    /// RRF and weighted fusion as their definitions say, written without Fusion's code.
    static func reference(
        vector: [(label: Int64, score: Float)], keyword: [(label: Int64, score: Float)], method: Fusion.Method, constant: Double,
        alpha: Double
    ) -> [Int64: Double] {
        var fused: [Int64: Double] = [:]
        switch method {
        case .rrf:
            for list in [vector, keyword] {
                for (position, hit) in list.enumerated() { fused[hit.label, default: 0] += 1 / (constant + Double(position + 1)) }
            }
        case .weighted:
            func scaled(_ list: [(label: Int64, score: Float)]) -> [Int64: Double] {
                let scores = list.map { Double($0.score) }
                let low = scores.min() ?? 0
                let high = scores.max() ?? 0
                return Dictionary(uniqueKeysWithValues: list.map { ($0.label, high > low ? (Double($0.score) - low) / (high - low) : 1) })
            }
            let v = scaled(vector)
            let w = scaled(keyword)
            for label in Set(v.keys).union(w.keys) { fused[label] = alpha * (v[label] ?? 0) + (1 - alpha) * (w[label] ?? 0) }
        }
        return fused
    }

    @Test("fused scores and order match the reference on random lists, both methods")
    func fusionMatchesReference() {
        var random = SeededVectors(seed: 77)
        for trial in 0..<200 {
            func list(_ count: Int) -> [(label: Int64, score: Float)] {
                var labels: [Int64] = []
                while labels.count < count {
                    let label = Int64(random.next() % 60)
                    if !labels.contains(label) { labels.append(label) }
                }
                return labels.enumerated().map { (label: $1, score: Float(count - $0) + random.vector(1)[0] * 0.1) }
            }
            let vector = list(Int(trial % 25))
            let keyword = list(Int((trial * 7) % 30))
            let k = 1 + trial % 12
            for fusion in [Fusion(method: .rrf, k: Double(1 + trial % 80)), Fusion(method: .weighted, alpha: Double(trial % 11) / 10)] {
                let got = fusion.fuse(vector: vector, keyword: keyword, k: k)
                let expected = Self.reference(
                    vector: vector, keyword: keyword, method: fusion.method, constant: fusion.k ?? 60, alpha: fusion.alpha ?? 0.5)
                #expect(got.count == min(k, expected.count))
                for hit in got { #expect(abs(hit.fused - (expected[hit.label] ?? -1)) < 1e-12) }
                // Best first, and nothing left out scores higher than the last one kept.
                #expect(zip(got, got.dropFirst()).allSatisfy { $0.fused >= $1.fused })
                if let last = got.last {
                    let kept = Set(got.map(\.label))
                    #expect(!expected.contains { !kept.contains($0.key) && $0.value > last.fused + 1e-12 })
                }
                for hit in got {
                    #expect(hit.vectorRank == vector.firstIndex { $0.label == hit.label }.map { $0 + 1 })
                    #expect(hit.keywordRank == keyword.firstIndex { $0.label == hit.label }.map { $0 + 1 })
                }
            }
        }
    }

    @Test("paired randomization test: consistent gains are significant, balanced ones are not")
    func randomizationTest() {
        #expect(PairedRandomizationTest.pValue(Array(repeating: 0.1, count: 30)) < 0.001)
        #expect(PairedRandomizationTest.pValue([0.1, -0.1, 0.2, -0.2, 0.05, -0.05]) == 1)
        #expect(PairedRandomizationTest.pValue([0, 0, 0]) == 1)
        // Five equal gains: 2 of the 32 sign assignments are as extreme, p ≈ 1/16.
        let p = PairedRandomizationTest.pValue(Array(repeating: 1, count: 5), rounds: 100_000)
        #expect(abs(p - 1.0 / 16) < 0.005, "\(p)")
        // Reproducible.
        #expect(PairedRandomizationTest.pValue([0.3, -0.1, 0.2]) == PairedRandomizationTest.pValue([0.3, -0.1, 0.2]))
    }

    // MARK: The engine

    static let texts: [String] = {
        var random = SeededVectors(seed: 5)
        return (0..<60).map { _ in
            (0..<4).map { _ in TinyModel.words[Int(random.next() % UInt64(TinyModel.words.count))] }.joined(separator: " ")
        }
    }()

    /// A collection "c" of 60 documents of four tiny-model words, half in group "a".
    func withCollection(_ body: (SearchEngine, TemporaryDirectory) throws -> Void) throws {
        let directory = try TemporaryDirectory("quiver-hybrid")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let engine = try makeEngine(directory, models: [model])
        try engine.createCollection(CollectionOptions(name: "c"))
        let documents = Self.texts.enumerated().map { index, text in
            DocumentInput(
                id: "d\(index)", text: text, title: index == 7 ? "upsilon handbook" : nil,
                metadata: .object(["group": .string(index % 2 == 0 ? "a" : "b")]))
        }
        _ = try engine.upsert(collection: "c", documents: documents)
        try body(engine, directory)
    }

    @Test("keyword mode ranks by BM25, hybrid reports every part; modes are checked")
    func modes() throws {
        try withCollection { engine, _ in
            let handle = try engine.collection("c")
            // Titles are indexed too.
            #expect(try handle.query(QueryRequest(text: "upsilon", k: 5, mode: .keyword)).results.map(\.id) == ["d7"])
            let keyword = try handle.query(QueryRequest(text: "sigma", k: 5, mode: .keyword))
            let withSigma = Set(Self.texts.indices.filter { Self.texts[$0].split(separator: " ").contains("sigma") }.map { "d\($0)" })
            #expect(keyword.results.count == min(5, withSigma.count))
            #expect(keyword.results.allSatisfy { withSigma.contains($0.id) })
            #expect(keyword.results.allSatisfy { $0.scores?.keyword == $0.score && $0.scores?.vector == nil })
            #expect(keyword.results.enumerated().allSatisfy { $0.element.scores?.keywordRank == $0.offset + 1 })
            #expect(keyword.index.keywordIndexedSeq == keyword.index.storeSeq)
            // Words no document has: no keyword hits, and hybrid falls back to the vector list.
            #expect(try handle.query(QueryRequest(text: "unknownword", k: 5, mode: .keyword)).results.isEmpty)

            let hybrid = try handle.query(QueryRequest(text: "sigma alpha", k: 10, mode: .hybrid))
            #expect(hybrid.results.count == 10)
            let vector = try handle.query(QueryRequest(text: "sigma alpha", k: 10, mode: .vector))
            for hit in hybrid.results {
                let scores = try #require(hit.scores)
                #expect(scores.fused == hit.score)
                // Every hybrid hit has its vector similarity, ranked by the vector list or not.
                #expect(scores.vector != nil)
                #expect(scores.vectorRank != nil || scores.keywordRank != nil)
                if let rank = scores.vectorRank, rank <= 10 {
                    #expect(abs((scores.vector ?? 0) - vector.results[rank - 1].score) < 1e-5)
                }
            }
            #expect(vector.results.allSatisfy { $0.scores == nil })

            for bad in [
                QueryRequest(vector: [Float](repeating: 1, count: 8), mode: .keyword),
                QueryRequest(id: "d1", mode: .hybrid),
                QueryRequest(text: "x", mode: .vector, fusion: .standard),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .weighted, alpha: 2)),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .rrf, k: 0)),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .rrf, alpha: 0.5)),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .rrf, candidates: 5000)),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .rrf, k: 1e300)),
                QueryRequest(text: "x", mode: .hybrid, fusion: Fusion(method: .rrf, k: .nan)),
            ] {
                do {
                    _ = try handle.query(bad)
                    Issue.record("accepted: \(bad)")
                } catch let error as SearchEngineError {
                    if case .invalidQuery = error {} else { Issue.record("\(bad): \(error), not invalidQuery") }
                } catch {
                    Issue.record("\(bad): \(error), not invalidQuery")
                }
            }
            // The largest accepted RRF constant works, and its evaluation label is readable.
            #expect(
                try handle.query(QueryRequest(text: "sigma", k: 3, mode: .hybrid, fusion: Fusion(method: .rrf, k: Fusion.maxRRFK)))
                    .results.count == 3)
            #expect(EvaluationConfiguration(mode: .hybrid, fusion: Fusion(method: .rrf, k: 1e300)).label == "hybrid(rrf, k 1e+300)")
            #expect(EvaluationConfiguration(mode: .hybrid, fusion: Fusion(method: .rrf, k: 60)).label == "hybrid(rrf, k 60)")
        }
    }

    @Test("a batch's hybrid keyword lists, searched beside the embedding, give exactly the answers of one query at a time")
    func prefetchedKeywordLists() async throws {
        let directory = try TemporaryDirectory("quiver-hybrid-prefetch")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let engine = try makeEngine(directory, models: [model])
        try engine.createCollection(CollectionOptions(name: "c"))
        _ = try engine.upsert(
            collection: "c",
            documents: Self.texts.enumerated().map {
                DocumentInput(id: "d\($0.offset)", text: $0.element, metadata: .object(["group": .string($0.offset % 2 == 0 ? "a" : "b")]))
            })
        let handle = try engine.collection("c")
        let requests = [
            QueryRequest(text: "sigma alpha", k: 10, mode: .hybrid),
            QueryRequest(text: "tau rho pi", k: 5, mode: .hybrid, fusion: Fusion(method: .rrf, k: 20)),
            QueryRequest(text: "gamma", k: 3, filter: QueryFilter(["group": .string("a")]), mode: .hybrid),
            QueryRequest(text: "omicron delta", k: 7, mode: .keyword),
            QueryRequest(text: "beta", k: 4, withPayload: false, mode: .hybrid, fusion: Fusion(method: .weighted, alpha: 0.3)),
        ]
        let batch = try await handle.query(batch: requests, embedder: ModelQueryEmbedder(engine: engine))
        #expect(batch.count == requests.count)
        for (request, answer) in zip(requests, batch) {
            let single = try handle.query(request)
            #expect(answer.results.map(\.id) == single.results.map(\.id), "\(request)")
            #expect(answer.results.map(\.score) == single.results.map(\.score), "\(request)")
            #expect(answer.results.map(\.scores) == single.results.map(\.scores), "\(request)")
        }
    }

    @Test("filters hold in every mode; keyword and vector filtered lists are the filtered prefix of the unfiltered ones")
    func filters() throws {
        try withCollection { engine, _ in
            let handle = try engine.collection("c")
            let filter = QueryFilter(["group": .string("a")])
            let inGroup = Set(stride(from: 0, to: 60, by: 2).map { "d\($0)" })
            for mode in SearchMode.allCases {
                for text in ["sigma", "alpha beta", "tau rho pi"] {
                    let filtered = try handle.query(QueryRequest(text: text, k: 6, filter: filter, mode: mode))
                    #expect(filtered.results.allSatisfy { inGroup.contains($0.id) }, "\(mode) \(text)")
                    guard mode != .hybrid else {
                        #expect(filtered.results.count == 6)
                        continue
                    }
                    let all = try handle.query(QueryRequest(text: text, k: 60, mode: mode))
                    let expected = all.results.filter { inGroup.contains($0.id) }.prefix(6)
                    #expect(filtered.results.map(\.score) == expected.map(\.score), "\(mode) \(text)")
                    #expect(Set(filtered.results.map(\.id)).count == filtered.results.count)
                }
            }
        }
    }

    @Test("the keyword index follows updates and deletes; rebuilt after deletion or damage it answers the same")
    func rebuildEqualsIncremental() throws {
        let directory = try TemporaryDirectory("quiver-hybrid-rebuild")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        let queries = ["sigma", "alpha beta", "tau rho pi", "gamma delta", "omicron"]
        func answers(_ engine: SearchEngine) throws -> [[String]] {
            let handle = try engine.collection("c")
            return try queries.map { text in
                try handle.query(QueryRequest(text: text, k: 20, mode: .keyword)).results.map { "\($0.id) \($0.score)" }
            }
        }
        var incremental: [[String]] = []
        do {
            let engine = try makeEngine(directory, models: [model])
            try engine.createCollection(CollectionOptions(name: "c"))
            _ = try engine.upsert(
                collection: "c", documents: Self.texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
            // Updates move words; deletes remove them.
            _ = try engine.upsert(
                collection: "c", documents: (0..<10).map { DocumentInput(id: "d\($0 * 3)", text: "omicron sigma \($0)") })
            _ = try engine.delete(collection: "c", ids: (0..<8).map { "d\($0 * 5 + 1)" })
            incremental = try answers(engine)
            let omicron = try engine.collection("c").query(QueryRequest(text: "omicron", k: 60, mode: .keyword)).results.map(\.id)
            let deleted = Set((0..<8).map { "d\($0 * 5 + 1)" })
            #expect(Set((0..<10).map { "d\($0 * 3)" }).subtracting(deleted).isSubset(of: Set(omicron)))
            #expect(Set(omicron).isDisjoint(with: deleted))
            #expect(
                try engine.collection("c").query(QueryRequest(text: "alpha", k: 60, mode: .keyword)).results
                    .allSatisfy { hit in !(0..<8).map { "d\($0 * 5 + 1)" }.contains(hit.id) })
        }
        let path = DataLayout(dataDirectory: directory.url).collection("c").keywordIndexPath
        #expect(FileManager.default.fileExists(atPath: path))
        // Deleted: rebuilt from the store's feed.
        try FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
        do {
            let engine = try makeEngine(directory, models: [model])
            #expect(try answers(engine) == incremental)
        }
        // Damaged: replaced and rebuilt.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        try Data(repeating: 0xA5, count: 4096).write(to: URL(fileURLWithPath: path))
        do {
            let engine = try makeEngine(directory, models: [model])
            #expect(try answers(engine) == incremental)
        }
        // Ahead of the store (an older store put back under newer derived files): emptied and
        // rebuilt, so documents the store no longer has are never returned. (An older SQLite file
        // put back; the PostgreSQL store's regression is tested with a promoted standby.)
        guard TestStore.isSQLite else { return }
        let store = DataLayout(dataDirectory: directory.url).collection("c").storePath
        let saved = directory.url.appendingPathComponent("store-copy").path
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: store + suffix) {
            try FileManager.default.copyItem(atPath: store + suffix, toPath: saved + suffix)
        }
        do {
            let engine = try makeEngine(directory, models: [model])
            _ = try engine.upsert(collection: "c", documents: (0..<5).map { DocumentInput(id: "n\($0)", text: "upsilon \($0)") })
            #expect(try engine.collection("c").query(QueryRequest(text: "upsilon", k: 10, mode: .keyword)).results.count == 5)
        }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) }
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: saved + suffix) {
            try FileManager.default.copyItem(atPath: saved + suffix, toPath: store + suffix)
        }
        do {
            let engine = try makeEngine(directory, models: [model])
            let upsilon = try engine.collection("c").query(QueryRequest(text: "upsilon", k: 10, mode: .keyword))
            #expect(upsilon.results.isEmpty, "\(upsilon.results.map(\.id))")
            #expect(upsilon.index.keywordIndexedSeq == upsilon.index.storeSeq)
            #expect(try answers(engine) == incremental)
        }
    }

    @Test("without a keyword index hybrid answers from the vector list and says why, keyword mode is unavailable; it recovers")
    func keywordUnavailable() throws {
        let directory = try TemporaryDirectory("quiver-hybrid-unavailable")
        let model = try TinyModel.make(seed: 9, in: directory.url)
        do {
            let engine = try makeEngine(directory, models: [model])
            try engine.createCollection(CollectionOptions(name: "c"))
            _ = try engine.upsert(
                collection: "c", documents: Self.texts.enumerated().map { DocumentInput(id: "d\($0.offset)", text: $0.element) })
        }
        // A folder where the file belongs: the index cannot be opened.
        let path = DataLayout(dataDirectory: directory.url).collection("c").keywordIndexPath
        KeywordIndexFiles.remove(path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let engine = try makeEngine(directory, models: [model])
        let handle = try engine.collection("c")
        let hybrid = try handle.query(QueryRequest(text: "sigma alpha", k: 10, mode: .hybrid))
        let vector = try handle.query(QueryRequest(text: "sigma alpha", k: 10, mode: .vector))
        #expect(hybrid.results.map(\.id) == vector.results.map(\.id))
        #expect(hybrid.results.allSatisfy { $0.scores?.keywordRank == nil && $0.scores?.vectorRank != nil })
        #expect(hybrid.index.keywordError?.contains("keyword index") == true, "\(String(describing: hybrid.index.keywordError))")
        #expect(vector.index.keywordError != nil)
        do {
            _ = try handle.query(QueryRequest(text: "sigma", k: 5, mode: .keyword))
            Issue.record("keyword mode answered without an index")
        } catch {
            if case .unavailable(let reason) = error {
                #expect(reason.contains("not available"), "\(reason)")
            } else {
                Issue.record("keyword mode without an index: \(error), not unavailable")
            }
        }
        // The folder goes; after the retry interval the next cycle builds the index.
        try FileManager.default.removeItem(atPath: path)
        Thread.sleep(forTimeInterval: KeywordConsumer.retryInterval + 0.3)
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "new", text: "upsilon omega")])
        let keyword = try handle.query(QueryRequest(text: "upsilon", k: 5, mode: .keyword))
        #expect(keyword.results.first?.id == "new")
        #expect(keyword.index.keywordError == nil)
        #expect(keyword.index.keywordIndexedSeq == keyword.index.storeSeq)
    }

    @Test("a keyword file ahead of a stale cycle's seq but not of the store is kept (a second process applied it)")
    func aheadOfStaleSeq() throws {
        try withCollection { engine, _ in
            let handle = try engine.collection("c")
            let consumer = handle.follower.keyword
            let covered = consumer.coveredSeq
            #expect(covered > 5)
            // A cycle that read the store's seq before another process's writes were applied.
            consumer.catchUp(store: handle.store, storeSeq: covered - 5)
            #expect(consumer.coveredSeq == covered)
            #expect(consumer.failure == nil)
            #expect(try handle.query(QueryRequest(text: "upsilon", k: 5, mode: .keyword)).results.map(\.id) == ["d7"])
        }
    }

    @Test("a large keyword backlog is applied a few pages per follower cycle: writes are not held up by the whole build")
    func backlogAcrossCycles() throws {
        let directory = try TemporaryDirectory("quiver-hybrid-backlog")
        // On PostgreSQL (a second process, and a loaded machine) the follower's later cycles can
        // finish a short backlog before the test reads the first state: a longer one there.
        let count = KeywordConsumer.page * (KeywordConsumer.pagesPerCycle * (TestStore.isPostgres ? 6 : 1) + 2) + 17
        do {
            let engine = try makeEngine(directory)
            try engine.createCollection(CollectionOptions(name: "c"))
            var random = SeededVectors(seed: 3)
            for start in stride(from: 0, to: count, by: 1000) {
                _ = try engine.upsert(
                    collection: "c",
                    documents: (start..<min(count, start + 1000)).map {
                        DocumentInput(id: "d\($0)", text: "word\($0) shared", vector: random.vector(8))
                    })
            }
        }
        let path = DataLayout(dataDirectory: directory.url).collection("c").keywordIndexPath
        KeywordIndexFiles.remove(path)
        let engine = try makeEngine(directory)
        let handle = try engine.collection("c")
        // The first cycle built part of it; the rest follows in the next cycles, on its own.
        let first = try handle.info().index
        #expect((first.keywordIndexedSeq ?? 0) < first.storeSeq)
        #expect(first.keywordError == nil)
        let deadline = Date().addingTimeInterval(60)
        while try handle.info().index.keywordIndexedSeq != first.storeSeq, Date() < deadline { usleep(5_000) }
        let done = try handle.info().index
        #expect(done.keywordIndexedSeq == done.storeSeq)
        #expect(try handle.query(QueryRequest(text: "word\(count - 1)", k: 1, mode: .keyword)).results.map(\.id) == ["d\(count - 1)"])
        #expect(try handle.query(QueryRequest(text: "word0", k: 1, mode: .keyword)).results.map(\.id) == ["d0"])
    }
}

/// The keyword index's three files.
enum KeywordIndexFiles {
    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
