import Foundation
import Logging
import QuiverTestSupport
import Testing

@testable import SearchEngine

@Suite("Open collections: a cap and idle closing")
struct OpenCollectionsTests {
    @Test("opening past max_open_collections closes the least recently used; idle ones close; both reopen with their data")
    func capAndIdle() throws {
        let directory = try TemporaryDirectory()
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let engine = try SearchEngine(
            dataDirectory: directory.url, models: [.external(dimensions: 8)], maxOpenCollections: 2, idleCollectionSeconds: 30,
            logger: logger)
        var random = SeededVectors(seed: 4)
        for name in ["a", "b", "c"] {
            try engine.createCollection(.init(name: name))
            _ = try engine.upsert(collection: name, documents: (0..<20).map { DocumentInput(id: "\(name)\($0)", vector: random.vector(8)) })
            Thread.sleep(forTimeInterval: 0.01)
        }
        // Creating "c" closed the least recently used, "a".
        #expect(engine.openCollectionNames == ["b", "c"])
        // Nothing was used for "an hour": the rest close, their indexes checkpointed up to date.
        #expect(engine.closeIdleCollections(now: Date().timeIntervalSince1970 + 3600) == ["b", "c"])
        #expect(engine.openCollectionNames.isEmpty)
        let report = try DataCheck.run(data: directory.url)
        #expect(report.ok)
        for collection in report.collections {
            #expect(collection.indexNotes.contains { $0.contains("up to date") }, "\(collection.name): \(collection.indexNotes)")
        }

        let probe = QueryRequest(vector: random.vector(8), k: 20)
        for name in ["a", "b", "c"] {
            #expect(try engine.collection(name).query(probe).results.count == 20)
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(engine.openCollectionNames == ["b", "c"], "a was the least recently used")
        #expect(try engine.collection("a").query(probe).results.count == 20)
        #expect(engine.openCollectionNames == ["a", "c"])
        // A write to a closed collection opens it (closing the least recently used, "c"), and is found.
        _ = try engine.upsert(collection: "b", documents: [DocumentInput(id: "b-new", vector: random.vector(8))])
        #expect(engine.openCollectionNames == ["a", "b"])
        #expect(try engine.collection("b").query(QueryRequest(vector: random.vector(8), k: 100)).results.count == 21)
        // Recently used collections are not idle.
        #expect(engine.closeIdleCollections().isEmpty)
    }
}
