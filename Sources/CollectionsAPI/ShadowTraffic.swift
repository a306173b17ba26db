import Foundation
import SearchEngine
import Synchronization

/// Runs shadow queries (a live query answered by the candidate generation too) after the live
/// answer has been sent, at background priority, at most ``maxInFlight`` at a time: a shadow
/// drawn while that many run is skipped and counted, so shadow traffic can never queue up behind
/// live traffic or grow without bound. Shutdown waits for those running.
final class ShadowTraffic: Sendable {
    /// Shadow queries running at once, at most.
    static let maxInFlight = 2

    private let inFlight = Atomic<Int>(0)
    private let tasks = Mutex<[UUID: Task<Void, Never>]>([:])
    /// Shadows run and shadows skipped because too many were running.
    let counts = Mutex<(run: Int, skipped: Int)>((0, 0))

    /// Starts `body` unless ``maxInFlight`` shadows are running.
    func start(_ body: @escaping @Sendable () async -> Void) {
        guard inFlight.add(1, ordering: .relaxed).newValue <= Self.maxInFlight else {
            inFlight.subtract(1, ordering: .relaxed)
            counts.withLock { $0.skipped += 1 }
            return
        }
        counts.withLock { $0.run += 1 }
        let id = UUID()
        // Made under the lock: the task's own removal waits for its insertion.
        tasks.withLock { running in
            running[id] = Task.detached(priority: .background) { [self] in
                await body()
                tasks.withLock { _ = $0.removeValue(forKey: id) }
                inFlight.subtract(1, ordering: .relaxed)
            }
        }
    }

    /// Waits for every running shadow query (at shutdown).
    func drain() async {
        let running = tasks.withLock { Array($0.values) }
        for task in running { await task.value }
    }
}
