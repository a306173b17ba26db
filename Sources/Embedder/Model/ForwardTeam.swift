import Foundation
import Synchronization
import VectorMath

/// The calling thread plus `size - 1` persistent helper threads that run one forward pass
/// together: every member runs the same code on its own share of each step (GEMM columns,
/// attention heads, LayerNorm rows) and the members meet at a ``Member/barrier()`` between steps.
///
/// Why not a thread pool per GEMM: a short query's forward pass is ~40 steps of tens of
/// microseconds each, and handing each step to a pool thread that sleeps in between costs a
/// wake-up (~40 µs measured here) per step, as much as the step itself. Here the helpers
/// busy-wait at barriers during a pass (a few hundred nanoseconds each) and only between passes
/// do they go back to sleep, after spinning for ``idleSpin`` in case another pass follows at once.
///
/// One pass at a time: ``run(_:)`` returns `false` without running anything while another call
/// holds the team, and the caller then runs its pass alone.
final class ForwardTeam: Sendable {
    /// One member's view of a pass: which share is its own, and the barrier.
    struct Member: @unchecked Sendable {
        /// 0 for the calling thread, `1..<count` for the helpers.
        let index: Int
        /// Members in the pass.
        let count: Int
        fileprivate let shared: Shared?

        /// A pass run by the calling thread alone: every share is the whole, barriers are free.
        static let solo = Member(index: 0, count: 1, shared: nil)

        /// Waits until every member of the pass has arrived here.
        func barrier() {
            guard count > 1, let shared else { return }
            let generation = shared.barrierGeneration.load(ordering: .acquiring)
            if shared.arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == count {
                shared.arrived.store(0, ordering: .relaxed)
                shared.barrierGeneration.wrappingAdd(1, ordering: .releasing)
            } else {
                ForwardTeam.spin { shared.barrierGeneration.load(ordering: .acquiring) != generation }
            }
        }

        /// This member's share of `0..<total` items: contiguous, sizes differ by at most one.
        func share(of total: Int) -> Range<Int> {
            (total * index / count)..<(total * (index + 1) / count)
        }
    }

    /// State the helpers share with the caller.
    fileprivate final class Shared: @unchecked Sendable {
        /// Bumped by the caller to start a pass (the job is in `job` before it changes).
        let epoch = Atomic<Int>(0)
        /// Helpers that finished the current pass.
        let finished = Atomic<Int>(0)
        let arrived = Atomic<Int>(0)
        let barrierGeneration = Atomic<Int>(0)
        /// Whether a caller holds the team.
        let busy = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        /// Helpers asleep on `condition` (or about to be).
        let sleepers = Atomic<Int>(0)
        let condition = NSCondition()
        /// Written by the caller before `epoch` changes, read by helpers after they see the
        /// change, cleared by the caller after every helper has finished.
        nonisolated(unsafe) var job: (@Sendable (Member) -> Void)?
        let idleSpin: Duration

        init(idleSpin: Duration) { self.idleSpin = idleSpin }

        /// Wakes sleeping helpers (if any); called after `epoch` or `stopping` changed.
        func wakeSleepers() {
            guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Members in a pass, the caller included.
    let size: Int
    private let shared: Shared

    /// Starts `size - 1` helper threads (none for `size` 1). Between passes a helper spins for
    /// `idleSpin` before it sleeps.
    init(size: Int, idleSpin: Duration = .microseconds(200)) {
        self.size = max(1, size)
        shared = Shared(idleSpin: idleSpin)
        for index in 1..<self.size {
            let shared = self.shared
            let count = self.size
            let thread = Thread {
                ThreadControl.nameCurrentThread("quiver-fwd-\(index)")
                ForwardTeam.helperLoop(index: index, count: count, shared: shared)
            }
            thread.start()
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.wakeSleepers()
    }

    /// Runs `body` on every member, the calling thread being member 0, and returns once all have
    /// finished. Returns `false` at once, without running `body`, when another pass holds the team
    /// or the team has no helpers.
    func run(_ body: @escaping @Sendable (Member) -> Void) -> Bool {
        guard size > 1,
            shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        shared.job = body
        shared.finished.store(0, ordering: .relaxed)
        shared.epoch.wrappingAdd(1, ordering: .sequentiallyConsistent)
        shared.wakeSleepers()
        body(Member(index: 0, count: size, shared: shared))
        let helpers = size - 1
        let shared = self.shared
        Self.spin { shared.finished.load(ordering: .acquiring) == helpers }
        shared.job = nil
        shared.busy.store(false, ordering: .releasing)
        return true
    }

    /// A helper's life: wait for a pass (spinning, then asleep), run its share, report, repeat.
    private static func helperLoop(index: Int, count: Int, shared: Shared) {
        // The epoch the team was created with, not the current one: the caller may already have
        // started the first pass before this thread got to run.
        var seen = 0
        while true {
            guard waitForPass(after: seen, shared: shared) else { return }
            seen = shared.epoch.load(ordering: .acquiring)
            if let job = shared.job { job(Member(index: index, count: count, shared: shared)) }
            shared.finished.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// Returns `true` once `epoch` differs from `seen`, `false` when the team stops.
    private static func waitForPass(after seen: Int, shared: Shared) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: shared.idleSpin)
        var spins = 0
        while true {
            if shared.epoch.load(ordering: .acquiring) != seen { return true }
            if shared.stopping.load(ordering: .acquiring) { return false }
            spins &+= 1
            if spins & 63 == 0, clock.now >= deadline {
                shared.condition.lock()
                shared.sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while shared.epoch.load(ordering: .sequentiallyConsistent) == seen,
                    !shared.stopping.load(ordering: .sequentiallyConsistent)
                {
                    shared.condition.wait()
                }
                shared.sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                shared.condition.unlock()
            } else {
                VectorMath.spinPause()
            }
        }
    }

    /// Busy-waits until `done()`; yields the core after a while so that a member that lost its
    /// core (a loaded machine) gets it back instead of waiting out this thread's time slice.
    static func spin(until done: () -> Bool) {
        var spins = 0
        while !done() {
            spins &+= 1
            if spins < 4096 {
                VectorMath.spinPause()
            } else {
                sched_yield()
            }
        }
    }
}
