import Synchronization
import VectorMath

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The raw memory of the graph, laid out exactly as the file's sections (see `IndexFileFormat`), so
/// an index opened by mmap and one built in memory are read by the same code.
///
/// Per slot `i` (dense, `0..<capacity`):
/// - `vectors[i·dim ..< (i+1)·dim]` — the stored (for cosine: normalized) vector;
/// - `links0[i·(1+2m)]` — neighbour count on layer 0, followed by `2m` neighbour slots;
/// - `labels[i]`, `levels[i]` (top layer of the node), `flags[i]` (`ready`, `deleted`);
/// - `upperOffsets[i]` — where the node's layers 1…level start in `upper`, each `1+m` words.
///
/// Owned storage of a cosine index also keeps `halves`, every vector rounded to half precision:
/// the search walks the graph on them (half the memory traffic) and re-ranks its candidates on
/// the float vectors. They are not part of the file; mapped storage has none until it turns into
/// owned storage on the first change (see `HNSWIndex.searchPrecision`).
///
/// Link words and flags are read with atomic loads and written with atomic stores: searches run
/// while a writer links new nodes, and acquire/release on links orders a new node's vector before
/// any reader can reach it. On x86-64 these are ordinary moves.
///
/// Concurrency: the owner (`HNSWIndex`) holds its storage lock shared while using the pointers
/// and exclusive while `grow` replaces them.
final class GraphStorage: @unchecked Sendable {
    static let flagReady: UInt8 = 1
    static let flagDeleted: UInt8 = 2

    let dimension: Int
    let m: Int
    var linkStride0: Int { 1 + 2 * m }
    var linkStrideUpper: Int { 1 + m }

    private(set) var capacity: Int
    private(set) var upperCapacity: Int
    private(set) var vectors: UnsafeMutablePointer<Float>
    private(set) var links0: UnsafeMutablePointer<Atomic<UInt32>>
    private(set) var labels: UnsafeMutablePointer<UInt64>
    private(set) var levels: UnsafeMutablePointer<UInt8>
    private(set) var flags: UnsafeMutablePointer<Atomic<UInt8>>
    private(set) var upperOffsets: UnsafeMutablePointer<UInt32>
    private(set) var upper: UnsafeMutablePointer<Atomic<UInt32>>
    /// Half-precision copies of the vectors (`capacity · dimension`), when `keepsHalves`.
    private(set) var halves: UnsafeMutablePointer<Float16>?
    /// Whether owned buffers include `halves`.
    let keepsHalves: Bool
    /// The file these buffers point into, or nil when they are owned heap memory.
    private(set) var mapping: MappedFile?

