import DocumentStore
import Foundation
import Logging
import Synchronization
import VectorIndex

/// One open collection: its store, and the generation serving queries with its index.
///
/// Changes reach the index only through `catchUp`, which reads them from the store by sequence
/// number — after this process's own writes and, at query time, after other processes' writes —
/// so the store stays the single source of truth.
final class CollectionRuntime: Sendable {
    let name: String
    let directory: URL
    let store: DocumentStore
    let settings: CollectionSettings
    let metric: DistanceMetric
    let logger: Logger
    private let state = Mutex<ServingGeneration?>(nil)
    /// Serialises loading, catching up and checkpointing (never held by a plain search).
    let applyLock = NSLock()
    let changesSinceCheckpoint = Atomic<Int>(0)

    /// Changes after which a write triggers a checkpoint of the serving index.
    static let checkpointInterval = 100_000
    /// Removed nodes below which an index is never compacted (see `compactIfNeeded`).
    static let compactionMinimum = 4096
    /// Changes read from the store per catch-up page.
    static let catchUpPage = 20_000

    init(name: String, directory: URL, store: DocumentStore, logger: Logger) throws(SearchEngineError) {
        self.name = name
        self.directory = directory
        self.store = store
        self.logger = logger
        do { settings = try store.settings() } catch { throw SearchEngineError(error) }
        guard let metric = DistanceMetric(name: settings.metric) else {
            throw .storage("collection \(name) has unknown metric \(settings.metric)")
        }
        self.metric = metric
    }

    var indexPathComponent: String { "index.hnsw" }

    func generationDirectory(_ generation: Int64) -> URL {
        directory.appendingPathComponent("generations").appendingPathComponent(String(generation))
    }

    func indexPath(_ generation: Int64) -> String {
        generationDirectory(generation).appendingPathComponent(indexPathComponent).path
    }

    func configuration(dimensions: Int) -> HNSWConfiguration {
        HNSWConfiguration(dimension: dimensions, metric: metric, m: settings.hnswM, efConstruction: settings.hnswEfConstruction)
    }

    /// The serving generation, loaded and caught up with the store, and the store state it was
    /// caught up to. When another thread is already catching up, the current index is returned at
    /// once with a fresh store state (its `pending` says what is not searchable yet).
    func serving() throws(SearchEngineError) -> (ServingGeneration, StoreState) {
        if let current = state.withLock({ $0 }) {
            if applyLock.try() {
                defer { applyLock.unlock() }
                return try catchUpLocked()
            }
            do { return (current, try store.state()) } catch { throw SearchEngineError(error) }
        }
        applyLock.lock()
        defer { applyLock.unlock() }
        return try catchUpLocked()
    }

    /// The model fingerprint of the generation this process serves right now, from memory (no
    /// store read); nil before the first query has loaded a generation.
    var loadedFingerprint: String? {
        state.withLock { $0?.record.modelFingerprint }
    }

    /// The store's current generation, without loading its index (for reads of stored vectors).
    func currentRecord() throws(SearchEngineError) -> GenerationRecord {
        do { return try store.state().current } catch { throw SearchEngineError(error) }
    }

    /// Applies every committed change to the serving index, switching generations if the store's
    /// current generation changed. Waits for a concurrent catch-up.
    @discardableResult
    func catchUp() throws(SearchEngineError) -> (ServingGeneration, StoreState) {
        applyLock.lock()
        defer { applyLock.unlock() }
        return try catchUpLocked()
    }

    private func catchUpLocked() throws(SearchEngineError) -> (ServingGeneration, StoreState) {
        let storeState: StoreState
        do { storeState = try store.state() } catch { throw SearchEngineError(error) }
        let record = storeState.current
        let storeSeq = storeState.seq
        var serving = state.withLock { $0 }
        if serving?.record.generation != record.generation {
            let opened = try load(record, storeSeq: storeSeq)
            var loaded = opened.serving
            if opened.fromCheckpoint {
                // A checkpoint passed every check of its own, but it may still belong to another
                // collection or generation (copied or restored into the wrong folder): caught up,
                // it must hold what the store holds.
                try apply(upTo: storeSeq, loaded)
                if let mismatch = try disagreement(loaded) {
                    logger.warning(
                        "index file does not match the store; rebuilding",
                        metadata: [
                            "path": "\(indexPath(record.generation))", "reason": "\(mismatch)",
                        ])
                    let index = try rebuild(record, storeSeq: storeSeq)
                    loaded = ServingGeneration(record: record, index: index, baseSeq: storeSeq, baseTime: Date().timeIntervalSince1970)
                    try save(loaded)
                }
            }
            state.withLock { $0 = loaded }
            writeCurrentFile(record.generation)
            serving = loaded
            if loaded.index.isMapped {
                // Searches start on the mapped checkpoint at once; meanwhile copy it into memory,
                // where a cosine index walks its half-precision copies (~25–40 % faster searches).
                let index = loaded.index
                DispatchQueue.global(qos: .utility).async { index.loadIntoMemory() }
            }
        }
        guard let serving else { preconditionFailure("serving generation missing after load. This is a bug.") }
        try apply(upTo: storeSeq, serving)
        return (try compactIfNeeded(serving), storeState)
    }

    /// Removed and replaced nodes still route every search and take memory and file space. Once
    /// they outnumber the live ones (and at least `compactionMinimum`), the index is rebuilt from
    /// its live vectors, swapped in and checkpointed. Caller holds `applyLock`, so no change is
    /// applied meanwhile; searches keep using the old index until the swap.
    private func compactIfNeeded(_ serving: ServingGeneration) throws(SearchEngineError) -> ServingGeneration {
        let index = serving.index
        let removed = index.removedCount
        guard removed >= Self.compactionMinimum, removed > index.count else { return serving }
        let started = Date()
        let fresh: HNSWIndex
        do { fresh = try index.compacted(threads: 2) } catch { throw SearchEngineError(error) }
        let replacement = serving.replacingIndex(fresh)
        state.withLock { $0 = replacement }
        logger.info(
            "compacted index",
            metadata: [
                "collection": "\(name)", "generation": "\(serving.record.generation)", "vectors": "\(fresh.count)",
                "reclaimed": "\(removed)", "seconds": "\(Date().timeIntervalSince(started))",
            ])
        try save(replacement)
        return replacement
    }

