import Embedder
import Foundation
import Logging
import SearchEngine
import Synchronization

/// Embeds, in the background, the documents deferred writes stored (`"defer_embedding": true`):
/// after such a write, one thread per collection runs worker passes
/// (``CollectionHandle/embedPending(batchSize:progress:)``) until none is left, sharing the work
/// with any `quiver worker` on the same store through the store's claims. A write arriving while
/// a pass runs makes it run again, so nothing written is left behind.
final class DeferredEmbedding: Sendable {
    private struct Running {
        /// Collections with a thread working on them, and whether a write came in meanwhile.
        var collections: [String: Bool] = [:]
    }
    private let running = Mutex(Running())
    private let logger: Logger
    /// Documents per claim (one transaction; a small batch keeps queries' embeddings flowing).
    static let batchSize = 32

    init(logger: Logger) { self.logger = logger }

    /// Whether a thread is embedding `name`'s pending documents now.
    func isRunning(_ name: String) -> Bool { running.withLock { $0.collections[name] != nil } }

    /// Starts a thread embedding `name`'s pending documents, or tells the running one to go on.
    func kick(_ name: String, engine: SearchEngine) {
        guard claim(name) else { return }
        Thread { [self] in
            ThreadControl.nameCurrentThread("quiver-deferred")
            work(name, engine: engine)
        }.start()
    }

    /// One thread going through `names` in turn (at start-up: documents left pending before a
    /// restart); a collection another thread works on already is skipped.
    func sweep(_ names: [String], engine: SearchEngine) {
        guard !names.isEmpty else { return }
        Thread { [self] in
            ThreadControl.nameCurrentThread("quiver-deferred")
            for name in names where claim(name) { work(name, engine: engine) }
        }.start()
    }

    /// Marks `name` as worked on; false (and a request to go on) when a thread has it already.
    private func claim(_ name: String) -> Bool {
        running.withLock { state -> Bool in
            if state.collections[name] != nil {
                state.collections[name] = true
                return false
            }
            state.collections[name] = false
            return true
        }
    }

    /// Worker passes over `name` until nothing is pending and no write asked for another round.
    private func work(_ name: String, engine: SearchEngine) {
        while true {
            do {
                let handle = try engine.collection(name)
                try handle.keepingOpen { () throws(SearchEngineError) in
                    // Until none is left; documents another process holds are waited for
                    // (polled) for 5 s at most, then left to it.
                    var polls = 0
                    while true {
                        let pass = try handle.embedPending(batchSize: Self.batchSize)
                        if pass.remaining == 0 { break }
                        if pass.embedded > 0 {
                            polls = 0
                            continue
                        }
                        polls += 1
                        if polls >= 20 { break }
                        Thread.sleep(forTimeInterval: 0.25)
                    }
                }
            } catch {
                logger.error("embedding deferred writes failed", metadata: ["collection": "\(name)", "error": "\(error)"])
            }
            let again = running.withLock { state -> Bool in
                if state.collections[name] == true {
                    state.collections[name] = false
                    return true
                }
                state.collections[name] = nil
                return false
            }
            if !again { return }
        }
    }
}
