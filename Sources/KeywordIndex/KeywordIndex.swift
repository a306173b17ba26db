import Foundation
import GRDB
import Synchronization

/// A keyword (BM25) index of one collection's documents on SQLite FTS5: like the HNSW index, a
/// file derived from the store's change feed, rebuildable from it at any time.
///
/// The file holds one FTS5 table (`title`, `text`; rowid = the document's label) and the store
/// sequence it covers. Changes are applied a page at a time, each page and its covered seq in one
/// transaction, so the file always says exactly which changes it holds: a crash loses at most the
/// pages after the last commit, which the next catch-up reads again. `synchronous = NORMAL`
/// (WAL): a power loss may roll back the last pages, never tear them.
///
/// Ranking is FTS5's `bm25()` with the title weighted ``titleWeight`` times the text; the query
/// is the text's words OR-ed (see ``matchExpression(for:)``), so a query's words need not all
/// occur. Tokenizer and weights were chosen by measurement (docs/ARCHITECTURE.md, "Keyword index").
///
/// The ranking runs in memory (``KeywordPostings``: the same bm25 arithmetic over postings built
/// with FTS5's own tokenizer), loaded from the file when it is opened and kept up to date by
/// ``apply(_:coveredSeq:)``; the file is what a restart loads, and it answers the rare query
/// word FTS5's tokenizer does not read as exactly one token (it is then a phrase). The memory
/// index has its own covered seq, which is what ``coveredSeq()`` reports: when another process
/// following the same store has moved the file ahead, this one still applies every change to its
/// memory (the file skips what it holds).
///
/// Reads run concurrently with the follower's writes (a reader-writer lock in memory; WAL
/// snapshots in the file).
public final class KeywordIndex: Sendable {
    /// The file.
    public let path: String
    let pool: DatabasePool
    let memory = KeywordPostings()

    /// The FTS5 tokenizer: Unicode words, diacritics folded, Porter-stemmed (English).
    public static let tokenizer = "porter unicode61 remove_diacritics 2"
    /// bm25 weight of the title column (the text's is 1).
    public static let titleWeight = 2.0
    /// Layout version: a file written with another version, tokenizer or weight is rebuilt.
    static let formatVersion = 1
    /// Most distinct words of a query sent to the index.
    public static let maxQueryTerms = 64
    /// ``tokenizer`` for FTS5's tokenizer API.
    static let tokenizerDescriptor = FTS5TokenizerDescriptor(components: tokenizer.split(separator: " ").map(String.init))

