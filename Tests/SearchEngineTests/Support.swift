import Foundation
import Logging
import QuiverTestSupport
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

/// Seeded vectors (SplitMix64), reproducible across runs.
struct SeededVectors {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func vector(_ dimensions: Int) -> [Float] {
        (0..<dimensions).map { _ in Float(Double(next() >> 11) * 0x1.0p-53 * 2 - 1) }
    }
}

func makeEngine(_ directory: TemporaryDirectory, models: [EmbeddingModel] = [.external(dimensions: 8)]) throws -> SearchEngine {
    try makeEngine(directory.url, models: models)
}

func makeEngine(_ url: URL, models: [EmbeddingModel] = [.external(dimensions: 8)]) throws -> SearchEngine {
    var logger = Logger(label: "test")
    logger.logLevel = .error
    return try SearchEngine(dataDirectory: url, models: models, logger: logger)
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
    process.arguments = arguments
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
