import Synchronization
import VectorMath

/// Which reached nodes may enter the result list. Specialised per search, so the unfiltered case
/// costs nothing.
protocol NodeFilter {
    func accepts(_ node: Int) -> Bool
}

/// Every node (graph construction, and searches of an index without tombstones).
struct AcceptAll: NodeFilter {
    @inline(__always) func accepts(_ node: Int) -> Bool { true }
}

/// Nodes that are ready and not removed.
struct AcceptLive: NodeFilter {
    let flags: UnsafeMutablePointer<Atomic<UInt8>>
    @inline(__always) func accepts(_ node: Int) -> Bool {
        flags[node].load(ordering: .relaxed) & (GraphStorage.flagReady | GraphStorage.flagDeleted) == GraphStorage.flagReady
    }
}

/// Live nodes whose label passes the caller's predicate.
struct AcceptMatching: NodeFilter {
    let live: AcceptLive
    let labels: UnsafeMutablePointer<UInt64>
    let predicate: (UInt64) -> Bool
    @inline(__always) func accepts(_ node: Int) -> Bool { live.accepts(node) && predicate(labels[node]) }
}

// The graph algorithms of the paper: greedy descent (upper layers), SEARCH-LAYER (Algorithm 2),
// SELECT-NEIGHBORS-HEURISTIC (Algorithm 4) and INSERT (Algorithm 1). Callers hold `storageLock`
// shared. Neighbour ids are checked against `nodes` before use, which is what keeps a corrupted
// mapped file from steering reads out of bounds.
extension HNSWIndex {
    /// How many distances ahead the search loop prefetches a whole vector (tuned on 64k×384).
    static let prefetchAhead = 3

    @inline(__always)
    func maxLinks(level: Int) -> Int { level == 0 ? 2 * configuration.m : configuration.m }

    /// Walks layer `level` greedily from `start` to the node nearest to `query`.
    func greedyClosest<S: VectorSpace>(_ space: S, from start: Candidate, level: Int, nodes: Int) -> Candidate {
        let limit = maxLinks(level: level)
        let vectorBytes = space.vectorBytes
        var best = start
        var changed = true
        while changed {
            changed = false
            let list = storage.linkList(Int(best.node), level: level)
            let n = min(Int(list[0].load(ordering: .acquiring)), limit)
            // Same prefetch pattern as `searchLayer` (there is no visited set here: every
            // neighbour is computed). A link read twice may differ under a concurrent writer; the
            // first read is only a hint.
            var p = 1
            while p <= n {
                let neighbour = Int(list[p].load(ordering: .relaxed))
                if neighbour < nodes {
                    VectorMath.prefetch(
                        space.address(neighbour),
                        bytes: p <= Self.prefetchAhead ? vectorBytes : MemoryLayout<Float>.stride)
                }
                p &+= 1
            }
            var j = 1
            while j <= n {
                let neighbour = Int(list[j].load(ordering: .acquiring))
                if j &+ Self.prefetchAhead <= n {
                    let ahead = Int(list[j &+ Self.prefetchAhead].load(ordering: .relaxed))
                    if ahead < nodes { VectorMath.prefetch(space.address(ahead), bytes: vectorBytes) }
                }
                j &+= 1
                guard neighbour < nodes else { continue }
                let d = space.distance(neighbour)
                if d < best.distance {
                    best = Candidate(distance: d, node: UInt32(truncatingIfNeeded: neighbour))
                    changed = true
                }
            }
        }
        return best
    }

