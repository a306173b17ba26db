import DocumentStore
import Foundation
import Logging
import PostgresStore
import QuiverTestSupport
import Testing

@testable import SearchEngine

/// An engine (8-dimensional external vectors) on the PostgreSQL store `url` with its derived
/// files under `folder`, reading from the standby `readURL` when given.
func postgresEngine(
    on folder: TemporaryDirectory, url: String, readURL: String? = nil, models: [EmbeddingModel] = [.external(dimensions: 8)],
    statePatience: Duration = TestStore.testStatePatience, indexesOnDemand: Bool = false
) throws -> SearchEngine {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return try SearchEngine(
        dataDirectory: folder.url,
        catalog: try PostgresCatalog(
            url: url, readURL: readURL, layout: DataLayout(dataDirectory: folder.url), statePatience: statePatience, logger: logger),
        models: models, indexesOnDemand: indexesOnDemand, logger: logger)
}

/// Another engine on the store of `directory`'s engine, as another machine's process would be:
/// on PostgreSQL with its own data folder `folder`, on SQLite in the same folder.
func engineOnSameStore(
    as directory: TemporaryDirectory, folder: TemporaryDirectory, models: [EmbeddingModel] = [.external(dimensions: 8)],
    indexesOnDemand: Bool = false
) throws -> SearchEngine {
    guard TestStore.isPostgres, let url = try TestStore.url(for: directory.url) else {
        return try makeEngine(directory, models: models, indexesOnDemand: indexesOnDemand)
    }
    return try postgresEngine(on: folder, url: url, models: models, indexesOnDemand: indexesOnDemand)
}

/// Two engines on one store (two data folders on one PostgreSQL database; on SQLite, two engines
/// on one data folder, as two processes would be): each follows the store into its own index.
@Suite("Replicas: read your writes, lag, a store that went back")
struct ReplicaTests {
    /// A second engine on the same store as `directory`'s engine: on PostgreSQL its own data
    /// folder (a replica on another machine), on SQLite the same folder.
    func replica(of directory: TemporaryDirectory, folder: TemporaryDirectory) throws -> SearchEngine {
        try engineOnSameStore(as: directory, folder: folder)
    }

    /// A writer engine and a replica on one store holding collection "c", with their folders
    /// (removed when the pair goes).
    struct Pair {
        let primaryFolder: TemporaryDirectory
        let replicaFolder: TemporaryDirectory
        let writer: SearchEngine
        let reader: SearchEngine
    }

    func pair() throws -> Pair {
        let primaryFolder = try TemporaryDirectory()
        let replicaFolder = try TemporaryDirectory()
        let writer = try makeEngine(primaryFolder)
        try writer.createCollection(CollectionOptions(name: "c"))
        return Pair(
            primaryFolder: primaryFolder, replicaFolder: replicaFolder, writer: writer,
            reader: try replica(of: primaryFolder, folder: replicaFolder))
    }

