import CPrefetch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How many cores the process plans for, and how each thread group's size derives from them.
///
/// Every thread group of the server takes its size from here instead of its own count (see the
/// thread table in docs/ARCHITECTURE.md). `QUIVER_CORES` overrides the detected count, e.g. to
/// leave cores to another process on the same machine.
public struct CPUBudget: Sendable, Equatable {
    /// Cores the process may keep busy. At least 1.
    public var cores: Int

    /// A budget of `cores` cores (at least one).
    public init(cores: Int) { self.cores = max(1, cores) }

    /// The machine's active cores, or `QUIVER_CORES` when set to a positive number.
    public static var machine: CPUBudget {
        if let text = ProcessInfo.processInfo.environment["QUIVER_CORES"], let cores = Int(text), cores > 0 {
            return CPUBudget(cores: cores)
        }
        return CPUBudget(cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Threads that run forward passes (the forward team, the per-worker passes, the background
    /// workers): one per core.
    public var embedWorkers: Int { cores }
    /// Threads that insert into an HNSW index during catch-up, rebuild and compaction when the
    /// follower runs at normal priority; a background-priority follower inserts on its own thread.
    public var indexThreads: Int { cores }
    /// Threads that run blocking store reads and searches for requests (the read pool).
    public var readThreads: Int { cores }
}

/// Naming and prioritising the threads Quiver starts.
public enum ThreadControl {
    /// Names the calling thread for `top -H`, `perf` and `/proc/PID/task/*/comm` (Linux keeps the
    /// first 15 bytes). Foundation's `Thread.name` setter does not always reach the kernel when set
    /// from inside a just-started thread, so this goes to pthread directly.
    public static func nameCurrentThread(_ name: String) {
        quiver_set_thread_name(name)
    }

    /// Lowers the calling thread's scheduling priority to `niceness` (19 is the lowest). On Linux
    /// each thread has its own nice value; where the call fails or the platform has none, the
    /// thread keeps its priority.
    public static func lowerCurrentThreadPriority(niceness: Int32) {
        #if os(Linux)
            // `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }
}
