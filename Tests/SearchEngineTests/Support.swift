import DocumentStore
import Embedder
import Foundation
import Logging
import PostgresStore
import QuiverTestSupport
import Synchronization
import Testing

@testable import SearchEngine

/// A temporary data directory removed at the end of the test.
final class TemporaryDirectory {
    let url: URL
    init(_ prefix: String = "quiver-engine") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

func makeEngine(
    _ directory: TemporaryDirectory, models: [EmbeddingModel] = [.external(dimensions: 8)], indexesOnDemand: Bool = false
) throws -> SearchEngine {
    try makeEngine(directory.url, models: models, indexesOnDemand: indexesOnDemand)
}

func makeEngine(
    _ url: URL, models: [EmbeddingModel] = [.external(dimensions: 8)], calibratesVerdictInBackground: Bool = false,
    logsQueries: Bool = false, indexesOnDemand: Bool = false
) throws -> SearchEngine {
    var logger = Logger(label: "test")
    logger.logLevel = .error
    return try SearchEngine(
        dataDirectory: url, catalog: try TestStore.catalog(for: url, logger: logger), models: models,
        calibratesVerdictInBackground: calibratesVerdictInBackground, logsQueries: logsQueries, indexesOnDemand: indexesOnDemand,
        logger: logger)
}

/// Which store backend the engine suites run on: SQLite by default; with
/// `QUIVER_TEST_STORE=postgres` (a second pass of `make test`), a PostgreSQL database per data
/// directory on the test process's throw-away cluster, so every engine behaviour is checked on
/// both backends. Tests of SQLite files themselves (corruption, backup, crash loops of the CLI on
/// a data folder) are SQLite-only: they carry `.enabled(if: TestStore.isSQLite)`.
enum TestStore {
    static let isPostgres = ProcessInfo.processInfo.environment["QUIVER_TEST_STORE"] == "postgres"
    static let isSQLite = !isPostgres
    private static let databases = Mutex<[String: String]>([:])

    /// The store URL of the data directory `url` (the same database for every engine opened on
    /// it, as a restarted server finds its store again), or nil on SQLite.
    static func url(for directory: URL) throws -> String? {
        guard isPostgres else { return nil }
        let key = directory.standardizedFileURL.path
        if let known = databases.withLock({ $0[key] }) { return known }
        let created = try PostgresCluster.shared.get().createDatabase(prefix: "quiver_engine")
        return databases.withLock { known in
            if let raced = known[key] { return raced }
            known[key] = created
            return created
        }
    }

    /// The catalog engines on `directory` use (nil: the engine's SQLite default). Queries wait
    /// up to 10 s for the store's state, not the default 500 ms: under a full test run on two
    /// cores a state read can take longer, and a test asserting `store_seq` would then see the
    /// last state read instead (`PartitionTests` covers the default).
    static func catalog(for directory: URL, logger: Logger) throws -> (any StoreCatalog)? {
        guard let url = try url(for: directory) else { return nil }
        return try PostgresCatalog(url: url, layout: DataLayout(dataDirectory: directory), statePatience: testStatePatience, logger: logger)
    }

    /// How long test engines on PostgreSQL wait for a collection's state (see ``catalog(for:logger:)``).
    static let testStatePatience: Duration = .seconds(10)

    /// Commands of `quiver` that take `--store`.
    static let storeCommands: Set<String> = [
        "worker", "index", "query", "info", "eval", "export", "promote", "discard", "serve", "settings", "insights", "check",
    ]

    /// `arguments` of a `quiver` command on a data folder, with `--store URL` added on PostgreSQL
    /// (the database of that folder), unchanged otherwise.
    static func withStore(_ arguments: [String], executable: URL) throws -> [String] {
        guard isPostgres, executable.lastPathComponent == "quiver", let command = arguments.first, storeCommands.contains(command),
            let at = arguments.firstIndex(of: "--data"), at + 1 < arguments.count, !arguments.contains("--store")
        else { return arguments }
        guard let url = try url(for: URL(fileURLWithPath: arguments[at + 1])) else { return arguments }
        return arguments + ["--store", url]
    }
}

/// The package root.
let packageRoot = TestPaths.packageRoot

/// The default model (`TestPaths.modelFolder`). A missing model is a failure (run `make setup`),
/// not a skip.
enum TestModel {
    static let folder = TestPaths.modelFolder

