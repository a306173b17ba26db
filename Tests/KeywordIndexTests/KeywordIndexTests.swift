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
            let words = try index.pool.read { db in try index.informativeTerms(["the", "manual", "password", "printer", "ghost"], db) }
            #expect(words == ["password", "printer", "ghost"])
            // Common words change no ranking and add no hit.
            #expect(try index.search("the manual password", limit: 10).map(\.label) == [3])
            #expect(try index.search("the printer", limit: 10).map(\.label) == (try index.search("printer", limit: 10)).map(\.label))
            // Every word common: all of them are kept, and every document matches.
            #expect(try index.search("the manual", limit: 20).count == 10)
        }
    }

    @Test("query text is never FTS5 syntax")
    func hostileQueries() throws {
        #expect(KeywordIndex.matchExpression(for: "a AND b*") == "\"a\" OR \"and\" OR \"b\"")
        #expect(KeywordIndex.matchExpression(for: "title:x NEAR(y) \"z\"") == "\"title\" OR \"x\" OR \"near\" OR \"y\" OR \"z\"")
        #expect(KeywordIndex.matchExpression(for: "?!  --") == nil)
        #expect(KeywordIndex.matchExpression(for: "dup DUP dup") == "\"dup\"")
        let many = (0..<200).map { "w\($0)" }.joined(separator: " ")
        #expect(KeywordIndex.matchExpression(for: many)?.components(separatedBy: " OR ").count == KeywordIndex.maxQueryTerms)
        try withIndex { index, _ in
            try index.apply(Self.documents, coveredSeq: 4)
            for text in ["\"", "(", "a AND", "NOT x", "*", "title:", "^", "NEAR(", "\u{0}", "💥", String(repeating: "x ", count: 10_000)] {
                _ = try index.search(text, limit: 5)
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
        #expect(throws: KeywordIndexError.self) { try KeywordIndex(path: path) }
        KeywordIndex.remove(at: path)
        let fresh = try KeywordIndex(path: path)
        #expect(try fresh.count() == 0 && fresh.coveredSeq() == 0)
        try fresh.apply(Self.documents, coveredSeq: 4)
        try fresh.pool.write { db in try db.execute(sql: "UPDATE meta SET value = 'v0' WHERE key = 'format'") }
        let reopened = try KeywordIndex(path: path)
        #expect(try reopened.count() == 0 && reopened.coveredSeq() == 0)
    }
}
