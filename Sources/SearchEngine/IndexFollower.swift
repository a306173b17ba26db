import DocumentStore
import Embedder
import Foundation
import Logging
import Synchronization
import VectorIndex

/// Keeps one collection's serving index caught up with its store, on a thread it owns.
///
/// The store is the single source of truth; the index is derived from its change feed by sequence
/// number. The follower's thread (`quiver-follow`) does every piece of index work: loading a
/// checkpoint or rebuilding, applying changes page by page, switching generations, compacting and
/// checkpointing. Queries never do index work: they read the published ``ServingGeneration`` (an
/// immutable snapshot of which generation serves, and its index) and go. A write commits to the
/// store and then calls ``sync(checkpoint:)``, which returns once a cycle that started after the
/// commit has finished, so the write is searchable when it returns.
///
/// The thread also wakes every ``pollInterval`` to pick up writes committed by other processes
/// (`quiver index` beside `quiver serve`), and backs off after a failed cycle (a damaged file, a
/// full disk) so that a persistent fault is retried without spinning.
///
/// Consumers: the HNSW index of the serving generation, then the collection's keyword index
/// (``KeywordConsumer``), each with its own covered seq; a chunk index will be a third.
final class IndexFollower: Sendable {
    let name: String
    let store: any CollectionStore
    let files: CollectionFiles
    let settings: CollectionSettings
    let metric: DistanceMetric
    let logger: Logger
    /// Threads an index insert uses: 1 (the follower's own, niced thread) for a background-priority
    /// engine, the CPU budget's index threads otherwise.
    let insertThreads: Int

    /// Changes after which the follower checkpoints the serving index on its own.
    static let checkpointInterval = 100_000
    /// Removed nodes below which an index is never compacted (see `compactIfNeeded`).
    static let compactionMinimum = 4096
    /// Changes read from the store per catch-up page.
    static let catchUpPage = 20_000
    /// How often an idle follower looks for writes of other processes.
    static let pollInterval: TimeInterval = 0.2
    /// Longest wait before retrying after failed cycles (doubling from `pollInterval`).
    static let maxBackoff: TimeInterval = 30

    /// The generation serving queries (nil until the first load succeeded).
    private let published = Mutex<ServingGeneration?>(nil)
    /// Every label's id, for answers without payload (filled once a query asked for it, then kept
    /// up by the change feed).
    let directory = LabelDirectory()
    /// Hit documents for queries, invalidated by every change this follower applies.
    let hitCache: HitCache
    /// The serving generation's verdict calibration (see ``Verdict``).
    let verdictCalibrator: VerdictCalibrator
    /// The collection's changeable settings as last read with the store state.
    let tuningCache = TuningCache()
    /// The collection's query log (written only when its settings turn it on).
    let queryLogger: QueryLogger
    /// The keyword index, caught up by the same cycle after the HNSW index.
    let keyword: KeywordConsumer
    /// The candidate generation's index, built by the first query or evaluation that names the
    /// candidate and caught up from the change feed by each later one (see ``candidate(_:)``).
    private let candidateIndex = Mutex<ServingGeneration?>(nil)
    /// Serializes building and catching up ``candidateIndex`` (two callers must not apply the same
    /// changes to it).
    private let candidateUpdate = NSLock()
    /// Bumped by ``dropCandidate()``: a build that started before a drop does not keep its index.
    private let candidateEpoch = Atomic<Int>(0)
    /// Long operations in progress on this collection (a generation built or switched): while
    /// any is, the engine does not close it for idleness or to stay under its open-collection cap.
    let pins = Atomic<Int>(0)
    /// Cycle bookkeeping shared by the follower thread and its callers.
    private let control = Control()
    /// State only the follower thread touches.
    private let local = Mutex(Local())

    private final class Control: @unchecked Sendable {
        let condition = NSCondition()
        // Every field below is guarded by `condition`.
        var wake = false
        var checkpointWanted = false
        var started = 0
        var finished = 0
        var lastFailure: SearchEngineError?
        var stopping = false
        var exited = false
    }

    private struct Local {
        var changesSinceCheckpoint = 0
        var nextDueCheckpoint = Date.distantPast
        /// Why the last checkpoint failed; nil once one succeeds.
        var checkpointFailure: String?
    }

    /// Opens the follower of `store` and starts its thread, which loads the serving generation at
    /// once (or, `onDemand`, at the first call that needs the index).
    ///
    /// - Parameters:
    ///   - background: run the thread at the lowest priority (`nice` 19) with single-threaded
    ///     inserts, for a server whose writes must not take cores from queries.
    ///   - onDemand: start the thread only when a caller needs the index (a query, a sync): for a
    ///     process that only embeds (`quiver worker`), which would otherwise load or build every
    ///     collection's index for nothing.
    init(
        name: String, store: any CollectionStore, files: CollectionFiles, budget: CPUBudget, background: Bool,
        onDemand: Bool = false, hitCacheBytes: Int = 0, logger: Logger, hooks: EngineHooks = EngineHooks()
    ) throws(SearchEngineError) {
        hitCache = HitCache(capacityBytes: hitCacheBytes)
        queryLogger = QueryLogger(path: files.queryLogPath)
        verdictCalibrator = VerdictCalibrator(files: files)
        self.name = name
        self.store = store
        self.files = files
        self.logger = logger
        stateReuseNanos = store.isRemote ? Self.remoteStateReuse : 0
        let patience = store.statePatience.components
        statePatienceNanos =
            UInt64(clamping: max(0, patience.seconds)) &* 1_000_000_000
            &+ UInt64(clamping: max(0, patience.attoseconds / 1_000_000_000))
        insertThreads = background ? 1 : budget.indexThreads
        keyword = KeywordConsumer(path: files.keywordIndexPath, name: name, logger: logger)
        do { settings = try store.settings() } catch { throw SearchEngineError(error) }
        guard let metric = DistanceMetric(name: settings.metric) else {
            throw .storage("collection \(name) has unknown metric \(settings.metric)")
        }
        self.metric = metric
        // The thread holds the follower weakly (strongly only during a cycle), so that dropping
        // the last reference, or `stop()`, releases the store at once.
        let thread = Thread { [weak self, control, name, logger, hooks] in
            ThreadControl.nameCurrentThread("quiver-follow")
            if background { ThreadControl.lowerCurrentThreadPriority(niceness: 19) }
            Self.run(control: control, name: name, logger: logger) { checkpoint in
                guard let self else { return nil }
                if let hook = hooks.beforeFollowerCycle.withLock({ $0 }) { hook(name) }
                let outcome = Result { () throws(SearchEngineError) in try self.cycle(checkpoint: checkpoint) }
                self.firstCycleFinished.store(true, ordering: .releasing)
                self.queryLogger.flush(self.tuningCache.current)
                return outcome
            }
        }
        if onDemand {
            unstarted.put(thread)
        } else {
            thread.start()
        }
    }