    @Test("min_seq: a replica answers once its index covers the write, else refuses with its lag; never older data")
    func readYourWrites() throws {
        let pair = try pair()
        let (writer, reader) = (pair.writer, pair.reader)
        var random = SeededVectors(seed: 5)
        _ = try writer.upsert(collection: "c", documents: (0..<20).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) })
        _ = try reader.collection("c").query(QueryRequest(vector: random.vector(8), k: 1))  // opened, caught up
        // A write through the other engine; its seq is what a client passes on.
        let target = random.vector(8)
        let written = try writer.upsert(collection: "c", documents: [DocumentInput(id: "new", vector: target)])
        let answer = try reader.collection("c").query(QueryRequest(vector: target, k: 1, minSeq: written.seq, waitMs: 5_000))
        #expect(answer.results.map(\.id) == ["new"])
        #expect(answer.index.indexedSeq >= written.seq)
        // A seq the store has not reached: refused after the wait, naming the lag.
        let start = Date()
        let refusal = #expect(throws: SearchEngineError.self) {
            try reader.collection("c").query(QueryRequest(vector: target, k: 1, minSeq: written.seq + 5, waitMs: 50))
        }
        let reason = refusal.map { "\($0)" } ?? ""
        #expect(reason.hasPrefix("unavailable:"), "\(reason)")
        #expect(reason.contains("behind min_seq \(written.seq + 5)"), "\(reason)")
        #expect(reason.contains("store_seq \(written.seq)"), "\(reason)")
        #expect(Date().timeIntervalSince(start) >= 0.05)
        // Bad values are refused before any work.
        #expect(throws: SearchEngineError.self) { try reader.collection("c").query(QueryRequest(vector: target, minSeq: -1)) }
        #expect(throws: SearchEngineError.self) {
            try reader.collection("c").query(QueryRequest(vector: target, minSeq: 1, waitMs: QueryRequest.maxWaitMs + 1))
        }
        #expect(throws: SearchEngineError.self) { try reader.collection("c").query(QueryRequest(vector: target, waitMs: 10)) }
    }

    @Test("the hit cache: repeated hits come from memory, and a change applied by the replica is never answered stale")
    func hitCache() throws {
        let pair = try pair()
        let (writer, reader) = (pair.writer, pair.reader)
        var random = SeededVectors(seed: 21)
        let vectors = (0..<20).map { _ in random.vector(8) }
        _ = try writer.upsert(
            collection: "c",
            documents: vectors.enumerated().map { DocumentInput(id: "d\($0.offset)", title: "v1", vector: $0.element) })
        let handle = try reader.collection("c")
        let first = try handle.query(QueryRequest(vector: vectors[0], k: 3, minSeq: 20, waitMs: 5_000))
        #expect(first.results.first?.id == "d0" && first.results.first?.title == "v1")
        let cache = handle.follower.hitCache
        let before = cache.counts.hits
        let again = try handle.query(QueryRequest(vector: vectors[0], k: 3))
        #expect(again.results.map(\.id) == first.results.map(\.id) && again.results.map(\.title) == first.results.map(\.title))
        #expect(cache.counts.hits >= before + 3, "the repeated hits were read from the store again")
        // Text is not cached: such a query reads the store.
        let hitsBeforeText = cache.counts.hits
        let withText = try handle.query(QueryRequest(vector: vectors[0], k: 3, include: [.text]))
        #expect(cache.counts.hits == hitsBeforeText && withText.results.first?.id == "d0")
        // Another process rewrites the top hit and deletes the second: once the replica has
        // applied them, neither answer comes from the cache's old entries.
        let second = try #require(first.results.dropFirst().first?.id)
        _ = try writer.upsert(collection: "c", documents: [DocumentInput(id: "d0", title: "v2", vector: vectors[0])])
        let deleted = try writer.delete(collection: "c", ids: [second])
        let after = try handle.query(QueryRequest(vector: vectors[0], k: 3, minSeq: deleted.seq, waitMs: 5_000))
        #expect(after.results.first?.id == "d0" && after.results.first?.title == "v2")
        #expect(!after.results.map(\.id).contains(second))
        // And the replica's own cache then holds the new version.
        let cached = try handle.query(QueryRequest(vector: vectors[0], k: 3))
        #expect(cached.results.first?.title == "v2" && !cached.results.map(\.id).contains(second))
    }

    /// Holds a follower's thread before its cycles while closed.
    final class CycleGate: Sendable {
        private let condition = NSCondition()
        nonisolated(unsafe) private var closed = false

        func close() { set(true) }
        func open() { set(false) }
        private func set(_ value: Bool) {
            condition.lock()
            closed = value
            condition.broadcast()
            condition.unlock()
        }
        /// Waits while closed.
        func pass() {
            condition.lock()
            while closed { condition.wait() }
            condition.unlock()
        }
    }

    @Test("lag_seconds: every change older than the lag is searchable; max_staleness_ms refuses a replica further behind")
    func boundedStaleness() throws {
        let pair = try pair()
        let (writer, reader) = (pair.writer, pair.reader)
        var random = SeededVectors(seed: 11)
        _ = try writer.upsert(collection: "c", documents: (0..<20).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) })
        let probe = random.vector(8)
        let beforeCaughtUp = Date()
        let caughtUp = try reader.collection("c").query(QueryRequest(vector: probe, k: 1, minSeq: 20, waitMs: 5_000))
        #expect((caughtUp.index.lagSeconds ?? 99) < 0.5)
        // The replica's follower is held back; a write lands in the store meanwhile.
        let gate = CycleGate()
        gate.close()
        defer { gate.open() }
        reader.hooks.beforeFollowerCycle.withLock { $0 = { _ in gate.pass() } }
        Thread.sleep(forTimeInterval: 0.3)  // a cycle in progress finishes; the next one waits
        let written = try writer.upsert(collection: "c", documents: [DocumentInput(id: "late", vector: probe)])
        let writtenAt = Date()
        Thread.sleep(forTimeInterval: 0.4)
        let ageBefore = Date().timeIntervalSince(writtenAt)  // the write is at least this old at the answer
        let behind = try reader.collection("c").query(QueryRequest(vector: probe, k: 1))
        let lag = try #require(behind.index.lagSeconds)
        // Not searchable yet, and the lag says so: at least the write's age, at most the time
        // since the replica last saw itself complete (a state read reused for up to 10 ms, and
        // rounding).
        #expect(behind.results.first?.id != "late" && behind.index.storeSeq >= written.seq)
        #expect(lag >= ageBefore - 0.001, "lag \(lag), write \(ageBefore) s old")  // (lag is rounded to ms)
        #expect(lag <= Date().timeIntervalSince(beforeCaughtUp) + 0.015, "lag \(lag)")
        // A bound the replica cannot meet is refused after the wait, naming the lag; a looser one
        // is answered.
        let refusal = #expect(throws: SearchEngineError.self) {
            try reader.collection("c").query(QueryRequest(vector: probe, k: 1, maxStalenessMs: 200, waitMs: 50))
        }
        let reason = refusal.map { "\($0)" } ?? ""
        #expect(reason.hasPrefix("unavailable:") && reason.contains("beyond max_staleness_ms 200"), "\(reason)")
        let loose = try reader.collection("c").query(QueryRequest(vector: probe, k: 1, maxStalenessMs: 60_000))
        #expect(loose.index.indexedSeq < written.seq)
        // Released: the same bound is met after a catch-up within the wait, with the write.
        gate.open()
        let fresh = try reader.collection("c").query(QueryRequest(vector: probe, k: 1, maxStalenessMs: 200, waitMs: 5_000))
        #expect(fresh.results.first?.id == "late")
        #expect((fresh.index.lagSeconds ?? 99) <= 0.2)
        // Bad values are refused before any work.
        for bad in [-1, QueryRequest.maxStalenessLimitMs + 1] {
            #expect(throws: SearchEngineError.self) { try reader.collection("c").query(QueryRequest(vector: probe, maxStalenessMs: bad)) }
        }
        #expect(throws: SearchEngineError.self) {
            try reader.collection("c").query(QueryRequest(vector: probe, generation: .candidate, maxStalenessMs: 100))
        }
        reader.hooks.beforeFollowerCycle.withLock { $0 = nil }
    }

    /// An asynchronous standby promoted after losing the primary's last acknowledged writes looks,
    /// to a replica, like a store whose seq went back: here the last writes are taken out of the
    /// database by hand (their rows deleted, the counter set back), as the promoted standby would
    /// never have had them. The replica must notice and rebuild rather than serve them.
    @Test(
        "the store's seq goes back (a promoted standby): the replica rebuilds and never serves the lost writes",
        .enabled(if: TestStore.isPostgres, "rewinds a PostgreSQL database by hand"))
    func storeWentBack() throws {
        let pair = try pair()
        let (writer, reader) = (pair.writer, pair.reader)
        var random = SeededVectors(seed: 9)
        let kept = try writer.upsert(collection: "c", documents: (0..<30).map { DocumentInput(id: "k\($0)", vector: random.vector(8)) })
        let lostVector = random.vector(8)
        let lost = try writer.upsert(collection: "c", documents: [DocumentInput(id: "lost", vector: lostVector)])
        let before = try reader.collection("c").query(QueryRequest(vector: lostVector, k: 1, minSeq: lost.seq))
        #expect(before.results.map(\.id) == ["lost"])
        // The failover: the write at `lost.seq` never reached the new primary.
        let url = try #require(try TestStore.url(for: pair.primaryFolder.url))
        let database = try #require(url.split(separator: "/").last.map(String.init))
        try PostgresCluster.shared.get().psql(
            """
            DELETE FROM quiver_documents WHERE id = 'lost';
            UPDATE quiver_collections SET seq = \(kept.seq) WHERE name = 'c';
            """, database: database)
        // The replica's next cycles see the store behind its index and rebuild.
        let deadline = Date().addingTimeInterval(30)
        var answer = try reader.collection("c").query(QueryRequest(vector: lostVector, k: 1))
        while answer.index.indexedSeq != kept.seq || answer.index.vectors != 30, Date() < deadline {
            // Meanwhile no answer carries the lost document: its row is gone from the store.
            #expect(answer.results.first?.id != "lost")
            usleep(20_000)
            answer = try reader.collection("c").query(QueryRequest(vector: lostVector, k: 1))
        }
        #expect(answer.results.first?.id != "lost")
        #expect(answer.index.indexedSeq == kept.seq && answer.index.storeSeq == kept.seq)
        #expect(answer.index.vectors == 30)
        // New writes on the promoted store are followed as usual. (Had they overtaken the lost
        // seq before the replica's next cycle, seq alone could not tell; the timeline does:
        // FailoverTests.forkPastTheReplica.)
        let after = try writer.upsert(collection: "c", documents: [DocumentInput(id: "next", vector: lostVector)])
        let next = try reader.collection("c").query(QueryRequest(vector: lostVector, k: 1, minSeq: after.seq, waitMs: 5_000))
        #expect(next.results.map(\.id) == ["next"])
    }
}