    /// Reads changes after the index's seq from the store and applies them, page by page.
    private func apply(upTo storeSeq: Int64, _ serving: ServingGeneration) throws(SearchEngineError) {
        let index = serving.index
        var covered = serving.indexedSeq
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
                for change in changes {
                    let label = UInt64(bitPattern: change.label)
                    if let vector = change.vector, !change.deleted {
                        labels.append(label)
                        flat.append(contentsOf: vector)
                    } else if index.contains(label) {
                        try index.remove(label)
                    }
                }
                if !labels.isEmpty { try index.add(contentsOf: flat, labels: labels, threads: 2) }
            } catch { throw SearchEngineError(error) }
            covered = last.seq
            index.coveredSeq = UInt64(bitPattern: covered)
            serving.recordApplied(upTo: covered, at: Date().timeIntervalSince1970)
            changesSinceCheckpoint.add(changes.count, ordering: .relaxed)
        }
        if covered < storeSeq {
            index.coveredSeq = UInt64(bitPattern: storeSeq)
            serving.recordApplied(upTo: storeSeq, at: Date().timeIntervalSince1970)
        }
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
            var pages = [try store.vectors(generation: record.generation, dimensions: dimensions, afterLabel: 0, limit: 32)]
            if let last = pages[0].labels.last, count > 32 {
                // A fixed spread (so a load is reproducible): four pages between the 32nd label and
                // about the last one.
                let spread = max(last, last / 32 * Int64(count))
                for step in 1...4 {
                    let after = last + (spread - last) * Int64(step) / 5
                    pages.append(try store.vectors(generation: record.generation, dimensions: dimensions, afterLabel: after, limit: 8))
                }
            }
            for page in pages {
                for (i, label) in page.labels.enumerated() {
                    var expected = Array(page.flat[i * dimensions..<(i + 1) * dimensions])
                    if metric == .cosine {
                        let norm = expected.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                        guard norm > 0, norm.isFinite else { continue }
                        expected = expected.map { $0 / norm }
                    }
                    guard let held = index.vector(for: UInt64(bitPattern: label)) else { return "label \(label) is missing" }
                    if zip(held, expected).contains(where: { abs($0 - $1) > 1e-4 * max(1, abs($1)) }) {
                        return "label \(label) has another vector"
                    }
                }
            }
            return nil
        } catch { throw SearchEngineError(error) }
    }

    /// The index of `record`: the checkpoint file if it is sound (every checksum, the structure)
    /// and not ahead of the store, otherwise rebuilt from the store's vectors (and checkpointed).
    /// `fromCheckpoint` says which.
    private func load(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError)
        -> (serving: ServingGeneration, fromCheckpoint: Bool)
    {
        removeStaleTemporaryFiles(in: generationDirectory(record.generation))
        removeStaleTemporaryFiles(in: directory)
        let path = indexPath(record.generation)
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
        try save(serving)
        return (serving, false)
    }

    /// A fresh index with every live vector of `record`, covering `storeSeq` (read before the
    /// vectors, so a change committed meanwhile is applied again by the next catch-up).
    func rebuild(_ record: GenerationRecord, storeSeq: Int64) throws(SearchEngineError) -> HNSWIndex {
        let started = Date()
        do {
            let live = try store.counts().live
            let index = try HNSWIndex(configuration: configuration(dimensions: record.dimensions), capacity: max(live, 16))
            var after: Int64 = 0
            while true {
                let page = try store.vectors(
                    generation: record.generation, dimensions: record.dimensions,
                    afterLabel: after, limit: Self.catchUpPage)
                guard let last = page.labels.last else { break }
                try index.add(contentsOf: page.flat, labels: page.labels.map { UInt64(bitPattern: $0) }, threads: 2)
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

    /// Writes the serving index to its generation folder (atomically) if it changed.
    func checkpoint() throws(SearchEngineError) {
        applyLock.lock()
        defer { applyLock.unlock() }
        guard let serving = state.withLock({ $0 }) else { return }
        try save(serving)
    }

    /// Checkpoints when enough changes accumulated since the last one.
    func checkpointIfDue() throws(SearchEngineError) {
        if changesSinceCheckpoint.load(ordering: .relaxed) >= Self.checkpointInterval { try checkpoint() }
    }

    private func save(_ serving: ServingGeneration) throws(SearchEngineError) {
        let folder = generationDirectory(serving.record.generation)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try serving.index.save(to: indexPath(serving.record.generation))
        } catch let error as VectorIndexError {
            throw SearchEngineError(error)
        } catch {
            throw .io(path: folder.path, reason: "\(error)")
        }
        changesSinceCheckpoint.store(0, ordering: .relaxed)
    }

    /// Replaces `CURRENT` (the generation serving queries, for tools and replicas reading the
    /// folder) atomically. The store's generation table is authoritative; a stale `CURRENT` left
    /// by a crash is rewritten on the next load.
    func writeCurrentFile(_ generation: Int64) {
        do {
            try AtomicFile.write(Data("\(generation)\n".utf8), to: directory.appendingPathComponent("CURRENT").path)
        } catch {
            logger.warning("cannot write CURRENT", metadata: ["collection": "\(name)", "error": "\(error)"])
        }
    }
}
