import CPrefetch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Persistent threads at the lowest scheduling priority (`nice` 19 by default) for bulk
/// embedding: document writes arriving over HTTP while the same process answers queries.
///
/// The kernel's fair scheduler gives a nice-19 thread 15/1024 of the weight of a normal one, so
/// while queries are being embedded (on the batcher's and the forward team's normal-priority
/// threads) a bulk pass gets what they leave and their latency barely moves; with no queries
/// around the bulk passes take both cores as before. (Measured: queries at c=4 during a stream of
/// 64-document writes kept a p99 of 19–21 ms at nice 19, 47 ms at nice 10 and 116–146 ms at
/// normal priority; BENCHMARKS.md, "Queries during document writes".) The calling thread does not
/// take part: it sleeps until the workers are done, so nothing of a bulk call runs at normal
/// priority.
///
/// One call at a time (callers queue on a lock). Where the process may not lower a thread's
/// priority (`setpriority` fails) the threads simply run at the normal priority.
final class BackgroundWorkers: Sendable {
    /// The threads.
    let count: Int
    private let state: State
    private let calls = NSLock()

    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        // Guarded by `condition`.
        var epoch = 0
        var remaining = 0
        var stopping = false
        var job: (@Sendable (Int) -> Void)?
    }

    /// Starts `count` threads (at least one) that lower their own priority to `niceness`.
    init(count: Int, niceness: Int32 = 19) {
        self.count = max(1, count)
        state = State()
        for index in 0..<self.count {
            let state = self.state
            let thread = Thread {
                ThreadControl.nameCurrentThread("quiver-bg-\(index)")
                ThreadControl.lowerCurrentThreadPriority(niceness: niceness)
                BackgroundWorkers.workerLoop(index: index, state: state)
            }
            thread.start()
        }
    }

    deinit {
        state.condition.lock()
        state.stopping = true
        state.condition.broadcast()
        state.condition.unlock()
    }

    /// Runs `body(i)` for every worker index `i` in `0..<count`, one per thread, and returns when
    /// all have finished.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        calls.lock()
        defer { calls.unlock() }
        state.condition.lock()
        state.job = body
        state.remaining = count
        state.epoch &+= 1
        state.condition.broadcast()
        while state.remaining > 0 { state.condition.wait() }
        state.job = nil
        state.condition.unlock()
    }

    private static func workerLoop(index: Int, state: State) {
        // Starts from the first epoch, so a job posted before this thread got here still runs.
        var seen = 0
        while true {
            state.condition.lock()
            while state.epoch == seen, !state.stopping { state.condition.wait() }
            if state.stopping {
                state.condition.unlock()
                return
            }
            seen = state.epoch
            let job = state.job
            state.condition.unlock()
            job?(index)
            state.condition.lock()
            state.remaining -= 1
            if state.remaining == 0 { state.condition.broadcast() }
            state.condition.unlock()
        }
    }
}
