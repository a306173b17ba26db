import Foundation
import QuiverTestSupport
import Testing

@testable import SearchEngine

/// Damaged files at start-up. The index is derived, so any damage to it (or to `CURRENT`, or a
/// stray file) must end in a rebuild from the store and exactly the right answers. The store is
/// the truth: damage to it must end in a `SearchEngineError` naming the file — or, where SQLite
/// cannot see the damage (it has no page checksums), in answers consistent with what the store
/// now says. Never a crash.
///
/// Each case copies one pristine data folder (built once per test), damages the copy, opens a
/// fresh engine on it and checks.
@Suite("Corruption at start-up", .enabled(if: TestStore.isSQLite, "works on the SQLite store's files (copied, damaged, backed up)"))
struct CorruptionTests {
    /// A pristine collection "c" (cosine, 8 dims, 640 documents written, 40 updated, 30 deleted),
    /// checkpointed, plus 60 writes after the checkpoint; and a second collection "other" with its
    /// own documents (its index is the "foreign index" of some cases). Returns the live vectors of "c".
    static func makePristine(_ directory: URL, checkpointLast: Bool = false) throws -> [String: [Float]] {
        let engine = try makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        try engine.createCollection(CollectionOptions(name: "other"))
        var random = SeededVectors(seed: 2026)
        var live: [String: [Float]] = [:]
        let first = (0..<640).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: first)
        let updates = (0..<40).map { DocumentInput(id: "d\($0 * 7)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: updates)
        _ = try engine.delete(collection: "c", ids: (0..<30).map { "d\($0 * 11 + 3)" })
        for d in first + updates { live[d.id] = d.vector }
        for i in 0..<30 { live["d\(i * 11 + 3)"] = nil }
        try engine.checkpoint(collection: "c")
        let late = (640..<700).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: late)
        for d in late { live[d.id] = d.vector }
        if checkpointLast { try engine.checkpoint(collection: "c") }
        let foreign = (0..<600).map { DocumentInput(id: "o\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "other", documents: foreign)
        try engine.checkpoint(collection: "other")
        return live
    }

    /// A copy of `pristine` in a new temporary folder.
    static func copy(_ pristine: TemporaryDirectory) throws -> TemporaryDirectory {
        let target = try TemporaryDirectory("quiver-corrupt")
        try FileManager.default.removeItem(at: target.url)
        try FileManager.default.copyItem(at: pristine.url, to: target.url)
        return target
    }

    static func path(_ directory: TemporaryDirectory, _ relative: String) -> URL {
        directory.url.appendingPathComponent("collections").appendingPathComponent(relative)
    }

    static let indexFile = "c/generations/1/index.hnsw"
    static let storeFile = "c/store.sqlite"

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    /// The k nearest ids of `query` among `truth` by cosine, best first (exact, in Double).
    static func bruteForce(_ query: [Float], _ truth: [String: [Float]], k: Int) -> [String] {
        let q = normalized(query)
        return truth.map { id, v -> (String, Double) in
            let n = normalized(v)
            return (id, zip(q, n).reduce(0.0) { $0 + Double($1.0) * Double($1.1) })
        }
        .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        .prefix(k).map(\.0)
    }

    /// Opens a fresh engine on `directory` and checks that collection "c" answers exactly as
    /// `truth` says: the index covers the store's seq, holds exactly the live labels with their
    /// vectors, and top-10 answers of seeded queries equal a brute-force search of `truth`.
    static func expectExact(
        _ directory: TemporaryDirectory, _ truth: [String: [Float]], _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let engine = try makeEngine(directory)
        let state = try engine.catchUp(collection: "c")
        #expect(state.pending == 0 && state.indexedSeq == state.storeSeq, "\(context): \(state)", sourceLocation: sourceLocation)
        let runtime = try engine.runtime("c")
        let (serving, _) = try runtime.snapshot()
        #expect(
            serving.index.count == truth.count, "\(context): index holds \(serving.index.count) of \(truth.count)",
            sourceLocation: sourceLocation)
        let stored = try engine.storedDocuments(runtime, ids: Array(truth.keys), generation: serving.record, withVectors: false)
        var wrongVectors = 0
        for (id, vector) in truth {
            guard let label = stored[id]?.label, let held = serving.index.vector(for: firstIndexLabel(label, in: serving)) else {
                wrongVectors += 1
                continue
            }
            let expected = normalized(vector)
            if zip(held, expected).contains(where: { abs($0 - $1) > 1e-5 }) { wrongVectors += 1 }
        }
        #expect(
            wrongVectors == 0, "\(context): \(wrongVectors) documents missing from the index or with a wrong vector",
            sourceLocation: sourceLocation)
        var random = SeededVectors(seed: 5)
        var wrongAnswers = 0
        for _ in 0..<25 {
            let query = random.vector(8)
            let got = try engine.query(collection: "c", QueryRequest(vector: query, k: 10)).results.map(\.id)
            if got != bruteForce(query, truth, k: 10) { wrongAnswers += 1 }
        }
        #expect(wrongAnswers == 0, "\(context): \(wrongAnswers) of 25 queries answered wrongly", sourceLocation: sourceLocation)
        // CURRENT is rewritten from the store's generation table on load.
        let current = try? String(contentsOf: path(directory, "c/CURRENT"), encoding: .utf8)
        #expect(current == "1\n", "\(context): CURRENT is \(current.debugDescription)", sourceLocation: sourceLocation)
    }