    /// Opens (creating if needed) the index at `path`. A file of another format or tokenizer is
    /// emptied (its covered seq becomes 0, so the follower rebuilds it).
    ///
    /// - Throws: `KeywordIndexError.damaged` when the file is not a usable index (the caller
    ///   deletes it with ``remove(at:)`` and opens a fresh one), `.io` when it cannot be opened.
    public init(path: String) throws(KeywordIndexError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.label = "quiver.keyword"
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw Self.classify(error, path: path)
        }
        do {
            let ok = try pool.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") }
            guard ok == "ok" else { throw KeywordIndexError.damaged(path: path, reason: "quick_check: \(ok ?? "no answer")") }
            try pool.write { db in
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                let format = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'format'")
                let wanted = Self.formatDescription
                if format != wanted {
                    try db.execute(sql: "DROP TABLE IF EXISTS terms")
                    try db.execute(sql: "DELETE FROM meta")
                    try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('format', ?), ('covered_seq', '0')", arguments: [wanted])
                }
                try db.execute(
                    sql: "CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(title, text, tokenize = '\(Self.tokenizer)')")
            }
            try load()
        } catch let error as KeywordIndexError {
            throw error
        } catch {
            throw Self.classify(error, path: path)
        }
    }

    static var formatDescription: String { "v\(formatVersion) tokenize=\(tokenizer) title=\(titleWeight)" }

    /// Deletes the index file and its WAL and shared-memory files.
    public static func remove(at path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// Builds the memory index from the file: every document tokenized again, in one read
    /// transaction with the seq the file covers.
    private func load() throws {
        let (covered, documents) = try pool.read { db in
            let covered = Self.readCovered(db)
            let tokenizer = try db.makeTokenizer(Self.tokenizerDescriptor)
            var documents: [(label: Int64, document: TokenizedDocument?)] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT rowid, title, text FROM terms")
            while let row = try rows.next() {
                let label: Int64 = row[0]
                let title: String = row[1] ?? ""
                let text: String = row[2] ?? ""
                documents.append((label, try Self.tokenize(label: label, title: title, text: text, tokenizer)))
            }
            return (covered, documents)
        }
        memory.reset()
        memory.apply(documents, coveredSeq: covered)
    }

    /// `title` and `text` as the FTS5 table counts them: each token's frequency weighted by its
    /// column, and the token count.
    static func tokenize(label: Int64, title: String, text: String, _ tokenizer: any FTS5Tokenizer) throws -> TokenizedDocument {
        var frequencies: [String: Float] = [:]
        var length: Int32 = 0
        for (column, weight) in [(title, Float(titleWeight)), (text, 1)] {
            try forEachToken(of: column, .document, tokenizer) { token in
                frequencies[token, default: 0] += weight
                length &+= 1
            }
        }
        return TokenizedDocument(label: label, length: length, terms: frequencies.map { ($0.key, $0.value) })
    }

    /// Calls `body` with each token FTS5's `tokenizer` emits for `text` (colocated tokens, which
    /// FTS5 does not count, are skipped). GRDB's `tokenize(document:)` builds a `Data` and an array
    /// per token; this reads them straight from the callback.
    static func forEachToken(
        of text: String, _ tokenization: FTS5Tokenization, _ tokenizer: any FTS5Tokenizer, _ body: (String) -> Void
    ) throws {
        var text = text
        let code = withoutActuallyEscaping(body) { body in
            let sink = TokenSink(body)
            return text.withUTF8 { bytes -> CInt in
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
                guard bytes.count <= Int(CInt.max) else { return 18 }  // SQLITE_TOOBIG
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { pText in
                    tokenizer.tokenize(
                        context: Unmanaged.passUnretained(sink).toOpaque(), tokenization: tokenization, pText: pText,
                        nText: CInt(bytes.count),
                        tokenCallback: { context, flags, pToken, nToken, _, _ in
                            // FTS5_TOKEN_COLOCATED: a synonym at the previous token's position.
                            guard let context, let pToken, nToken >= 0, flags & 1 == 0 else { return 0 }
                            let sink = Unmanaged<TokenSink>.fromOpaque(context).takeUnretainedValue()
                            sink.body(
                                String(decoding: UnsafeRawBufferPointer(start: pToken, count: Int(nToken)), as: UTF8.self))
                            return 0
                        })
                }
            }
        }
        guard code == 0 else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "the FTS5 tokenizer failed") }
    }

    /// The Swift side of a tokenizer callback.
    private final class TokenSink {
        let body: (String) -> Void
        init(_ body: @escaping (String) -> Void) { self.body = body }
    }

    /// The store sequence every change up to which is in the index (its memory).
    public func coveredSeq() throws(KeywordIndexError) -> Int64 { memory.coveredSeq }

    /// Documents in the index.
    public func count() throws(KeywordIndexError) -> Int { memory.count }

    /// Applies `changes` (in seq order; a document at most once) and records `coveredSeq`, in one
    /// transaction: a live document's title and text replace what the index held for its label, a
    /// deleted one is removed.
    ///
    /// Compare-and-set on the covered seq: two processes may follow one store into one file (a
    /// `quiver index` beside `quiver serve`). Changes at or below what the memory index already
    /// covers are skipped (a change of seq 0 is always applied), and so are, in the file, those at
    /// or below what the file covers; neither covered seq moves backwards. A file found behind
    /// this process's memory was emptied by another process (a rebuild): the memory index is
    /// emptied too, and the returned seq (0) has the caller read the feed again from the start.
    ///
    /// - Returns: the seq the memory index covers afterwards.
    @discardableResult
    public func apply(_ changes: [KeywordChange], coveredSeq: Int64) throws(KeywordIndexError) -> Int64 {
        let before = memory.coveredSeq
        guard coveredSeq > before else { return before }
        let fresh = changes.filter { $0.seq == 0 || $0.seq > before }
        do {
            let linked: [(label: Int64, document: TokenizedDocument?)]? = try pool.write { db in
                let held = Self.readCovered(db)
                if held < before { return nil }
                let tokenizer = try db.makeTokenizer(Self.tokenizerDescriptor)
                let linked = try fresh.map { change -> (label: Int64, document: TokenizedDocument?) in
                    // A document with neither title nor text (bring-your-own vectors) has no words.
                    let empty = change.text.isEmpty && (change.title ?? "").isEmpty
                    if change.deleted || empty { return (change.label, nil) }
                    return (change.label, try Self.tokenize(label: change.label, title: change.title ?? "", text: change.text, tokenizer))
                }
                guard coveredSeq > held else { return linked }
                let delete = try db.makeStatement(sql: "DELETE FROM terms WHERE rowid = ?")
                let insert = try db.makeStatement(sql: "INSERT INTO terms (rowid, title, text) VALUES (?, ?, ?)")
                for (change, link) in zip(fresh, linked) where change.seq == 0 || change.seq > held {
                    try delete.execute(arguments: [change.label])
                    if link.document != nil { try insert.execute(arguments: [change.label, change.title ?? "", change.text]) }
                }
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'covered_seq'", arguments: [String(coveredSeq)])
                return linked
            }
            guard let linked else {
                memory.reset()
                return 0
            }
            memory.apply(linked, coveredSeq: coveredSeq)
            return memory.coveredSeq
        } catch { throw Self.classify(error, path: path) }
    }

    private static func readCovered(_ db: Database) -> Int64 {
        Int64((try? String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'covered_seq'")) ?? "0") ?? 0
    }

    /// Removes every document (covered seq 0): the start of a rebuild.
    public func reset() throws(KeywordIndexError) {
        do {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM terms")
                try db.execute(sql: "UPDATE meta SET value = '0' WHERE key = 'covered_seq'")
            }
            memory.reset()
        } catch { throw Self.classify(error, path: path) }
    }

    /// The best `limit` documents for `text` by BM25, best first, with their scores (`−bm25`:
    /// higher is better, > 0), keeping only labels `allowed` accepts. Empty when the text has no
    /// words.
    public func search(_ text: String, limit: Int, allowed: ((Int64) -> Bool)? = nil) throws(KeywordIndexError) -> [KeywordHit] {
        let words = Self.queryTerms(text)
        guard limit > 0, !words.isEmpty else { return [] }
        if let phrases = try singleTokens(words) { return memory.search(phrases, limit: limit, allowed: allowed) }
        return try searchFile(words, limit: limit, allowed: allowed)
    }

    /// Each word's one token (in query order), or nil when a word is not exactly one token to
    /// FTS5's tokenizer (a phrase; the file answers). Words are cached: a query's words are
    /// mostly ones seen before.
    func singleTokens(_ words: [String]) throws(KeywordIndexError) -> [String]? {
        var tokens = tokenCache.withLock { cache in words.map { cache[$0] } }
        let missing = words.indices.filter { tokens[$0] == nil }
        if !missing.isEmpty {
            do {
                let found: [String?] = try pool.read { db in
                    let tokenizer = try db.makeTokenizer(Self.tokenizerDescriptor)
                    return try missing.map { index in
                        var produced: [String] = []
                        try Self.forEachToken(of: words[index], .query, tokenizer) { produced.append($0) }
                        return produced.count == 1 ? produced[0] : nil
                    }
                }
                tokenCache.withLock { cache in
                    if cache.count + missing.count > Self.frequencyCacheSize { cache = [:] }
                    for (index, token) in zip(missing, found) {
                        cache[words[index]] = .some(token)
                        tokens[index] = .some(token)
                    }
                }
            } catch { throw Self.classify(error, path: path) }
        }
        var phrases: [String] = []
        phrases.reserveCapacity(words.count)
        for token in tokens {
            guard case .some(.some(let token)) = token else { return nil }
            phrases.append(token)
        }
        return phrases
    }

    /// Query word → its one token (nil: not one token).
    private let tokenCache = Mutex([String: String?]())

    /// ``search(_:limit:allowed:)`` by FTS5 itself, on the file.
    func searchFile(_ words: [String], limit: Int, allowed: ((Int64) -> Bool)?) throws(KeywordIndexError) -> [KeywordHit] {
        do {
            return try pool.read { db in
                let match = Self.quoted(try informativeTerms(words, db))
                // With a filter the rows are read in rank order until `limit` pass it; without,
                // SQLite stops at the limit itself.
                let sql =
                    allowed == nil
                    ? "SELECT rowid, bm25(terms, \(Self.titleWeight), 1.0) AS r FROM terms WHERE terms MATCH ? ORDER BY r LIMIT ?"
                    : "SELECT rowid, bm25(terms, \(Self.titleWeight), 1.0) AS r FROM terms WHERE terms MATCH ? ORDER BY r"
                let arguments: StatementArguments = allowed == nil ? [match, limit] : [match]
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                var hits: [KeywordHit] = []
                while let row = try rows.next() {
                    let label: Int64 = row[0]
                    if let allowed, !allowed(label) { continue }
                    let rank: Double = row[1]
                    hits.append(KeywordHit(label: label, score: Float(-rank)))
                    if hits.count == limit { break }
                }
                return hits
            }
        } catch { throw Self.classify(error, path: path) }
    }

    /// The FTS5 query for `text`: its distinct words (maximal runs of letters, digits and marks,
    /// lowercased, at most ``maxQueryTerms``), each quoted (a `"` inside doubled), OR-ed; nil when
    /// it has none. Quoting makes every word a plain term, so no input is read as FTS5 syntax
    /// (`AND`, `NEAR`, `*`, column filters).
    public static func matchExpression(for text: String) -> String? {
        let terms = queryTerms(text)
        return terms.isEmpty ? nil : quoted(terms)
    }

    static func quoted(_ terms: [String]) -> String {
        terms.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " OR ")
    }

    /// The distinct words of `text`: maximal runs of letters, digits and combining marks (read
    /// scalar by scalar, as FTS5's unicode61 tokenizer reads them, so no grapheme cluster can carry
    /// punctuation into a word), lowercased, at most ``maxQueryTerms``.
    static func queryTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var seen = Set<String>()
        var word = String.UnicodeScalarView()
        func flush() {
            if !word.isEmpty {
                let term = String(word).lowercased()
                if terms.count < maxQueryTerms, seen.insert(term).inserted { terms.append(term) }
            }
            word = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if isWordScalar(scalar) { word.append(scalar) } else { flush() }
        }
        flush()
        return terms
    }

    /// Letters, numbers and combining marks (a word keeps its accents; FTS5 then tokenizes each
    /// quoted word by its own rules).
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default:
            return false
        }
    }

    // MARK: Common words (the file's queries; the in-memory ranking counts exactly)
    //
    // FTS5's bm25 gives a term in more than half of the documents an IDF of 1e-6 (its
    // log((N − n + 0.5) / (n + 0.5)) is ≤ 0 there): such a word cannot change the order of the
    // documents that match a rarer word (a document matching only common words drops out of the
    // list), but matching it makes FTS5 walk its position list in nearly every document — on the
    // Debian man-page set, two thirds of the query time. So those words are left out of the query
    // (all words kept when no word is both present and rarer). Document frequencies are counted with a MATCH
    // the first time a word is seen and cached for ``frequencyTTL`` seconds: the decision is about
    // words that barely count, so a minute-old count is good enough.

    /// Seconds a document frequency (and the document count) is reused.
    static let frequencyTTL: TimeInterval = 60
    /// Words whose frequencies are cached (the cache is emptied when it would grow past this).
    static let frequencyCacheSize = 20_000

    private struct Frequencies {
        var documents: (count: Int, at: Date)?
        var words: [String: Int] = [:]
    }
    private let frequencies = Mutex(Frequencies())

    /// `words` that occur in at least one document and in at most half of them; all of `words`
    /// when none does (then every word is either absent or common, and the query keeps them all).
    ///
    /// The document count and the words' counts are cached together: when the count is older than
    /// ``frequencyTTL`` both are dropped, so a word's count is never compared with a total taken at
    /// another time than the cache's start.
    func informativeTerms(_ words: [String], _ db: Database) throws -> [String] {
        let now = Date()
        var (total, known) = frequencies.withLock { state -> (Int?, [Int?]) in
            if let documents = state.documents, now.timeIntervalSince(documents.at) <= Self.frequencyTTL {
                return (documents.count, words.map { state.words[$0] })
            }
            return (nil, words.map { _ in nil })
        }
        var refreshedTotal = false
        if total == nil {
            total = try Int.fetchOne(db, sql: "SELECT count(*) FROM terms") ?? 0
            refreshedTotal = true
        }
        var counted: [String: Int] = [:]
        for (index, word) in words.enumerated() where known[index] == nil {
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM terms WHERE terms MATCH ?", arguments: [Self.quoted([word])]) ?? 0
            known[index] = count
            counted[word] = count
        }
        if refreshedTotal || !counted.isEmpty {
            frequencies.withLock { state in
                if refreshedTotal {
                    state.documents = (total ?? 0, now)
                    state.words = [:]
                }
                if state.words.count + counted.count > Self.frequencyCacheSize { state.words = [:] }
                state.words.merge(counted) { $1 }
            }
        }
        let documents = total ?? 0
        var kept: [String] = []
        for (index, word) in words.enumerated() {
            let count = known[index] ?? 0
            if count > 0, 2 * count <= documents { kept.append(word) }
        }
        return kept.isEmpty ? words : kept
    }

    static func classify(_ error: any Error, path: String) -> KeywordIndexError {
        if let error = error as? KeywordIndexError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .damaged(path: path, reason: "\(error)")
            case .SQLITE_FULL: return .full(path: path)
            default: break
            }
            // FTS5 reports a damaged table as a plain error with this text.
            if "\(error)".contains("malformed") { return .damaged(path: path, reason: "\(error)") }
        }
        return .io(path: path, reason: "\(error)")
    }
}

