/// The on-disk format of an HNSW index, version 1. All integers are little-endian.
///
/// ```
/// offset  size  field
///      0     8  magic "QVRHNSW1"
///      8     4  format version (1)
///     12     4  header size in bytes (128)
///     16     4  dimension
///     20     1  metric (1 cosine, 2 dot, 3 l2); 21..23 zero
///     24     4  m
///     28     4  efConstruction
///     32     4  default ef
///     36     4  entry level + 1 (0: empty graph)
///     40     4  entry node slot (0xFFFF_FFFF: empty graph)
///     44     4  section count (7)
///     48     8  node count (slots, including removed ones)
///     56     8  live count
///     64     8  upper-layer link words
///     72     8  covered sequence (opaque to the index; the engine's change sequence)
///     80     8  level generator seed
///     88    32  zero
///    120     8  XXH64 of bytes 0..<(128 + 32·sections) with this field zeroed
///    128  32·7  section table: kind u32, element size u32, offset u64, length u64, XXH64 u64
///      …        sections, each starting on a 64-byte boundary, zero padding between:
///               1 vectors       node count × dimension × f32 (cosine: normalized)
///               2 links0        node count × (1 + 2m) × u32: count, then neighbour slots
///               3 labels        node count × u64
///               4 levels        node count × u8 (top layer of each node)
///               5 flags         node count × u8 (bit 0 ready, bit 1 removed)
///               6 upperOffsets  node count × u32 (first word of the node's layer-1 list in 7)
///               7 upper         upper words × u32: per layer 1…level, count then m slots
/// ```
/// The sections are the in-memory arrays byte for byte, so a mapped file is searched in place.
enum IndexFileFormat {
    static let magic: [UInt8] = Array("QVRHNSW1".utf8)
    static let version: UInt32 = 1
    static let headerBytes = 128
    static let sectionCount = 7
    static let tableEntryBytes = 32
    static var tableEnd: Int { headerBytes + sectionCount * tableEntryBytes }
    static let alignment = 64
    static let sectionNames = ["vectors", "links0", "labels", "levels", "flags", "upperOffsets", "upper"]

    /// Where one section lies in the file.
    struct Section: Equatable {
        var offset: Int
        var length: Int
        var checksum: UInt64
    }

    /// The fixed header.
    struct Header: Equatable {
        var dimension: Int
        var metric: DistanceMetric
        var m: Int
        var efConstruction: Int
        var defaultEf: Int
        var entryLevelPlusOne: Int
        var entryNode: Int
        var nodeCount: Int
        var liveCount: Int
        var upperWords: Int
        var coveredSeq: UInt64
        var seed: UInt64
    }

    /// Header plus validated section positions.
    struct Layout {
        var header: Header
        var sections: [Section]
        var nodeCount: Int { header.nodeCount }
        var upperWords: Int { header.upperWords }
        var vectors: Section { sections[0] }
        var links0: Section { sections[1] }
        var labels: Section { sections[2] }
        var levels: Section { sections[3] }
        var flags: Section { sections[4] }
        var upperOffsets: Section { sections[5] }
        var upper: Section { sections[6] }
    }

    /// Element size of each section for a header, in table order.
    static func elementSizes(_ h: Header) -> [Int] {
        [4 * h.dimension, 4 * (1 + 2 * h.m), 8, 1, 1, 4, 4]
    }

    /// Element count of each section for a header, in table order.
    static func elementCounts(_ h: Header) -> [Int] {
        [h.nodeCount, h.nodeCount, h.nodeCount, h.nodeCount, h.nodeCount, h.nodeCount, h.upperWords]
    }

    /// Section offsets for a file to be written: packed in order, each 64-byte aligned.
    static func plan(_ h: Header) -> [Section] {
        var offset = align(tableEnd)
        var result: [Section] = []
        for (size, count) in zip(elementSizes(h), elementCounts(h)) {
            result.append(Section(offset: offset, length: size * count, checksum: 0))
            offset = align(offset + size * count)
        }
        return result
    }

    static func align(_ x: Int) -> Int { (x + alignment - 1) / alignment * alignment }

    /// Header and table bytes, with the header checksum filled in.
    static func encode(_ h: Header, sections: [Section]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: tableEnd)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (i, b) in raw.enumerated() { bytes[offset + i] = b }
            }
        }
        for (i, b) in magic.enumerated() { bytes[i] = b }
        put(version, at: 8)
        put(UInt32(headerBytes), at: 12)
        put(UInt32(h.dimension), at: 16)
        bytes[20] = h.metric.rawValue
        put(UInt32(h.m), at: 24)
        put(UInt32(h.efConstruction), at: 28)
        put(UInt32(h.defaultEf), at: 32)
        put(UInt32(h.entryLevelPlusOne), at: 36)
        put(UInt32(truncatingIfNeeded: h.entryNode), at: 40)
        put(UInt32(sectionCount), at: 44)
        put(UInt64(h.nodeCount), at: 48)
        put(UInt64(h.liveCount), at: 56)
        put(UInt64(h.upperWords), at: 64)
        put(h.coveredSeq, at: 72)
        put(h.seed, at: 80)
        for (i, s) in sections.enumerated() {
            let base = headerBytes + i * tableEntryBytes
            put(UInt32(i + 1), at: base)
            put(UInt32(elementSizes(h)[i]), at: base + 4)
            put(UInt64(s.offset), at: base + 8)
            put(UInt64(s.length), at: base + 16)
            put(s.checksum, at: base + 24)
        }
        put(XXHash64.hash(bytes), at: 120)
        return bytes
    }
}