    static let shared: Result<EmbeddingModel, SearchEngineError> = Result { () throws(SearchEngineError) in
        try EmbeddingModel.load(folder: folder)
    }
}

/// The `quiver` executable built with the tests (it sits next to the test bundle).
func quiverExecutable() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("quiver"),
        Bundle.main.bundleURL.appendingPathComponent("quiver"),
        packageRoot.appendingPathComponent(".build/release/quiver"),
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
    }
    return found
}

/// Runs `executable` with `arguments` to completion and returns its exit status and output.
/// Both pipes are drained at once (standard output on a thread of its own), so a child writing
/// more than a pipe's buffer to either never blocks.
func runProcess(
    _ executable: URL, _ arguments: [String], environment: [String: String]? = nil
) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = try TestStore.withStore(arguments, executable: executable)
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let drained = DispatchSemaphore(value: 0)
    let reader = out.fileHandleForReading
    Thread {
        outBox.data = reader.readDataToEndOfFile()
        drained.signal()
    }.start()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outBox.data, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Cosine similarity of two vectors.
func cosine(_ a: [Float], _ b: [Float]) -> Float {
    var dot: Float = 0
    var na: Float = 0
    var nb: Float = 0
    for (x, y) in zip(a, b) {
        dot += x * y
        na += x * x
        nb += y * y
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

/// Queries collection "c" by text on a thread of its own (the engine's calls block, and the
/// cooperative pool may be busy with other suites' blocking tests) until told to stop and
/// generation `until` has answered, checking that every hit's score is the cosine between the query
/// and the document under the one model the answer names: a generation switch meanwhile must never
/// mix two models' vectors in one answer.
final class ModelCheckingReader: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let answered = Atomic<Int>(0)
    private let outcome = Mutex<Result<[Int64], any Error>>(.success([]))
    private let finished = DispatchSemaphore(value: 0)

    /// Starts reading. `embedders` by model fingerprint; `text(id, generation)` is the text a hit's
    /// document had in that generation.
    init(
        engine: SearchEngine, embedders: [String: Embedder], until generation: Int64,
        text: @escaping @Sendable (String, Int64) -> String?
    ) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            var generations: [Int64] = []
            var n = 0
            let deadline = Date().addingTimeInterval(60)
            do {
                while !stopping.load(ordering: .relaxed) || generations.last != generation {
                    let query = TinyModel.text(n * 13 + 5, words: 4)
                    n += 1
                    let response = try engine.query(collection: "c", QueryRequest(text: query, k: 5, ef: 100, mode: .vector))
                    answered.add(1, ordering: .relaxed)
                    generations.append(response.index.generation)
                    guard let embedder = embedders[response.model.fingerprint] else {
                        Issue.record("an answer from unknown model \(response.model.fingerprint)")
                        break
                    }
                    let q = try embedder.embed(query)
                    for hit in response.results {
                        #expect(hit.freshness?.model == response.model)
                        let d = try embedder.embed(text(hit.id, response.index.generation) ?? "")
                        #expect(abs(hit.score - cosine(q, d)) < 1e-4, "generation \(response.index.generation) mixed models")
                    }
                    if Date() > deadline { break }
                }
                outcome.withLock { $0 = .success(generations) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
        }
        thread.start()
    }

    /// Waits until `count` queries were answered.
    func waitForAnswers(_ count: Int) {
        while answered.load(ordering: .relaxed) < count { usleep(1000) }
    }

    /// Stops reading (after generation `until` answered) and returns the generations seen, in order.
    func stop() throws -> [Int64] {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        return try outcome.withLock { $0 }.get()
    }
}

/// The index label of a document's first (or only) vector in `serving`: the document label, or
/// its first passage's label in a chunked generation.
func firstIndexLabel(_ label: Int64, in serving: ServingGeneration) -> UInt64 {
    serving.record.chunking.isOn ? PassageLabel.make(label, 0) ?? 0 : UInt64(bitPattern: label)
}

extension IndexState {
    /// This state without `lag_seconds`, which moves with the clock between two answers.
    var withoutLag: IndexState {
        var state = self
        state.lagSeconds = nil
        return state
    }
}