    /// The follower thread until it is started (``onDemand`` followers).
    private final class Unstarted: @unchecked Sendable {
        private let lock = NSLock()
        // Guarded by `lock`.
        private var thread: Thread?

        func put(_ thread: Thread) { lock.withLock { self.thread = thread } }
        func take() -> Thread? { lock.withLock { thread.take() } }
        var isEmpty: Bool { lock.withLock { thread == nil } }
    }
    private let unstarted = Unstarted()

    /// Starts the thread of an on-demand follower (once; nothing for one started at open).
    private func startIfNeeded() {
        unstarted.take()?.start()
    }

    /// Whether the follower thread runs (always, unless opened on demand and not needed yet).
    var isStarted: Bool { unstarted.isEmpty }

    deinit {
        control.condition.lock()
        control.stopping = true
        control.condition.broadcast()
        control.condition.unlock()
    }

    // MARK: Store state reads and lag

    /// How long a read of the store's state may answer later queries: zero for a store in a local
    /// file (a read costs microseconds); ``remoteStateReuse`` for a store across a network, where a
    /// read is a round trip — so a busy replica reads it once per interval, not once per query.
    let stateReuseNanos: UInt64

    /// The reuse window of a remote store's state, in nanoseconds (10 ms): a query's `store_seq`
    /// is then at most this old while the store answers (the follower's own cycles, which every
    /// local write runs, refresh it sooner; see ``statePatienceNanos`` for a store that does not).
    static let remoteStateReuse: UInt64 = 10_000_000

    /// The last state read and when (monotonic uptime, nanoseconds).
    private let lastState = Mutex<(state: StoreState, at: UInt64)?>(nil)

    /// When (monotonic uptime, nanoseconds) the serving index was last known to hold every change
    /// committed before that moment: the time of the latest state read whose seq it had reached.
    /// 0 before the first.
    private let coveredAt = Atomic<UInt64>(0)

    /// Reads the store's state now and keeps it for ``recentState()``.
    private func readState() throws(SearchEngineError) -> (state: StoreState, at: UInt64) {
        let at = DispatchTime.now().uptimeNanoseconds
        let state: StoreState
        do { state = try store.state() } catch { throw SearchEngineError(error) }
        _ = tuningCache.tuning(state.tuning)
        lastState.withLock { kept in
            if let newer = kept, newer.at > at { return }
            kept = (state, at)
        }
        return (state, at)
    }

    /// The seq of the last store state read (by a cycle or a query), nil before the first: what
    /// this process knows of the store without asking it.
    var lastKnownStoreSeq: Int64? { lastState.withLock { $0?.state.seq } }

    /// Drops the kept state: the next query reads the store (after a change of the settings the
    /// state carries).
    func forgetState() { lastState.withLock { $0 = nil } }

    /// How long a query waits for a read of a remote store's state before it answers from the
    /// last state read (the store's ``ChangeFeed/statePatience``, 500 ms by default; a healthy
    /// store answers in about a millisecond). A store that does not answer — a network
    /// partition, a frozen server — thus holds no query for the request timeout: the replica
    /// answers from its index, and the lag in seconds it reports (which only a state read the
    /// index has reached resets) grows, so `max_staleness_ms` refuses it.
    let statePatienceNanos: UInt64

    /// The read of a remote store's state in progress for queries: one at a time per collection.
    private final class StateFlight: @unchecked Sendable {
        let condition = NSCondition()
        // Guarded by `condition`.
        var inFlight = false
        var startedAt: UInt64 = 0
        var ended = 0
    }
    private let stateFlight = StateFlight()

    /// The last state read when it is younger than ``stateReuseNanos``, else a fresh read. For a
    /// remote store that has answered before, the read runs on a thread of its own, one at a time,
    /// and the caller waits for it up to ``statePatienceNanos`` from its start, then takes the last
    /// state read (also when the read fails: the follower's cycle reports the failure).
    private func recentState() throws(SearchEngineError) -> (state: StoreState, at: UInt64) {
        guard stateReuseNanos > 0 else { return try readState() }
        guard let kept = lastState.withLock({ $0 }) else { return try readState() }
        let now = DispatchTime.now().uptimeNanoseconds
        if now &- kept.at < stateReuseNanos { return kept }
        let flight = stateFlight
        flight.condition.lock()
        if !flight.inFlight {
            flight.inFlight = true
            flight.startedAt = now
            // A thread of its own, not a shared pool's: a read that hangs for the request timeout
            // holds no pool thread, and a busy pool does not delay the read past the patience.
            let reader = Thread { [self] in
                _ = try? readState()
                flight.condition.lock()
                flight.inFlight = false
                flight.ended &+= 1
                flight.condition.broadcast()
                flight.condition.unlock()
            }
            reader.name = "quiver-state-read"
            reader.start()
        }
        let ticket = flight.ended
        let deadline = flight.startedAt &+ statePatienceNanos
        while flight.ended == ticket {
            let left = Int64(bitPattern: deadline &- DispatchTime.now().uptimeNanoseconds)
            if left <= 0 { break }
            _ = flight.condition.wait(until: Date(timeIntervalSinceNow: Double(left) / 1e9))
        }
        flight.condition.unlock()
        return lastState.withLock { $0 } ?? kept
    }

