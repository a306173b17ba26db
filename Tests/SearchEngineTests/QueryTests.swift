import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Queries, filters, recommendations and vectors")
struct QueryTests {
    /// 100 documents d0…d99: metadata {group: "even"/"odd", n: i}, updated_at 1000 + i.
    func fixture(_ directory: TemporaryDirectory) throws -> (SearchEngine, [[Float]]) {
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        var random = SeededVectors(seed: 5)
        let vectors = (0..<100).map { _ in random.vector(8) }
        _ = try engine.upsert(
            collection: "c",
            documents: vectors.enumerated().map { i, v in
                DocumentInput(
                    id: "d\(i)", title: "title \(i)",
                    metadata: .object(["group": .string(i % 2 == 0 ? "even" : "odd"), "n": .number(Double(i))]),
                    updatedAt: Timestamp(seconds: 1000 + Double(i)), vector: v)
            })
        return (engine, vectors)
    }

    @Test("filters: equality, numeric ranges and time ranges on updated_at / embedded_at")
    func filters() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        func ids(_ filter: [String: JSONValue]) throws -> Set<String> {
            Set(try engine.query(collection: "c", QueryRequest(vector: vectors[0], k: 100, filter: QueryFilter(filter))).results.map(\.id))
        }
        #expect(try ids(["group": .string("odd")]) == Set((0..<100).filter { $0 % 2 == 1 }.map { "d\($0)" }))
        #expect(try ids(["n": .object(["gte": .number(10), "lt": .number(13)])]) == ["d10", "d11", "d12"])
        #expect(
            try ids(["updated_at": .object(["gt": .string("1970-01-01T00:17:15Z")]), "group": .string("even")])
                == Set((36..<100).filter { $0 % 2 == 0 }.map { "d\($0)" }))
        #expect(try ids(["embedded_at": .object(["lt": .number(1)])]).isEmpty)
        #expect(try ids(["embedded_at": .object(["gt": .number(1)])]).count == 100)
        #expect(throws: SearchEngineError.self) { try ids(["n": .object(["near": .number(1)])]) }
        #expect(throws: SearchEngineError.self) { try ids(["updated_at": .string("yesterday")]) }
        #expect(throws: SearchEngineError.self) { try ids(["bad\"key": .number(1)]) }
    }

    @Test("the in-memory serving fingerprint matches the store's; nil for unknown or deleted collections")
    func loadedFingerprint() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        #expect(engine.loadedFingerprint(collection: "nope") == nil)
        let stored = try engine.servingFingerprint(collection: "c")
        _ = try engine.query(collection: "c", QueryRequest(vector: vectors[0], k: 1))
        #expect(engine.loadedFingerprint(collection: "c") == stored)
        try engine.deleteCollection("c")
        #expect(engine.loadedFingerprint(collection: "c") == nil)
    }

    @Test("query by id and recommend exclude the examples; k, ef and vectors are checked")
    func byIDAndRecommend() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        let similar = try engine.query(collection: "c", QueryRequest(id: "d3", k: 5))
        #expect(similar.results.count == 5 && !similar.results.contains { $0.id == "d3" })
        let exact = try engine.query(collection: "c", QueryRequest(vector: vectors[3], k: 6, ef: 200)).results.map(\.id)
        #expect(exact.first == "d3" && Array(exact.dropFirst()) == similar.results.map(\.id))

        let recommended = try engine.recommend(collection: "c", RecommendRequest(positive: ["d1", "d2"], negative: ["d3"], k: 10))
        #expect(recommended.results.count == 10 && !recommended.results.contains { ["d1", "d2", "d3"].contains($0.id) })
        #expect(throws: SearchEngineError.documentNotFound(collection: "c", id: "zz")) {
            try engine.recommend(collection: "c", RecommendRequest(positive: ["zz"]))
        }
        #expect(throws: SearchEngineError.dimensionMismatch(expected: 8, actual: 2)) {
            try engine.query(collection: "c", QueryRequest(vector: [1, 2]))
        }
        #expect(throws: SearchEngineError.self) { try engine.query(collection: "c", QueryRequest(vector: vectors[0], k: 0)) }
        #expect(throws: SearchEngineError.self) { try engine.query(collection: "c", QueryRequest(text: "x", vector: vectors[0])) }
        let withVector = try engine.query(collection: "c", QueryRequest(vector: vectors[7], k: 1, include: [.vector, .text]))
        let stored = try #require(withVector.results.first?.vector)
        #expect(zip(stored, vectors[7]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("vectors by id and a paged export, tagged with the model fingerprint")
    func vectorsAndExport() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        let fetched = try engine.vectors(collection: "c", ids: ["d5", "nope", "d9"])
        #expect(fetched.vectors.map(\.id) == ["d5", "d9"] && fetched.missing == ["nope"])
        #expect(fetched.vectors[0].vector == vectors[5] && fetched.vectors[0].model == "external-external-8")
        var cursor: String?
        var seen: [String] = []
        repeat {
            let page = try engine.exportVectors(collection: "c", cursor: cursor, limit: 30)
            seen += page.vectors.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == (0..<100).map { "d\($0)" })
        #expect(throws: SearchEngineError.self) { try engine.exportVectors(collection: "c", cursor: "x", limit: 5) }
        let json = try JSONEncoder().encode(try engine.query(collection: "c", QueryRequest(id: "d1", k: 2)))
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"indexed_seq\"") && text.contains("\"age_seconds\"") && text.contains("\"embed_ms\""))
    }

    @Test("the real model end to end: the matching document ranks first", .timeLimit(.minutes(10)))
    func realModel() throws {
        let model = try TestModel.shared.get()
        let directory = try TemporaryDirectory()
        let engine = try makeEngine(directory, models: [model])
        try engine.createCollection(CollectionOptions(name: "help"))
        let articles = [
            ("reset", "Resetting your password", "Open settings, choose security and click forgot password to get a reset link."),
            ("billing", "Updating billing details", "Change the credit card used for your subscription on the billing page."),
            ("export", "Exporting your data", "Download all your documents as a zip archive from the account page."),
            ("delete", "Deleting your account", "Account deletion is permanent and removes every document after 30 days."),
        ]
        let result = try engine.upsert(collection: "help", documents: articles.map { DocumentInput(id: $0.0, text: $0.2, title: $0.1) })
        #expect(result.inserted == 4 && result.embedded == 4)
        let response = try engine.query(collection: "help", QueryRequest(text: "how do I reset my password", k: 2))
        #expect(response.results.first?.id == "reset")
        #expect(response.model.id == "all-MiniLM-L6-v2" && response.timings.embedMs > 0)
        let again = try engine.upsert(collection: "help", documents: articles.map { DocumentInput(id: $0.0, text: $0.2, title: $0.1) })
        #expect(again.unchanged == 4 && again.embedded == 0)
    }

    @Test("a query batch answers in request order on several threads, exactly as one query at a time")
    func batchMatchesSingleQueries() async throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        let handle = try engine.collection("c")
        let embedder = ModelQueryEmbedder(engine: engine)
        let requests = (0..<100).map { i in
            i % 3 == 0
                ? QueryRequest(id: "d\(i)", k: 5)
                : QueryRequest(vector: vectors[(i * 7) % 100], k: 5, filter: i % 5 == 0 ? QueryFilter(["group": .string("odd")]) : nil)
        }
        let batch = try await handle.query(batch: requests, embedder: embedder)
        #expect(batch.count == requests.count)
        for (request, answer) in zip(requests, batch) {
            let single = try handle.query(request)
            #expect(answer.results.map(\.id) == single.results.map(\.id))
            #expect(answer.results.map(\.score) == single.results.map(\.score))
        }
        // Errors name the query; limits are checked before any work.
        var bad = requests
        bad[42] = QueryRequest(vector: [1, 2, 3], k: 5)
        await #expect(throws: SearchEngineError.invalidQuery("queries[42].vector: has 3 dimensions, the collection's vectors have 8")) {
            try await handle.query(batch: bad, embedder: embedder)
        }
        bad[42] = QueryRequest(vector: vectors[0], k: 0)
        await #expect(throws: SearchEngineError.invalidQuery("queries[42].k must be at least 1 (got 0)")) {
            try await handle.query(batch: bad, embedder: embedder)
        }
        await #expect(throws: SearchEngineError.limitExceeded(limit: "max_k", value: 5, allowed: 4)) {
            try await handle.query(batch: requests, embedder: embedder, limits: QueryLimits(maxK: 4))
        }
        // Text needs a model for the collection's generation: this engine has none (own vectors).
        await #expect(throws: SearchEngineError.modelUnavailable(collection: "c", fingerprint: try handle.servingFingerprint())) {
            try await handle.query(QueryRequest(text: "words", k: 1), embedder: embedder)
        }
    }

    @Test("with_payload false: the same ids and scores as a full answer, nothing else; from memory once filled")
    func withoutPayload() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        let handle = try engine.collection("c")
        func compare(_ request: QueryRequest, _ context: String) throws {
            var bare = request
            bare.withPayload = false
            let full = try handle.query(request)
            let ids = try handle.query(bare)
            #expect(ids.results.map(\.id) == full.results.map(\.id), "\(context)")
            #expect(ids.results.map(\.score) == full.results.map(\.score), "\(context)")
            #expect(ids.results.allSatisfy { $0.title == nil && $0.metadata == nil && $0.freshness == nil && $0.text == nil }, "\(context)")
            #expect(ids.index.withoutLag == full.index.withoutLag)
        }
        // The first call reads ids from the store and asks the follower to fill its directory.
        try compare(QueryRequest(vector: vectors[3], k: 10, include: [.text]), "before the fill")
        try engine.catchUp(collection: "c")
        #expect(handle.follower.directory.needsFill == false)
        for i in stride(from: 0, to: 100, by: 7) {
            try compare(QueryRequest(vector: vectors[i], k: 10), "vector \(i)")
            try compare(QueryRequest(id: "d\(i)", k: 5, filter: QueryFilter(["group": .string("odd")])), "id \(i)")
        }
        // Writes after the fill reach the directory through the change feed.
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "new", vector: vectors[0].map { -$0 })])
        _ = try engine.delete(collection: "c", ids: ["d5"])
        try compare(QueryRequest(vector: vectors[0].map { -$0 }, k: 3), "after writes")
        let top = try handle.query(QueryRequest(vector: vectors[0].map { -$0 }, k: 1, withPayload: false))
        #expect(top.results.map(\.id) == ["new"])
        let recommended = try handle.recommend(RecommendRequest(positive: ["d1"], k: 5, withPayload: false))
        #expect(recommended.results.count == 5 && recommended.results.allSatisfy { $0.freshness == nil && $0.id != "d1" })
    }

    @Test("a snapshot answers like a query, is validated the same, and never reports the store behind the index")
    func snapshot() throws {
        let directory = try TemporaryDirectory()
        let (engine, vectors) = try fixture(directory)
        let handle = try engine.collection("c")
        let snapshot = try handle.snapshot()
        for i in [0, 17, 42] {
            for request in [
                QueryRequest(vector: vectors[i], k: 5), QueryRequest(vector: vectors[i], k: 3, withPayload: false),
                QueryRequest(id: "d\(i)", k: 4, filter: QueryFilter(["group": .string("even")])),
            ] {
                let taken = try snapshot.query(request)
                let direct = try handle.query(request)
                #expect(taken.results.map(\.id) == direct.results.map(\.id))
                #expect(taken.results.map(\.score) == direct.results.map(\.score))
                #expect(taken.index.withoutLag == direct.index.withoutLag)
            }
        }
        #expect(throws: SearchEngineError.self) { try snapshot.query(QueryRequest(vector: vectors[0], k: 0)) }
        #expect(throws: SearchEngineError.self) { try snapshot.query(QueryRequest(vector: [1, 2], k: 3)) }
        // Writes after the snapshot: the index takes them; the answer's store seq is never below
        // its indexed seq.
        var random = SeededVectors(seed: 99)
        let added = random.vector(8)
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "late", vector: added)])
        let later = try snapshot.query(QueryRequest(vector: added, k: 1))
        #expect(later.index.storeSeq >= later.index.indexedSeq)
        #expect(later.index.pending == later.index.storeSeq - later.index.indexedSeq)
    }
}
