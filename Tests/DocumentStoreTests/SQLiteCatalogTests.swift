import Foundation
import Logging
import Testing

@testable import DocumentStore

/// A collection's store is created beside its final name and renamed into place: what a kill
/// during `SQLiteCatalog.create` leaves must not break the listings or block the name.
@Suite("SQLite catalog: creation is all or nothing")
struct SQLiteCatalogTests {
    @Test("a creation killed before its rename leaves no collection; the next create replaces the staging file")
    func interruptedCreation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-catalog-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let layout = DataLayout(dataDirectory: directory)
        let catalog = try SQLiteCatalog(layout: layout, logger: logger)
        let first = try catalog.create(StoreConformanceTests.settings, firstGeneration: StoreConformanceTests.firstGeneration)
        #expect(try first.settings().name == "c")
        #expect(!FileManager.default.fileExists(atPath: layout.collection("c").storePath + ".creating"))
        // "half": killed after the staging store got its tables, before its settings and the rename.
        let half = layout.collection("half")
        try FileManager.default.createDirectory(at: half.generationsDirectory, withIntermediateDirectories: true)
        _ = try DocumentStore(path: half.storePath + ".creating", logger: logger)

        #expect(try catalog.names() == ["c"])
        #expect(try catalog.open("half") == nil)

        var settings = StoreConformanceTests.settings
        settings.name = "half"
        let created = try catalog.create(settings, firstGeneration: StoreConformanceTests.firstGeneration)
        #expect(try created.settings().name == "half")
        #expect(try catalog.names() == ["c", "half"])
        #expect(try catalog.open("half") != nil)
        #expect(!FileManager.default.fileExists(atPath: half.storePath + ".creating"))
        // A store that holds a collection is never replaced.
        #expect(throws: DocumentStoreError.self) { try catalog.create(settings, firstGeneration: StoreConformanceTests.firstGeneration) }
    }
}
