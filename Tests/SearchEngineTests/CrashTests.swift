import DocumentStore
import Foundation
import QuiverTestSupport
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
    /// `quiver index FILE` (or, with no file, `quiver index --candidate`), killed after
    /// `killAfter` seconds when still running.
    func index(_ file: URL?, data: URL, model: URL, killAfter: Double?) throws -> Run {
        let process = Process()
        process.executableURL = try quiverExecutable()
        process.arguments = try TestStore.withStore(
            ["index"] + (file.map { [$0.path] } ?? ["--candidate"])
                + ["--collection", "c", "--data", data.path, "--model", model.path, "--batch", "250"],
            executable: try quiverExecutable())
        let out = Pipe()
        let err = Pipe()
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

    @Test("kill -9 at random moments loses no acknowledged document", .timeLimit(.minutes(10)))
    func killDuringIngest() throws {
        let directory = try TemporaryDirectory("quiver-crash")
        let model = try TinyModel.make(seed: 31, in: directory.url)
        let modelFolder = directory.url.appendingPathComponent("tiny-31")
        let data = directory.url.appendingPathComponent("data")
        let file = directory.url.appendingPathComponent("docs.jsonl")
        var random = SeededVectors(seed: 77)
        let count = 20_000
        var vectors: [[Float]] = []
        for _ in 0..<count { vectors.append(random.vector(8)) }
        /// Round `round` changes every text, so each run has all 20,000 documents to write.
        func writeInput(round: Int) throws {
            var jsonl = ""
            for (i, vector) in vectors.enumerated() {
                jsonl += #"{"id":"d\#(i)","text":"t\#(i) r\#(round)","vector":[\#(vector.map { "\($0)" }.joined(separator: ","))]}"# + "\n"
            }
            try jsonl.write(to: file, atomically: true, encoding: .utf8)
        }
        // Calibrate: how long one full run takes here, so kills land mid-run on fast and slow machines.
        try writeInput(round: 0)
        let started = Date()
        _ = try index(file, data: directory.url.appendingPathComponent("calibration"), model: modelFolder, killAfter: nil)
        let fullRun = max(0.05, Date().timeIntervalSince(started))

        var acknowledged = 0
        var kills = 0
        var generator = SystemRandomNumberGenerator()
        // The calibration may have run while other suites loaded the machine: a run that finished
        // before its kill becomes the new measure, and rounds go on (up to 8) until one is killed.
        var shortest = fullRun
        for round in 1...8 where round <= 4 || kills == 0 {
            try writeInput(round: round)
            let killAfter = shortest * Double.random(in: 0.15...0.85, using: &generator)
            let runStarted = Date()
            let run = try index(file, data: data, model: modelFolder, killAfter: killAfter)
            if run.killed {
                kills += 1
            } else {
                #expect(run.stdout.contains("inserted"), "\(run.stderr)")
                shortest = min(shortest, max(0.05, Date().timeIntervalSince(runStarted)))
            }
            acknowledged = max(acknowledged, run.acknowledgedLine)
            // Every document of an acknowledged line is present and searchable after the crash.
            let engine = try makeEngine(data, models: [model])
            let exported = Set(try allIDs(engine))
            let (serving, _) = try engine.runtime("c").snapshot()
            let ids = (0..<acknowledged).map { "d\($0)" }
            let stored = try engine.storedDocuments(engine.runtime("c"), ids: ids, generation: serving.record, withVectors: false)
            var found = 0
            for (i, id) in ids.enumerated() {
                #expect(exported.contains(id), "acknowledged \(id) lost")
                let label = try #require(stored[id]?.label, "acknowledged \(id) lost")
                #expect(serving.index.contains(firstIndexLabel(label, in: serving)), "acknowledged \(id) not in the index")
                let top = try engine.query(collection: "c", QueryRequest(vector: vectors[i], k: 10, ef: 200))
                if top.results.contains(where: { $0.id == id }) { found += 1 }
            }
            // HNSW is approximate (and these are 8-dim random vectors): the own-vector query finds nearly
            // every document; presence in the index is checked exactly above.
            #expect(Double(found) >= Double(acknowledged) * 0.99, "\(found) of \(acknowledged) found by search")
            // The keyword index, written page by page by the killed runs too, holds every
            // acknowledged document (its own word `t<i>` finds it first, exactly) and covers the store.
            let handle = try engine.collection("c")
            // A backlog is applied a few pages per follower cycle: wait until it is all in.
            let deadline = Date().addingTimeInterval(60)
            while try handle.info().index.keywordIndexedSeq != handle.info().index.storeSeq, Date() < deadline { usleep(10_000) }
            for i in stride(from: 0, to: acknowledged, by: 7) {
                let top = try handle.query(QueryRequest(text: "t\(i)", k: 1, mode: .keyword))
                #expect(top.results.first?.id == "d\(i)", "acknowledged d\(i) not in the keyword index")
                #expect(top.index.keywordIndexedSeq == top.index.storeSeq)
            }
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

    @Test(
        "kill -9 mid-way through chunked documents: each is whole (all its passages or none), acknowledged ones are the round's",
        .timeLimit(.minutes(10)))
    func killDuringChunkedIngest() throws {
        let directory = try TemporaryDirectory("quiver-crash")
        let model = try TinyModel.make(seed: 51, in: directory.url)
        let modelFolder = directory.url.appendingPathComponent("tiny-51")
        let data = directory.url.appendingPathComponent("data")
        let file = directory.url.appendingPathComponent("docs.jsonl")
        let count = 3_000
        /// Round `round`'s text of document `i`: 2–11 sentences of six word pieces (the tiny
        /// model's window is 32), so documents grow and shrink between 1 and 3 passages.
        func text(_ i: Int, round: Int) -> String {
            let sentences = 2 + (i * 7 + round * 3) % 10
            return (0..<sentences).map { TinyModel.text(i * 31 + round * 17 + $0, words: 5) + "." }.joined(separator: " ")
        }
        func writeInput(round: Int) throws {
            var jsonl = ""
            for i in 0..<count { jsonl += #"{"id":"d\#(i)","text":"\#(text(i, round: round))"}"# + "\n" }
            try jsonl.write(to: file, atomically: true, encoding: .utf8)
        }
        try writeInput(round: 0)
        let started = Date()
        _ = try index(file, data: directory.url.appendingPathComponent("calibration"), model: modelFolder, killAfter: nil)
        var shortest = max(0.05, Date().timeIntervalSince(started))
        var kills = 0
        var generator = SystemRandomNumberGenerator()
        for round in 1...6 where round <= 3 || kills == 0 {
            try writeInput(round: round)
            let runStarted = Date()
            let run = try index(
                file, data: data, model: modelFolder, killAfter: shortest * Double.random(in: 0.15...0.85, using: &generator))
            if run.killed { kills += 1 } else { shortest = min(shortest, max(0.05, Date().timeIntervalSince(runStarted))) }
            let engine = try makeEngine(data, models: [model])
            let handle = try engine.collection("c")
            let (serving, _) = try engine.runtime("c").snapshot()
            #expect(serving.record.chunking.isOn)
            let ids = (0..<count).map { "d\($0)" }
            let stored = try engine.storedDocuments(engine.runtime("c"), ids: ids, generation: serving.record, withVectors: false)
            let passages = try handle.vectors(ids: ids, chunks: true).vectors
            var byID: [String: [VectorsResponse.PassageVector]] = [:]
            for item in passages { byID[item.id] = item.chunks ?? [] }
            var partial = 0
            for (i, id) in ids.enumerated() {
                guard let document = stored[id], let chunks = byID[id] else { continue }
                // Whole: the index holds exactly the stored passages of the stored text.
                let scalars = (document.text ?? "").unicodeScalars.count
                if chunks.isEmpty || chunks.contains(where: { $0.end > scalars }) { partial += 1 }
                for p in 0...chunks.count {
                    let label = try #require(PassageLabel.make(document.label, p))
                    if serving.index.contains(label) != (p < chunks.count) { partial += 1 }
                }
                // Acknowledged (committed before the kill): this round's text.
                if i < run.acknowledgedLine { #expect(document.text == text(i, round: round), "acknowledged \(id) is not this round's") }
            }
            #expect(partial == 0, "\(partial) documents with passages that do not match their text or the index")
            // The check had something to check: stored documents of several passages.
            #expect(byID.values.contains { $0.count >= 3 } && byID.count >= min(count, run.acknowledgedLine))
        }
        #expect(kills >= 1, "no run was killed mid-way; the test proved nothing")
    }

    /// Two tiny models and collection "c" of 20,000 short documents (`docs.jsonl`) indexed with
    /// the first by `quiver index`.
    func collectionOnModelA(_ directory: TemporaryDirectory) throws -> (
        modelA: EmbeddingModel, modelB: EmbeddingModel, folderA: URL, folderB: URL, data: URL, file: URL, count: Int
    ) {
        let modelA = try TinyModel.make(seed: 41, in: directory.url)
        let modelB = try TinyModel.make(seed: 42, in: directory.url)
        let folderA = directory.url.appendingPathComponent("tiny-41")
        let folderB = directory.url.appendingPathComponent("tiny-42")
        let data = directory.url.appendingPathComponent("data")
        let file = directory.url.appendingPathComponent("docs.jsonl")
        let count = 20_000
        try (0..<count).map { #"{"id":"d\#($0)","text":"text number \#($0) of the collection"}"# }
            .joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        let first = try index(file, data: data, model: folderA, killAfter: nil)
        #expect(first.stdout.contains("failed 0"), "\(first.stderr)")
        return (modelA, modelB, folderA, folderB, data, file, count)
    }

    /// Kills per run of ``killDuringGenerationSwitch``: 6 in CI; `QUIVER_GENERATION_KILLS=50` for
    /// the long run recorded in RELIABILITY.md.
    static let generationKills =
        ProcessInfo.processInfo.environment["QUIVER_GENERATION_KILLS"].flatMap { Int($0) }
        .map { max(1, min($0, 500)) } ?? 6

    @Test(
        "kill -9 during a model change: the collection serves one whole generation, never a mix",
        .timeLimit(.minutes(30)))
    func killDuringGenerationSwitch() throws {
        let directory = try TemporaryDirectory("quiver-crash-generation")
        let (modelA, modelB, folderA, folderB, data, file, count) = try collectionOnModelA(directory)

        // Calibrate the model change (re-embedding every document into generation 2, then the switch)
        // on a copy, so kills land before, during and after it.
        let calibration = directory.url.appendingPathComponent("calibration")
        try FileManager.default.copyItem(at: data, to: calibration)
        let started = Date()
        _ = try index(file, data: calibration, model: folderB, killAfter: nil)
        let fullRun = max(0.05, Date().timeIntervalSince(started))

        var kills = 0
        var switches = 0
        var serving = modelA.fingerprint
        var generator = SystemRandomNumberGenerator()
        var round = 0
        while round < Self.generationKills {
            round += 1
            // Every run asks for the model that is not serving, so every run is a model change.
            let (folder, target) = serving == modelA.fingerprint ? (folderB, modelB) : (folderA, modelA)
            let run = try index(file, data: data, model: folder, killAfter: fullRun * Double.random(in: 0.1...1.1, using: &generator))
            if run.killed { kills += 1 }
            // Opened with both models: whichever generation is current, every document has a vector
            // of that generation's model and no other, and it is the old model or the new one.
            let engine = try makeEngine(data, models: [modelA, modelB])
            let (ids, models, now) = try exported(engine)
            #expect(ids.count == count, "documents lost or unembedded in the serving generation")
            #expect(models.count == 1 && models.first == now, "mixed models: \(models)")
            #expect(now == serving || now == target.fingerprint, "serving neither the old nor the new model")
            if now != serving { switches += 1 }
            serving = now
            let info = try engine.collectionInfo("c")
            #expect(info.index.pending == 0 && info.index.indexedSeq == info.index.storeSeq)
        }
        print("generation-switch kills: \(kills) of \(round) runs killed, \(switches) switches completed")
        #expect(kills >= 1, "no run was killed mid-way; the test proved nothing")
        let (lastFolder, last) = serving == modelA.fingerprint ? (folderB, modelB) : (folderA, modelA)
        let final = try index(file, data: data, model: lastFolder, killAfter: nil)
        #expect(final.stdout.contains("failed 0"), "\(final.stderr)")
        let engine = try makeEngine(data, models: [modelA, modelB])
        let page = try engine.exportVectors(collection: "c", cursor: nil, limit: 10_000)
        #expect(page.model.fingerprint == last.fingerprint, "the model change did not complete")
    }

    @Test(
        "kill -9 during a candidate build: the current generation serves every document untouched; the build resumes and promotes whole",
        .timeLimit(.minutes(10)), .enabled(if: TestStore.isSQLite, "its calibration run works on a copy of the SQLite data folder"))
    func killDuringCandidateBuild() throws {
        let directory = try TemporaryDirectory("quiver-crash-candidate")
        let (modelA, modelB, _, folderB, data, _, count) = try collectionOnModelA(directory)
        let calibration = directory.url.appendingPathComponent("calibration")
        try FileManager.default.copyItem(at: data, to: calibration)
        let started = Date()
        let calibrated = try index(nil, data: calibration, model: folderB, killAfter: nil)
        #expect(calibrated.stdout.contains("candidate generation 2"), "\(calibrated.stdout) \(calibrated.stderr)")
        let fullRun = max(0.05, Date().timeIntervalSince(started))

        var kills = 0
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            // Early in the calibrated time: each killed run leaves less to build, and a loaded
            // machine (other suites beside this one) makes the calibration run slower than these.
            let run = try index(nil, data: data, model: folderB, killAfter: fullRun * Double.random(in: 0.05...0.4, using: &generator))
            if run.killed { kills += 1 }
            // The current generation is untouched: every document, model A only, nothing pending.
            let engine = try makeEngine(data, models: [modelA, modelB])
            let (ids, models, _) = try exported(engine)
            #expect(ids.count == count && models == [modelA.fingerprint], "\(ids.count) documents, models \(models)")
            let info = try engine.collectionInfo("c")
            #expect(info.model.fingerprint == modelA.fingerprint && info.index.pending == 0)
        }
        #expect(kills >= 1, "no run was killed mid-way; the test proved nothing")
        // Resumed to the end, then promoted: every document has a model B vector.
        let final = try index(nil, data: data, model: folderB, killAfter: nil)
        #expect(final.stdout.contains("ready"), "\(final.stdout) \(final.stderr)")
        let engine = try makeEngine(data, models: [modelB, modelA])
        #expect(try engine.collection("c").candidate()?.pending == 0)
        #expect(try engine.collection("c").promoteCandidate() == 2)
        let (ids, models, _) = try exported(engine)
        #expect(models == [modelB.fingerprint])
        #expect(ids.count == count)
    }

    /// Every exported vector of collection "c": the distinct ids, the models that made them, and
    /// the serving model's fingerprint.
    func exported(_ engine: SearchEngine) throws -> (ids: Set<String>, models: Set<String>, serving: String) {
        var cursor: String?
        var ids = Set<String>()
        var models = Set<String>()
        var serving = ""
        repeat {
            let page = try engine.exportVectors(collection: "c", cursor: cursor, limit: 10_000)
            serving = page.model.fingerprint
            models.formUnion(page.vectors.map(\.model))
            ids.formUnion(page.vectors.map(\.id))
            cursor = page.nextCursor
        } while cursor != nil
        return (ids, models, serving)
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

    @Test(
        "kill -9 while the index follower catches up, compacts and checkpoints: the next open serves the store exactly",
        .timeLimit(.minutes(10)))
    func killDuringFollowerWork() throws {
        let directory = try TemporaryDirectory("quiver-crash-follower")
        let data = directory.url.appendingPathComponent("data")
        let indexFile = data.appendingPathComponent("collections/c/generations/1/index.hnsw")
        let staleCopy = directory.url.appendingPathComponent("stale.hnsw")
        var random = SeededVectors(seed: 41)
        let count = 5_000
        var vectors = (0..<count).map { _ in random.vector(8) }
        do {
            let engine = try makeEngine(data)
            try engine.createCollection(CollectionOptions(name: "c"))
            func write(_ range: Range<Int>) throws {
                for i in range { vectors[i] = random.vector(8) }
                _ = try engine.upsert(collection: "c", documents: range.map { DocumentInput(id: "d\($0)", vector: vectors[$0]) })
            }
            _ = try engine.upsert(collection: "c", documents: (0..<count).map { DocumentInput(id: "d\($0)", vector: vectors[$0]) })
            // 4,000 replaced nodes beside 5,000 live ones: not compacted yet, checkpointed.
            try write(0..<4_000)
            try engine.checkpoint(collection: "c")
            try FileManager.default.copyItem(at: indexFile, to: staleCopy)
            // Every vector changes after the checkpoint: a process opening it applies 5,000
            // changes, which leaves 9,000 replaced nodes, compacts and checkpoints the result.
            try write(0..<count)
        }
        func restoreStaleCheckpoint() throws {
            try? FileManager.default.removeItem(at: indexFile)
            try FileManager.default.copyItem(at: staleCopy, to: indexFile)
        }
        /// `quiver info` opens the collection: its follower loads the stale checkpoint, catches up,
        /// compacts and checkpoints before the command prints.
        func openInChild(killAfter: Double?) throws -> (killed: Bool, log: String) {
            let process = Process()
            process.executableURL = try quiverExecutable()
            process.arguments = try TestStore.withStore(["info", "--data", data.path, "--verbose"], executable: try quiverExecutable())
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            var killed = false
            if let killAfter {
                let deadline = Date().addingTimeInterval(killAfter)
                while process.isRunning, Date() < deadline { usleep(2_000) }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    killed = true
                }
            }
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if !killed { #expect(process.terminationStatus == 0, "\(log)") }
            return (killed, log)
        }

        try restoreStaleCheckpoint()
        let started = Date()
        let calibration = try openInChild(killAfter: nil)
        let fullRun = max(0.05, Date().timeIntervalSince(started))
        #expect(calibration.log.contains("compacted index"), "the child did not compact: \(calibration.log)")

        var kills = 0
        var phases: Set<String> = []
        // As above: a run that finished before its kill (the calibration ran on a loaded machine)
        // becomes the new measure; extra fractions run until three kills landed.
        var shortest = fullRun
        let fractions = [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.3, 0.45, 0.6, 0.75]
        for (attempt, fraction) in fractions.enumerated() where attempt < 6 || kills < 3 {
            try restoreStaleCheckpoint()
            let runStarted = Date()
            let run = try openInChild(killAfter: shortest * fraction)
            if !run.killed { shortest = min(shortest, max(0.05, Date().timeIntervalSince(runStarted))) }
            if run.killed {
                kills += 1
                phases.insert(
                    run.log.contains("compacted index")
                        ? "checkpoint" : run.log.contains("opened index") ? "catch-up or compaction" : "start")
            }
            // Whatever the child left (the stale checkpoint, a half-written temporary file, or the
            // compacted checkpoint), a new process serves exactly the store's documents.
            let engine = try makeEngine(data)
            let state = try engine.catchUp(collection: "c")
            #expect(state.pending == 0 && state.vectors == count)
            var found = 0
            for i in stride(from: 0, to: count, by: 15) {
                let top = try engine.query(collection: "c", QueryRequest(vector: vectors[i], k: 1, ef: 200))
                if top.results.first?.id == "d\(i)" { found += 1 }
            }
            #expect(found >= count / 15 * 98 / 100, "\(found) of \(count / 15) found first after a kill at \(fraction)")
            let names = try FileManager.default.contentsOfDirectory(atPath: indexFile.deletingLastPathComponent().path)
            #expect(!names.contains { $0.contains(".tmp-") }, "temporary files left after reopening: \(names)")
        }
        #expect(kills >= 3, "only \(kills) runs were killed mid-way (a full run took \(fullRun) s)")
        #expect(phases.contains("catch-up or compaction"), "no kill landed in the follower's work: \(phases)")
    }

    /// Runs `quiver ARGUMENTS` (a worker) and kills it with SIGKILL 0.1 s after its first
    /// "embedded" progress line (a batch committed, the next one in the middle); returns whether
    /// it was still running then, and what it printed on standard error.
    func killAfterFirstBatch(_ arguments: [String]) throws -> (killed: Bool, output: String) {
        let process = Process()
        process.executableURL = try quiverExecutable()
        process.arguments = try TestStore.withStore(arguments, executable: try quiverExecutable())
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var text = ""
        }
        let lines = Lines()
        let reader = err.fileHandleForReading
        Thread {
            while case let chunk = reader.availableData, !chunk.isEmpty {
                lines.lock.withLock { lines.text += String(decoding: chunk, as: UTF8.self) }
            }
        }.start()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning, Date() < deadline, !lines.lock.withLock({ lines.text.contains("embedded") }) { usleep(2_000) }
        usleep(100_000)
        let killed = process.isRunning
        if killed { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (killed, lines.lock.withLock { lines.text })
    }

    @Test(
        "kill -9 of a worker embedding deferred writes mid-batch: nothing lost; another completes them, each vector a change",
        .timeLimit(.minutes(10)))
    func killDeferredWorker() throws {
        let directory = try TemporaryDirectory("quiver-crash-deferred")
        let model = try TinyModel.make(seed: 43, in: directory.url)
        let folder = directory.url.appendingPathComponent("tiny-43")
        let data = directory.url.appendingPathComponent("data")
        let file = directory.url.appendingPathComponent("docs.jsonl")
        let count = 20_000
        try (0..<count).map { #"{"id":"d\#($0)","text":"text number \#($0) of the collection"}"# }
            .joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8)
        let stored = try runProcess(
            try quiverExecutable(),
            ["index", file.path, "-c", "c", "--data", data.path, "--model", folder.path, "--batch", "1000", "--defer-embedding"])
        #expect(stored.stdout.contains("deferred \(count)"), "\(stored.stdout) \(stored.stderr)")
        // A replica with the collection open before any vector exists.
        let replica = try makeEngine(data, models: [model])
        #expect(try replica.collection("c").catchUp().vectors == 0)
        let arguments = ["worker", "--collection", "c", "--data", data.path, "--model", folder.path, "--once", "--batch-size", "500"]
        let first = try killAfterFirstBatch(arguments)
        #expect(first.killed, "the worker finished before it could be killed: \(first.output)")
        let store = try makeEngine(data, models: [model]).collection("c").store
        let left = try store.staleCount(generation: 1)
        #expect(left > 0 && left < count, "killed with \(left) of \(count) documents left")
        let second = try runProcess(try quiverExecutable(), arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try store.staleCount(generation: 1) == 0)
        #expect(try store.vectorCount(generation: 1) == count)
        // Every vector reached the feed as a change: each document once, with its vector, and the
        // seqs end at the store's.
        var changes: [DocumentChange] = []
        var after: Int64 = 0
        while case let page = try store.changes(after: after, generation: 1, dimensions: model.dimensions, limit: 5000),
            let last = page.last
        {
            changes += page
            after = last.seq
        }
        #expect(changes.count == count && changes.allSatisfy { $0.vector != nil })
        #expect(after == (try store.state().seq))
        // The replica indexes them all from the feed, and a document's vector is its text's.
        let state = try replica.collection("c").catchUp()
        #expect(state.vectors == count && state.indexedSeq == after)
        let embedder = try #require(model.embedder)
        let stored1234 = try #require(try replica.vectors(collection: "c", ids: ["d1234"]).vectors.first?.vector)
        #expect(stored1234 == (try embedder.embed("text number 1234 of the collection")))
    }

    @Test(
        "kill -9 of an embedding worker mid-batch: nothing lost; another worker completes the change, a vector for every document",
        .timeLimit(.minutes(10)))
    func killWorker() throws {
        let directory = try TemporaryDirectory("quiver-crash-worker")
        let (_, modelB, _, folderB, data, _, count) = try collectionOnModelA(directory)
        // The model change is started here (as POST …/generations would) and left to workers.
        let generation = try {
            let engine = try makeEngine(data, models: [modelB])
            return try #require(try engine.beginModelChange(collection: "c")).generation
        }()
        let arguments = ["worker", "--collection", "c", "--data", data.path, "--model", folderB.path, "--once", "--batch-size", "500"]
        // The first worker is killed once it has committed a batch, in the middle of another.
        let first = try killAfterFirstBatch(arguments)
        #expect(first.killed, "the worker finished before it could be killed: \(first.output)")
        let store = try makeEngine(data, models: [modelB]).collection("c").store
        let left = try store.staleCount(generation: generation)
        #expect(left > 0 && left < count, "killed with \(left) of \(count) documents left")
        #expect(try store.generations().first(where: { $0.generation == generation })?.state == .building)
        // A second worker takes over: the killed one's claim was rolled back with its connection.
        let second = try runProcess(try quiverExecutable(), arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("generation \(generation) complete and switched in"), "\(second.stdout)")
        // Every document has exactly one vector in the new generation (one row per document and
        // generation), and the collection serves it.
        #expect(try store.staleCount(generation: generation) == 0)
        #expect(try store.vectorCount(generation: generation) == count)
        #expect(try store.generations().map(\.state) == [.previous, .current])
        // The collection serves the new generation, and a document's vector is model B's embedding
        // of its text. (Not a text query for it: none of these texts' words is among the tiny
        // model's 24, so every document's vector is the same, and hybrid would need the keyword
        // index, which a just-opened engine may still be catching up.)
        let engine = try makeEngine(data, models: [modelB])
        let embedderB = try #require(modelB.embedder)
        let text = "text number 1234 of the collection"
        let answer = try engine.query(collection: "c", QueryRequest(vector: try embedderB.embed(text), k: 1))
        #expect(answer.index.generation == generation && answer.model.fingerprint == modelB.fingerprint)
        let stored = try engine.vectors(collection: "c", ids: ["d1234"])
        let vector = try #require(stored.vectors.first?.vector)
        let expected = try embedderB.embed(text)
        #expect(stored.vectors.first?.model == modelB.fingerprint)
        #expect(zip(vector, expected).reduce(Float(0)) { $0 + $1.0 * $1.1 } > 0.9999)
    }

    @Test("quiver worker: a collection it cannot work on is reported, the others are completed, --once exits non-zero")
    func workerReportsFailures() throws {
        let directory = try TemporaryDirectory("quiver-worker-failures")
        let modelA = try TinyModel.make(seed: 51, in: directory.url)
        let modelB = try TinyModel.make(seed: 52, in: directory.url)
        let modelC = try TinyModel.make(seed: 53, in: directory.url)
        let data = directory.url.appendingPathComponent("data")
        do {
            let engine = try makeEngine(data, models: [modelA, modelB, modelC])
            for name in ["first", "second"] {
                try engine.createCollection(CollectionOptions(name: name, model: modelA.id))
                _ = try engine.upsert(
                    collection: name, documents: (0..<50).map { DocumentInput(id: "d\($0)", text: TinyModel.text($0)) })
            }
            // "first" moves to B (the worker has it), "second" to C (it does not).
            _ = try engine.collection("first").beginModelChange(modelID: modelB.id)
            _ = try engine.collection("second").beginModelChange(modelID: modelC.id)
        }
        let folderB = directory.url.appendingPathComponent("tiny-52")
        let run = try runProcess(
            try quiverExecutable(), ["worker", "--data", data.path, "--model", folderB.path, "--once", "--batch-size", "16"])
        #expect(run.status != 0)
        #expect(run.stdout.contains("first: generation 2 complete and switched in"), "\(run.stdout) \(run.stderr)")
        #expect(run.stderr.contains("second:") && run.stderr.contains("failed on second"), "\(run.stderr)")
        let engine = try makeEngine(data, models: [modelA, modelB, modelC])
        #expect(try engine.collection("first").store.state().current.modelFingerprint == modelB.fingerprint)
        #expect(try engine.collection("second").store.state().current.modelFingerprint == modelA.fingerprint)
    }
}
