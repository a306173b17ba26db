/// One search result.
public struct SearchHit: Sendable, Hashable {
    /// The label given when the vector was added.
    public var label: UInt64
    /// Distance to the query: `1 − cosine` / `1 − dot`, or squared Euclidean distance for `.l2`.
    public var distance: Float

    /// Creates a hit.
    public init(label: UInt64, distance: Float) {
        self.label = label
        self.distance = distance
    }
}

extension HNSWIndex {
    /// A filtered search whose filter is estimated to pass fewer than this share of the live nodes
    /// scans them exactly instead: the graph walk would visit ~1/share nodes per hit it keeps.
    public static let exactSearchSelectivity = 0.05
    /// A filtered search expected to keep fewer nodes than this scans them exactly (cheap anyway).
    public static let exactSearchMaxMatches = 2_000

    /// The `k` nearest live vectors to `query`, nearest first.
    ///
    /// - Parameters:
    ///   - ef: candidate list size (recall vs speed); at least `k`. Default `configuration.defaultEf`.
    ///   - filter: only labels for which it returns true are returned. A selective filter switches
    ///     to exact search, and a graph search that finds fewer than `k` matches is redone exactly,
    ///     so a filter never costs recall.
    /// - Throws: `dimensionMismatch`, `nonFiniteQuery`, `invalidSearchParameter`.
    public func search(
        _ query: [Float], k: Int, ef: Int? = nil, filter: ((UInt64) -> Bool)? = nil
    ) throws(VectorIndexError) -> [SearchHit] {
        guard k > 0 else { throw .invalidSearchParameter(name: "k", value: k) }
        let ef = ef ?? configuration.defaultEf
        guard ef > 0 else { throw .invalidSearchParameter(name: "ef", value: ef) }
        return try query.withUnsafeBufferPointer { (buffer) throws(VectorIndexError) in
            try checkQuery(buffer)
            return storageLock.withReadLock {
                let nodes = slotCount.load(ordering: .acquiring)
                return scratchPool.withScratch(nodes: nodes) { scratch in
                    prepare(buffer, into: scratch.query)
                    switch configuration.metric {
                    case .cosine, .dot:
                        return graphSearch(InnerProductKernel.self, k: k, ef: max(ef, k), nodes: nodes, scratch: scratch, filter: filter)
                    case .l2:
                        return graphSearch(L2Kernel.self, k: k, ef: max(ef, k), nodes: nodes, scratch: scratch, filter: filter)
                    }
                }
            }
        }
    }

    /// The exact `k` nearest live vectors by scanning all of them: the oracle for tests, and the
    /// path for small or selectively filtered searches.
    public func exactSearch(_ query: [Float], k: Int, filter: ((UInt64) -> Bool)? = nil) throws(VectorIndexError) -> [SearchHit] {
        guard k > 0 else { throw .invalidSearchParameter(name: "k", value: k) }
        return try query.withUnsafeBufferPointer { (buffer) throws(VectorIndexError) in
            try checkQuery(buffer)
            return storageLock.withReadLock {
                let nodes = slotCount.load(ordering: .acquiring)
                return scratchPool.withScratch(nodes: nodes) { scratch in
                    prepare(buffer, into: scratch.query)
                    switch configuration.metric {
                    case .cosine, .dot: return scan(InnerProductKernel.self, k: k, nodes: nodes, scratch: scratch, filter: filter)
                    case .l2: return scan(L2Kernel.self, k: k, nodes: nodes, scratch: scratch, filter: filter)
                    }
                }
            }
        }
    }

    private func checkQuery(_ query: UnsafeBufferPointer<Float>) throws(VectorIndexError) {
        guard query.count == configuration.dimension else {
            throw .dimensionMismatch(expected: configuration.dimension, actual: query.count)
        }
        for x in query where !x.isFinite { throw .nonFiniteQuery }
    }

    private func graphSearch<K: DistanceKernel>(
        _: K.Type, k: Int, ef: Int, nodes: Int, scratch: SearchScratch, filter: ((UInt64) -> Bool)?
    ) -> [SearchHit] {
        let packed = entry.load(ordering: .acquiring)
        guard packed != 0 else { return [] }
        let live = AcceptLive(flags: storage.flags)
        if let filter, prefersExact(filter, nodes: nodes, live: live) {
            return scan(K.self, k: k, nodes: nodes, scratch: scratch, filter: filter)
        }
        let query = UnsafePointer(scratch.query)
        let dim = configuration.dimension
        let exact = FloatSpace<K>(query: query, vectors: storage.vectors, dimension: dim)
        guard let halves = storage.halves else {
            return walk(K.self, exact, k: k, ef: ef, entry: packed, nodes: nodes, scratch: scratch, live: live, filter: filter)
                ?? hits(scratch, k: k)
        }
        // Walk on the half-precision copies, then re-rank what the walk kept on the float vectors:
        // the hits and their distances are exactly those of a float search over the same candidates.
        let approximate = HalfSpace<K>(query: query, halves: halves, dimension: dim)
        if let redone = walk(K.self, approximate, k: k, ef: ef, entry: packed, nodes: nodes, scratch: scratch, live: live, filter: filter) {
            return redone
        }
        var results = scratch.results
        results.rescore { exact.distance($0) }
        scratch.results = results
        return hits(scratch, k: k)
    }