/// A real failover: a primary, an asynchronous streaming standby, a replica following the
/// primary's address.
@Suite("Replicas: a real failover to an asynchronous standby", .enabled(if: TestStore.isPostgres, "starts PostgreSQL clusters of its own"))
struct FailoverTests {
    /// A primary with a database and a streaming standby of it, both started, and a writer
    /// engine on the primary holding collection "c"; the caller destroys it.
    struct StandbyPair {
        let primary: PostgresCluster
        let standby: PostgresCluster
        let url: String
        let database: String
        let writerFolder: TemporaryDirectory
        let replicaFolder: TemporaryDirectory
        let writer: SearchEngine

        func destroy() {
            standby.destroy()
            primary.destroy()
        }
    }

    func standbyPair(_ name: String) throws -> StandbyPair {
        let primary = try PostgresCluster.start(name: "\(name)-primary")
        var standby: PostgresCluster?
        do {
            let url = try primary.createDatabase()
            let started = try primary.startStandby(name: "\(name)-standby")
            standby = started
            let writerFolder = try TemporaryDirectory()
            let writer = try postgresEngine(on: writerFolder, url: url)
            try writer.createCollection(CollectionOptions(name: "c"))
            return StandbyPair(
                primary: primary, standby: started, url: url, database: String(url.split(separator: "/").last ?? ""),
                writerFolder: writerFolder, replicaFolder: try TemporaryDirectory(), writer: writer)
        } catch {
            standby?.destroy()
            primary.destroy()
            throw error
        }
    }

