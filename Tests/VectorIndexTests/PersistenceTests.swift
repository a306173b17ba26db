import Foundation
import Testing

@testable import VectorIndex

@Suite("On-disk format")
struct PersistenceTests {
    static func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-index-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// A small index with removals and several layers, saved once.
    static let small: (path: String, index: HNSWIndex, queries: [[Float]]) = {
        var data = TestData(seed: 11)
        let flat = data.clustered(count: 1_500, dimension: 16, clusters: 15)
        let queries = rows(data.clustered(count: 30, dimension: 16, clusters: 15), dimension: 16)
        let path = temporaryPath("small.hnsw")
        do {
            let index = try HNSWIndex(configuration: HNSWConfiguration(dimension: 16, m: 4, efConstruction: 40))
            try index.add(contentsOf: flat, labels: (0..<1_500).map { UInt64($0) + 1_000 })
            for label in stride(from: 1_000 as UInt64, to: 1_100, by: 7) { try index.remove(label) }
            index.coveredSeq = 4242
            try index.save(to: path)
            return (path, index, queries)
        } catch {
            preconditionFailure("fixture failed: \(error). This is a bug.")
        }
    }()

    @Test("XXH64 matches the reference values")
    func xxhash() {
        #expect(XXHash64.hash(Array("".utf8)) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        let long = Array("Nobody inspects the spammish repetition, twice over and over.".utf8)
        #expect(XXHash64.hash(long) == XXHash64.hash(long))
    }

    @Test("save → open gives identical results, mapped, and writes after open work")
    func roundTrip() throws {
        let (path, index, queries) = Self.small
        let opened = try HNSWIndex.open(at: path, verification: .full)
        #expect(opened.isMapped)
        #expect(opened.count == index.count)
        #expect(opened.coveredSeq == 4242)
        #expect(opened.configuration == index.configuration)
        // The mapped index walks the float vectors (it has no half-precision copies), the built
        // one the half copies: both re-rank on the float vectors, so they agree on these queries.
        // Once owned, the opened index walks the half copies too and must agree exactly.
        let owned = try HNSWIndex.open(at: path, verification: .full)
        owned.loadIntoMemory()
        #expect(!owned.isMapped && owned.count == index.count)
        let changed = try HNSWIndex.open(at: path, verification: .full)
        _ = try? changed.remove(UInt64.max)  // any change (even a failed one) makes it own its memory
        #expect(!changed.isMapped)
        for q in queries {
            #expect(try opened.search(q, k: 10, ef: 50) == index.search(q, k: 10, ef: 50))
            #expect(try owned.search(q, k: 10, ef: 50) == index.search(q, k: 10, ef: 50))
            #expect(try changed.search(q, k: 10, ef: 50) == index.search(q, k: 10, ef: 50))
            #expect(try opened.exactSearch(q, k: 5) == index.exactSearch(q, k: 5))
        }
        try opened.add(queries[0], label: 1)
        #expect(!opened.isMapped)
        #expect(try opened.search(queries[0], k: 1).first?.label == 1)
        #expect(!opened.contains(1_007))
        // Saving over the file that is still mapped elsewhere replaces it atomically.
        let copy = Self.temporaryPath("copy.hnsw")
        try opened.save(to: copy)
        let again = try HNSWIndex.open(at: copy, verification: .full)
        #expect(again.count == index.count + 1)
    }

    @Test("searches running while a mapped index is copied into memory see the same results")
    func loadWhileSearching() async throws {
        let (path, index, queries) = Self.small
        let opened = try HNSWIndex.open(at: path, verification: .full)
        let expected = try queries.map { try index.search($0, k: 10, ef: 50) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<20 {
                        for (i, q) in queries.enumerated() where (i + round + worker) % 3 == 0 {
                            if try opened.search(q, k: 10, ef: 50) != expected[i] { mismatches += 1 }
                        }
                    }
                    return mismatches
                }
            }
            group.addTask {
                opened.loadIntoMemory()
                return 0
            }
            var total = 0
            for try await mismatches in group { total += mismatches }
            #expect(total == 0)
        }
        #expect(!opened.isMapped)
    }

    @Test("an empty index round-trips")
    func empty() throws {
        let path = Self.temporaryPath("empty.hnsw")
        try HNSWIndex(configuration: HNSWConfiguration(dimension: 3, metric: .l2)).save(to: path)
        let opened = try HNSWIndex.open(at: path, verification: .full)
        #expect(opened.count == 0)
        #expect(try opened.search([1, 2, 3], k: 4).isEmpty)
    }

    @Test("foreign files are rejected as not an index")
    func foreign() throws {
        let path = Self.temporaryPath("foreign.bin")
        for content in [Data("hello world, this is not an index at all".utf8), Data(repeating: 0, count: 4096), Data([0x51])] {
            try content.write(to: URL(fileURLWithPath: path))
            #expect(throws: VectorIndexError.self) { try HNSWIndex.open(at: path) }
        }
        try Data("just text".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: VectorIndexError.notAnIndexFile(path: path)) { try HNSWIndex.open(at: path) }
        #expect(throws: VectorIndexError.self) { try HNSWIndex.open(at: Self.temporaryPath("missing.hnsw")) }
    }

    @Test("every truncation is an error")
    func truncations() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.small.path))
        let path = Self.temporaryPath("truncated.hnsw")
        var lengths = Array(0..<400) + Array(stride(from: 400, to: bytes.count, by: 397))
        lengths.append(bytes.count - 1)
        for length in lengths {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            #expect(throws: VectorIndexError.self, "length \(length)") { try HNSWIndex.open(at: path) }
        }
    }

    @Test("every flipped byte is an error under full verification, and never a crash otherwise")
    func flippedBytes() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.small.path))
        let path = Self.temporaryPath("flipped.hnsw")
        var rng = SplitMix64(seed: 3)
        var positions = Array(0..<512)
        for _ in 0..<600 { positions.append(Int(rng.next() % UInt64(bytes.count))) }
        for position in positions {
            var damaged = bytes
            damaged[position] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
            try damaged.write(to: URL(fileURLWithPath: path))
            let padding = position >= IndexFileFormat.tableEnd && isPadding(position, bytes)
            if !padding {
                #expect(throws: VectorIndexError.self, "byte \(position)") { try HNSWIndex.open(at: path, verification: .full) }
            }
            // Structure-only verification may accept damage in vectors or base links; the index
            // must then still answer without crashing.
            if let index = try? HNSWIndex.open(at: path, verification: .structure) {
                for q in Self.small.queries.prefix(3) { _ = try index.search(q, k: 10) }
            }
        }
    }

    /// Whether a byte lies in the zero padding between sections (not covered by any checksum).
    func isPadding(_ position: Int, _ bytes: Data) -> Bool {
        bytes.withUnsafeBytes { raw in
            for i in 0..<IndexFileFormat.sectionCount {
                let base = IndexFileFormat.headerBytes + i * IndexFileFormat.tableEntryBytes
                let offset = Int(raw.loadUnaligned(fromByteOffset: base + 8, as: UInt64.self))
                let length = Int(raw.loadUnaligned(fromByteOffset: base + 16, as: UInt64.self))
                if position >= offset && position < offset + length { return false }
            }
            return true
        }
    }
}
