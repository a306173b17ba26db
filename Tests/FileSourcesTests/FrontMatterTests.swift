import Foundation
import Testing

@testable import FileSources

@Suite("Markdown front matter")
struct FrontMatterTests {
    func document(_ markdown: String, modified: Double = 1_000) throws(FileSourceError) -> SourceDocument {
        try DirectorySource.document(id: "a.md", format: .markdown, bytes: Array(markdown.utf8), modified: modified)
    }

    func failure(_ markdown: String) -> String? {
        do {
            _ = try document(markdown)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("keys become JSON metadata; title wins over the heading; date overrides the mtime")
    func metadataTitleDate() throws {
        let doc = try document(
            """
            ---
            title: "Front matter title"
            date: 2024-05-01
            tags: [billing, "refunds"]
            draft: false
            weight: 3
            ratio: 0.5
            author: {name: Ann, email: null}
            published: 2024-05-01T09:30:00+02:00
            ---
            # Heading title

            Body.
            """)
        #expect(doc.title == "Front matter title")
        #expect(doc.text == "Heading title\n\nBody.")
        #expect(doc.updatedAt == 1_714_521_600)  // 2024-05-01T00:00:00Z
        #expect(
            doc.metadata == [
                "title": .string("Front matter title"), "date": .string("2024-05-01T00:00:00Z"),
                "tags": .array([.string("billing"), .string("refunds")]), "draft": .bool(false), "weight": .number(3),
                "ratio": .number(0.5), "author": .object(["name": .string("Ann"), "email": .null]),
                "published": .string("2024-05-01T07:30:00Z"),
            ])
    }

    @Test("updated_at wins over date; quoted and numeric times; without front matter the mtime and the heading")
    func times() throws {
        #expect(try document("---\ndate: 2020-01-01\nupdated_at: \"2024-05-01T00:00:01Z\"\n---\nx").updatedAt == 1_714_521_601)
        #expect(try document("---\nupdated_at: 1700000000\n---\nx").updatedAt == 1_700_000_000)
        #expect(try document("---\ndate: '2024-02-29'\n---\nx").updatedAt == 1_709_164_800)
        #expect(try document("---\ndate: ~\n---\nx", modified: 5).updatedAt == 5)
        let plain = try document("# Title\ntext", modified: 42.5)
        #expect(plain.updatedAt == 42.5 && plain.title == "Title" && plain.metadata == nil)
        #expect(failure("---\ndate: last tuesday\n---\nx")?.contains("\"date\" is not a time") == true)
        #expect(failure("---\nupdated_at: 2024-02-30\n---\nx")?.contains("not a time") == true)
    }

    @Test("no closing line: not front matter; empty front matter: no metadata; YAML errors name the line")
    func edges() throws {
        let unclosed = try document("---\ntitle: x\n\nSome text")
        #expect(unclosed.metadata == nil && unclosed.text == "title: x\n\nSome text")
        let empty = try document("---\n---\n# T\nbody")
        #expect(empty.metadata == nil && empty.title == "T")
        let dots = try document("---\na: 1\n...\nbody")
        #expect(dots.metadata == ["a": .number(1)] && dots.text == "body")
        #expect(failure("---\ntitle: [unclosed\n---\nx")?.hasPrefix("front matter: ") == true)
        #expect(failure("---\n- a list\n---\nx")?.contains("must be a mapping") == true)
        #expect(failure("---\na: 1\na: 2\n---\nx")?.contains("duplicate") == true)
        #expect(failure("---\n? [a, b]\n: c\n---\nx")?.contains("keys must be strings") == true)
        #expect(failure("---\ntitle: [a, b]\n---\nx")?.contains("\"title\" must be a string") == true)
    }

    @Test("hostile front matter is refused, not crashed on: deep nesting, alias bombs, alias keys, size")
    func hostile() {
        let deep = "---\na: " + String(repeating: "[", count: 30_000) + String(repeating: "]", count: 30_000) + "\n---\nx"
        #expect(failure(deep)?.contains("nested deeper") == true)
        let deepBlock = "---\n" + (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n---\nx"
        #expect(failure(deepBlock)?.contains("nested deeper") == true)
        let compact = "---\n" + String(repeating: "- ", count: 500) + "x\n---\nx"
        #expect(failure(compact)?.contains("nested deeper") == true)
        // A billion laughs: nine levels of ten aliases each.
        var bomb = "---\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(failure(bomb + "---\nx")?.contains("aliases expanded") == true)
        #expect(failure(bomb + "? *a9\n: boom\n---\nx")?.contains("complex keys") == true)
        #expect(failure(bomb.replacingOccurrences(of: "a9: &a9", with: "[*a8]: &a9") + "---\nx")?.contains("complex keys") == true)
        let large = "---\nbody: \"" + String(repeating: "x", count: 70_000) + "\"\n---\nx"
        #expect(failure(large)?.contains("larger than") == true)
        // Aliases alone (no complex key) are fine when small.
        #expect((try? document("---\nbase: &b {x: 1}\ncopy: *b\n---\nx"))?.metadata?["copy"] == .object(["x": .number(1)]))
        // Quoted text, comments and block scalars do not count as syntax.
        let quoted = try? document("---\nnote: \"* [ { ? \"\nlong: |\n  *nix [[[[ ? x\n  more\n# * comment ?\nk: v\n---\nx")
        #expect(quoted?.metadata?["long"] == .string("*nix [[[[ ? x\nmore\n"))
    }
}