    /// Waits (up to 30 s) until `sql` on `database` of `standby` answers `expected`.
    func awaitStandby(_ standby: PostgresCluster, _ sql: String, database: String, answers expected: String) {
        let deadline = Date().addingTimeInterval(30)
        while (try? standby.psql(sql, database: database))?.trimmingCharacters(in: .whitespacesAndNewlines) != expected,
            Date() < deadline
        {
            usleep(20_000)
        }
    }

    /// `kept` documents the standby replays; then the standby stops receiving (as a lagging
    /// asynchronous standby would) and the primary acknowledges one more ("lost"), which
    /// `replica` serves. Returns the two writes and the lost document's vector.
    func writeOneTheStandbyMisses(_ pair: StandbyPair, replica: SearchEngine, random: inout SeededVectors, kept count: Int = 30) throws
        -> (kept: UpsertResult, lost: UpsertResult, lostVector: [Float])
    {
        let kept = try pair.writer.upsert(
            collection: "c", documents: (0..<count).map { DocumentInput(id: "k\($0)", vector: random.vector(8)) })
        awaitStandby(
            pair.standby, "SELECT seq FROM quiver_collections WHERE name = 'c'", database: pair.database, answers: String(kept.seq))
        try pair.standby.stop(mode: "fast")
        let lostVector = random.vector(8)
        let lost = try pair.writer.upsert(collection: "c", documents: [DocumentInput(id: "lost", vector: lostVector)])
        let served = try replica.collection("c").query(QueryRequest(vector: lostVector, k: 1, minSeq: lost.seq, waitMs: 5_000))
        #expect(served.results.map(\.id) == ["lost"])
        return (kept, lost, lostVector)
    }

