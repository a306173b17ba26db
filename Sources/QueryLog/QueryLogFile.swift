import Crypto
import Foundation
import GRDB

/// How a logged query's text is kept.
public enum QueryTextMode: String, Sendable, Codable, CaseIterable {
    /// As asked.
    case plain
    /// As asked, with e-mail addresses replaced by `[email]` and runs of four or more digits
    /// (order, card, phone and account numbers) by `[number]`.
    case redact
    /// Not at all: only a salted SHA-256 of it, enough to count repeats of one question. No
    /// embedding is kept either (an embedding can give much of a text back).
    case hash
}

/// One answered query, as the log keeps it.
public struct LoggedQuery: Sendable, Equatable {
    /// The id the query's answer carried (`query_id`), which feedback names.
    public var queryID: String
    /// When it was answered (seconds since 1970).
    public var at: Double
    /// The generation that answered.
    public var generation: Int64
    /// `vector`, `keyword` or `hybrid`.
    public var mode: String
    /// The text as kept (``QueryTextMode``): nil in `hash` mode.
    public var text: String?
    /// Equal for equal questions (case and spacing aside): a salted hash of the text.
    public var textKey: String
    /// Documents asked for.
    public var k: Int
    /// The first hits (at most ``QueryLogFile/keptHits``), best first.
    public var hits: [LoggedHit]
    /// The verdict's `answered`, nil when the answer had no verdict.
    public var answered: Bool?
    /// The verdict's confidence.
    public var confidence: Float?
    /// Time to answer, in milliseconds.
    public var latencyMs: Double
    /// The query's embedding (for grouping unanswered questions by topic); nil in `hash` mode and
    /// for queries without one.
    public var vector: [Float]?

    /// A logged query.
    public init(
        queryID: String, at: Double, generation: Int64, mode: String, text: String?, textKey: String, k: Int, hits: [LoggedHit],
        answered: Bool?, confidence: Float?, latencyMs: Double, vector: [Float]?
    ) {
        self.queryID = queryID
        self.at = at
        self.generation = generation
        self.mode = mode
        self.text = text
        self.textKey = textKey
        self.k = k
        self.hits = hits
        self.answered = answered
        self.confidence = confidence
        self.latencyMs = latencyMs
        self.vector = vector
    }
}

/// A hit of a logged query.
public struct LoggedHit: Sendable, Equatable, Codable {
    /// The document id.
    public var id: String
    /// Its score in the answer.
    public var score: Float

    /// A hit.
    public init(id: String, score: Float) {
        self.id = id
        self.score = score
    }
}

/// A user's judgment of one hit of a logged query.
public struct Feedback: Sendable, Equatable {
    /// The query judged.
    public var queryID: String
    /// The document judged.
    public var id: String
    /// Whether it helped.
    public var helpful: Bool
    /// When it was given.
    public var at: Double

    /// A judgment.
    public init(queryID: String, id: String, helpful: Bool, at: Double) {
        self.queryID = queryID
        self.id = id
        self.helpful = helpful
        self.at = at
    }
}

/// One live query answered by the current generation and, as shadow traffic, by the candidate.
public struct ShadowComparison: Sendable, Equatable {
    /// When it was answered.
    public var at: Double
    /// The logged query's id when the query log is on (its feedback judges both lists).
    public var queryID: String?
    /// The generation that answered the user.
    public var currentGeneration: Int64
    /// The candidate generation that answered in the shadow.
    public var candidateGeneration: Int64
    /// The current generation's first hits (at most ``QueryLogFile/keptHits``).
    public var current: [LoggedHit]
    /// The candidate's first hits.
    public var candidate: [LoggedHit]

    /// A comparison.
    public init(
        at: Double, queryID: String?, currentGeneration: Int64, candidateGeneration: Int64, current: [LoggedHit], candidate: [LoggedHit]
    ) {
        self.at = at
        self.queryID = queryID
        self.currentGeneration = currentGeneration
        self.candidateGeneration = candidateGeneration
        self.current = current
        self.candidate = candidate
    }
}