    /// SEARCH-LAYER: the `ef` nearest accepted nodes reachable from `start`, left in
    /// `scratch.results` (a max-heap). `scratch` must be reset for `nodes`.
    ///
    /// The loop first gathers a node's unvisited neighbours, then computes their distances, so the
    /// loads of several vectors are in flight together.
    func searchLayer<S: VectorSpace, F: NodeFilter>(
        _ space: S, from start: Candidate, level: Int, ef: Int, nodes: Int, scratch: SearchScratch, filter: F
    ) {
        let limit = maxLinks(level: level)
        let pending = scratch.pending
        let vectorBytes = space.vectorBytes
        let listBytes = (limit &+ 1) &* MemoryLayout<UInt32>.stride
        // The heaps and the visited set are worked on as local values and stored back at the end:
        // through the class's properties every access would be a dynamic exclusivity check.
        var candidates = scratch.candidates
        var results = scratch.results
        defer {
            scratch.candidates = candidates
            scratch.results = results
        }
        let visited = scratch.visitedSet
        _ = visited.visit(Int(start.node))
        candidates.push(start)
        if filter.accepts(Int(start.node)) { results.push(start) }
        var bound = results.isEmpty ? Float.infinity : results.top.distance
        while !candidates.isEmpty {
            let current = candidates.top
            if current.distance > bound && results.count >= ef { break }
            candidates.pop()
            let list = storage.linkList(Int(current.node), level: level)
            let n = min(Int(list[0].load(ordering: .acquiring)), limit)
            var found = 0
            var j = 1
            while j <= n {
                let neighbour = Int(list[j].load(ordering: .acquiring))
                j &+= 1
                if neighbour < nodes {
                    pending[found] = UInt32(truncatingIfNeeded: neighbour)
                    found &+= visited.visitFresh(neighbour)
                }
            }
            // Memory, not arithmetic, bounds this loop (a vector is 24 cache lines, the index far
            // larger than the caches). Measured best on 64k×384: whole vectors for the first
            // `prefetchAhead` pending neighbours and for the one `prefetchAhead` ahead of each
            // distance computed, the first line of the others now, and the link list of the
            // candidate most likely expanded next (or of a neighbour that becomes the nearest).
            var p = 0
            while p < found && p < Self.prefetchAhead {
                VectorMath.prefetch(space.address(Int(pending[p])), bytes: vectorBytes)
                p &+= 1
            }
            while p < found {
                VectorMath.prefetch(space.address(Int(pending[p])))
                p &+= 1
            }
            if !candidates.isEmpty {
                VectorMath.prefetch(storage.linkList(Int(candidates.top.node), level: level), bytes: listBytes)
            }
            var i = 0
            while i < found {
                let neighbour = Int(pending[i])
                if i &+ Self.prefetchAhead < found {
                    VectorMath.prefetch(space.address(Int(pending[i &+ Self.prefetchAhead])), bytes: vectorBytes)
                }
                i &+= 1
                let d = space.distance(neighbour)
                guard results.count < ef || d < bound else { continue }
                let candidate = Candidate(distance: d, node: UInt32(truncatingIfNeeded: neighbour))
                candidates.push(candidate)
                if d <= candidates.top.distance {
                    // The new nearest candidate is expanded next: fetch its link list meanwhile.
                    VectorMath.prefetch(storage.linkList(neighbour, level: level), bytes: listBytes)
                }
                if filter.accepts(neighbour) {
                    if results.count < ef {
                        results.push(candidate)
                    } else {
                        results.replaceTop(candidate)
                    }
                    bound = results.top.distance
                }
            }
        }
    }

    /// SELECT-NEIGHBORS-HEURISTIC: keeps a candidate only if it is nearer to the base than to every
    /// neighbour already kept, which spreads links across directions. `sorted` is ascending.
    func selectNeighbors<K: DistanceKernel>(_: K.Type, _ sorted: [Candidate], max: Int) -> [Candidate] {
        guard sorted.count > max else { return sorted }
        let dim = configuration.dimension
        var kept: [Candidate] = []
        kept.reserveCapacity(max)
        for candidate in sorted {
            if kept.count >= max { break }
            let v = storage.vector(Int(candidate.node))
            var good = true
            for other in kept where K.distance(v, storage.vector(Int(other.node)), count: dim) < candidate.distance {
                good = false
                break
            }
            if good { kept.append(candidate) }
        }
        return kept
    }

    /// INSERT: links a written, ready node into every layer up to `level`.
    func link<K: DistanceKernel>(_ slot: Int, level: Int, kernel: K.Type) {
        var packed = entry.load(ordering: .acquiring)
        if packed == 0 {
            let first = entryLock.withLock { _ in
                guard entry.load(ordering: .acquiring) == 0 else { return false }
                entry.store(Self.packEntry(node: slot, level: level), ordering: .releasing)
                return true
            }
            if first { return }
            packed = entry.load(ordering: .acquiring)
        }
        let (entryNode, top) = Self.unpackEntry(packed)
        let dim = configuration.dimension
        let query = UnsafePointer(storage.vector(slot))
        let nodes = slotCount.load(ordering: .acquiring)
        let exact = FloatSpace<K>(query: query, vectors: storage.vectors, dimension: dim)
        if let halves = storage.halves {
            // Find the candidates on the half-precision copies (half the memory traffic), then
            // choose among them on the float vectors: the links are chosen as a float walk would.
            let walk = HalfSpace<K>(query: query, halves: halves, dimension: dim)
            linkLayers(walk, exact: exact, rescore: true, slot: slot, level: level, entryNode: entryNode, top: top, nodes: nodes)
        } else {
            linkLayers(exact, exact: exact, rescore: false, slot: slot, level: level, entryNode: entryNode, top: top, nodes: nodes)
        }
        if level > top {
            entryLock.withLock { _ in
                if level > Self.unpackEntry(entry.load(ordering: .acquiring)).level {
                    entry.store(Self.packEntry(node: slot, level: level), ordering: .releasing)
                }
            }
        }
    }

