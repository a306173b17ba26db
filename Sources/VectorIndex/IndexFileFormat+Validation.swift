// Reading a file: every length, offset and index is checked here before the graph code is given a
// pointer into the mapping. The order matters for the error a user sees: a file that is not an
// index says so, an old or new format says so, a short file is "truncated", and only then do
// checksums and structure speak.

/// How much of a file `HNSWIndex.open(at:verification:)` checks before using it.
public enum IndexFileVerification: Sendable {
    /// Header, table, structure and the checksums of all small sections: reads a few bytes per
    /// node, not the vectors or base-layer links. Damage there cannot cause out-of-bounds
    /// reads (the search bounds-checks every link), only wrong results.
    case structure
    /// Everything in `.structure` plus the checksums of the vectors and base-layer links.
    case full
}

extension IndexFileFormat {
    /// Validates a mapped file and returns where its sections are.
    static func read(_ file: MappedFile, verification: IndexFileVerification) throws(VectorIndexError) -> Layout {
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(file.base), count: file.size)
        let path = file.path
        let prefix = min(bytes.count, magic.count)
        guard bytes[0..<prefix].elementsEqual(magic[0..<prefix]) else { throw .notAnIndexFile(path: path) }
        guard bytes.count >= tableEnd else {
            throw .truncated(path: path, expectedBytes: UInt64(tableEnd), actualBytes: UInt64(bytes.count))
        }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        guard u32(8) == version else { throw .unsupportedVersion(found: u32(8), supported: version) }
        var copy = Array(bytes[0..<tableEnd])
        for i in 120..<128 { copy[i] = 0 }
        guard XXHash64.hash(copy) == u64(120) else { throw .checksumMismatch(section: "header") }
        guard u32(12) == UInt32(headerBytes), u32(44) == UInt32(sectionCount) else {
            throw .corrupted(reason: "header size \(u32(12)) or section count \(u32(44)) is wrong")
        }
        let header = try decodeHeader(u32: u32, u64: u64, metricByte: bytes[20])
        var sections: [Section] = []
        var end = tableEnd
        for i in 0..<sectionCount {
            let base = headerBytes + i * tableEntryBytes
            let section = try checkedSection(
                index: i, kind: u32(base), elementSize: u32(base + 4), offset: u64(base + 8), length: u64(base + 16),
                checksum: u64(base + 24), header: header, notBefore: end)
            end = section.offset + section.length
            sections.append(section)
        }
        guard end <= bytes.count else {
            throw .truncated(path: path, expectedBytes: UInt64(end), actualBytes: UInt64(bytes.count))
        }
        for (i, s) in sections.enumerated() where verification == .full || i >= 2 {
            let hash = XXHash64.hash(UnsafeRawBufferPointer(rebasing: bytes[s.offset..<s.offset + s.length]))
            guard hash == s.checksum else { throw .checksumMismatch(section: sectionNames[i]) }
        }
        let layout = Layout(header: header, sections: sections)
        try checkStructure(bytes, layout)
        return layout
    }

    private static func decodeHeader(
        u32: (Int) -> UInt32, u64: (Int) -> UInt64, metricByte: UInt8
    ) throws(VectorIndexError) -> Header {
        guard let metric = DistanceMetric(rawValue: metricByte) else {
            throw .corrupted(reason: "unknown metric \(metricByte)")
        }
        let limit = UInt64(HNSWIndex.maxSlots)
        guard u64(48) <= limit, u64(56) <= u64(48), u64(64) <= UInt64(Int32.max) else {
            throw .corrupted(reason: "node count \(u64(48)), live count \(u64(56)) or upper words \(u64(64)) out of range")
        }
        let header = Header(
            dimension: Int(u32(16)), metric: metric, m: Int(u32(24)), efConstruction: Int(u32(28)),
            defaultEf: Int(u32(32)), entryLevelPlusOne: Int(u32(36)), entryNode: Int(u32(40)),
            nodeCount: Int(u64(48)), liveCount: Int(u64(56)), upperWords: Int(u64(64)), coveredSeq: u64(72),
            seed: u64(80))
        do {
            try configuration(header).validate()
        } catch {
            throw .corrupted(reason: "invalid parameters: \(error)")
        }
        if header.nodeCount == 0 {
            guard header.entryLevelPlusOne == 0 else { throw .corrupted(reason: "empty graph with an entry point") }
        } else {
            guard (1...HNSWIndex.maxLevel + 1).contains(header.entryLevelPlusOne), header.entryNode < header.nodeCount else {
                throw .corrupted(reason: "entry point \(header.entryNode) at level \(header.entryLevelPlusOne - 1) out of range")
            }
        }
        return header
    }

    static func configuration(_ h: Header) -> HNSWConfiguration {
        HNSWConfiguration(
            dimension: h.dimension, metric: h.metric, m: h.m, efConstruction: h.efConstruction,
            defaultEf: h.defaultEf, seed: h.seed)
    }

    private static func checkedSection(
        index: Int, kind: UInt32, elementSize: UInt32, offset: UInt64, length: UInt64, checksum: UInt64,
        header: Header, notBefore: Int
    ) throws(VectorIndexError) -> Section {
        let name = sectionNames[index]
        let size = elementSizes(header)[index]
        let (expected, overflow) = size.multipliedReportingOverflow(by: elementCounts(header)[index])
        guard kind == UInt32(index + 1), elementSize == UInt32(size), !overflow, length == UInt64(expected) else {
            throw .corrupted(reason: "section \(name): kind \(kind), element size \(elementSize), length \(length)")
        }
        guard offset % UInt64(alignment) == 0, offset >= UInt64(notBefore), offset <= UInt64(Int.max / 2),
            length <= UInt64(Int.max / 2)
        else {
            throw .corrupted(reason: "section \(name) at offset \(offset) is misplaced")
        }
        return Section(offset: Int(offset), length: Int(length), checksum: checksum)
    }

    /// Node levels and flags, the entry point and every upper-layer link are in range, so the
    /// graph code may follow them without further checks (base-layer links it checks itself).
    private static func checkStructure(_ bytes: UnsafeRawBufferPointer, _ layout: Layout) throws(VectorIndexError) {
        let h = layout.header
        let n = h.nodeCount
        let levels = UnsafeRawBufferPointer(rebasing: bytes[layout.levels.offset..<layout.levels.offset + n])
        let flags = UnsafeRawBufferPointer(rebasing: bytes[layout.flags.offset..<layout.flags.offset + n])
        let offsets = layout.upperOffsets.offset
        let upper = layout.upper.offset
        func word(_ base: Int, _ i: Int) -> Int {
            Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
        }
        var live = 0
        for node in 0..<n {
            let flag = flags[node]
            guard flag & ~(GraphStorage.flagReady | GraphStorage.flagDeleted) == 0, flag & GraphStorage.flagReady != 0 else {
                throw .corrupted(reason: "node \(node) has flags \(flag)")
            }
            if flag & GraphStorage.flagDeleted == 0 { live += 1 }
            let level = Int(levels[node])
            guard level <= HNSWIndex.maxLevel else { throw .corrupted(reason: "node \(node) has level \(level)") }
            guard level > 0 else { continue }
            let first = word(offsets, node)
            guard first <= h.upperWords, level * (1 + h.m) <= h.upperWords - first else {
                throw .corrupted(reason: "node \(node) upper links at \(first) out of range")
            }
            for l in 1...level {
                let list = first + (l - 1) * (1 + h.m)
                let count = word(upper, list)
                guard count <= h.m else { throw .corrupted(reason: "node \(node) has \(count) links on layer \(l)") }
                for j in 0..<count {
                    let target = word(upper, list + 1 + j)
                    guard target < n, Int(levels[target]) >= l else {
                        throw .corrupted(reason: "node \(node) links to \(target) on layer \(l)")
                    }
                }
            }
        }
        guard live == h.liveCount else { throw .corrupted(reason: "live count \(h.liveCount), flags say \(live)") }
        if n > 0, Int(levels[h.entryNode]) < h.entryLevelPlusOne - 1 {
            throw .corrupted(reason: "entry node \(h.entryNode) is below the entry level")
        }
    }
}