    /// What opening a damaged store led to.
    enum StoreOutcome: Equatable {
        /// A `SearchEngineError` naming the file.
        case namedError
        /// The engine answered, consistently with what the store now holds.
        case consistent
        /// The store's copy of some vectors changed without SQLite noticing (a flipped payload
        /// byte: SQLite has no page checksums), and the index still holds the values written.
        case storeChangedSilently
        /// The store's unique index on ids lost an entry (SQLite's `PRAGMA integrity_check` reports
        /// it; `quick_check` does not): lookups by id miss a document that label reads still find.
        case storeIDIndexDamaged
    }

    /// Opens a fresh engine on a folder whose store is damaged and checks that it either fails with
    /// an error naming the store file, or serves an index consistent with the store's contents
    /// (the store is the truth, even when damage SQLite cannot detect changed it).
    static func storeOutcome(
        _ directory: TemporaryDirectory, _ context: String, written: [String: [Float]]? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> StoreOutcome? {
        let storePath = path(directory, storeFile).path
        do throws(SearchEngineError) {
            let engine: SearchEngine
            do { engine = try makeEngine(directory) } catch {
                Issue.record("\(context): \(error)", sourceLocation: sourceLocation)
                return nil
            }
            try engine.catchUp(collection: "c")
            var exported: [String: [Float]] = [:]
            var items = 0
            var cursor: String?
            repeat {
                let page = try engine.exportVectors(collection: "c", cursor: cursor, limit: 10_000)
                for item in page.vectors { exported[item.id] = item.vector }
                items += page.vectors.count
                cursor = page.nextCursor
            } while cursor != nil
            // Two rows with one id: a flip renamed a document and its unique-index entry no longer matches.
            if items != exported.count { return .storeIDIndexDamaged }
            let runtime = try engine.runtime("c")
            let (serving, _) = try runtime.snapshot()
            let stored = try engine.storedDocuments(runtime, ids: Array(exported.keys), generation: serving.record, withVectors: false)
            if exported.keys.contains(where: { stored[$0] == nil }) { return .storeIDIndexDamaged }
            var mismatches = 0
            for (id, vector) in exported {
                // (A flip that turned chunking on makes every document one passage: label << 10.)
                guard let label = stored[id]?.label, let held = serving.index.vector(for: firstIndexLabel(label, in: serving)),
                    !zip(held, normalized(vector)).contains(where: { abs($0 - $1) > 1e-5 })
                else {
                    mismatches += 1
                    continue
                }
            }
            if serving.index.count != exported.count { mismatches += 1 }
            var random = SeededVectors(seed: 6)
            for _ in 0..<5 {
                let query = random.vector(8)
                let got = try engine.query(collection: "c", QueryRequest(vector: query, k: 10)).results.map(\.id)
                if got != bruteForce(query, exported, k: 10) { mismatches += 1 }
            }
            if mismatches > 0, let written {
                // The store reads differently from what was written, and SQLite did not notice. The
                // answers must then still be the written truth's (the index kept it).
                var wrong = 0
                var random = SeededVectors(seed: 6)
                for _ in 0..<25 {
                    let query = random.vector(8)
                    let got = try engine.query(collection: "c", QueryRequest(vector: query, k: 10)).results.map(\.id)
                    if got != bruteForce(query, written, k: 10) { wrong += 1 }
                }
                if wrong == 0 && serving.index.count == written.count { return .storeChangedSilently }
            }
            if mismatches > 0, let keep = ProcessInfo.processInfo.environment["QUIVER_CORRUPTION_KEEP"] {
                try? FileManager.default.copyItem(
                    at: directory.url,
                    to: URL(fileURLWithPath: keep).appendingPathComponent(
                        context.replacingOccurrences(of: " ", with: "-")))
            }
            #expect(
                mismatches == 0, "\(context): the index disagrees with the store in \(mismatches) places",
                sourceLocation: sourceLocation)
            return .consistent
        } catch {
            #expect(
                error.description.contains(storePath), "\(context): error does not name the store: \(error)",
                sourceLocation: sourceLocation)
            return .namedError
        }
    }

    // MARK: - The index file

    @Test("an index file truncated at many lengths is rebuilt; answers exact")
    func truncatedIndex() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url, checkpointLast: true)
        let size = try Data(contentsOf: Self.path(pristine, Self.indexFile)).count
        var random = SeededVectors(seed: 11)
        var lengths = [0, 1, 7, 8, 64, 127, 128, 351, 352, 353, 1024, size / 2, size - 64, size - 1]
        for _ in 0..<16 { lengths.append(Int(random.next() % UInt64(size))) }
        for length in lengths {
            let copy = try Self.copy(pristine)
            let file = Self.path(copy, Self.indexFile)
            try Data(contentsOf: file).prefix(length).write(to: file)
            try Self.expectExact(copy, live, "index truncated to \(length) of \(size) bytes")
        }
    }

    @Test("an index file with a bit flipped at 300 seeded positions is rebuilt; answers exact")
    func bitFlippedIndex() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url, checkpointLast: true)
        let original = try Data(contentsOf: Self.path(pristine, Self.indexFile))
        var random = SeededVectors(seed: 12)
        for _ in 0..<300 {
            let offset = Int(random.next() % UInt64(original.count))
            let bit = UInt8(1) << UInt8(random.next() % 8)
            let copy = try Self.copy(pristine)
            var bytes = original
            bytes[offset] ^= bit
            try bytes.write(to: Self.path(copy, Self.indexFile))
            try Self.expectExact(copy, live, "index bit \(bit) flipped at offset \(offset) of \(original.count)")
        }
    }

    @Test("an index file replaced by zeros, random bytes, another file or another collection's index is rebuilt")
    func replacedIndex() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url)
        let size = try Data(contentsOf: Self.path(pristine, Self.indexFile)).count
        var random = SeededVectors(seed: 13)
        let replacements: [(String, (TemporaryDirectory) throws -> Data)] = [
            ("zeros", { _ in Data(count: size) }),
            ("random bytes", { _ in Data((0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }) }),
            ("the magic then zeros", { _ in Data("QVRHNSW1".utf8) + Data(count: size - 8) }),
            ("a JSON file", { _ in Data(#"{"not":"an index"}"#.utf8) }),
            ("the store file", { copy in try Data(contentsOf: Self.path(copy, Self.storeFile)) }),
            ("another collection's index", { copy in try Data(contentsOf: Self.path(copy, "other/generations/1/index.hnsw")) }),
        ]
        for (name, make) in replacements {
            let copy = try Self.copy(pristine)
            try make(copy).write(to: Self.path(copy, Self.indexFile))
            try Self.expectExact(copy, live, "index replaced by \(name)")
        }
        // Missing index file, missing generation folder.
        for removed in [Self.indexFile, "c/generations/1", "c/generations"] {
            let copy = try Self.copy(pristine)
            try FileManager.default.removeItem(at: Self.path(copy, removed))
            try Self.expectExact(copy, live, "\(removed) removed")
        }
    }

    // MARK: - CURRENT and stray files

    @Test("CURRENT missing, empty, garbage or naming a generation that does not exist changes nothing")
    func currentFile() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url)
        let contents: [(String, Data?)] = [
            ("missing", nil), ("empty", Data()), ("garbage", Data([0xFF, 0x00, 0x13, 0x37, 0x0A])),
            ("text", Data("hello\n".utf8)), ("generation 7", Data("7\n".utf8)), ("generation -1", Data("-1\n".utf8)),
            ("a huge number", Data("99999999999999999999999\n".utf8)), ("1 without newline", Data("1".utf8)),
        ]
        for (name, content) in contents {
            let copy = try Self.copy(pristine)
            let file = Self.path(copy, "c/CURRENT")
            try? FileManager.default.removeItem(at: file)
            if let content { try content.write(to: file) }
            try Self.expectExact(copy, live, "CURRENT \(name)")
        }
        // CURRENT as a directory: the store still decides; the folder cannot be replaced, so the
        // engine keeps serving (CURRENT is a mirror for tools) and logs a warning.
        let copy = try Self.copy(pristine)
        let file = Self.path(copy, "c/CURRENT")
        try FileManager.default.removeItem(at: file)
        try FileManager.default.createDirectory(at: file, withIntermediateDirectories: true)
        let engine = try makeEngine(copy)
        let state = try engine.catchUp(collection: "c")
        #expect(state.indexedSeq == state.storeSeq)
        let top = try engine.query(collection: "c", QueryRequest(vector: live["d1"]!, k: 1))
        #expect(top.results.first?.id == "d1")
    }

    @Test("foreign files and folders in the data folder and the collection folder are ignored")
    func foreignFiles() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url)
        let junk = Data("junk".utf8)
        let drops: [(String, Bool)] = [  // (path relative to collections/, is a folder)
            ("notes.txt", false), ("UPPER", true), ("zz", true), ("zz/store.sqlite-wal", false), ("x.tmp-1-2", false),
            (".hidden", true), ("c/notes.txt", false), ("c/generations/notes", false), ("c/generations/2", true),
            ("c/generations/99/index.hnsw", false), ("c/generations/abc", true), ("c/generations/1/extra.bin", false),
            ("c/generations/1/index.hnsw.tmp-999999999-1", false), ("c/store.sqlite.bak", false), ("c/sub/dir", true),
        ]
        for (relative, isFolder) in drops {
            let copy = try Self.copy(pristine)
            let target = Self.path(copy, relative)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            if isFolder {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } else {
                try junk.write(to: target)
            }
            try Self.expectExact(copy, live, "foreign \(isFolder ? "folder" : "file") \(relative)")
            let engine = try makeEngine(copy)
            #expect(try engine.collectionNames() == ["c", "other"], "\(relative)")
            #expect(try engine.listCollections().map(\.name) == ["c", "other"], "\(relative)")
        }
    }

    @Test(
        "the index path taken by a folder, or the generation folder by a file: served from memory, the checkpoint failure reported and named, no crash"
    )
    func indexPathBlocked() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        _ = try Self.makePristine(pristine.url)
        for blocked in [Self.indexFile, "c/generations/1"] {
            let copy = try Self.copy(pristine)
            let target = Self.path(copy, blocked)
            try FileManager.default.removeItem(at: target)
            if blocked == Self.indexFile {
                try FileManager.default.createDirectory(at: target.appendingPathComponent("inside"), withIntermediateDirectories: true)
            } else {
                try Data("a file".utf8).write(to: target)
            }
            // The collection serves from memory (a checkpoint that cannot be written fails no
            // query or write); the failure is reported, and an explicit checkpoint names it.
            let engine = try makeEngine(copy)
            let state = try engine.catchUp(collection: "c")
            #expect(state.vectors > 0, "\(blocked)")
            let failure = try #require(engine.checkpointFailures()["c"], "\(blocked): the failed checkpoint is not reported")
            #expect(failure.contains("generations/1"), "\(blocked): \(failure)")
            do {
                try engine.checkpoint(collection: "c")
                Issue.record("\(blocked): checkpointed although the index cannot be written")
            } catch {
                #expect(error.description.contains("generations/1"), "\(blocked): \(error)")
            }
        }
    }

    // MARK: - The store

    @Test("a store file truncated, replaced by garbage or emptied: an error naming it, or consistent answers")
    func damagedStore() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        _ = try Self.makePristine(pristine.url)
        let original = try Data(contentsOf: Self.path(pristine, Self.storeFile))
        #expect(
            !FileManager.default.fileExists(atPath: Self.path(pristine, Self.storeFile).path + "-wal"),
            "the pristine store should be checkpointed and closed")
        var cases: [(String, Data)] = [
            ("random bytes", Data((0..<original.count).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })),
            ("zeros", Data(count: original.count)),
            ("an index file", try Data(contentsOf: Self.path(pristine, Self.indexFile))),
            ("text", Data("hello, world\n".utf8)),
            ("an empty file", Data()),
            ("the SQLite magic then zeros", Data("SQLite format 3\0".utf8) + Data(count: 4080)),
        ]
        let pageSize = 4096
        for length in [
            16, 100, 512, pageSize, pageSize + 1, 2 * pageSize, original.count / 2, original.count - pageSize,
            original.count - 1,
        ] where length < original.count {
            cases.append(("truncated to \(length) of \(original.count) bytes", original.prefix(length)))
        }
        var outcomes: [String: StoreOutcome] = [:]
        for (name, bytes) in cases {
            let copy = try Self.copy(pristine)
            try bytes.write(to: Self.path(copy, Self.storeFile))
            outcomes[name] = Self.storeOutcome(copy, "store replaced by \(name)")
        }
        // Garbage is never taken for a store.
        #expect(!outcomes.values.contains(.storeIDIndexDamaged) && !outcomes.values.contains(.storeChangedSilently), "\(outcomes)")
        for name in ["random bytes", "zeros", "an index file", "text"] {
            #expect(outcomes[name] == .namedError, "\(name): \(String(describing: outcomes[name]))")
        }
        print("damaged store outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }

    @Test("a store file without a collection (killed between creating and initialising it): named, then re-creatable")
    func halfCreatedStore() throws {
        let directory = try TemporaryDirectory("quiver-corrupt")
        let folder = directory.url.appendingPathComponent("collections/c")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("generations"), withIntermediateDirectories: true)
        let store = folder.appendingPathComponent("store.sqlite")
        try Data().write(to: store)
        do {
            let engine = try makeEngine(directory)
            #expect(!engine.hasCollection("c"))
            #expect(throws: SearchEngineError.self) { try engine.catchUp(collection: "c") }
            do { try engine.catchUp(collection: "c") } catch {
                #expect(error.description.contains(store.path), "\(error)")
            }
            try engine.createCollection(CollectionOptions(name: "c"))
            _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "a", vector: [1, 0, 0, 0, 0, 0, 0, 0])])
            #expect(try engine.query(collection: "c", QueryRequest(vector: [1, 0, 0, 0, 0, 0, 0, 0], k: 1)).results.map(\.id) == ["a"])
            // A store that holds a collection is never re-initialised.
            #expect(throws: SearchEngineError.collectionExists("c")) { try engine.createCollection(CollectionOptions(name: "c")) }
        }
        let engine = try makeEngine(directory)
        #expect(throws: SearchEngineError.collectionExists("c")) { try engine.createCollection(CollectionOptions(name: "c")) }
        #expect(try engine.query(collection: "c", QueryRequest(vector: [1, 0, 0, 0, 0, 0, 0, 0], k: 1)).results.map(\.id) == ["a"])
    }

    @Test("a store file with a bit flipped at 150 seeded positions: an error naming it, or consistent answers")
    func bitFlippedStore() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url, checkpointLast: true)
        let original = try Data(contentsOf: Self.path(pristine, Self.storeFile))
        var random = SeededVectors(seed: 14)
        var errors = 0
        var consistent = 0
        var silent = 0
        var idIndex = 0
        for _ in 0..<150 {
            let offset = Int(random.next() % UInt64(original.count))
            let bit = UInt8(1) << UInt8(random.next() % 8)
            let copy = try Self.copy(pristine)
            var bytes = original
            bytes[offset] ^= bit
            try bytes.write(to: Self.path(copy, Self.storeFile))
            switch Self.storeOutcome(copy, "store bit \(bit) flipped at offset \(offset)", written: live) {
            case .namedError: errors += 1
            case .consistent: consistent += 1
            case .storeChangedSilently: silent += 1
            case .storeIDIndexDamaged: idIndex += 1
            case nil: break
            }
        }
        print(
            "store bit flips: \(errors) named errors, \(consistent) consistent answers, "
                + "\(silent) payload changes SQLite cannot see (the index keeps the written vectors), "
                + "\(idIndex) damaged id-index entries (integrity_check only)")
        #expect(errors + consistent + silent + idIndex == 150)
    }

    @Test("a damaged WAL (as left by kill -9): committed frames before the damage survive; never a crash")
    func damagedWAL() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        var random = SeededVectors(seed: 15)
        // A collection whose last writes are still in the WAL: copy the files while the engine is
        // open (what kill -9 leaves behind; every write returned after an fsync of the WAL).
        let engine = try makeEngine(pristine)
        try engine.createCollection(CollectionOptions(name: "c"))
        var live: [String: [Float]] = [:]
        let first = (0..<500).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) }
        _ = try engine.upsert(collection: "c", documents: first)
        try engine.checkpoint(collection: "c")
        for d in first { live[d.id] = d.vector }
        let snapshot = try TemporaryDirectory("quiver-corrupt")
        try FileManager.default.removeItem(at: snapshot.url)
        try FileManager.default.copyItem(at: pristine.url, to: snapshot.url)
        let wal = Self.path(snapshot, Self.storeFile + "-wal")
        let walBytes = try Data(contentsOf: wal)
        #expect(walBytes.count > 32, "the store should have a WAL while open")

        // Intact WAL: everything committed is there.
        do {
            let copy = try Self.copy(snapshot)
            try Self.expectExact(copy, live, "intact WAL")
        }
        // Damage: a missing WAL, a truncated one, bit flips, garbage, zeros.
        var cases: [(String, Data?)] = [
            ("missing", nil), ("empty", Data()), ("zeros", Data(count: walBytes.count)),
            ("garbage", Data((0..<walBytes.count).map { UInt8(truncatingIfNeeded: $0 * 31 + 7) })),
        ]
        for length in [16, 32, 33, 1000, walBytes.count / 2, walBytes.count - 1] where length < walBytes.count {
            cases.append(("truncated to \(length)", walBytes.prefix(length)))
        }
        for _ in 0..<40 {
            let offset = Int(random.next() % UInt64(walBytes.count))
            var bytes = walBytes
            bytes[offset] ^= UInt8(1) << UInt8(random.next() % 8)
            cases.append(("bit flipped at \(offset)", bytes))
        }
        var outcomes: [String: StoreOutcome] = [:]
        for (name, bytes) in cases {
            let copy = try Self.copy(snapshot)
            let target = Self.path(copy, Self.storeFile + "-wal")
            try? FileManager.default.removeItem(at: target)
            try? FileManager.default.removeItem(at: Self.path(copy, Self.storeFile + "-shm"))
            if let bytes { try bytes.write(to: target) }
            outcomes[name] = Self.storeOutcome(copy, "WAL \(name)")
        }
        print(
            "damaged WAL outcomes: \(outcomes.values.filter { $0 == .namedError }.count) named errors, "
                + "\(outcomes.values.filter { $0 == .consistent }.count) consistent answers, "
                + "\(outcomes.values.filter { $0 == .storeChangedSilently || $0 == .storeIDIndexDamaged }.count) other")
    }

    // MARK: - Through the real binary

    @Test("quiver query/info on damaged files: exit status and messages, never a signal")
    func throughTheBinary() throws {
        let pristine = try TemporaryDirectory("quiver-corrupt")
        let live = try Self.makePristine(pristine.url, checkpointLast: true)
        let query = pristine.url.appendingPathComponent("queries.jsonl")
        let ids = ["d1", "d100", "d650"]
        let lines = try ids.map { id in
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": live[id]!.map(Double.init), "k": 1]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: query, atomically: true, encoding: .utf8)
        func quiver(_ data: URL, _ arguments: [String]) throws -> (
            status: Int32, reason: Process.TerminationReason, out: String, err: String
        ) {
            let process = Process()
            process.executableURL = try quiverExecutable()
            process.arguments = arguments + ["--data", data.path]
            // Standard output goes to a file: an export is larger than a pipe's buffer.
            let outFile = data.deletingLastPathComponent().appendingPathComponent("stdout-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: outFile.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: outFile) }
            let out = try FileHandle(forWritingTo: outFile)
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let errData = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            try out.close()
            let outData = try Data(contentsOf: outFile)
            return (
                process.terminationStatus, process.terminationReason, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self)
            )
        }
        // A damaged index: rebuilt, every query answered with the right document.
        let flipped = try Self.copy(pristine)
        var bytes = try Data(contentsOf: Self.path(flipped, Self.indexFile))
        for offset in stride(from: 400, to: bytes.count, by: 1_531) { bytes[offset] ^= 0x10 }
        try bytes.write(to: Self.path(flipped, Self.indexFile))
        try "garbage".write(to: Self.path(flipped, "c/CURRENT"), atomically: true, encoding: .utf8)
        let answered = try quiver(flipped.url, ["query", "-c", "c", "--input", query.path, "--json", "--model", TestModel.folder.path])
        #expect(answered.reason == .exit && answered.status == 0, "\(answered.err)")
        let tops = answered.out.split(separator: "\n").map { line -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return ((object?["results"] as? [[String: Any]])?.first)?["id"] as? String
        }
        #expect(tops == ids.map { Optional($0) }, "\(answered.out)")
        let info = try quiver(flipped.url, ["info", "--json"])
        #expect(info.reason == .exit && info.status == 0, "\(info.err)")
        #expect(info.out.contains(#""name":"c""#), "\(info.out)")
        let exported = try quiver(flipped.url, ["export", "-c", "c"])
        #expect(exported.status == 0 && exported.out.split(separator: "\n").count == live.count, "\(exported.err)")

        // A store replaced by garbage: status 1 and a message naming the file.
        let garbage = try Self.copy(pristine)
        try Data(repeating: 0x5A, count: 8192).write(to: Self.path(garbage, Self.storeFile))
        for arguments in [["info"], ["export", "-c", "c"]] {
            let result = try quiver(garbage.url, arguments)
            #expect(result.reason == .exit && result.status == 1, "\(arguments): \(result)")
            #expect(result.err.contains("store.sqlite"), "\(arguments): \(result.err)")
        }
    }
}