    /// INSERT's walk and linking for one node: descends on `walk` to `level`, then on each layer
    /// from `min(level, top)` down finds `efConstruction` candidates on `walk`, re-scores them on
    /// `exact` when `rescore` (the walk reads half-precision copies), and links the heuristic's
    /// choice both ways.
    private func linkLayers<S: VectorSpace, K: DistanceKernel>(
        _ walk: S, exact: FloatSpace<K>, rescore: Bool, slot: Int, level: Int, entryNode: Int, top: Int, nodes: Int
    ) {
        var current = Candidate(distance: walk.distance(entryNode), node: UInt32(truncatingIfNeeded: entryNode))
        var l = top
        while l > level {
            current = greedyClosest(walk, from: current, level: l, nodes: nodes)
            l -= 1
        }
        scratchPool.withScratch(nodes: nodes) { scratch in
            var l = min(level, top)
            while l >= 0 {
                scratch.reset(nodes: nodes)
                searchLayer(
                    walk, from: current, level: l, ef: configuration.efConstruction,
                    nodes: nodes, scratch: scratch, filter: AcceptAll())
                if rescore {
                    var results = scratch.results
                    results.rescore { exact.distance($0) }
                    scratch.results = results
                }
                let sorted = scratch.results.elements.filter { Int($0.node) != slot }.sorted { $0.distance < $1.distance }
                let neighbours = selectNeighbors(K.self, sorted, max: maxLinks(level: l))
                nodeLocks.withLock(slot) {
                    let list = storage.linkList(slot, level: l)
                    for (i, n) in neighbours.enumerated() { list[i + 1].store(n.node, ordering: .releasing) }
                    list[0].store(UInt32(neighbours.count), ordering: .releasing)
                }
                for n in neighbours { connect(K.self, Int(n.node), to: slot, distance: n.distance, level: l) }
                if let nearest = sorted.first {
                    current = rescore ? Candidate(distance: walk.distance(Int(nearest.node)), node: nearest.node) : nearest
                }
                l -= 1
            }
        }
    }

    /// Adds the back link `node → newNode` on `level`, pruning `node`'s list with the heuristic
    /// when it is full.
    func connect<K: DistanceKernel>(_: K.Type, _ node: Int, to newNode: Int, distance: Float, level: Int) {
        let limit = maxLinks(level: level)
        let dim = configuration.dimension
        nodeLocks.withLock(node) {
            let list = storage.linkList(node, level: level)
            let n = min(Int(list[0].load(ordering: .relaxed)), limit)
            if n < limit {
                list[n + 1].store(UInt32(truncatingIfNeeded: newNode), ordering: .releasing)
                list[0].store(UInt32(n + 1), ordering: .releasing)
                return
            }
            let base = storage.vector(node)
            var candidates = [Candidate(distance: distance, node: UInt32(truncatingIfNeeded: newNode))]
            candidates.reserveCapacity(n + 1)
            for j in 1...n {
                let other = list[j].load(ordering: .relaxed)
                candidates.append(Candidate(distance: K.distance(base, storage.vector(Int(other)), count: dim), node: other))
            }
            candidates.sort { $0.distance < $1.distance }
            let kept = selectNeighbors(K.self, candidates, max: limit)
            for (i, c) in kept.enumerated() { list[i + 1].store(c.node, ordering: .releasing) }
            list[0].store(UInt32(kept.count), ordering: .releasing)
        }
    }

    static func packEntry(node: Int, level: Int) -> UInt64 {
        UInt64(level + 1) << 32 | UInt64(UInt32(truncatingIfNeeded: node))
    }

    static func unpackEntry(_ packed: UInt64) -> (node: Int, level: Int) {
        (Int(packed & 0xFFFF_FFFF), Int(packed >> 32) - 1)
    }
}
