/// An immutable hash table from UTF-8 byte strings to token ids.
///
/// WordPiece looks up many candidate pieces per word (longest match first), each a slice of the
/// word's bytes. Keying the table on byte slices lets a lookup hash and compare the slice in place,
/// without building a `String` per candidate. Open addressing with linear probing over a
/// power-of-two slot array; every key lives in one contiguous byte arena.
struct VocabularyTable: Sendable {
    /// One stored key: where its bytes live in `arena`, and its id.
    private struct Entry: Sendable {
        var offset: Int32
        var length: Int32
        var id: Int32
        var hash: UInt32
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []
    /// Index into `entries`, or -1 for an empty slot.
    private var slots: [Int32]
    private var mask: Int

    /// The length in bytes of the longest key; no longer slice can match.
    private(set) var maxKeyLength = 0

    /// Number of keys stored.
    var count: Int { entries.count }

    /// Creates an empty table sized for `expectedCount` keys at a load factor of at most 1/2.
    init(expectedCount: Int) {
        var capacity = 16
        while capacity < max(expectedCount, 1) * 2 { capacity &<<= 1 }
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
    }

    /// Inserts `key` with `id`; a key already present keeps its first id (callers insert in the
    /// precedence they want).
    mutating func insert<Bytes: Collection>(_ key: Bytes, id: Int32) where Bytes.Element == UInt8 {
        let bytes = Array(key)
        let hash = bytes.withUnsafeBufferPointer { Self.hash($0, 0, $0.count) }
        if lookup(bytes, 0, bytes.count) != nil { return }
        if (entries.count + 1) * 2 > slots.count { grow() }
        let entry = Entry(offset: Int32(arena.count), length: Int32(bytes.count), id: id, hash: hash)
        arena.append(contentsOf: bytes)
        entries.append(entry)
        place(entryIndex: entries.count - 1, hash: hash)
        maxKeyLength = max(maxKeyLength, bytes.count)
    }

    /// The id of the key equal to `bytes[start..<end]`, or nil.
    ///
    /// The range must lie inside `bytes` (callers derive it from `bytes.count`); an invalid range
    /// returns nil rather than reading outside the buffer.
    @inline(__always)
    func lookup(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Int32? {
        guard start >= 0, start <= end, end <= bytes.count else { return nil }
        let length = end - start
        if length > maxKeyLength { return nil }
        return bytes.withUnsafeBufferPointer { key -> Int32? in
            let hash = Self.hash(key, start, end)
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let index = slots[slot]
                if index < 0 { return nil }
                let entry = entries[Int(index)]
                if entry.hash == hash, Int(entry.length) == length,
                    equalBytes(key, start, Int(entry.offset), length)
                {
                    return entry.id
                }
                slot = (slot &+ 1) & mask
            }
        }
    }

    /// Compares `key[start..<start+length]` with `arena[offset..<offset+length]`; both ranges were
    /// validated by the caller (`key`'s by `lookup`, the arena's at insertion).
    @inline(__always)
    private func equalBytes(_ key: UnsafeBufferPointer<UInt8>, _ start: Int, _ offset: Int, _ length: Int) -> Bool {
        arena.withUnsafeBufferPointer { stored in
            var i = 0
            while i < length {
                if key[start &+ i] != stored[offset &+ i] { return false }
                i &+= 1
            }
            return true
        }
    }

    private mutating func place(entryIndex: Int, hash: UInt32) {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot &+ 1) & mask }
        slots[slot] = Int32(entryIndex)
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        for (index, entry) in entries.enumerated() { place(entryIndex: index, hash: entry.hash) }
    }

    /// FNV-1a over the bytes, finished with a multiply-xorshift so that the low bits used for the
    /// slot index depend on every byte. Callers pass a range inside `bytes`.
    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = start
        while i < end {
            h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01b3
            i &+= 1
        }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 32
        return UInt32(truncatingIfNeeded: h)
    }
}
