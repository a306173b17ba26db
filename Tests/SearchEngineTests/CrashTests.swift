import Foundation
import Testing
@testable import SearchEngine

@Suite("Crash safety of quiver index")
struct CrashTests {
    struct Run {
        var acknowledgedLine = 0
        var killed = false
        var stdout = ""
        var stderr = ""
    }

    /// Runs `quiver index` and kills it with SIGKILL after `killAfter` seconds (if still running).
    func index(_ file: URL, data: URL, model: URL, killAfter: Double?) throws -> Run {
        let process = Process()
        process.executableURL = try quiverExecutable()
        process.arguments = ["index", file.path, "--collection", "c", "--data", data.path, "--model", model.path, "--batch", "250"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var run = Run()
        if let killAfter {
            let deadline = Date().addingTimeInterval(killAfter)
            while process.isRunning, Date() < deadline { usleep(5_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                run.killed = true
            }
        }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        run.stderr = String(decoding: errData, as: UTF8.self)
        run.stdout = String(decoding: outData, as: UTF8.self)
        for line in run.stderr.split(separator: "\n") where line.hasPrefix("committed through line ") {
            let number = line.dropFirst("committed through line ".count).prefix { $0.isNumber }
            run.acknowledgedLine = max(run.acknowledgedLine, Int(number) ?? 0)
        }
        return run
    }

    @Test("kill -9 at random moments loses no acknowledged document", .timeLimit(.minutes(3)))
    func killDuringIngest() throws {
        let directory = try TemporaryDirectory("quiver-crash")
        let model = try TinyModel.make(seed: 31, in: directory.url)
        let modelFolder = directory.url.appendingPathComponent("tiny-31")
        let data = directory.url.appendingPathComponent("data")
        let file = directory.url.appendingPathComponent("docs.jsonl")
        var random = SeededVectors(seed: 77)
        let count = 20_000
        var vectors: [[Float]] = []
        var jsonl = ""
        for i in 0..<count {
            let vector = random.vector(8)
            vectors.append(vector)
            jsonl += #"{"id":"d\#(i)","text":"t\#(i)","vector":[\#(vector.map { "\($0)" }.joined(separator: ","))]}"# + "\n"
        }
        try jsonl.write(to: file, atomically: true, encoding: .utf8)

        var acknowledged = 0
        var kills = 0
        var generator = SystemRandomNumberGenerator()
        var longest = 0.8
        var runs = 0
        // Four or more runs, each killed at a random moment; a run that finished before its kill
        // halves the longest delay (a fast machine), until three kills happened (at most 8 runs).
        while runs < 8, runs < 4 || kills < 3 {
            runs += 1
            let run = try index(file, data: data, model: modelFolder, killAfter: Double.random(in: 0.02...longest, using: &generator))
            if run.killed {
                kills += 1
            } else {
                #expect(run.stdout.contains("inserted"), "\(run.stderr)")
                longest = max(0.05, longest / 2)
            }
            acknowledged = max(acknowledged, run.acknowledgedLine)
            // Every document of an acknowledged line is present and searchable after the crash.
            let engine = try makeEngine(data, models: [model])
            let exported = Set(try allIDs(engine))
            let (serving, _) = try engine.runtime("c").serving()
            let ids = (0..<acknowledged).map { "d\($0)" }
            let stored = try engine.storedDocuments(engine.runtime("c"), ids: ids, generation: serving.record, withVectors: false)
            var found = 0
            for (i, id) in ids.enumerated() {
                #expect(exported.contains(id), "acknowledged \(id) lost")
                let label = try #require(stored[id]?.label, "acknowledged \(id) lost")
                #expect(serving.index.contains(UInt64(label)), "acknowledged \(id) not in the index")
                let top = try engine.query(collection: "c", QueryRequest(vector: vectors[i], k: 10, ef: 200))
                if top.results.contains(where: { $0.id == id }) { found += 1 }
            }
            // HNSW is approximate (and these are 8-dim random vectors): the own-vector query finds nearly
            // every document; presence in the index is checked exactly above.
            #expect(Double(found) >= Double(acknowledged) * 0.99, "\(found) of \(acknowledged) found by search")
        }
        #expect(kills >= 1, "no run was killed mid-way; the test proved nothing")
        let final = try index(file, data: data, model: modelFolder, killAfter: nil)
        #expect(final.stdout.contains("failed 0"), "\(final.stderr)")
        let engine = try makeEngine(data, models: [model])
        #expect(Set(try allIDs(engine)).count == count)
        // Temporary files of killed runs are gone (removed when a later run loads the generation).
        for folder in ["collections/c", "collections/c/generations/1"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent(folder).path)
            #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
        }
    }

    func allIDs(_ engine: SearchEngine) throws -> [String] {
        var cursor: String?
        var ids: [String] = []
        repeat {
            let page = try engine.exportVectors(collection: "c", cursor: cursor, limit: 10_000)
            ids += page.vectors.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        return ids
    }
}