/// Errors of the query log file.
public struct QueryLogError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// An error saying `description`.
    public init(description: String) { self.description = description }
}

/// One collection's query log: a SQLite file of its own beside the collection's index files
/// (never the document store: logging a query must not put a write on the store every replica
/// reads, nor take the store's single writer lock from document writes).
///
/// Tables: `queries` (one row per answered query), `feedback` (the latest judgment per query and
/// document; removed with its query), `shadow` (live queries answered by a candidate generation
/// too) and `meta` (the salt of text keys, made once per file).
public final class QueryLogFile: Sendable {
    /// Hits kept per query.
    public static let keptHits = 10
    /// The path of the file.
    public let path: String
    private let queue: DatabaseQueue
    private let salt: [UInt8]

    /// Opens (creating if missing) the log at `path`.
    public init(path: String) throws(QueryLogError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // Losing the last second of a query log to a power cut is acceptable; an fsync per batch is not needed.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
            salt = try queue.write { db in
                if let stored = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'salt'") { return [UInt8](stored) }
                var made = [UInt8](repeating: 0, count: 16)
                var generator = SystemRandomNumberGenerator()
                for index in made.indices { made[index] = UInt8.random(in: 0...255, using: &generator) }
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('salt', ?)", arguments: [Data(made)])
                return made
            }
        } catch {
            throw QueryLogError(description: "query log \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
                    CREATE TABLE queries (
                        query_id TEXT NOT NULL PRIMARY KEY CHECK (length(query_id) BETWEEN 1 AND 64),
                        at REAL NOT NULL,
                        generation INTEGER NOT NULL,
                        mode TEXT NOT NULL CHECK (mode IN ('vector', 'keyword', 'hybrid')),
                        text TEXT,
                        text_key TEXT NOT NULL,
                        k INTEGER NOT NULL CHECK (k >= 1),
                        hits TEXT NOT NULL CHECK (json_type(hits) = 'array'),
                        answered INTEGER CHECK (answered IN (0, 1)),
                        confidence REAL,
                        latency_ms REAL NOT NULL,
                        vector BLOB CHECK (vector IS NULL OR length(vector) % 4 = 0)
                    ) STRICT;
                    CREATE INDEX queries_at ON queries(at);
                    CREATE TABLE feedback (
                        query_id TEXT NOT NULL REFERENCES queries(query_id) ON DELETE CASCADE,
                        id TEXT NOT NULL,
                        helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
                        at REAL NOT NULL,
                        PRIMARY KEY (query_id, id)
                    ) STRICT;
                    """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    CREATE TABLE shadow (
                        at REAL NOT NULL,
                        query_id TEXT,
                        current_generation INTEGER NOT NULL,
                        candidate_generation INTEGER NOT NULL,
                        current_hits TEXT NOT NULL CHECK (json_type(current_hits) = 'array'),
                        candidate_hits TEXT NOT NULL CHECK (json_type(candidate_hits) = 'array')
                    ) STRICT;
                    CREATE INDEX shadow_at ON shadow(at);
                    """)
        }
        return migrator
    }

    // MARK: Text

    /// What `mode` keeps of `text`, and its key (equal for texts equal but for case and spacing).
    public func kept(_ text: String, mode: QueryTextMode) -> (text: String?, key: String) {
        let normalized = text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        var hasher = SHA256()
        hasher.update(data: salt)
        hasher.update(data: Data(normalized.utf8))
        let key = hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
        switch mode {
        case .plain: return (text, key)
        case .redact: return (Self.redacted(text), key)
        case .hash: return (nil, key)
        }
    }

    /// `text` with e-mail addresses replaced by `[email]` and runs of four or more ASCII digits
    /// by `[number]`.
    public static func redacted(_ text: String) -> String {
        var words: [String] = []
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            // An e-mail address: something@something.something within one word.
            if let at = word.firstIndex(of: "@"), at != word.startIndex, word[word.index(after: at)...].contains(".") {
                words.append("[email]")
                continue
            }
            var out = ""
            var digits = ""
            for character in word {
                if character.isASCII, character.isNumber {
                    digits.append(character)
                    continue
                }
                out += digits.count >= 4 ? "[number]" : digits
                digits = ""
                out.append(character)
            }
            out += digits.count >= 4 ? "[number]" : digits
            words.append(out)
        }
        return words.joined(separator: " ")
    }

    // MARK: Writes

    /// Appends `queries` in one transaction (a query id already logged is left as it was).
    public func append(_ queries: [LoggedQuery]) throws(QueryLogError) {
        guard !queries.isEmpty else { return }
        try write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO queries
                        (query_id, at, generation, mode, text, text_key, k, hits, answered, confidence, latency_ms, vector)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let encoder = JSONEncoder()
            for query in queries {
                let hits = String(decoding: try encoder.encode(Array(query.hits.prefix(Self.keptHits))), as: UTF8.self)
                let vector = query.vector.map { vector in
                    var data = Data(capacity: vector.count * 4)
                    for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                    return data
                }
                try statement.execute(arguments: [
                    query.queryID, query.at, query.generation, query.mode, query.text, query.textKey, query.k, hits,
                    query.answered, query.confidence.map { Double($0) }, query.latencyMs, vector,
                ])
            }
        }
    }

    /// Appends shadow comparisons in one transaction.
    public func append(shadow comparisons: [ShadowComparison]) throws(QueryLogError) {
        guard !comparisons.isEmpty else { return }
        try write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO shadow (at, query_id, current_generation, candidate_generation, current_hits, candidate_hits)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
            let encoder = JSONEncoder()
            for comparison in comparisons {
                let current = String(decoding: try encoder.encode(Array(comparison.current.prefix(Self.keptHits))), as: UTF8.self)
                let candidate = String(decoding: try encoder.encode(Array(comparison.candidate.prefix(Self.keptHits))), as: UTF8.self)
                try statement.execute(arguments: [
                    comparison.at, comparison.queryID, comparison.currentGeneration, comparison.candidateGeneration, current, candidate,
                ])
            }
        }
    }

    /// Shadow comparisons made at or after `since`, oldest first, at most `limit` (the newest).
    public func shadow(since: Double, limit: Int) throws(QueryLogError) -> [ShadowComparison] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM (
                        SELECT at, query_id, current_generation, candidate_generation, current_hits, candidate_hits, rowid
                        FROM shadow WHERE at >= ? ORDER BY at DESC, rowid DESC LIMIT ?)
                    ORDER BY at, rowid
                    """, arguments: [since, max(0, limit)])
            let decoder = JSONDecoder()
            return try rows.map { row in
                let current: String = try row.decode(atIndex: 4)
                let candidate: String = try row.decode(atIndex: 5)
                return ShadowComparison(
                    at: try row.decode(atIndex: 0), queryID: try row.decode(atIndex: 1), currentGeneration: try row.decode(atIndex: 2),
                    candidateGeneration: try row.decode(atIndex: 3),
                    current: (try? decoder.decode([LoggedHit].self, from: Data(current.utf8))) ?? [],
                    candidate: (try? decoder.decode([LoggedHit].self, from: Data(candidate.utf8))) ?? [])
            }
        }
    }

    /// Records a judgment (replacing an earlier one of the same query and document); false when
    /// the query is not in the log (never logged, or past the retention).
    public func addFeedback(_ feedback: Feedback) throws(QueryLogError) -> Bool {
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM queries WHERE query_id = ?", arguments: [feedback.queryID]) != nil else {
                return false
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO feedback (query_id, id, helpful, at) VALUES (?, ?, ?, ?)",
                arguments: [feedback.queryID, feedback.id, feedback.helpful, feedback.at])
            return true
        }
    }

    /// Removes queries older than `before` and, beyond the newest `keep`, the oldest; their
    /// feedback goes with them. Returns the queries removed.
    @discardableResult
    public func prune(before: Double, keep: Int) throws(QueryLogError) -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM queries WHERE at < ?", arguments: [before])
            var removed = db.changesCount
            try db.execute(
                sql: """
                    DELETE FROM queries WHERE rowid IN (
                        SELECT rowid FROM queries ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET ?)
                    """, arguments: [max(0, keep)])
            removed += db.changesCount
            try db.execute(sql: "DELETE FROM shadow WHERE at < ?", arguments: [before])
            try db.execute(
                sql: "DELETE FROM shadow WHERE rowid IN (SELECT rowid FROM shadow ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                arguments: [max(0, keep)])
            return removed
        }
    }

    // MARK: Reads

    /// Queries answered at or after `since`, oldest first, at most `limit` (the newest of them).
    public func queries(since: Double, limit: Int) throws(QueryLogError) -> [LoggedQuery] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM (
                        SELECT query_id, at, generation, mode, text, text_key, k, hits, answered, confidence, latency_ms, vector
                        FROM queries WHERE at >= ? ORDER BY at DESC, rowid DESC LIMIT ?)
                    ORDER BY at, query_id
                    """, arguments: [since, max(0, limit)])
            return try rows.map(Self.query)
        }
    }

    /// The logged query `queryID`, or nil.
    public func query(_ queryID: String) throws(QueryLogError) -> LoggedQuery? {
        try read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT query_id, at, generation, mode, text, text_key, k, hits, answered, confidence, latency_ms, vector
                    FROM queries WHERE query_id = ?
                    """, arguments: [queryID]
            ).map(Self.query)
        }
    }

    /// Every judgment given at or after `since`, oldest first.
    public func feedback(since: Double) throws(QueryLogError) -> [Feedback] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT query_id, id, helpful, at FROM feedback WHERE at >= ? ORDER BY at, query_id, id", arguments: [since]
            )
            .map { row in
                Feedback(
                    queryID: try row.decode(atIndex: 0), id: try row.decode(atIndex: 1), helpful: try row.decode(atIndex: 2),
                    at: try row.decode(atIndex: 3))
            }
        }
    }

    /// Queries in the log.
    public func count() throws(QueryLogError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM queries") ?? 0 }
    }

    private static func query(_ row: Row) throws -> LoggedQuery {
        let hitsText: String = try row.decode(atIndex: 7)
        let hits = (try? JSONDecoder().decode([LoggedHit].self, from: Data(hitsText.utf8))) ?? []
        var vector: [Float]?
        if let data: Data = try row.decode(atIndex: 11) {
            vector = stride(from: 0, to: data.count - data.count % 4, by: 4).map { offset in
                var bits: UInt32 = 0
                for byte in 0..<4 { bits |= UInt32(data[data.startIndex + offset + byte]) << (8 * byte) }
                return Float(bitPattern: bits)
            }
        }
        let confidence: Double? = try row.decode(atIndex: 9)
        return LoggedQuery(
            queryID: try row.decode(atIndex: 0), at: try row.decode(atIndex: 1), generation: try row.decode(atIndex: 2),
            mode: try row.decode(atIndex: 3), text: try row.decode(atIndex: 4), textKey: try row.decode(atIndex: 5),
            k: try row.decode(atIndex: 6), hits: hits, answered: try row.decode(atIndex: 8), confidence: confidence.map(Float.init),
            latencyMs: try row.decode(atIndex: 10), vector: vector)
    }

    private func write<T>(_ body: (Database) throws -> T) throws(QueryLogError) -> T {
        do { return try queue.write(body) } catch { throw QueryLogError(description: "query log \(path): \(error)") }
    }

    private func read<T>(_ body: (Database) throws -> T) throws(QueryLogError) -> T {
        do { return try queue.read(body) } catch { throw QueryLogError(description: "query log \(path): \(error)") }
    }
}
