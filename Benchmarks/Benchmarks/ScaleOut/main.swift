// ScaleOut: issue 18's numbers on a PostgreSQL store (BENCHMARKS.md, "PostgreSQL store: workers,
// lag, catch-up"), printed as JSON lines with /proc/loadavg. Vectors are random (bring your own,
// no model): these measure the store and the followers, not the encoder.
//
//   ScaleOut claims --store URL [--docs 20000] [--threads 1,2,4] [--batch 32]
//       Claim-and-commit ceiling with a no-op embedder: `docs` pending documents (a deferred
//       write), then T threads claiming and storing their vectors (each a numbered change) until
//       none is left; batches/s and documents/s per T. The same for a model change's building
//       generation (row-lock claims, vectors not numbered).
//   ScaleOut lag --store URL [--rates 10,50,200] [--seconds 10]
//       Visibility lag: a writer engine writes one document at a time at each rate; right after
//       each commit a reader asks a replica engine (its own data folder) for it with `min_seq` =
//       the write's seq; the time from the commit's return to the replica's answer, p50/p99.
//   ScaleOut catchup --store URL [--count 100000] [--changes 20000]
//       A replica building its index of `count` vectors from the store (first open), following
//       `changes` updates (changes/s), and restarting from its checkpoint.
import DocumentStore
import Foundation
import Logging
import PostgresStore
import SearchEngine
import Synchronization

func arg(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

func loadavg() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3).joined(separator: " ")
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func emit(_ fields: [String: Any]) {
    var fields = fields
    fields["loadavg"] = loadavg()
    if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))

    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}()

let dim = 384
let url = arg("--store", "")
guard !url.isEmpty else { fail("--store postgres://… is required") }
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-scaleout-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: scratch) }

/// A catalog on the store with its derived files under a folder of its own (one "machine").
func catalog(_ machine: String) throws -> PostgresCatalog {
    try PostgresCatalog(url: url, layout: DataLayout(dataDirectory: scratch.appendingPathComponent(machine)), logger: logger)
}

func engine(_ machine: String) throws -> SearchEngine {
    try SearchEngine(
        dataDirectory: scratch.appendingPathComponent(machine), catalog: try catalog(machine),
        models: [.external(id: "random", dimensions: dim)], logger: logger)
}

struct RandomVectors {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float(Double((z ^ (z >> 31)) >> 11) * 0x1.0p-53 * 2 - 1)
    }
    mutating func vector() -> [Float] { (0..<dim).map { _ in next() } }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

func claims() throws {
    let docs = Int(arg("--docs", "20000")) ?? 20_000
    let batch = Int(arg("--batch", "32")) ?? 32
    let threadCounts = arg("--threads", "1,2,4").split(separator: ",").compactMap { Int($0) }
    let catalog = try catalog("claims")
    let constant = [Float](repeating: 0.05, count: dim)
    for kind in ["pending", "building"] {
        for threads in threadCounts {
            let name = "claims-\(kind)-\(threads)"
            _ = try catalog.delete(name)
            let store = try catalog.create(
                CollectionSettings(name: name, metric: "cosine", hnswM: 16, hnswEfConstruction: 200, createdAt: 1),
                firstGeneration: GenerationRecord(
                    generation: 1, modelID: "m", modelFingerprint: "f", dimensions: dim, state: .current, createdAt: 1,
                    completedAt: 1))
            var written = 0
            while written < docs {
                let n = min(1000, docs - written)
                let writes = (0..<n).map { i in
                    DocumentWrite(
                        id: "d\(written + i)", title: nil, text: "document \(written + i)", metadata: nil, updatedAt: 1,
                        contentHash: [UInt8](repeating: 1, count: 32), vector: kind == "pending" ? nil : constant, embeddedAt: 1,
                        pending: kind == "pending")
                }
                _ = try store.apply(generation: 1, writes: writes, deletes: [])
                written += n
            }
            let generation =
                kind == "pending" ? 1 : try store.beginGeneration(modelID: "m2", fingerprint: "f2", dimensions: dim, at: 2).generation
            let seqBefore = try store.state().seq
            let batches = Mutex(0)
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            let start = now()
            for _ in 0..<threads {
                group.enter()
                Thread {
                    defer { group.leave() }
                    var after: Int64 = 0
                    while true {
                        do {
                            let claim = try store.claimStale(generation: generation, afterLabel: after, limit: batch, embeddedAt: 3) {
                                page in
                                page.map {
                                    GenerationVector(
                                        label: $0.label, sourceSeq: $0.seq, contentHash: [UInt8](repeating: 2, count: 32),
                                        vector: constant)
                                }
                            }
                            guard let last = claim.lastLabel else { return }
                            batches.withLock { $0 += 1 }
                            after = last
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                            return
                        }
                    }
                }.start()
            }
            group.wait()
            let seconds = now() - start
            let left = try store.staleCount(generation: generation)
            if !failures.withLock({ $0 }).isEmpty || left != 0 { fail("\(name): \(failures.withLock { $0 }) \(left) left") }
            let count = batches.withLock { $0 }
            emit([
                "mode": "claims", "kind": kind, "threads": threads, "documents": docs, "batch": batch, "seconds": seconds,
                "batches_per_s": Double(count) / seconds, "documents_per_s": Double(docs) / seconds,
                "changes_numbered": try store.state().seq - seqBefore,
            ])
            if arg("--keep", "no") != "yes" { _ = try catalog.delete(name) }
        }
    }
}