    /// The failover: the primary dies (immediate stop), the standby is started, promoted and
    /// moved to the primary's address; then the writer writes `vectors` as n0, n1, … (retried
    /// while the new primary comes up, up to a minute).
    func failOver(_ pair: StandbyPair, thenWrite vectors: [[Float]]) throws -> UpsertResult {
        try pair.primary.stop(mode: "immediate")
        try pair.standby.startServer()
        try pair.standby.promote()
        try pair.standby.restart(listeningOn: pair.primary.port)
        let documents = vectors.enumerated().map { DocumentInput(id: "n\($0.offset)", vector: $0.element) }
        let writable = Date().addingTimeInterval(60)
        var refused: SearchEngineError?
        repeat {
            do {
                return try pair.writer.upsert(collection: "c", documents: documents)
            } catch {
                refused = error
                usleep(100_000)
            }
        } while Date() < writable
        throw refused ?? SearchEngineError.storage("the new primary took no write")
    }

    @Test(
        "the standby promoted without the last acknowledged write: the replica rebuilds, never serves it, follows the new primary",
        .timeLimit(.minutes(10)))
    func promotedStandby() throws {
        let pair = try standbyPair("failover")
        defer { pair.destroy() }
        let (primary, standby, writer) = (pair.primary, pair.standby, pair.writer)
        let replica = try postgresEngine(on: pair.replicaFolder, url: pair.url)
        var random = SeededVectors(seed: 21)
        let (kept, _, lostVector) = try writeOneTheStandbyMisses(pair, replica: replica, random: &random)
        // The primary dies; the standby is promoted and takes over its address.
        try primary.stop(mode: "immediate")
        try standby.startServer()
        try standby.promote()
        try standby.restart(listeningOn: primary.port)
        // The replica reconnects to the address, finds the store behind its index, and rebuilds.
        let rebuiltBy = Date().addingTimeInterval(60)
        var answer: QueryResponse?
        while Date() < rebuiltBy {
            if let response = try? replica.collection("c").query(QueryRequest(vector: lostVector, k: 1)) {
                answer = response
                if response.index.indexedSeq == kept.seq, response.index.vectors == 30 { break }
                #expect(response.results.first?.id != "lost")
            }
            usleep(50_000)
        }
        let final = try #require(answer)
        #expect(final.index.indexedSeq == kept.seq && final.index.storeSeq == kept.seq && final.index.vectors == 30)
        #expect(final.results.first?.id != "lost")
        // Writes to the new primary are followed.
        let next = try writer.upsert(collection: "c", documents: [DocumentInput(id: "next", vector: lostVector)])
        let after = try replica.collection("c").query(QueryRequest(vector: lostVector, k: 1, minSeq: next.seq, waitMs: 10_000))
        #expect(after.results.map(\.id) == ["next"])
    }

