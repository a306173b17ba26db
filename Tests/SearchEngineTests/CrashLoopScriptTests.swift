import Foundation
import Testing

@testable import SearchEngine

/// Keeps `scripts/reliability/crash_loop.sh` working: a short run (3 iterations, 300 documents)
/// through the `quiver` binary built with the tests. `CrashTests` covers kill -9 during inserts and
/// text updates in-process; the script adds `--prune` deletes, mixed vector/text documents and the
/// checks through `export`/`query`/`info`. The long run (ITERATIONS=50) is recorded in RELIABILITY.md.
@Suite("Crash loop script (short)")
struct CrashLoopScriptTests {
    @Test("crash_loop.sh with ITERATIONS=3 passes", .timeLimit(.minutes(10)))
    func shortLoop() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["ITERATIONS"] = "3"
        environment["DOCS"] = "300"
        environment["SEED"] = "7"
        environment["QUIVER"] = try quiverExecutable().path
        environment["MODEL"] = TestModel.folder.path
        let (status, stdout, stderr) = try runProcess(
            URL(fileURLWithPath: "/bin/bash"),
            [packageRoot.appendingPathComponent("scripts/reliability/crash_loop.sh").path], environment: environment)
        #expect(status == 0, "\(stdout)\n\(stderr)")
        let summary = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any], "\(stdout)")
        #expect(object["iterations"] as? Int == 3)
        #expect((object["failures"] as? [Any])?.isEmpty == true, "\(stderr)")
    }
}

/// Keeps `scripts/reliability/http_crash_loop.py` working: `quiver serve` killed with SIGKILL three
/// times under concurrent HTTP upserts, updates and deletes, restarted, and checked (acknowledged
/// writes present with their latest version, deletes stay deleted, no phantoms or duplicates, the
/// index caught up, self-queries). The 50-iteration run is recorded in RELIABILITY.md.
@Suite("HTTP crash loop script (short)")
struct HTTPCrashLoopScriptTests {
    @Test("http_crash_loop.py --quick --iterations 3 passes", .timeLimit(.minutes(10)))
    func shortLoop() throws {
        let (status, stdout, stderr) = try runProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", packageRoot.appendingPathComponent("scripts/reliability/http_crash_loop.py").path,
                "--quick", "--iterations", "3", "--seed", "3",
                "--binary", try quiverExecutable().path, "--model", TestModel.folder.path,
            ])
        #expect(status == 0, "\(stdout)\n\(stderr)")
        let summary = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any], "\(stdout)")
        #expect(object["kills"] as? Int == 3)
        #expect(object["failures"] as? Int == 0, "\(stderr)")
        #expect((object["upserts"] as? Int ?? 0) > 0, "the writers wrote nothing: \(stdout)")
    }
}