    /// Empty owned storage with room for `capacity` nodes.
    init(dimension: Int, m: Int, capacity: Int, keepsHalves: Bool) {
        self.dimension = dimension
        self.m = m
        self.keepsHalves = keepsHalves
        self.capacity = 0
        self.upperCapacity = 0
        let empty = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        vectors = empty.bindMemory(to: Float.self, capacity: 0)
        links0 = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Atomic<UInt32>.self, capacity: 0)
        labels = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: UInt64.self, capacity: 0)
        levels = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: UInt8.self, capacity: 0)
        flags = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Atomic<UInt8>.self, capacity: 0)
        upperOffsets = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: UInt32.self, capacity: 0)
        upper = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Atomic<UInt32>.self, capacity: 0)
        mapping = nil
        grow(nodes: capacity, usedNodes: 0, upperWords: max(64, capacity / 8 * linkStrideUpper), usedUpperWords: 0)
    }

    /// Storage that reads a validated mapped file in place. The sections must already be checked.
    init(dimension: Int, m: Int, mapping: MappedFile, layout: IndexFileFormat.Layout, keepsHalves: Bool) {
        self.dimension = dimension
        self.m = m
        self.keepsHalves = keepsHalves
        self.capacity = layout.nodeCount
        self.upperCapacity = layout.upperWords
        let base = mapping.base
        vectors = (base + layout.vectors.offset).assumingMemoryBound(to: Float.self)
        links0 = (base + layout.links0.offset).assumingMemoryBound(to: Atomic<UInt32>.self)
        labels = (base + layout.labels.offset).assumingMemoryBound(to: UInt64.self)
        levels = (base + layout.levels.offset).assumingMemoryBound(to: UInt8.self)
        flags = (base + layout.flags.offset).assumingMemoryBound(to: Atomic<UInt8>.self)
        upperOffsets = (base + layout.upperOffsets.offset).assumingMemoryBound(to: UInt32.self)
        upper = (base + layout.upper.offset).assumingMemoryBound(to: Atomic<UInt32>.self)
        self.mapping = mapping
    }

    deinit { releaseBuffers() }

    var isMapped: Bool { mapping != nil }

    /// Owned copies of every buffer, made by `copy` and installed by `install`.
    struct Buffers {
        let nodes: Int
        let words: Int
        let vectors, links0, labels, levels, flags, upperOffsets, upper: UnsafeMutableRawPointer
        let halves: UnsafeMutableRawPointer?
    }

    /// Replaces the buffers by owned ones of at least the given sizes, copying the used prefix.
    /// Also turns mapped storage into owned storage. Caller holds the storage lock exclusively.
    func grow(nodes newCapacity: Int, usedNodes: Int, upperWords newUpper: Int, usedUpperWords: Int) {
        install(copy(nodes: newCapacity, usedNodes: usedNodes, upperWords: newUpper, usedUpperWords: usedUpperWords))
    }

    /// New owned buffers of at least the given sizes holding the used prefix of the current ones
    /// (and, when `keepsHalves`, its half-precision copies). Changes nothing: the caller may hold
    /// the storage lock shared only, if nothing writes the buffers meanwhile (a mapped storage,
    /// which no one writes before it is owned).
    func copy(nodes newCapacity: Int, usedNodes: Int, upperWords newUpper: Int, usedUpperWords: Int) -> Buffers {
        let nodes = max(newCapacity, usedNodes)
        let words = max(newUpper, usedUpperWords, 1)
        var half: UnsafeMutableRawPointer?
        if keepsHalves {
            if let halves {
                half = Self.allocate(Float16.self, nodes * dimension, copying: halves, usedNodes * dimension, zero: 0)
            } else {
                // Mapped (or first) storage: round the used vectors now.
                let fresh = Self.allocate(Float16.self, nodes * dimension, copying: vectors, 0, zero: 0)
                VectorMath.convertToHalf(vectors, fresh.assumingMemoryBound(to: Float16.self), count: usedNodes * dimension)
                half = fresh
            }
        }
        return Buffers(
            nodes: nodes, words: words,
            vectors: Self.allocate(Float.self, nodes * dimension, copying: vectors, usedNodes * dimension, zero: 0),
            links0: Self.allocate(UInt32.self, nodes * linkStride0, copying: links0, usedNodes * linkStride0, zero: 0),
            labels: Self.allocate(UInt64.self, nodes, copying: labels, usedNodes, zero: 0),
            levels: Self.allocate(UInt8.self, nodes, copying: levels, usedNodes, zero: 0),
            flags: Self.allocate(UInt8.self, nodes, copying: flags, usedNodes, zero: 0),
            upperOffsets: Self.allocate(UInt32.self, nodes, copying: upperOffsets, usedNodes, zero: 0),
            upper: Self.allocate(UInt32.self, words, copying: upper, usedUpperWords, zero: 0),
            halves: half)
    }

    /// Releases the current buffers (or the mapping) and uses `b`. Caller holds the storage lock
    /// exclusively.
    func install(_ b: Buffers) {
        releaseBuffers()
        vectors = b.vectors.assumingMemoryBound(to: Float.self)
        links0 = b.links0.bindMemory(to: Atomic<UInt32>.self, capacity: b.nodes * linkStride0)
        labels = b.labels.assumingMemoryBound(to: UInt64.self)
        levels = b.levels.assumingMemoryBound(to: UInt8.self)
        flags = b.flags.bindMemory(to: Atomic<UInt8>.self, capacity: b.nodes)
        upperOffsets = b.upperOffsets.assumingMemoryBound(to: UInt32.self)
        upper = b.upper.bindMemory(to: Atomic<UInt32>.self, capacity: b.words)
        halves = b.halves?.assumingMemoryBound(to: Float16.self)
        capacity = b.nodes
        upperCapacity = b.words
        mapping = nil
    }

    /// Buffers at least this large are aligned to it and advised for transparent huge pages.
    static let hugePageBytes = 2 << 20

    private static func allocate<T, S: ~Copyable>(
        _: T.Type, _ count: Int, copying old: UnsafeMutablePointer<S>, _ used: Int, zero: T
    ) -> UnsafeMutableRawPointer {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        let raw: UnsafeMutableRawPointer
        if bytes >= hugePageBytes {
            // Searches read the vectors and link lists at random: with 4 KiB pages nearly every
            // vector read also misses the TLB. Ask for 2 MiB pages (transparent huge pages are
            // often "madvise"-only); a refusal is harmless, it only leaves the small pages.
            let rounded = (bytes + hugePageBytes - 1) / hugePageBytes * hugePageBytes
            raw = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: hugePageBytes)
            #if os(Linux)
                _ = madvise(raw, rounded, MADV_HUGEPAGE)
            #endif
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        raw.copyMemory(from: UnsafeRawPointer(old), byteCount: used * MemoryLayout<T>.stride)
        (raw + used * MemoryLayout<T>.stride).initializeMemory(as: T.self, repeating: zero, count: max(count, 1) - used)
        return raw
    }

    private func releaseBuffers() {
        guard mapping == nil else { return }
        UnsafeMutableRawPointer(vectors).deallocate()
        UnsafeMutableRawPointer(links0).deallocate()
        UnsafeMutableRawPointer(labels).deallocate()
        UnsafeMutableRawPointer(levels).deallocate()
        UnsafeMutableRawPointer(flags).deallocate()
        UnsafeMutableRawPointer(upperOffsets).deallocate()
        UnsafeMutableRawPointer(upper).deallocate()
        if let halves { UnsafeMutableRawPointer(halves).deallocate() }
    }

    /// The vector of a slot.
    @inline(__always)
    func vector(_ node: Int) -> UnsafeMutablePointer<Float> { vectors + node &* dimension }

    /// The link list (count word, then neighbours) of a node on a layer.
    /// - Precondition: `level ≤ levels[node]` and the node's upper offset is valid.
    @inline(__always)
    func linkList(_ node: Int, level: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        if level == 0 { return links0 + node &* linkStride0 }
        return upper + (Int(upperOffsets[node]) &+ (level &- 1) &* linkStrideUpper)
    }
}
