import CPrefetch

extension VectorMath {
    /// Hints that `bytes` bytes at `pointer` will be read soon, one prefetch per 64-byte line.
    ///
    /// A hint only: it never faults, so any address is safe. The vector index issues it for the
    /// vectors of a node's unvisited neighbours before computing their distances, so the cache
    /// misses overlap instead of stalling one after another.
    @inlinable
    @inline(__always)
    public static func prefetch(_ pointer: UnsafeRawPointer, bytes: Int) {
        quiver_prefetch_range(pointer, bytes)
    }

    /// Hints that the cache line at `pointer` will be read soon. Never faults.
    @inlinable
    @inline(__always)
    public static func prefetch(_ pointer: UnsafeRawPointer) {
        quiver_prefetch(pointer)
    }

    /// A spin-wait hint for busy-wait loops (x86 `pause`): cheap, and kinder to the core being
    /// waited for than an empty loop.
    @inlinable
    @inline(__always)
    public static func spinPause() {
        quiver_spin_pause()
    }
}
