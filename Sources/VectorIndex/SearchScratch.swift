import Synchronization

/// One candidate: a node and its distance to the query.
struct Candidate {
    var distance: Float
    var node: UInt32
}

/// A binary heap of candidates on a reusable buffer. `isMax` chooses the order once per heap.
struct CandidateHeap {
    private(set) var buffer: UnsafeMutablePointer<Candidate>
    private(set) var capacity: Int
    private(set) var count = 0
    let isMax: Bool

    init(isMax: Bool, capacity: Int = 256) {
        self.isMax = isMax
        self.capacity = capacity
        buffer = .allocate(capacity: capacity)
    }

    func deallocate() { buffer.deallocate() }

    var isEmpty: Bool { count == 0 }
    /// The top (smallest for a min-heap, largest for a max-heap). Only when not empty.
    var top: Candidate { buffer[0] }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    private func before(_ a: Candidate, _ b: Candidate) -> Bool {
        isMax ? a.distance > b.distance : a.distance < b.distance
    }

    mutating func push(_ c: Candidate) {
        if count == capacity { reallocate() }
        var i = count
        count &+= 1
        while i > 0 {
            let parent = (i &- 1) >> 1
            guard before(c, buffer[parent]) else { break }
            buffer[i] = buffer[parent]
            i = parent
        }
        buffer[i] = c
    }

    /// Removes and returns the top. Only when not empty.
    @discardableResult
    mutating func pop() -> Candidate {
        let result = buffer[0]
        count &-= 1
        if count > 0 { siftDown(buffer[count]) }
        return result
    }

    /// Removes the top and stores it just past the new end (one heapsort step): after `j` calls
    /// `buffer[count ..< count + j]` holds the removed elements in heap order (ascending for a
    /// max-heap). Only when not empty.
    mutating func popToEnd() {
        let result = buffer[0]
        count &-= 1
        if count > 0 { siftDown(buffer[count]) }
        buffer[count] = result
    }

    /// Replaces the top by `c` (one sift instead of pop + push). Only when not empty.
    mutating func replaceTop(_ c: Candidate) { siftDown(c) }

    /// Replaces every distance by `distance(node)` and restores the heap order (Floyd's
    /// construction: linear in `count`).
    mutating func rescore(_ distance: (Int) -> Float) {
        var i = 0
        while i < count {
            buffer[i].distance = distance(Int(buffer[i].node))
            i &+= 1
        }
        var start = count / 2
        while start > 0 {
            start &-= 1
            siftDown(buffer[start], from: start)
        }
    }

    private mutating func siftDown(_ c: Candidate, from start: Int = 0) {
        var i = start
        while true {
            var child = 2 &* i &+ 1
            if child >= count { break }
            if child &+ 1 < count && before(buffer[child &+ 1], buffer[child]) { child &+= 1 }
            guard before(buffer[child], c) else { break }
            buffer[i] = buffer[child]
            i = child
        }
        buffer[i] = c
    }

    private mutating func reallocate() {
        let bigger = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: buffer, count: count)
        buffer.deallocate()
        buffer = bigger
        capacity *= 2
    }

    /// The elements in heap order (not sorted).
    var elements: UnsafeBufferPointer<Candidate> { UnsafeBufferPointer(start: buffer, count: count) }
}

/// Per-search scratch memory: a visited set reset by bumping a generation counter instead of
/// clearing, two heaps, and a query buffer. Taken from and returned to `ScratchPool`.
final class SearchScratch {
    private(set) var marks: UnsafeMutablePointer<UInt16>
    private(set) var markCapacity: Int
    private var generation: UInt16 = 0
    var candidates = CandidateHeap(isMax: false)
    var results = CandidateHeap(isMax: true)
    var query: UnsafeMutablePointer<Float>
    let dimension: Int
    var pending: UnsafeMutablePointer<UInt32>

    init(dimension: Int, nodes: Int) {
        self.dimension = dimension
        markCapacity = max(nodes, 1024)
        marks = .allocate(capacity: markCapacity)
        marks.initialize(repeating: 0, count: markCapacity)
        query = .allocate(capacity: max(dimension, 1))
        pending = .allocate(capacity: 512)
    }

    deinit {
        marks.deallocate()
        query.deallocate()
        pending.deallocate()
        candidates.deallocate()
        results.deallocate()
    }

    /// Starts a new search over `nodes` slots: every node becomes unvisited.
    func reset(nodes: Int) {
        candidates.removeAll()
        results.removeAll()
        if nodes > markCapacity {
            marks.deallocate()
            markCapacity = max(nodes, markCapacity * 2)
            marks = .allocate(capacity: markCapacity)
            marks.initialize(repeating: 0, count: markCapacity)
            generation = 0
        }
        generation &+= 1
        if generation == 0 {
            // Wrapped after 65,535 searches: clear once so stale marks cannot match.
            marks.update(repeating: 0, count: markCapacity)
            generation = 1
        }
    }

    /// The visited set of the current search as a value, for hot loops: reaching it through this
    /// class's stored properties costs a dynamic exclusivity check (`swift_beginAccess`) per call.
    var visitedSet: VisitedSet { VisitedSet(marks: marks, generation: generation) }
}

/// The visited marks of one search (see `SearchScratch.visitedSet`); valid until the next `reset`.
struct VisitedSet {
    let marks: UnsafeMutablePointer<UInt16>
    let generation: UInt16

    /// Marks `node` visited; returns whether it already was. `node` must be below the `nodes`
    /// given to `reset`.
    @inline(__always)
    func visit(_ node: Int) -> Bool {
        let slot = marks + node
        if slot.pointee == generation { return true }
        slot.pointee = generation
        return false
    }

    /// Marks `node` visited; returns 1 if it was not visited before, else 0. Branch-free: whether a
    /// neighbour was seen is a coin flip to the branch predictor, so the search loop adds this to
    /// its count instead of branching on it.
    @inline(__always)
    func visitFresh(_ node: Int) -> Int {
        let slot = marks + node
        let fresh = slot.pointee != generation
        slot.pointee = generation
        return fresh ? 1 : 0
    }
}

/// A pool of scratch objects, so searches do not allocate.
final class ScratchPool: Sendable {
    private let free = LockedState<[SearchScratchBox]>([])
    let dimension: Int

    init(dimension: Int) { self.dimension = dimension }

    func withScratch<R, E: Error>(nodes: Int, _ body: (SearchScratch) throws(E) -> R) throws(E) -> R {
        let box = free.withLock { $0.popLast() } ?? SearchScratchBox(SearchScratch(dimension: dimension, nodes: nodes))
        defer { free.withLock { $0.append(box) } }
        box.scratch.reset(nodes: nodes)
        return try body(box.scratch)
    }
}

/// Moves a scratch object between threads through the pool; only one thread uses it at a time.
final class SearchScratchBox: @unchecked Sendable {
    let scratch: SearchScratch
    init(_ scratch: SearchScratch) { self.scratch = scratch }
}