    /// Descends from the entry point and walks layer 0 on `space`, leaving the `ef` nearest accepted
    /// nodes in `scratch.results`. Returns the final hits only when the walk had to be replaced by
    /// an exact scan (a filter that too few reached nodes pass); nil otherwise.
    private func walk<K: DistanceKernel, S: VectorSpace>(
        _: K.Type, _ space: S, k: Int, ef: Int, entry packed: UInt64, nodes: Int, scratch: SearchScratch, live: AcceptLive,
        filter: ((UInt64) -> Bool)?
    ) -> [SearchHit]? {
        let (entryNode, top) = Self.unpackEntry(packed)
        var current = Candidate(distance: space.distance(entryNode), node: UInt32(truncatingIfNeeded: entryNode))
        var level = top
        while level > 0 {
            current = greedyClosest(space, from: current, level: level, nodes: nodes)
            level -= 1
        }
        if let filter {
            withoutActuallyEscaping(filter) { predicate in
                let matching = AcceptMatching(live: live, labels: storage.labels, predicate: predicate)
                searchLayer(space, from: current, level: 0, ef: ef, nodes: nodes, scratch: scratch, filter: matching)
            }
            if scratch.results.count < k {
                // The walk found too few matches: redo it exactly rather than return fewer than k.
                scratch.reset(nodes: nodes)
                return scan(K.self, k: k, nodes: nodes, scratch: scratch, filter: filter)
            }
        } else if liveCount.load(ordering: .relaxed) < nodes {
            searchLayer(space, from: current, level: 0, ef: ef, nodes: nodes, scratch: scratch, filter: live)
        } else {
            searchLayer(space, from: current, level: 0, ef: ef, nodes: nodes, scratch: scratch, filter: AcceptAll())
        }
        return nil
    }

    /// Estimates the filter's selectivity on an even sample of slots.
    private func prefersExact(_ filter: (UInt64) -> Bool, nodes: Int, live: AcceptLive) -> Bool {
        let samples = min(nodes, 512)
        guard samples > 0 else { return true }
        var alive = 0
        var passing = 0
        for i in 0..<samples {
            let node = i * nodes / samples
            guard live.accepts(node) else { continue }
            alive += 1
            if filter(storage.labels[node]) { passing += 1 }
        }
        guard alive > 0 else { return true }
        let share = Double(passing) / Double(alive)
        let expected = share * Double(liveCount.load(ordering: .relaxed))
        return share < Self.exactSearchSelectivity || expected < Double(Self.exactSearchMaxMatches)
    }

    private func scan<K: DistanceKernel>(
        _: K.Type, k: Int, nodes: Int, scratch: SearchScratch, filter: ((UInt64) -> Bool)?
    ) -> [SearchHit] {
        let live = AcceptLive(flags: storage.flags)
        let query = UnsafePointer(scratch.query)
        let dim = configuration.dimension
        let vectors = storage.vectors
        for node in 0..<nodes where live.accepts(node) {
            if let filter, !filter(storage.labels[node]) { continue }
            let d = K.distance(query, vectors + node * dim, count: dim)
            let candidate = Candidate(distance: d, node: UInt32(truncatingIfNeeded: node))
            if scratch.results.count < k {
                scratch.results.push(candidate)
            } else if d < scratch.results.top.distance {
                scratch.results.replaceTop(candidate)
            }
        }
        return hits(scratch, k: k)
    }

    /// The `k` nearest of `scratch.results`, nearest first, ties by label for a stable order.
    ///
    /// The `ef − k` farthest are dropped by heapsort steps first, so only about `k` hits are built
    /// and sorted; dropped candidates tied with the `k`-th distance are kept for the label order.
    private func hits(_ scratch: SearchScratch, k: Int) -> [SearchHit] {
        var heap = scratch.results
        let total = heap.count
        while heap.count > k { heap.popToEnd() }
        var end = heap.count
        if end > 0 {
            let kth = heap.top.distance
            while end < total && heap.buffer[end].distance == kth { end &+= 1 }
        }
        var all = UnsafeBufferPointer(start: heap.buffer, count: end).map {
            SearchHit(label: storage.labels[Int($0.node)], distance: $0.distance)
        }
        heap.removeAll()
        scratch.results = heap
        all.sort { ($0.distance, $0.label) < ($1.distance, $1.label) }
        if all.count > k { all.removeLast(all.count - k) }
        return all
    }
}
