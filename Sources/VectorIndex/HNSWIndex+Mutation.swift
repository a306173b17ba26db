import Dispatch
import Synchronization
import VectorMath

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension HNSWIndex {
    /// Most slots an index can hold (slots are 32-bit; one value is kept as "none").
    public static let maxSlots = Int(UInt32.max) - 1
    /// Highest layer a node may get; more is astronomically unlikely and would only waste memory.
    static let maxLevel = 31

    /// Adds `vector` under `label`; if the label is present its vector is replaced (an update).
    ///
    /// - Throws: `dimensionMismatch`, `nonFiniteVector`, `capacityExceeded`.
    public func add(_ vector: [Float], label: UInt64) throws(VectorIndexError) {
        try vector.withUnsafeBufferPointer { (buffer) throws(VectorIndexError) in
            try checkVector(buffer, label: label)
            try writeGate.withReadLock { () throws(VectorIndexError) in try insert(buffer, label: label) }
        }
    }

    /// Replaces the vector of an existing label.
    ///
    /// The old node becomes a tombstone (it keeps routing searches until `compacted()`), and a new
    /// node is linked in: readers never see a half-written vector.
    /// - Throws: `labelNotFound` if the label is absent, and the errors of `add`.
    public func update(_ vector: [Float], label: UInt64) throws(VectorIndexError) {
        guard contains(label) else { throw .labelNotFound(label) }
        try add(vector, label: label)
    }

    /// Adds many vectors, `vectors` holding `labels.count` rows of `dimension` floats, on up to
    /// `threads` threads. Labels already present are updated.
    ///
    /// Every row is checked before any is added, so a bad row changes nothing.
    public func add(contentsOf vectors: [Float], labels: [UInt64], threads: Int = 2) throws(VectorIndexError) {
        let dim = configuration.dimension
        guard vectors.count == labels.count * dim else {
            throw .batchSizeMismatch(labels: labels.count, vectors: dim == 0 ? 0 : vectors.count / dim)
        }
        guard slotCount.load(ordering: .relaxed) + labels.count <= Self.maxSlots else {
            throw .capacityExceeded(limit: Self.maxSlots)
        }
        try vectors.withUnsafeBufferPointer { (all) throws(VectorIndexError) in
            for (row, label) in labels.enumerated() {
                try checkVector(UnsafeBufferPointer(rebasing: all[row * dim..<(row + 1) * dim]), label: label)
            }
        }
        reserve(additional: labels.count)
        let next = Atomic<Int>(0)
        let failure = LockedState<VectorIndexError?>(nil)
        let work = { @Sendable in
            vectors.withUnsafeBufferPointer { all in
                while true {
                    let row = next.add(1, ordering: .relaxed).oldValue
                    guard row < labels.count else { return }
                    do throws(VectorIndexError) {
                        try self.writeGate.withReadLock { () throws(VectorIndexError) in
                            try self.insert(
                                UnsafeBufferPointer(rebasing: all[row * dim..<(row + 1) * dim]),
                                label: labels[row])
                        }
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                        return
                    }
                }
            }
        }
        let workers = max(1, min(threads, labels.count / 64 + 1))
        if workers == 1 { work() } else { DispatchQueue.concurrentPerform(iterations: workers) { _ in work() } }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Removes `label`. Its node becomes a tombstone: never returned, still used for routing, and
    /// reclaimed by `compacted()`.
    /// - Throws: `labelNotFound` if the label is absent.
    public func remove(_ label: UInt64) throws(VectorIndexError) {
        try writeGate.withReadLock { () throws(VectorIndexError) in
            try writer.withLock { (state) throws(VectorIndexError) in
                ensureOwned(state)
                _ = slotMap(&state)
                guard let slot = state.slots?.removeValue(forKey: label) else { throw .labelNotFound(label) }
                storageLock.withReadLock { tombstone(Int(slot)) }
            }
        }
    }

    /// Reserves room for `additional` more nodes, so a batch does not grow the buffers repeatedly.
    public func reserve(additional: Int) {
        writer.withLock { state in
            let nodes = slotCount.load(ordering: .relaxed) + additional
            let words = state.upperWordsUsed + additional / 8 * storage.linkStrideUpper
            storageLock.withWriteLock {
                if nodes > storage.capacity || words > storage.upperCapacity || storage.isMapped {
                    storage.grow(
                        nodes: max(nodes, storage.capacity), usedNodes: slotCount.load(ordering: .relaxed),
                        upperWords: max(words, storage.upperCapacity), usedUpperWords: state.upperWordsUsed)
                }
            }
        }
    }

    /// Turns mapped storage into owned memory before the first change. Caller holds `writer`.
    ///
    /// Nothing writes a mapped storage (every change first comes here, under `writer`), so the
    /// copy is made while searches go on; they pause only for the pointer swap.
    func ensureOwned(_ state: borrowing WriterState) {
        guard storageLock.withReadLock({ storage.isMapped }) else { return }
        let buffers = storageLock.withReadLock {
            storage.copy(
                nodes: storage.capacity + 1024, usedNodes: slotCount.load(ordering: .relaxed),
                upperWords: storage.upperCapacity + 1024, usedUpperWords: state.upperWordsUsed)
        }
        storageLock.withWriteLock { storage.install(buffers) }
    }

    /// Copies a mapped index into owned memory now rather than at its first change: an owned
    /// cosine index walks its graph on half-precision copies (see
    /// `HNSWConfiguration.halfPrecisionWalk`), ~25–40 % faster than on the mapping. Searches go on
    /// during the copy; changes wait for it. Does nothing for an owned index.
    public func loadIntoMemory() {
        writeGate.withReadLock {
            writer.withLock { state in ensureOwned(state) }
        }
    }

    /// Marks a slot removed. Caller holds `storageLock` (shared is enough: the flag is atomic).
    func tombstone(_ slot: Int) {
        _ = storage.flags[slot].bitwiseOr(GraphStorage.flagDeleted, ordering: .releasing)
        liveCount.subtract(1, ordering: .releasing)
    }

    /// Whether the live node `slot` already stores `vector` (after `prepare`), bit for bit.
    /// Caller holds `writer`.
    private func stores(_ vector: UnsafeBufferPointer<Float>, at slot: UInt32) -> Bool {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: configuration.dimension) { prepared in
            guard let target = prepared.baseAddress else { return false }
            prepare(vector, into: target)
            return storageLock.withReadLock {
                let held = storage.vector(Int(slot))
                for i in 0..<configuration.dimension where held[i].bitPattern != target[i].bitPattern { return false }
                return true
            }
        }
    }

    /// Inserts one checked vector. Caller holds `writeGate` shared.
    ///
    /// Replacing a label's vector with the same vector changes nothing: no tombstone, no new node
    /// (a re-sync that rewrites unchanged vectors must not grow the graph).
    func insert(_ vector: UnsafeBufferPointer<Float>, label: UInt64) throws(VectorIndexError) {
        let m = configuration.m
        let placed = try writer.withLock { (state) throws(VectorIndexError) -> (Int, Int, UInt32?)? in
            ensureOwned(state)
            if let existing = slotMap(&state)[label], stores(vector, at: existing) { return nil }
            let slot = slotCount.load(ordering: .relaxed)
            guard slot < Self.maxSlots else { throw .capacityExceeded(limit: Self.maxSlots) }
            let level = min(Int(-log(state.rng.unit()) * configuration.levelMultiplier), Self.maxLevel)
            let words = level * (1 + m)
            if slot >= storage.capacity || state.upperWordsUsed + words > storage.upperCapacity {
                storageLock.withWriteLock {
                    storage.grow(
                        nodes: max(storage.capacity * 2, slot + 1), usedNodes: slot,
                        upperWords: max(storage.upperCapacity * 2, state.upperWordsUsed + words),
                        usedUpperWords: state.upperWordsUsed)
                }
            }
            storageLock.withReadLock {
                storage.levels[slot] = UInt8(level)
                storage.upperOffsets[slot] = UInt32(state.upperWordsUsed)
                storage.labels[slot] = label
            }
            state.upperWordsUsed += words
            let replaced = state.slots?.updateValue(UInt32(slot), forKey: label)
            slotCount.store(slot + 1, ordering: .releasing)
            return (slot, level, replaced)
        }
        guard let (slot, level, replaced) = placed else { return }
        storageLock.withReadLock {
            prepare(vector, into: storage.vector(slot))
            if let halves = storage.halves {
                VectorMath.convertToHalf(storage.vector(slot), halves + slot &* configuration.dimension, count: configuration.dimension)
            }
            if let replaced { tombstone(Int(replaced)) }
            _ = storage.flags[slot].bitwiseOr(GraphStorage.flagReady, ordering: .releasing)
            liveCount.add(1, ordering: .releasing)
            switch configuration.metric {
            case .cosine, .dot: link(slot, level: level, kernel: InnerProductKernel.self)
            case .l2: link(slot, level: level, kernel: L2Kernel.self)
            }
        }
    }
}
