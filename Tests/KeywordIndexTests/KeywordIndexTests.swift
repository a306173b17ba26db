import Foundation
import Testing

@testable import KeywordIndex

@Suite("Keyword index")
struct KeywordIndexTests {
    func withIndex(_ body: (KeywordIndex, String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-kw-\(UUID().uuidString).sqlite").path
        defer { KeywordIndex.remove(at: path) }
        try body(try KeywordIndex(path: path), path)
    }

    static let documents: [KeywordChange] = [
        KeywordChange(label: 1, deleted: false, title: "Reset your password", text: "Open settings and choose reset password."),
        KeywordChange(label: 2, deleted: false, title: "Error E1234", text: "The sync fails with error code E1234 when the disk is full."),
        KeywordChange(label: 3, deleted: false, title: "Export invoices", text: "Invoices can be exported as CSV or PDF files."),
        KeywordChange(label: 4, deleted: false, title: "Café opening hours", text: "Our café opens at eight."),
    ]

    @Test("words match by BM25, title weighted, stemmed, diacritics folded; changes replace and delete")
    func searchAndChanges() throws {
        try withIndex { index, _ in
            try index.apply(Self.documents, coveredSeq: 4)
            #expect(try index.coveredSeq() == 4)
            #expect(try index.count() == 4)
            #expect(try index.search("error E1234", limit: 10).map(\.label) == [2])
            // Porter stemming: "exporting" finds "exported"/"Export".
            #expect(try index.search("exporting invoice", limit: 10).first?.label == 3)
            #expect(try index.search("cafe", limit: 10).map(\.label) == [4])
            // OR semantics: one matching word is enough; scores are positive and descending.
            let hits = try index.search("password disk", limit: 10)
            #expect(Set(hits.map(\.label)) == [1, 2])
            #expect(hits.allSatisfy { $0.score > 0 })
            #expect(hits.map(\.score) == hits.map(\.score).sorted(by: >))
            // A filter keeps only allowed labels, still up to the limit.
            #expect(try index.search("password disk", limit: 1, allowed: { $0 == 2 }).map(\.label) == [2])
            // Update replaces the old text; delete removes it.
            try index.apply(
                [
                    KeywordChange(label: 2, deleted: false, title: "Sync errors", text: "Nothing about codes."),
                    KeywordChange(label: 1, deleted: true, title: nil, text: ""),
                ], coveredSeq: 6)
            #expect(try index.search("E1234", limit: 10).isEmpty)
            #expect(try index.search("password", limit: 10).isEmpty)
            #expect(try index.coveredSeq() == 6)
            #expect(try index.count() == 3)
            try index.reset()
            #expect(try index.count() == 0)
            #expect(try index.coveredSeq() == 0)
        }
    }

    @Test("words in more than half of the documents are left out of the query, unless every word is")
    func commonWords() throws {
        try withIndex { index, _ in
            let documents = (1...10).map { label in
                KeywordChange(
                    label: Int64(label), deleted: false, title: nil,
                    text: "the manual page \(label) " + (label == 3 ? "password reset" : "") + (label <= 4 ? " printer" : ""))
            }
            try index.apply(documents, coveredSeq: 10)
            func informative(_ words: [String]) throws -> [String] {
                try index.pool.read { db in try index.informativeTerms(words, db) }
            }
            // A word no document has is not informative either.
            #expect(try informative(["the", "manual", "password", "printer", "ghost"]) == ["password", "printer"])
            // Only common and absent words: all kept, so the common words still match.
            #expect(try informative(["the", "ghost"]) == ["the", "ghost"])
            #expect(try index.search("the ghost", limit: 20).count == 10)
            // Common words add no hit: "the manual password" finds only the one password document,
            // where "the manual" alone finds all ten.
            #expect(try index.search("the manual password", limit: 10).map(\.label) == [3])
            #expect(try index.search("the manual", limit: 20).count == 10)
            #expect(try index.search("the printer", limit: 10).map(\.label) == (try index.search("printer", limit: 10)).map(\.label))
            #expect(Set(try index.search("the printer", limit: 10).map(\.label)) == [1, 2, 3, 4])
            // Counts and the document total are cached together: after more documents arrive the
            // cached decision holds until the cache expires (no total from one time compared with
            // counts from another).
            try index.apply(
                (11...30).map { KeywordChange(label: Int64($0), deleted: false, title: nil, text: "printer \($0)") }, coveredSeq: 30)
            #expect(try informative(["printer", "manual"]) == ["printer"])
        }
    }

    @Test("query text is never FTS5 syntax")
    func hostileQueries() throws {
        #expect(KeywordIndex.matchExpression(for: "a AND b*") == "\"a\" OR \"and\" OR \"b\"")
        #expect(KeywordIndex.matchExpression(for: "title:x NEAR(y) \"z\"") == "\"title\" OR \"x\" OR \"near\" OR \"y\" OR \"z\"")
        #expect(KeywordIndex.matchExpression(for: "?!  --") == nil)
        #expect(KeywordIndex.matchExpression(for: "dup DUP dup") == "\"dup\"")
        // A quote inside a term is doubled, FTS5's escape.
        #expect(KeywordIndex.quoted(["a\"b", "c"]) == "\"a\"\"b\" OR \"c\"")
        // Words are read scalar by scalar: a grapheme cluster that joins a letter and a quote
        // (U+0D4E is a prepending letter) does not carry the quote into a word.
        #expect(KeywordIndex.matchExpression(for: "\u{0D4E}\"x") == "\"\u{0D4E}\" OR \"x\"")
        #expect(KeywordIndex.matchExpression(for: "cafe\u{0301}") == "\"cafe\u{0301}\"")
        let many = (0..<200).map { "w\($0)" }.joined(separator: " ")
        #expect(KeywordIndex.matchExpression(for: many)?.components(separatedBy: " OR ").count == KeywordIndex.maxQueryTerms)
        try withIndex { index, _ in
            try index.apply(Self.documents, coveredSeq: 4)
            let distinct = (0..<10_000).map { "w\($0)" }.joined(separator: " ")
            for text in [
                "\"", "(", "a AND", "NOT x", "*", "title:", "^", "NEAR(", "\u{0}", "💥", String(repeating: "x ", count: 10_000), distinct,
                "\u{0D4E}\"", "a\u{0D4E}\"b OR c", "x\u{0301}\"y", "\u{600}\"(",
            ] {
                _ = try index.search(text, limit: 5)
            }
            // Seeded random strings over FTS5's syntax characters, prepending and combining marks,
            // letters of several scripts and controls: every one is searched without an error.
            let alphabet: [Unicode.Scalar] =
                Array("\"'()*:^+-{}[],.; ANDORNEAaéß東𝔸9".unicodeScalars) + [
                    "\u{0D4E}", "\u{0600}", "\u{0301}", "\u{200D}", "\u{FE0F}", "\u{0}", "\u{1F}", "\u{E000}", "\u{111C2}",
                ]
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for _ in 0..<2000 {
                var text = String.UnicodeScalarView()
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                for _ in 0..<Int(state >> 59) + 1 {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    text.append(alphabet[Int((state >> 33) % UInt64(alphabet.count))])
                }
                _ = try index.search(String(text), limit: 3)
            }
        }
    }

    @Test("a damaged file is refused as damaged; a fresh one is empty; another format is emptied")
    func damage() throws {
        try withIndex { index, path in
            try index.apply(Self.documents, coveredSeq: 4)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-kw-\(UUID().uuidString).sqlite").path
        defer { KeywordIndex.remove(at: path) }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        do {
            _ = try KeywordIndex(path: path)
            Issue.record("a garbage file opened as an index")
        } catch .damaged {
        } catch {
            Issue.record("a garbage file is damaged, not \(error)")
        }
        KeywordIndex.remove(at: path)
        let fresh = try KeywordIndex(path: path)
        #expect(try fresh.count() == 0 && fresh.coveredSeq() == 0)
        try fresh.apply(Self.documents, coveredSeq: 4)
        try fresh.pool.write { db in try db.execute(sql: "UPDATE meta SET value = 'v0' WHERE key = 'format'") }
        let reopened = try KeywordIndex(path: path)
        #expect(try reopened.count() == 0 && reopened.coveredSeq() == 0)
    }

    @Test("covered seq is compare-and-set: the file skips pages another process applied; this process's memory still applies them")
    func compareAndSet() throws {
        try withIndex { index, path in
            let page = (1...4).map { KeywordChange(seq: Int64($0), label: Int64($0), deleted: false, title: nil, text: "word\($0) shared") }
            #expect(try index.apply(page, coveredSeq: 4) == 4)
            // A second process's index on the same file moves ahead.
            let other = try KeywordIndex(path: path)
            let next = [
                KeywordChange(seq: 5, label: 1, deleted: true, title: nil, text: ""),
                KeywordChange(seq: 6, label: 5, deleted: false, title: nil, text: "word5 shared"),
            ]
            #expect(try other.apply(next, coveredSeq: 6) == 6)
            // This process has not read changes 5 and 6 yet: its memory says so, and answers as of 4.
            #expect(try index.coveredSeq() == 4)
            #expect(try index.search("word1", limit: 5).map(\.label) == [1])
            // It reads them from the feed: its memory applies them, the file skips them.
            #expect(try index.apply(next, coveredSeq: 6) == 6)
            #expect(try index.search("word1", limit: 5).isEmpty)
            // A late page it read before: skipped as a whole, covered stays 6, label 1 stays deleted.
            #expect(try index.apply([KeywordChange(seq: 3, label: 1, deleted: false, title: nil, text: "word1 stale")], coveredSeq: 4) == 6)
            #expect(try index.coveredSeq() == 6)
            #expect(try index.search("word1", limit: 5).isEmpty)
            // A page overlapping what it holds: only its newer changes are applied.
            #expect(
                try index.apply(
                    [
                        KeywordChange(seq: 5, label: 1, deleted: false, title: nil, text: "word1 resurrected"),
                        KeywordChange(seq: 7, label: 2, deleted: true, title: nil, text: ""),
                    ], coveredSeq: 7) == 7)
            #expect(try index.search("word1", limit: 5).isEmpty)
            #expect(try index.search("word2", limit: 5).isEmpty)
            #expect(Set(try index.search("shared", limit: 10).map(\.label)) == [3, 4, 5])
            // The file holds the same: an index opened on it (a restart) answers alike.
            let reopened = try KeywordIndex(path: path)
            #expect(try reopened.coveredSeq() == 7)
            #expect(try reopened.search("shared word3", limit: 10) == index.search("shared word3", limit: 10))
            // Another process empties the file (a rebuild): this one notices at its next page,
            // empties its memory and answers 0, so its caller reads the feed from the start.
            try other.reset()
            #expect(try index.apply([KeywordChange(seq: 8, label: 9, deleted: false, title: nil, text: "word9")], coveredSeq: 8) == 0)
            #expect(try index.count() == 0)
            #expect(try index.apply(page + next, coveredSeq: 6) == 6)
            #expect(Set(try index.search("shared", limit: 10).map(\.label)) == [2, 3, 4, 5])
        }
    }

    /// Seeded documents over a small vocabulary (stems that fold together, accents, words in most
    /// documents and in few), applied in pages with replacements and deletions.
    static func seededChanges(count: Int, seed: UInt64) -> [[KeywordChange]] {
        let vocabulary = [
            "the", "a", "of", "password", "passwords", "reset", "resetting", "printer", "printing", "printed", "café", "cafe",
            "error", "errors", "E1234", "disk", "full", "sync", "synchronise", "invoice", "invoices", "export", "exporting",
            "network", "proxy", "timeout", "timeouts", "über", "naïve", "tcp", "udp", "kernel", "module", "modules", "rare1",
            "rare2", "rare3", "zeta", "Ωmega", "東京", "run", "runs", "running", "file", "files",
        ]
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        func words(_ n: Int) -> String {
            // Skewed: low indexes (common words) far more often.
            (0..<n).map { _ in vocabulary[min(next(vocabulary.count), next(vocabulary.count))] }.joined(separator: " ")
        }
        var pages: [[KeywordChange]] = []
        var seq: Int64 = 0
        var live = Set<Int64>()
        for _ in 0..<4 {
            var page: [KeywordChange] = []
            var touched = Set<Int64>()
            for _ in 0..<count / 4 {
                let label = Int64(next(count))
                guard touched.insert(label).inserted else { continue }
                seq += 1
                if live.contains(label), next(4) == 0 {
                    live.remove(label)
                    page.append(KeywordChange(seq: seq, label: label, deleted: true, title: nil, text: ""))
                } else {
                    live.insert(label)
                    let title = next(3) == 0 ? nil : words(1 + next(4))
                    page.append(KeywordChange(seq: seq, label: label, deleted: false, title: title, text: words(next(120))))
                }
            }
            pages.append(page)
        }
        return pages
    }

    @Test("the in-memory ranking gives FTS5's bm25 scores, kept up to date incrementally and loaded from the file alike")
    func memoryMatchesFTS5() throws {
        try withIndex { index, path in
            var seq: Int64 = 0
            for page in Self.seededChanges(count: 400, seed: 7) {
                seq = page.last?.seq ?? seq
                try index.apply(page, coveredSeq: seq)
            }
            // A fresh object on the same file: its memory was loaded from the file, and its FTS5
            // word counts are not cached from an earlier time.
            let loaded = try KeywordIndex(path: path)
            #expect(try loaded.count() == index.count())
            #expect(try index.count() > 100)
            let queries = [
                "password reset", "printing errors", "the a of", "café", "cafe über", "E1234 disk full", "exporting invoices timeout",
                "rare1 rare2", "the rare3", "ghost", "the ghost", "running runs run", "Ωmega 東京", "naive", "module modules kernel tcp",
                "password passwords", "zeta the a of full",
            ]
            var compared = 0
            for text in queries {
                let words = KeywordIndex.queryTerms(text)
                let tokens = try index.singleTokens(words)
                #expect(tokens != nil, "\(text)")
                let memory = try index.search(text, limit: 10_000)
                let file = try loaded.searchFile(words, limit: 10_000, allowed: nil)
                #expect(memory.count == file.count, "\(text)")
                let fileScores = Dictionary(uniqueKeysWithValues: file.map { ($0.label, $0.score) })
                for hit in memory {
                    guard let expected = fileScores[hit.label] else {
                        Issue.record("\(text): label \(hit.label) is not an FTS5 hit")
                        continue
                    }
                    #expect(abs(hit.score - expected) <= 1e-6 * max(1, abs(expected)), "\(text): \(hit.label) \(hit.score) vs \(expected)")
                    compared += 1
                }
                // Best first; a limit takes the best; the loaded memory answers the same.
                #expect(memory.map(\.score) == memory.map(\.score).sorted(by: >))
                #expect(try index.search(text, limit: 5) == Array(memory.prefix(5)))
                #expect(try loaded.search(text, limit: 10_000) == memory)
                // A filter keeps the order of what it allows.
                let allowed: (Int64) -> Bool = { $0 % 3 == 0 }
                #expect(try index.search(text, limit: 7, allowed: allowed) == Array(memory.filter { allowed($0.label) }.prefix(7)))
            }
            #expect(compared > 1000)
        }
    }

    @Test("a query word FTS5 reads as several tokens (a phrase) is answered by the file")
    func phraseWordsUseTheFile() throws {
        try withIndex { index, _ in
            try index.apply(
                [
                    KeywordChange(label: 1, deleted: false, title: "हिन्दी", text: "भाषा"),
                    KeywordChange(label: 2, deleted: false, title: "other", text: "words"),
                ], coveredSeq: 2)
            // Devanagari vowel signs are not token characters to unicode61: the word splits.
            #expect(try index.singleTokens(["हिन्दी"]) == nil)
            #expect(try index.search("हिन्दी", limit: 5).map(\.label) == [1])
            #expect(try index.search("हिन्दी words", limit: 5).map(\.label).sorted() == [1, 2])
        }
    }

    @Test("compaction renumbers slots and drops dead postings without changing an answer")
    func compaction() {
        func document(_ label: Int64, _ text: String) -> TokenizedDocument {
            var frequencies: [String: Float] = [:]
            let words = text.split(separator: " ").map(String.init)
            for word in words { frequencies[word, default: 0] += 1 }
            return TokenizedDocument(label: label, length: Int32(words.count), terms: frequencies.map { ($0.key, $0.value) })
        }
        let compacting = KeywordPostings(compactionFloor: 8)
        let never = KeywordPostings(compactionFloor: .max)
        var live: [Int64: String] = [:]
        var state: UInt64 = 42
        var seq: Int64 = 0
        for round in 0..<40 {
            var page: [(label: Int64, document: TokenizedDocument?)] = []
            for _ in 0..<10 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let label = Int64((state >> 33) % 30)
                let pick = Int((state >> 40) % 5)
                if pick == 0 {
                    live[label] = nil
                    page.append((label, nil))
                } else {
                    // pick 1: a document without tokens (a slot, no postings).
                    let text = pick == 1 ? "" : "w\(round % 7) w\(label % 5) common x\(pick) w\(round % 7)"
                    live[label] = text
                    page.append((label, document(label, text)))
                }
                seq += 1
            }
            compacting.apply(page, coveredSeq: seq)
            never.apply(page, coveredSeq: seq)
        }
        let fresh = KeywordPostings()
        fresh.apply(live.sorted { $0.key < $1.key }.map { ($0.key, document($0.key, $0.value)) }, coveredSeq: seq)
        #expect(compacting.slots < never.slots)
        #expect(compacting.count == never.count && compacting.count == fresh.count)
        for query in [["common"], ["w1", "w3"], ["x2", "w0", "common"], ["x4"], ["w6", "w6"], ["absent"]] {
            let expected = fresh.search(query, limit: 50, allowed: nil)
            #expect(compacting.search(query, limit: 50, allowed: nil) == expected, "\(query)")
            #expect(never.search(query, limit: 50, allowed: nil) == expected, "\(query)")
        }
        #expect(!fresh.search(["common"], limit: 50, allowed: nil).isEmpty)
    }
}