func lag() throws {
    let rates = arg("--rates", "10,50,200").split(separator: ",").compactMap { Double($0) }
    let seconds = Double(arg("--seconds", "10")) ?? 10
    let writer = try engine("writer")
    let replica = try engine("replica")
    let name = "lag"
    if writer.hasCollection(name) { _ = try writer.deleteCollection(name) }
    try writer.createCollection(CollectionOptions(name: name))
    var random = RandomVectors(state: 7)
    _ = try writer.upsert(collection: name, documents: [DocumentInput(id: "seed", vector: random.vector())])
    _ = try replica.collection(name).catchUp()
    var written = 0
    for rate in rates {
        let interval = 1 / rate
        var lags: [Double] = []
        var late = 0
        let start = now()
        var next = start
        while now() - start < seconds {
            let vector = random.vector()
            let result = try writer.upsert(collection: name, documents: [DocumentInput(id: "w\(written)", vector: vector)])
            let committed = now()
            written += 1
            let answer = try replica.query(
                collection: name, QueryRequest(vector: vector, k: 1, withPayload: false, minSeq: result.seq, waitMs: 5000))
            lags.append((now() - committed) * 1000)
            if answer.index.indexedSeq < result.seq { fail("answered below min_seq") }
            next += interval
            let pause = next - now()
            if pause > 0 { Thread.sleep(forTimeInterval: pause) } else { late += 1 }
        }
        lags.sort()
        let achieved = Double(lags.count) / (now() - start)
        emit([
            "mode": "lag", "target_writes_per_s": rate, "achieved_writes_per_s": achieved, "writes": lags.count,
            "lag_p50_ms": percentile(lags, 0.5), "lag_p99_ms": percentile(lags, 0.99), "lag_max_ms": lags.last ?? .nan,
            "late_slots": late,
        ])
    }
    _ = try writer.deleteCollection(name)
}

func catchup() throws {
    let count = Int(arg("--count", "100000")) ?? 100_000
    let changes = Int(arg("--changes", "20000")) ?? 20_000
    let writer = try engine("writer")
    let name = "catchup"
    if writer.hasCollection(name) { _ = try writer.deleteCollection(name) }
    try writer.createCollection(CollectionOptions(name: name))
    var random = RandomVectors(state: 11)
    var written = 0
    let t0 = now()
    while written < count {
        let n = min(2000, count - written)
        _ = try writer.upsert(
            collection: name, documents: (0..<n).map { DocumentInput(id: "v\(written + $0)", vector: random.vector()) })
        written += n
    }
    let ingest = now() - t0
    // A new replica: builds its index from the store on first open; then stops (checkpointed).
    func stop(_ engine: SearchEngine) { engine.closeIdleCollections(now: .greatestFiniteMagnitude) }
    let replica = try engine("replica")
    let t1 = now()
    let first = try replica.collection(name).catchUp()
    let build = now() - t1
    stop(replica)
    // A restart with nothing missed: the checkpoint is opened.
    let restarted = try engine("replica")
    let t2 = now()
    _ = try restarted.collection(name).catchUp()
    let restart = now() - t2
    stop(restarted)
    // Updates written while the replica is down, then a restart that reads what it missed.
    var updated = 0
    while updated < changes {
        let n = min(2000, changes - updated)
        _ = try writer.upsert(
            collection: name, documents: (0..<n).map { DocumentInput(id: "v\(updated + $0)", vector: random.vector()) })
        updated += n
    }
    let behind = try engine("replica")
    let t3 = now()
    let caught = try behind.collection(name).catchUp()
    let catchUp = now() - t3
    stop(behind)
    emit([
        "mode": "catchup", "vectors": count, "ingest_s": ingest, "first_open_build_s": build,
        "first_open_vectors_per_s": Double(first.vectors) / build, "restart_s": restart,
        "restart_s_per_million_linear": restart * 1_000_000 / Double(count), "changes": changes,
        "restart_with_changes_s": catchUp, "catch_up_changes_per_s": Double(changes) / max(catchUp - restart, 1e-9),
        "indexed_seq": caught.indexedSeq,
    ])
    _ = try writer.deleteCollection(name)
}

do {
    switch CommandLine.arguments.dropFirst().first {
    case "claims": try claims()
    case "lag": try lag()
    case "catchup": try catchup()
    default: fail("usage: ScaleOut claims|lag|catchup --store postgres://…")
    }
} catch {
    fail("\(error)")
}