/// One document change for the keyword index.
public struct KeywordChange: Sendable, Equatable {
    /// The store seq of the change (0: unknown; applied whatever the file covers).
    public var seq: Int64
    /// The document's label.
    public var label: Int64
    /// Whether it was deleted.
    public var deleted: Bool
    /// Its title (live documents).
    public var title: String?
    /// Its text (live documents; empty for a deleted one).
    public var text: String

    /// A change.
    public init(seq: Int64 = 0, label: Int64, deleted: Bool, title: String?, text: String) {
        self.seq = seq
        self.label = label
        self.deleted = deleted
        self.title = title
        self.text = text
    }
}

/// A keyword hit: a label and its BM25 score (higher is better).
public struct KeywordHit: Sendable, Equatable {
    /// The document's label.
    public var label: Int64
    /// `−bm25(...)`: larger is a better match; comparable within one query only.
    public var score: Float

    /// A hit.
    public init(label: Int64, score: Float) {
        self.label = label
        self.score = score
    }
}

/// Why the keyword index failed.
public enum KeywordIndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is not a usable index (rebuild it).
    case damaged(path: String, reason: String)
    /// The disk is full.
    case full(path: String)
    /// Any other failure to read or write the file.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .damaged(let path, let reason): "keyword index \(path) is damaged: \(reason)"
        case .full(let path): "keyword index \(path): the disk is full"
        case .io(let path, let reason): "keyword index \(path): \(reason)"
        }
    }
}