    @Test(
        "a fork the seq cannot show: the promoted standby's new writes pass the replica's seq before its next cycle; the timeline does",
        .timeLimit(.minutes(10)))
    func forkPastTheReplica() throws {
        let pair = try standbyPair("fork")
        defer { pair.destroy() }
        let replica = try postgresEngine(on: pair.replicaFolder, url: pair.url)
        var random = SeededVectors(seed: 23)
        let (kept, lost, lostVector) = try writeOneTheStandbyMisses(pair, replica: replica, random: &random)
        // The replica's follower is held while the standby is promoted and takes three writes:
        // the store's seq (kept + 3) is then past the replica's (kept + 1), so the seq alone
        // cannot show that the change at kept + 1 is not the one the replica applied.
        let gate = ReplicaTests.CycleGate()
        gate.close()
        defer { gate.open() }
        replica.hooks.beforeFollowerCycle.withLock { $0 = { _ in gate.pass() } }
        Thread.sleep(forTimeInterval: 0.3)  // a cycle in progress finishes; the next one waits
        let newVectors = (0..<3).map { _ in random.vector(8) }
        let written = try failOver(pair, thenWrite: newVectors)
        #expect(written.seq == kept.seq + 3 && written.seq > lost.seq)
        gate.open()
        // The replica's next cycle sees the new timeline began at kept.seq, below its index: it
        // rebuilds. Afterwards it holds exactly the new primary's 33 documents, "lost" none of them.
        let caughtUp = try replica.collection("c").query(QueryRequest(vector: lostVector, k: 100, minSeq: written.seq, waitMs: 10_000))
        let rebuiltBy = Date().addingTimeInterval(60)
        var answer = caughtUp
        while Set(answer.results.map(\.id)).contains("lost") || answer.results.count != 33
            || answer.index.keywordIndexedSeq != written.seq, Date() < rebuiltBy
        {
            usleep(50_000)
            answer = try replica.collection("c").query(QueryRequest(vector: lostVector, k: 100, minSeq: written.seq, waitMs: 10_000))
        }
        #expect(!answer.results.map(\.id).contains("lost"), "\(answer.results.map(\.id))")
        #expect(Set(answer.results.map(\.id)) == Set((0..<30).map { "k\($0)" } + ["n0", "n1", "n2"]))
        #expect(answer.index.vectors == 33 && answer.index.indexedSeq == written.seq)
        // The keyword index, rebuilt too, covers the new primary's seq.
        #expect(answer.index.keywordIndexedSeq == written.seq)
    }

    @Test(
        "a fork while the replica was down: its checkpoint's timeline shows it at the next start, past the seq the store has reached",
        .timeLimit(.minutes(10)))
    func forkWhileDown() throws {
        let pair = try standbyPair("down")
        defer { pair.destroy() }
        // A hundred documents (so the lost one's label lies outside the pages a checkpoint's
        // spot check compares with the store), then one the standby misses.
        let replica = try postgresEngine(on: pair.replicaFolder, url: pair.url)
        var random = SeededVectors(seed: 29)
        let (kept, lost, lostVector) = try writeOneTheStandbyMisses(pair, replica: replica, random: &random, kept: 100)
        // The replica checkpoints and closes (a server stopped), the failover happens, and the
        // new primary takes three writes: its seq passes the checkpoint's.
        try replica.checkpoint(collection: "c")
        #expect(replica.closeIdleCollections(now: Date().timeIntervalSince1970 + 1e6) == ["c"])
        let newVectors = (0..<3).map { _ in random.vector(8) }
        let written = try failOver(pair, thenWrite: newVectors)
        #expect(written.seq == kept.seq + 3 && written.seq > lost.seq)
        // Started again: the checkpoint was saved on the old timeline, which forked below it. The
        // lost document's label now belongs to n0 (labels are the store's): an index that kept
        // the lost vector would answer n0 for it, and miss n0's own vector.
        let restarted = try postgresEngine(on: pair.replicaFolder, url: pair.url)
        let answer = try restarted.collection("c").query(QueryRequest(vector: lostVector, k: 200, minSeq: written.seq, waitMs: 10_000))
        #expect(Set(answer.results.map(\.id)) == Set((0..<100).map { "k\($0)" } + ["n0", "n1", "n2"]))
        #expect(answer.index.vectors == 103 && answer.index.indexedSeq == written.seq)
        #expect((answer.results.first?.score ?? 1) < 0.999, "the lost vector is still indexed: \(answer.results.prefix(2))")
        for (i, vector) in newVectors.enumerated() {
            let own = try restarted.collection("c").query(QueryRequest(vector: vector, k: 1))
            #expect(own.results.first?.id == "n\(i)" && (own.results.first?.score ?? 0) > 0.999, "n\(i): \(own.results)")
        }
    }