    /// The store's state for an answer that must not wait on an unreachable store (a refusal's
    /// message): as a query reads it (see ``recentState()``); the last state read when that
    /// fails.
    func boundedState() -> StoreState? {
        (try? recentState().state) ?? lastState.withLock { $0?.state }
    }

    /// Records that the index holds every change committed before `at` (a state read whose seq it
    /// has reached).
    private func noteCovered(_ at: UInt64) {
        var current = coveredAt.load(ordering: .relaxed)
        while current < at {
            let (exchanged, original) = coveredAt.compareExchange(expected: current, desired: at, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The last cycle's failure, nil when it succeeded.
    var lastCycleFailure: SearchEngineError? {
        control.condition.lock()
        defer { control.condition.unlock() }
        return control.lastFailure
    }

    /// Seconds since the serving index was last known to hold every committed change: every
    /// change committed more than this long ago is searchable. It grows while the store cannot be
    /// read (the follower cannot know what it missed). Nil before the first state read.
    var lagSeconds: Double? {
        let covered = coveredAt.load(ordering: .relaxed)
        guard covered > 0 else { return nil }
        return Double(DispatchTime.now().uptimeNanoseconds &- covered) / 1e9
    }

    // MARK: Callers

    /// The serving generation and a read of the store's state (at most ``stateReuseNanos`` old
    /// while the store answers within ``statePatienceNanos``, else the last read), for one query.
    /// Waits for the first load only; afterwards it never waits for the follower (a change not
    /// applied yet shows as `pending` in the index state) but wakes it when the store is ahead.
    func snapshot() throws(SearchEngineError) -> (ServingGeneration, StoreState) {
        var serving = published.withLock { $0 }
        if serving == nil {
            try sync()
            serving = published.withLock { $0 }
        } else if !firstCycleFinished.load(ordering: .acquiring) {
            // The first cycle publishes the index before its other consumers (the keyword
            // index) have opened: a query arriving in between waits for the cycle's end.
            waitForFirstCycle()
        }
        guard let serving else { throw .storage("collection \(name) has no serving index") }
        let (state, readAt) = try recentState()
        if state.seq > serving.indexedSeq || state.current.generation != serving.record.generation {
            wake()
        } else {
            noteCovered(readAt)
        }
        return (serving, state)
    }

    /// Set once the first cycle has finished (its consumers opened), for the queries' fast path.
    private let firstCycleFinished = Atomic<Bool>(false)

    private func waitForFirstCycle() {
        startIfNeeded()
        let control = self.control
        control.condition.lock()
        while control.finished < 1, !control.exited { control.condition.wait() }
        control.condition.unlock()
    }

    /// The serving generation without a store read, nil before the first load (for cheap checks
    /// on any thread).
    var loaded: ServingGeneration? { published.withLock { $0 } }

    /// Waits until a cycle that started after this call has finished: every change committed
    /// before the call is then applied (and the index checkpointed when `checkpoint` is true).
    ///
    /// - Throws: that cycle's failure, or `storage` when the follower was stopped.
    func sync(checkpoint: Bool = false) throws(SearchEngineError) {
        startIfNeeded()
        let control = self.control
        control.condition.lock()
        defer { control.condition.unlock() }
        guard !control.stopping else { throw .storage("collection \(name) was closed") }
        control.wake = true
        if checkpoint { control.checkpointWanted = true }
        let target = control.started + 1
        control.condition.broadcast()
        while control.finished < target, !control.exited { control.condition.wait() }
        if control.finished < target { throw .storage("collection \(name) was closed") }
        if let failure = control.lastFailure { throw failure }
    }

    /// ``sync(checkpoint:)``, then the serving generation and the store state it covers.
    @discardableResult
    func catchUp() throws(SearchEngineError) -> (ServingGeneration, StoreState) {
        try sync()
        guard let serving = published.withLock({ $0 }) else { throw .storage("collection \(name) has no serving index") }
        do { return (serving, try store.state()) } catch { throw SearchEngineError(error) }
    }

    /// The candidate generation `record` as a serving generation: its index is built from the
    /// store's vectors the first time (seconds for a large collection) and kept, then caught up
    /// with the change feed by each call, so it holds what the store holds for that generation
    /// as of the call. Not checkpointed: a restarted process builds it again.
    func candidate(_ record: GenerationRecord) throws(SearchEngineError) -> ServingGeneration {
        candidateUpdate.lock()
        defer { candidateUpdate.unlock() }
        let epoch = candidateEpoch.load(ordering: .acquiring)
        let seq: Int64
        do { seq = try store.state().seq } catch { throw SearchEngineError(error) }
        if let held = candidateIndex.withLock({ $0 }), held.record.generation == record.generation {
            if held.indexedSeq < seq { _ = try apply(upTo: seq, held) }
            return held
        }
        candidateIndex.withLock { $0 = nil }  // another candidate's: its memory goes before the build
        let index = try rebuild(record, storeSeq: seq)
        let serving = ServingGeneration(record: record, index: index, baseSeq: seq, baseTime: Date().timeIntervalSince1970)
        // Kept only when no promote, discard or fill dropped the candidate meanwhile; the caller
        // gets this answer either way.
        candidateIndex.withLock { held in
            if candidateEpoch.load(ordering: .acquiring) == epoch { held = serving }
        }
        return serving
    }

    /// The held candidate index of `generation` when it already covers `storeSeq`, without
    /// waiting for a build or a catch-up in progress (nil then).
    func heldCandidate(generation: Int64, coveringSeq storeSeq: Int64) -> ServingGeneration? {
        guard let held = candidateIndex.withLock({ $0 }), held.record.generation == generation, held.indexedSeq >= storeSeq else {
            return nil
        }
        return held
    }

    /// Drops the candidate's index (the candidate was promoted, discarded or filled further, or
    /// there is none); a build in progress does not keep its result.
    func dropCandidate() {
        candidateEpoch.add(1, ordering: .acquiringAndReleasing)
        candidateIndex.withLock { $0 = nil }
    }

    /// Asks the follower to run a cycle soon, without waiting.
    func wake() {
        startIfNeeded()
        control.condition.lock()
        control.wake = true
        control.condition.broadcast()
        control.condition.unlock()
    }

    /// When a caller last asked for this collection (seconds since 1970), for closing idle ones.
    let lastUsed = Atomic<Double>(Date().timeIntervalSince1970)

    /// Records a use now.
    func touch() { lastUsed.store(Date().timeIntervalSince1970, ordering: .relaxed) }

    /// Stops the thread after its current cycle and waits for it to exit.
    func stop() {
        verdictCalibrator.cancel()
        let control = self.control
        control.condition.lock()
        // A thread never started never runs: nothing to wait for.
        if unstarted.take() != nil { control.exited = true }
        control.stopping = true
        control.condition.broadcast()
        while !control.exited { control.condition.wait() }
        control.condition.unlock()
        queryLogger.flush(tuningCache.current)
    }

    // MARK: The follower thread

    /// The follower thread's loop: waits for a wake-up, a poll or a stop; runs `cycle` (nil when
    /// the follower is gone) and publishes its outcome to the callers waiting in `sync`.
    private static func run(
        control: Control, name: String, logger: Logger,
        cycle: (_ checkpoint: Bool) -> Result<HNSWIndex?, SearchEngineError>?
    ) {
        var failures = 0
        while true {
            control.condition.lock()
            let wait = failures == 0 ? pollInterval : min(maxBackoff, pollInterval * pow(2, Double(min(failures, 16))))
            let deadline = Date().addingTimeInterval(wait)
            while !control.wake, !control.stopping, control.started > 0 {
                if !control.condition.wait(until: deadline) { break }
            }
            if control.stopping {
                control.exited = true
                control.condition.broadcast()
                control.condition.unlock()
                return
            }
            let explicit = control.wake || control.started == 0
            control.wake = false
            let checkpoint = control.checkpointWanted
            control.checkpointWanted = false
            control.started += 1
            let number = control.started
            control.condition.unlock()

            guard let outcome = cycle(checkpoint) else {
                control.condition.lock()
                control.exited = true
                control.condition.broadcast()
                control.condition.unlock()
                return
            }
            var failure: SearchEngineError?
            var toLoad: HNSWIndex?
            switch outcome {
            case .success(let index): toLoad = index
            case .failure(let error): failure = error
            }
            if let failure {
                failures += 1
                // A persistent fault is logged on the first failure and then every tenth, not
                // every poll.
                if failures == 1 || failures % 10 == 0 || explicit {
                    logger.warning(
                        "index follower cycle failed",
                        metadata: ["collection": "\(name)", "error": "\(failure)", "failures": "\(failures)"])
                }
            } else {
                failures = 0
            }
            control.condition.lock()
            control.finished = number
            control.lastFailure = failure
            control.condition.broadcast()
            control.condition.unlock()
            // After the waiters were released: searches run on the mapped checkpoint already;
            // copied into memory, where a cosine index walks its half-precision copies, they get
            // ~25–40 % faster.
            toLoad?.loadIntoMemory()
        }
    }

    /// One cycle: switch to the store's current generation if it changed (from its checkpoint or
    /// rebuilt), apply every change up to the store's seq, compact when due, checkpoint when asked
    /// or due. Returns a newly loaded index still mapped from its file, to copy into memory.
    private func cycle(checkpoint: Bool) throws(SearchEngineError) -> HNSWIndex? {
        let (firstRead, readAt) = try readState()
        var storeState = firstRead
        let record = storeState.current
        var serving = published.withLock { $0 }
        var loadedMapped = false
        if serving?.record.generation != record.generation {
            // What is loaded or rebuilt now is checked against this state's history (a checkpoint
            // by the timeline it was saved on), and saved with it.
            if let timeline = storeState.timeline { followedTimeline.withLock { $0 = timeline } }
            let loaded = try loadVerified(record, storeSeq: storeState.seq)
            published.withLock { $0 = loaded }
            hitCache.clear()  // another index: what the cache holds may not be in it
            writeCurrentFile(record.generation)
            serving = loaded
            loadedMapped = loaded.index.isMapped
        }
        guard var serving else { throw .storage("collection \(name) has no serving index") }
        if storeState.seq < serving.indexedSeq, let regressed = try storeWentBack(serving) {
            storeState = regressed.state
            serving = regressed.serving
        } else if let forked = try storeForked(storeState, serving) {
            serving = forked
        }
        if let timeline = storeState.timeline { followedTimeline.withLock { $0 = timeline } }
        let applied = try apply(upTo: storeState.seq, serving)
        noteCovered(readAt)
        if directory.needsFill { try fillDirectory() }
        // The second consumer; its failures are its own (see KeywordConsumer). A backlog larger
        // than a cycle's share goes on in the next cycle, run at once.
        if keyword.catchUp(store: store, storeSeq: storeState.seq, maxPages: KeywordConsumer.pagesPerCycle) { wake() }
        local.withLock { $0.changesSinceCheckpoint += applied }
        serving = try compactIfNeeded(serving)
        if checkpoint {
            // Nothing applied since the last checkpoint, which is on disk: nothing to write (a
            // collection closed unchanged costs no index rewrite).
            let clean = local.withLock { $0.changesSinceCheckpoint == 0 && $0.checkpointFailure == nil }
            if !clean || !FileManager.default.fileExists(atPath: files.indexPath(serving.record.generation)) {
                try save(serving)
            }
        } else {
            let (changes, due) = local.withLock { ($0.changesSinceCheckpoint, $0.nextDueCheckpoint) }
            if changes >= Self.checkpointInterval, Date() >= due {
                saveOrDefer(serving)
            }
        }
        return loadedMapped && serving.index.isMapped ? serving.index : nil
    }

    /// When the store's seq is below what the serving index covers — read again, since another
    /// process may have applied changes this cycle's read predates — the store lost changes the
    /// index holds: a restored older store, or a standby promoted without the primary's last
    /// acknowledged writes. Those changes no longer exist, so the index is rebuilt from the store
    /// (the keyword index does the same on its own). Nil when the second read is not behind.
    private func storeWentBack(_ serving: ServingGeneration) throws(SearchEngineError)
        -> (state: StoreState, serving: ServingGeneration)?
    {
        let again: StoreState
        do { again = try store.state() } catch { throw SearchEngineError(error) }
        guard again.seq < serving.indexedSeq, again.current.generation == serving.record.generation else { return nil }
        logger.warning(
            "the store's seq went back below the index's (a restored store, or a promoted standby); rebuilding the index",
            metadata: ["collection": "\(name)", "indexed_seq": "\(serving.indexedSeq)", "store_seq": "\(again.seq)"])
        return (again, try replaceServing(again.current, storeSeq: again.seq))
    }

    /// Rebuilds `record`'s index from the store at `storeSeq`, serves it in place of the current
    /// one (the hit cache emptied: another index) and checkpoints it (or defers that).
    private func replaceServing(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError) -> ServingGeneration {
        let index = try rebuild(record, storeSeq: storeSeq)
        let rebuilt = ServingGeneration(record: record, index: index, baseSeq: storeSeq, baseTime: Date().timeIntervalSince1970)
        published.withLock { $0 = rebuilt }
        hitCache.clear()  // another index: what the cache holds may not be in it
        saveOrDefer(rebuilt)
        return rebuilt
    }

    /// The seq at which the store's history forked on a timeline after `timeline`, when it is
    /// below `seq` (what an index covers, whose changes beyond it may not exist any more); nil
    /// when there was no such fork.
    private func fork(after timeline: Int64, below seq: Int64) throws(SearchEngineError) -> Int64? {
        let fork: Int64?
        do { fork = try store.forkSeq(afterTimeline: timeline) } catch { throw SearchEngineError(error) }
        guard let fork, fork < seq else { return nil }
        return fork
    }

    /// The store's timeline (``StoreState/timeline``) at this follower's last cycle; nil before a
    /// cycle read one (a store without timelines). A checkpoint records it beside itself (a
    /// `TIMELINE` file), so a fork that happened while the process was down is caught at load
    /// (``loadVerified(_:storeSeq:)``).
    private let followedTimeline = Mutex<Int64?>(nil)

    /// The file beside a generation's checkpoint naming the store timeline its changes were read
    /// on (for a store whose history can fork).
    private func timelinePath(_ generation: Int64) -> String {
        files.generationDirectory(generation).appendingPathComponent("TIMELINE").path
    }

    /// The timeline a checkpoint of `generation` was saved on, nil when unknown (no file, or
    /// not a number: then only the seq check runs).
    private func checkpointTimeline(_ generation: Int64) -> Int64? {
        guard let data = FileManager.default.contents(atPath: timelinePath(generation)), data.count <= 32 else { return nil }
        return Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// When the store's history forked since the last cycle — a standby promoted on a new
    /// timeline starting from a seq below what the serving index covers — the index holds changes
    /// of the old primary that may not exist any more, even when new writes have since moved the
    /// store's seq past the index's (where ``storeWentBack(_:)`` cannot see it). Rebuilds the
    /// index, and the keyword index, from the store; nil when there was no such fork.
    private func storeForked(_ state: StoreState, _ serving: ServingGeneration) throws(SearchEngineError) -> ServingGeneration? {
        guard let timeline = state.timeline, let followed = followedTimeline.withLock({ $0 }), followed != timeline,
            state.current.generation == serving.record.generation
        else { return nil }
        guard let fork = try fork(after: followed, below: serving.indexedSeq) else { return nil }
        logger.warning(
            "the store's history forked below the index's seq (a standby promoted without the last writes); rebuilding the index",
            metadata: [
                "collection": "\(name)", "indexed_seq": "\(serving.indexedSeq)", "fork_seq": "\(fork)",
                "timeline": "\(followed) -> \(timeline)",
            ])
        keyword.rebuild(reason: "the store's history forked at seq \(fork)")
        return try replaceServing(state.current, storeSeq: state.seq)
    }

    /// The serving generation of `record`, loaded and checked against the store.
    private func loadVerified(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError) -> ServingGeneration {
        let opened = try load(record, storeSeq: storeSeq)
        guard opened.fromCheckpoint else { return opened.serving }
        // The store's history may have forked below the checkpoint while this process was down
        // (a standby promoted without the last writes, then written past the checkpoint's seq).
        if let saved = checkpointTimeline(record.generation), let fork = try fork(after: saved, below: opened.serving.indexedSeq) {
            logger.warning(
                "the store's history forked below the checkpoint's seq while this process was down; rebuilding the index",
                metadata: [
                    "collection": "\(name)", "checkpoint_seq": "\(opened.serving.indexedSeq)", "fork_seq": "\(fork)",
                    "checkpoint_timeline": "\(saved)",
                ])
            keyword.rebuild(reason: "the store's history forked at seq \(fork)")
            return try rebuiltForLoad(record, storeSeq: storeSeq)
        }
        // A checkpoint passed every check of its own, but it may still belong to another
        // collection or generation (copied or restored into the wrong folder): caught up, it must
        // hold what the store holds.
        _ = try apply(upTo: storeSeq, opened.serving)
        guard let mismatch = try disagreement(opened.serving) else { return opened.serving }
        logger.warning(
            "index file does not match the store; rebuilding",
            metadata: ["path": "\(files.indexPath(record.generation))", "reason": "\(mismatch)"])
        return try rebuiltForLoad(record, storeSeq: storeSeq)
    }

    /// `record`'s index rebuilt from the store at `storeSeq` in place of a checkpoint that cannot
    /// serve, and checkpointed (or that deferred); the caller publishes it.
    private func rebuiltForLoad(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError) -> ServingGeneration {
        let index = try rebuild(record, storeSeq: storeSeq)
        let rebuilt = ServingGeneration(record: record, index: index, baseSeq: storeSeq, baseTime: Date().timeIntervalSince1970)
        saveOrDefer(rebuilt)
        return rebuilt
    }

    /// Removed and replaced nodes still route every search and take memory and file space. Once
    /// they outnumber the live ones (and at least `compactionMinimum`), the index is rebuilt from
    /// its live vectors, swapped in and checkpointed. Searches keep using the old index until the
    /// swap; no change is applied meanwhile (this is the follower's thread).
    private func compactIfNeeded(_ serving: ServingGeneration) throws(SearchEngineError) -> ServingGeneration {
        let index = serving.index
        let removed = index.removedCount
        guard removed >= Self.compactionMinimum, removed > index.count else { return serving }
        let started = Date()
        let fresh: HNSWIndex
        do { fresh = try index.compacted(threads: insertThreads) } catch { throw SearchEngineError(error) }
        let replacement = serving.replacingIndex(fresh)
        published.withLock { $0 = replacement }
        hitCache.clear()  // another index: what the cache holds may not be in it
        logger.info(
            "compacted index",
            metadata: [
                "collection": "\(name)", "generation": "\(serving.record.generation)", "vectors": "\(fresh.count)",
                "reclaimed": "\(removed)", "seconds": "\(Date().timeIntervalSince(started))",
            ])
        saveOrDefer(replacement)
        return replacement
    }

    /// Reads changes after the index's seq from the store and applies them, page by page; returns
    /// how many changes it applied.
    private func apply(upTo storeSeq: Int64, _ serving: ServingGeneration) throws(SearchEngineError) -> Int {
        let index = serving.index
        var covered = serving.indexedSeq
        var count = 0
        while covered < storeSeq {
            let changes: [DocumentChange]
            do {
                changes = try store.changes(
                    after: covered, generation: serving.record.generation,
                    dimensions: serving.record.dimensions, limit: Self.catchUpPage)
            } catch { throw SearchEngineError(error) }
            guard let last = changes.last else { break }
            var labels: [UInt64] = []
            var flat: [Float] = []
            do {
                hitCache.invalidate(changes.lazy.map(\.label))
                directory.record(changes)
                for change in changes {
                    if serving.record.chunking.isOn {
                        try Self.applyPassages(change, to: index, labels: &labels, flat: &flat)
                        continue
                    }
                    let label = UInt64(bitPattern: change.label)
                    if let vector = change.vector, !change.deleted {
                        labels.append(label)
                        flat.append(contentsOf: vector)
                    } else if index.contains(label) {
                        try index.remove(label)
                    }
                }
                if serving.record.chunking.isOn, !serving.hasMultiPassageDocuments,
                    labels.contains(where: { PassageLabel.passage($0) > 0 })
                {
                    serving.noteMultiPassageDocuments()  // before a search can meet the label
                }
                if !labels.isEmpty { try index.add(contentsOf: flat, labels: labels, threads: insertThreads) }
            } catch let error as SearchEngineError {
                throw error
            } catch let error as VectorIndexError {
                throw SearchEngineError(error)
            } catch { throw .index("\(error)") }
            covered = last.seq
            index.coveredSeq = UInt64(bitPattern: covered)
            serving.recordApplied(upTo: covered, at: Date().timeIntervalSince1970)
            count += changes.count
        }
        if covered < storeSeq {
            index.coveredSeq = UInt64(bitPattern: storeSeq)
            serving.recordApplied(upTo: storeSeq, at: Date().timeIntervalSince1970)
        }
        return count
    }

    /// One change of a chunked generation: the document's passages (or its one vector, for a
    /// document given with its own vector) are queued for insertion under passage labels, and
    /// passages it no longer has are removed (a document that shrank from 5 passages to 1, or
    /// was deleted, leaves none behind).
    static func applyPassages(_ change: DocumentChange, to index: HNSWIndex, labels: inout [UInt64], flat: inout [Float]) throws {
        var count = 0
        if !change.deleted {
            if let chunks = change.chunks {
                count = chunks.spans.count
                flat.append(contentsOf: chunks.flat)
            } else if let vector = change.vector {
                count = 1
                flat.append(contentsOf: vector)
            }
        }
        for passage in 0..<count {
            guard let label = PassageLabel.make(change.label, passage) else {
                throw SearchEngineError.index("label \(change.label) passage \(passage) does not fit an index label")
            }
            labels.append(label)
        }
        var passage = count
        while let label = PassageLabel.make(change.label, passage), index.contains(label) {
            try index.remove(label)
            passage += 1
        }
    }

    /// The index labels of a page's rows: one per document, or one per passage in a chunked
    /// generation.
    static func indexLabels(_ page: VectorPage, chunked: Bool) throws(SearchEngineError) -> [UInt64] {
        guard chunked else { return page.labels.map { UInt64(bitPattern: $0) } }
        var labels: [UInt64] = []
        labels.reserveCapacity(page.flat.count)
        for (label, count) in zip(page.labels, page.counts) {
            for passage in 0..<count {
                guard let encoded = PassageLabel.make(label, passage) else {
                    throw .index("label \(label) passage \(passage) does not fit an index label")
                }
                labels.append(encoded)
            }
        }
        return labels
    }

    /// Reads every live document's label and id into `directory` (pages of `catchUpPage`). A
    /// label never changes its id, so changes applied before or after the pages read are right
    /// either way.
    private func fillDirectory() throws(SearchEngineError) {
        var after: Int64 = 0
        var entries: [(label: Int64, id: String)] = []
        while true {
            let page: [(label: Int64, id: String)]
            do { page = try store.liveLabels(afterLabel: after, limit: Self.catchUpPage) } catch { throw SearchEngineError(error) }
            guard let last = page.last else { break }
            entries.append(contentsOf: page)
            after = last.label
        }
        directory.fill(entries)
    }

    /// Why a caught-up index disagrees with the store, or nil when it agrees: its size must be the
    /// store's vector count of the generation, and a sample of the store's vectors (the 32 lowest
    /// labels and four pages spread over the rest) must be in it unchanged (normalized for cosine).
    /// A write committed by another process after the catch-up can only cause an unneeded rebuild.
    func disagreement(_ serving: ServingGeneration) throws(SearchEngineError) -> String? {
        let record = serving.record
        let index = serving.index
        let dimensions = record.dimensions
        do {
            let count = try store.vectorCount(generation: record.generation)
            guard count == index.count else { return "the index holds \(index.count) vectors, the store \(count)" }
            var pages = [try store.vectorPage(generation: record.generation, dimensions: dimensions, afterLabel: 0, limit: 32)]
            if let last = pages[0].labels.last, count > 32 {
                // A fixed spread (so a load is reproducible): four pages between the 32nd label and
                // about the last one.
                // Labels come from the store: a crafted or damaged one must not overflow (a trap).
                let (scaled, overflow) = (last / 32).multipliedReportingOverflow(by: Int64(count))
                let spread = max(last, overflow ? Int64.max : scaled)
                let (span, spanOverflow) = spread.subtractingReportingOverflow(last)
                let stride = spanOverflow ? 0 : span / 5
                for step in 1...4 {
                    // ≤ last + 4/5 of (spread − last): no overflow.
                    let after = last + stride * Int64(step)
                    pages.append(try store.vectorPage(generation: record.generation, dimensions: dimensions, afterLabel: after, limit: 8))
                }
            }
            for page in pages {
                guard let labels = try? Self.indexLabels(page, chunked: record.chunking.isOn) else {
                    return "a page of the store has a label that does not fit the index"
                }
                guard page.flat.count == labels.count * dimensions else { return "a page of the store has a bad vector count" }
                for (i, label) in labels.enumerated() {
                    var expected = Array(page.flat[i * dimensions..<(i + 1) * dimensions])
                    if metric == .cosine {
                        let norm = expected.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                        guard norm > 0, norm.isFinite else { continue }
                        expected = expected.map { $0 / norm }
                    }
                    guard let held = index.vector(for: label) else { return "label \(label) is missing" }
                    if zip(held, expected).contains(where: { abs($0 - $1) > 1e-4 * max(1, abs($1)) }) {
                        return "label \(label) has another vector"
                    }
                }
            }
            return nil
        } catch { throw SearchEngineError(error) }
    }

    func configuration(dimensions: Int) -> HNSWConfiguration {
        HNSWConfiguration(dimension: dimensions, metric: metric, m: settings.hnswM, efConstruction: settings.hnswEfConstruction)
    }

    /// The index of `record`: the checkpoint file if it is sound (every checksum, the structure)
    /// and not ahead of the store, otherwise rebuilt from the store's vectors (and checkpointed).
    /// `fromCheckpoint` says which.
    private func load(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError)
        -> (serving: ServingGeneration, fromCheckpoint: Bool)
    {
        removeStaleTemporaryFiles(in: files.generationDirectory(record.generation))
        removeStaleTemporaryFiles(in: files.directory)
        let path = files.indexPath(record.generation)
        let expected = configuration(dimensions: record.dimensions)
        if FileManager.default.fileExists(atPath: path) {
            do {
                // `.full`: the vectors and base-layer links are checksummed too. They are most of
                // the file, and damage there would not fail a search, only answer it wrongly.
                let index = try HNSWIndex.open(at: path, verification: .full)
                let config = index.configuration
                let covered = Int64(clamping: index.coveredSeq)
                if config.dimension == expected.dimension, config.metric == expected.metric, covered <= storeSeq {
                    let written =
                        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
                        .map { $0.timeIntervalSince1970 } ?? Date().timeIntervalSince1970
                    logger.info(
                        "opened index",
                        metadata: [
                            "collection": "\(name)", "generation": "\(record.generation)",
                            "covered_seq": "\(covered)", "store_seq": "\(storeSeq)",
                        ])
                    return (ServingGeneration(record: record, index: index, baseSeq: covered, baseTime: written), true)
                }
                logger.warning(
                    "index file does not match the store; rebuilding",
                    metadata: ["path": "\(path)", "covered_seq": "\(covered)", "store_seq": "\(storeSeq)"])
            } catch {
                logger.warning("index file unusable; rebuilding", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        let index = try rebuild(record, storeSeq: storeSeq)
        let serving = ServingGeneration(record: record, index: index, baseSeq: storeSeq, baseTime: Date().timeIntervalSince1970)
        saveOrDefer(serving)
        return (serving, false)
    }

    /// A fresh index with every live vector of `record`, covering `storeSeq` (read before the
    /// vectors, so a change committed meanwhile is applied again by the next cycle). Called on the
    /// follower's thread, and by a model change for the generation it is about to switch to.
    func rebuild(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError) -> HNSWIndex {
        let started = Date()
        do {
            let live = try store.counts().live
            let index = try HNSWIndex(configuration: configuration(dimensions: record.dimensions), capacity: max(live, 16))
            var after: Int64 = 0
            while true {
                let page = try store.vectorPage(
                    generation: record.generation, dimensions: record.dimensions,
                    afterLabel: after, limit: Self.catchUpPage)
                guard let last = page.labels.last else { break }
                try index.add(
                    contentsOf: page.flat, labels: try Self.indexLabels(page, chunked: record.chunking.isOn), threads: insertThreads)
                after = last
            }
            index.coveredSeq = UInt64(bitPattern: storeSeq)
            logger.info(
                "rebuilt index",
                metadata: [
                    "collection": "\(name)", "generation": "\(record.generation)", "vectors": "\(index.count)",
                    "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
                ])
            return index
        } catch let error as DocumentStoreError {
            throw SearchEngineError(error)
        } catch let error as VectorIndexError {
            throw SearchEngineError(error)
        } catch {
            throw .index("\(error)")
        }
    }

    /// Deletes `*.tmp-<pid>-<n>` files left by a process killed while writing a checkpoint or
    /// `CURRENT` (only when that process is gone: another live process may be writing one).
    func removeStaleTemporaryFiles(in folder: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names {
            guard let marker = name.range(of: ".tmp-") else { continue }
            let pidText = name[marker.upperBound...].prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            logger.info("removed a temporary file of a dead process", metadata: ["file": "\(name)"])
        }
    }

    /// Writes `serving`'s index to its generation folder (atomically).
    private func save(_ serving: ServingGeneration) throws(SearchEngineError) {
        do throws(SearchEngineError) {
            try Self.save(serving.index, generation: serving.record.generation, files: files)
        } catch {
            local.withLock { $0.checkpointFailure = error.description }
            throw error
        }
        if let timeline = followedTimeline.withLock({ $0 }) {
            // After the index: a crash in between leaves an older timeline (or none), which at
            // worst costs a needless rebuild at the next start, never a missed fork.
            try? AtomicFile.write(Data("\(timeline)\n".utf8), to: timelinePath(serving.record.generation))
        }
        local.withLock {
            $0.changesSinceCheckpoint = 0
            $0.nextDueCheckpoint = .distantPast
            $0.checkpointFailure = nil
        }
    }

    /// ``save(_:)`` where a failure fails nothing: the index serves from memory, every change is
    /// in the store (a restart replays them), and the checkpoint is retried a minute later —
    /// reported meanwhile by ``checkpointFailure`` and the log. (A full disk must not turn every
    /// query into a rebuild that cannot be saved.)
    private func saveOrDefer(_ serving: ServingGeneration) {
        do throws(SearchEngineError) {
            try save(serving)
        } catch {
            local.withLock {
                $0.changesSinceCheckpoint = max($0.changesSinceCheckpoint, Self.checkpointInterval)
                $0.nextDueCheckpoint = Date().addingTimeInterval(Self.checkpointRetryInterval)
            }
            logger.warning(
                "cannot checkpoint the index; serving from memory, retrying later",
                metadata: ["collection": "\(name)", "error": "\(error)"])
        }
    }

    /// Seconds before a failed checkpoint is tried again.
    static let checkpointRetryInterval: TimeInterval = 60

    /// Why the index could not be checkpointed last time (disk full, read-only folder); nil when
    /// the last checkpoint succeeded.
    var checkpointFailure: String? { local.withLock { $0.checkpointFailure } }

    /// Writes `index` as the checkpoint of `generation` (atomically), creating its folder.
    static func save(_ index: HNSWIndex, generation: Int64, files: CollectionFiles) throws(SearchEngineError) {
        let folder = files.generationDirectory(generation)
        // A collection deleted meanwhile (its follower closing) must not get its folder back.
        guard FileManager.default.fileExists(atPath: files.directory.path) else {
            throw .io(path: files.directory.path, reason: "the collection's folder is gone")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try index.save(to: files.indexPath(generation))
        } catch let error as VectorIndexError {
            throw SearchEngineError(error)
        } catch {
            throw .io(path: folder.path, reason: "\(error)")
        }
    }

    /// Replaces `CURRENT` (the generation serving queries, for tools and replicas reading the
    /// folder) atomically. The store's generation table is authoritative; a stale `CURRENT` left
    /// by a crash is rewritten on the next load.
    private func writeCurrentFile(_ generation: Int64) {
        do {
            try AtomicFile.write(Data("\(generation)\n".utf8), to: files.currentFile)
        } catch {
            logger.warning("cannot write CURRENT", metadata: ["collection": "\(name)", "error": "\(error)"])
        }
    }
}

/// The id of every label of a collection, in memory: what a query without payload answers with,
/// instead of a store read per hit. Filled by the follower once the first such query asked for it
/// (until then those queries read ids from the store), then kept up by the change feed. Labels are
/// never reused for another id, so entries are only added (a deleted document's entry stays; the
/// index no longer returns its label).
final class LabelDirectory: Sendable {
    private struct State {
        var wanted = false
        var ready = false
        var ids: [Int64: String] = [:]
    }
    private let state = Mutex(State())

    /// Whether a query asked for ids and the directory is not filled yet.
    var needsFill: Bool { state.withLock { $0.wanted && !$0.ready } }

    /// Adds the ids of `changes` (once someone asked for the directory).
    func record(_ changes: [DocumentChange]) {
        state.withLock { state in
            guard state.wanted else { return }
            for change in changes { state.ids[change.label] = change.id }
        }
    }

    /// Adds `entries` and marks the directory ready.
    func fill(_ entries: [(label: Int64, id: String)]) {
        state.withLock { state in
            state.ids.reserveCapacity(state.ids.count + entries.count)
            for entry in entries { state.ids[entry.label] = entry.id }
            state.ready = true
        }
    }

    /// The ids of `labels` (nil for an unknown label), or nil when the directory is not filled
    /// yet (the call asks for it to be filled).
    func ids(of labels: [Int64]) -> [String?]? {
        state.withLock { state in
            guard state.ready else {
                state.wanted = true
                return nil
            }
            return labels.map { state.ids[$0] }
        }
    }
}
