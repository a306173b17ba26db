import Synchronization
import VectorMath

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A hierarchical navigable small world graph (Malkov & Yashunin, 2016) over float vectors with
/// `UInt64` labels.
///
/// Many searches may run at once, concurrently with adds, updates and removes from any number of
/// threads. An index opened from a file (`open(at:)`) reads the mapped file in place and becomes an
/// in-memory copy on its first change.
///
/// Locking (why this class is `@unchecked Sendable`):
/// - `storageLock` — shared by searches and inserts, exclusive only while the buffers grow;
/// - `writeGate` — shared by add/update/remove, exclusive by `save` and `compacted`, so a file is a
///   consistent snapshot while searches go on;
/// - `writer` (a pthread mutex, `LockedState`) — the label map, slot allocation and level generator;
/// - `nodeLocks` — one striped spin lock per neighbour list being rewritten;
/// - neighbour words, node flags, the node count and the entry point are atomics.
public final class HNSWIndex: @unchecked Sendable {
    /// The parameters the index was built with.
    public let configuration: HNSWConfiguration
    let storage: GraphStorage
    let storageLock = ReadWriteLock()
    let writeGate = ReadWriteLock()
    let writer: LockedState<WriterState>
    let nodeLocks = NodeLocks.allocate(count: 1 << 16)
    let entryLock = LockedState<Void>(())
    let scratchPool: ScratchPool
    /// Slots handed out so far (live, removed and in-flight).
    let slotCount = Atomic<Int>(0)
    /// Labels currently in the index.
    let liveCount = Atomic<Int>(0)
    /// `(top level + 1) << 32 | entry node`, or 0 while the graph is empty.
    let entry = Atomic<UInt64>(0)
    let sequence = Atomic<UInt64>(0)

    /// State behind the writer mutex.
    struct WriterState {
        /// Label → slot of its live node; built lazily for a mapped index.
        var slots: [UInt64: UInt32]?
        var rng: SplitMix64
        var upperWordsUsed = 0
    }

    /// An empty index.
    ///
    /// - Parameter capacity: nodes to reserve room for; the index grows past it as needed.
    /// - Throws: `VectorIndexError.invalidParameter` for an invalid configuration.
    public init(configuration: HNSWConfiguration, capacity: Int = 1024) throws(VectorIndexError) {
        try configuration.validate()
        self.configuration = configuration
        storage = GraphStorage(
            dimension: configuration.dimension, m: configuration.m, capacity: max(capacity, 16),
            keepsHalves: configuration.keepsHalves)
        writer = LockedState(WriterState(slots: [:], rng: SplitMix64(seed: configuration.seed)))
        scratchPool = ScratchPool(dimension: configuration.dimension)
    }

    /// An index over already-validated storage (used by `open(at:)`).
    init(
        configuration: HNSWConfiguration, storage: GraphStorage, nodes: Int, live: Int, entry: UInt64,
        upperWords: Int, coveredSeq: UInt64
    ) {
        self.configuration = configuration
        self.storage = storage
        writer = LockedState(
            WriterState(
                slots: nil, rng: SplitMix64(seed: configuration.seed &+ UInt64(nodes)),
                upperWordsUsed: upperWords))
        scratchPool = ScratchPool(dimension: configuration.dimension)
        slotCount.store(nodes, ordering: .relaxed)
        liveCount.store(live, ordering: .relaxed)
        self.entry.store(entry, ordering: .relaxed)
        sequence.store(coveredSeq, ordering: .relaxed)
    }

    deinit { nodeLocks.deallocate() }

    /// Number of live labels (added and not removed).
    public var count: Int { liveCount.load(ordering: .acquiring) }

    /// Nodes that no longer answer searches (removed or replaced labels) but still take space and
    /// route searches until `compacted()` reclaims them.
    public var removedCount: Int {
        max(0, slotCount.load(ordering: .acquiring) - liveCount.load(ordering: .acquiring))
    }

    /// Whether the index reads a mapped file (no change has been made since `open(at:)`).
    public var isMapped: Bool { storageLock.withReadLock { storage.isMapped } }

    /// The change sequence the index covers: opaque to the index, set by its owner, kept in files.
    public var coveredSeq: UInt64 {
        get { sequence.load(ordering: .acquiring) }
        set { sequence.store(newValue, ordering: .releasing) }
    }

    /// Whether some live label satisfies `predicate`: a scan of the slots that stops at the first
    /// match (O(n) at worst; meant for a one-off look at what an index holds, not per query).
    public func containsLabel(where predicate: (UInt64) -> Bool) -> Bool {
        storageLock.withReadLock {
            let live = AcceptLive(flags: storage.flags)
            let nodes = slotCount.load(ordering: .acquiring)
            for node in 0..<nodes where live.accepts(node) && predicate(storage.labels[node]) { return true }
            return false
        }
    }

    /// Whether `label` is in the index.
    public func contains(_ label: UInt64) -> Bool {
        writer.withLock { state in slotMap(&state)[label] != nil }
    }

    /// A copy of the stored vector of `label` (normalized for `.cosine`), or nil if absent.
    public func vector(for label: UInt64) -> [Float]? {
        guard let slot = writer.withLock({ state in slotMap(&state)[label] }) else { return nil }
        return storageLock.withReadLock {
            Array(UnsafeBufferPointer(start: storage.vector(Int(slot)), count: configuration.dimension))
        }
    }

    /// The label map, built from the storage on first use after `open(at:)`.
    func slotMap(_ state: inout WriterState) -> [UInt64: UInt32] {
        if let slots = state.slots { return slots }
        var slots: [UInt64: UInt32] = [:]
        storageLock.withReadLock {
            let n = slotCount.load(ordering: .acquiring)
            slots.reserveCapacity(n)
            for i in 0..<n where storage.flags[i].load(ordering: .acquiring) & GraphStorage.flagDeleted == 0 {
                slots[storage.labels[i]] = UInt32(truncatingIfNeeded: i)
            }
        }
        state.slots = slots
        return slots
    }

    /// Copies `vector` into `target`, normalizing for cosine.
    func prepare(_ vector: UnsafeBufferPointer<Float>, into target: UnsafeMutablePointer<Float>) {
        guard let base = vector.baseAddress else { return }
        target.update(from: base, count: configuration.dimension)
        if configuration.metric == .cosine {
            VectorMath.normalize(target, count: configuration.dimension)
        }
    }

    func checkVector(_ vector: UnsafeBufferPointer<Float>, label: UInt64) throws(VectorIndexError) {
        guard vector.count == configuration.dimension else {
            throw .dimensionMismatch(expected: configuration.dimension, actual: vector.count)
        }
        for x in vector where !x.isFinite { throw .nonFiniteVector(label: label) }
    }
}

/// The small, fast generator behind node levels (SplitMix64); seeded, so one-thread builds repeat.
/// Also the engine's seeded sampler (the verdict's calibration sample).
public struct SplitMix64: Sendable {
    /// The state; the next value is a function of it alone.
    public var state: UInt64
    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    public mutating func unit() -> Double { Double((next() >> 11) &+ 1) * 0x1.0p-53 }
}