    @Test(
        "--read-store: a replica follows and queries a streaming standby, writes go to the primary; min_seq waits for both",
        .timeLimit(.minutes(10)))
    func readFromStandby() throws {
        let pair = try standbyPair("rs")
        defer { pair.destroy() }
        let (standby, database, writer) = (pair.standby, pair.database, pair.writer)
        // A replica starts once its standby has the collection (before, it would not find it).
        awaitStandby(standby, "SELECT count(*) FROM quiver_collections", database: database, answers: "1")
        let replica = try postgresEngine(on: pair.replicaFolder, url: pair.url, readURL: standby.url(database: database))
        var random = SeededVectors(seed: 33)
        let first = try writer.upsert(collection: "c", documents: (0..<25).map { DocumentInput(id: "d\($0)", vector: random.vector(8)) })
        let probe = random.vector(8)
        // The standby replays the write; the replica's index follows it there.
        let seen = try replica.collection("c").query(QueryRequest(vector: probe, k: 5, minSeq: first.seq, waitMs: 10_000))
        #expect(seen.results.count == 5 && seen.index.indexedSeq >= first.seq)
        // Writes through the replica go to the primary (a standby refuses them) and come back
        // through the standby.
        let written = try replica.upsert(collection: "c", documents: [DocumentInput(id: "via-replica", vector: probe)])
        let back = try replica.collection("c").query(QueryRequest(vector: probe, k: 1, minSeq: written.seq, waitMs: 10_000))
        #expect(back.results.map(\.id) == ["via-replica"])
        // With the standby's replay paused, a min_seq beyond it is refused with the store's own lag.
        try standby.psql("SELECT pg_wal_replay_pause()", database: database)
        let paused = try writer.upsert(collection: "c", documents: [DocumentInput(id: "late", vector: probe)])
        let refusal = #expect(throws: SearchEngineError.self) {
            try replica.collection("c").query(QueryRequest(vector: probe, k: 1, minSeq: paused.seq, waitMs: 100))
        }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("the store itself has not reached min_seq"))
        try standby.psql("SELECT pg_wal_replay_resume()", database: database)
        let resumed = try replica.collection("c").query(QueryRequest(vector: probe, k: 2, minSeq: paused.seq, waitMs: 10_000))
        #expect(Set(resumed.results.map(\.id)) == ["via-replica", "late"])
    }
}

/// A network partition between a replica and its store: PostgreSQL in a network namespace of its
/// own, the writer and the replica each reaching it over a veth link of their own, and the
/// replica's link cut by a blackhole route (the server's packets to the replica dropped without a
/// word, so its connections hang rather than fail).
@Suite(
    "Replicas: a network partition between a replica and its store",
    .enabled(if: TestStore.isPostgres && NetworkNamespace.available, "a PostgreSQL server in a network namespace (root, ip)"))
