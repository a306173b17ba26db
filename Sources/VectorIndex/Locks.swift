import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Per-node spin locks for writers editing neighbour lists. Held for a few hundred nanoseconds;
/// on contention the thread yields, since the two cores here are shared with other work.
struct NodeLocks {
    let words: UnsafeMutablePointer<Atomic<UInt32>>
    let count: Int

    static func allocate(count: Int) -> NodeLocks {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        raw.initializeMemory(as: UInt32.self, repeating: 0, count: max(count, 1))
        return NodeLocks(words: raw.bindMemory(to: Atomic<UInt32>.self, capacity: max(count, 1)), count: count)
    }

    func deallocate() { UnsafeMutableRawPointer(words).deallocate() }

    @inline(__always)
    func withLock<R>(_ node: Int, _ body: () -> R) -> R {
        // Locks are striped over a fixed table, so the table never grows with the index.
        let word = words + (node & (count &- 1))
        while !word.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            sched_yield()
        }
        defer { word.pointee.store(0, ordering: .releasing) }
        return body()
    }
}

/// A value guarded by a pthread mutex.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer does not see the happens-before
/// edges of `Mutex` on Linux (Swift 6.3.1 reports false races on a two-thread counter), and a
/// clean TSan run of the concurrency tests is part of this module's checks.
final class LockedState<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
