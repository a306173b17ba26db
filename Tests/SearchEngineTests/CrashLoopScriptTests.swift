import Foundation
import Testing
@testable import SearchEngine

/// Keeps `scripts/reliability/crash_loop.sh` working: a short run (3 iterations, 300 documents)
/// through the `quiver` binary built with the tests. `CrashTests` covers kill -9 during inserts and
/// text updates in-process; the script adds `--prune` deletes, mixed vector/text documents and the
/// checks through `export`/`query`/`info`. The long run (ITERATIONS=50) is recorded in RELIABILITY.md.
@Suite("Crash loop script (short)")
struct CrashLoopScriptTests {
    @Test("crash_loop.sh with ITERATIONS=3 passes", .timeLimit(.minutes(3)))
    func shortLoop() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [packageRoot.appendingPathComponent("scripts/reliability/crash_loop.sh").path]
        var environment = ProcessInfo.processInfo.environment
        environment["ITERATIONS"] = "3"
        environment["DOCS"] = "300"
        environment["SEED"] = "7"
        environment["QUIVER"] = try quiverExecutable().path
        environment["MODEL"] = TestModel.folder.path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stdout = String(decoding: outData, as: UTF8.self)
        let stderr = String(decoding: errData, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stdout)\n\(stderr)")
        let summary = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any], "\(stdout)")
        #expect(object["iterations"] as? Int == 3)
        #expect((object["failures"] as? [Any])?.isEmpty == true, "\(stderr)")
    }
}