struct PartitionTests {
    @Test(
        "while partitioned the replica answers from its index at once with a growing lag, refuses max_staleness_ms and min_seq it cannot meet; healed, it catches up",
        .timeLimit(.minutes(10)))
    func partition() throws {
        let network = try NetworkNamespace.create(links: 2)
        defer { network.destroy() }
        let cluster = try PostgresCluster.start(name: "partition", namespace: network.name, addresses: network.links.map(\.peer))
        defer { cluster.destroy() }
        let database = try #require(try cluster.createDatabase(prefix: "partition").split(separator: "/").last.map(String.init))
        let replicaLink = 0
        let writerFolder = try TemporaryDirectory()
        let replicaFolder = try TemporaryDirectory()
        let writer = try postgresEngine(on: writerFolder, url: cluster.url(database: database, host: network.links[1].peer))
        try writer.createCollection(CollectionOptions(name: "c"))
        // The replica waits for the store's state as a server does by default (500 ms).
        let replica = try postgresEngine(
            on: replicaFolder, url: cluster.url(database: database, host: network.links[replicaLink].peer),
            statePatience: .milliseconds(500))
        var random = SeededVectors(seed: 31)
        let before = try writer.upsert(collection: "c", documents: (0..<20).map { DocumentInput(id: "b\($0)", vector: random.vector(8)) })
        let probe = random.vector(8)
        let caughtUp = try replica.collection("c").query(QueryRequest(vector: probe, k: 3, minSeq: before.seq, waitMs: 10_000))
        #expect(caughtUp.results.count == 3 && caughtUp.index.indexedSeq == before.seq)
        #expect((caughtUp.index.lagSeconds ?? 99) < 1)
        // Asked again: its hits now come from the replica's cache, as a popular query's would.
        let warm = try replica.collection("c").query(QueryRequest(vector: probe, k: 3))
        #expect(warm.results.map(\.id) == caughtUp.results.map(\.id))

        // Cut. A write through the writer's link lands in the store meanwhile.
        try network.blackhole(replicaLink, true)
        let cutAt = Date()
        let during = try writer.upsert(collection: "c", documents: [DocumentInput(id: "during", vector: probe)])
        // Every answer comes within a second (no wait for the request timeout, 30 s), from the
        // index as it was, with a lag that grows with the partition.
        var lags: [Double] = []
        while Date().timeIntervalSince(cutAt) < 4 {
            let asked = Date()
            let answer = try replica.collection("c").query(QueryRequest(vector: probe, k: 3))
            let took = Date().timeIntervalSince(asked)
            #expect(took < 1, "a query took \(took) s while partitioned")
            #expect(answer.results.map(\.id) == caughtUp.results.map(\.id))
            #expect(answer.index.indexedSeq == before.seq && answer.index.storeSeq == before.seq)
            let lag = try #require(answer.index.lagSeconds)
            #expect(lag >= Date().timeIntervalSince(cutAt) - 0.3, "lag \(lag) s, partitioned for \(Date().timeIntervalSince(cutAt)) s")
            lags.append(lag)
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(lags.count >= 4 && lags == lags.sorted() && (lags.last ?? 0) >= 3, "lags \(lags)")
        // A bound the replica cannot meet is refused after the wait, never answered from older state.
        let refusing = Date()
        let stale = #expect(throws: SearchEngineError.self) {
            try replica.collection("c").query(QueryRequest(vector: probe, k: 3, maxStalenessMs: 2_000, waitMs: 300))
        }
        #expect("\(stale.map { "\($0)" } ?? "")".contains("beyond max_staleness_ms 2000"))
        let behind = #expect(throws: SearchEngineError.self) {
            try replica.collection("c").query(QueryRequest(vector: probe, k: 3, minSeq: during.seq, waitMs: 300))
        }
        #expect("\(behind.map { "\($0)" } ?? "")".contains("behind min_seq \(during.seq)"))
        #expect(Date().timeIntervalSince(refusing) < 3, "refusals took \(Date().timeIntervalSince(refusing)) s")

        // Healed: the replica catches up (its hung connections resume or are replaced), the
        // write made meanwhile is searchable, and the lag is small again.
        try network.blackhole(replicaLink, false)
        let healedAt = Date()
        let after = try patiently(for: 60) {
            try replica.collection("c").query(QueryRequest(vector: probe, k: 1, minSeq: during.seq, waitMs: 10_000))
        }
        #expect(after.results.map(\.id) == ["during"])
        let fresh = try patiently(for: 60) {
            try replica.collection("c").query(QueryRequest(vector: probe, k: 1, maxStalenessMs: 1_000, waitMs: 10_000))
        }
        #expect(fresh.index.indexedSeq == during.seq && fresh.index.vectors == 21)
        #expect((fresh.index.lagSeconds ?? 99) <= 1)
        // No phantom, no duplicate: exactly the store's documents.
        let all = try replica.collection("c").query(QueryRequest(vector: probe, k: 100))
        #expect(Set(all.results.map(\.id)) == Set((0..<20).map { "b\($0)" } + ["during"]) && all.results.count == 21)
        print("partition: healed and caught up in \(String(format: "%.1f", Date().timeIntervalSince(healedAt))) s")
    }

    /// The answer of `query`, asked again while it is refused for lag (each ask waits at most the
    /// 10 s a request may wait) until `seconds` have passed; the last refusal is rethrown.
    private func patiently(for seconds: Double, _ query: () throws -> QueryResponse) throws -> QueryResponse {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do {
                return try query()
            } catch is SearchEngineError where Date() < deadline {
                continue
            }
        }
    }
}
