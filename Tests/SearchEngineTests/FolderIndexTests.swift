import Foundation
import Testing

@testable import SearchEngine

@Suite("quiver index DIR: a folder of Markdown, HTML and text files")
struct FolderIndexTests {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(try quiverExecutable(), arguments)
    }

    func write(_ folder: URL, _ path: String, _ data: Data) throws {
        let file = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }

    @Test("sync: added, unchanged, changed, renamed and deleted files; bad files skipped and kept from --prune; --strict stops")
    func directorySync() throws {
        let directory = try TemporaryDirectory("quiver-folder")
        let tiny = try TinyModel.make(seed: 61, in: directory.url)
        let model = directory.url.appendingPathComponent("tiny-61").path
        let data = directory.url.appendingPathComponent("data").path
        let docs = directory.url.appendingPathComponent("docs")
        let base = ["-c", "c", "--data", data, "--model", model]
        try write(
            docs, "guide.md",
            Data("---\ntitle: Alpha guide\ntags: [beta, gamma]\ndate: 2024-05-01\n---\n# Heading\n\nalpha *beta* [gamma](x.html)\n".utf8))
        try write(docs, "faq/billing.html", Data("<title>Delta</title><nav>menu</nav><p>delta &amp; epsilon</p>".utf8))
        try write(docs, "notes.txt", Data("Zeta notes\n\nzeta eta theta\n".utf8))
        try write(docs, "broken.md", Data("# Iota\n\niota kappa\n".utf8))
        try write(docs, "bin.txt", Data([0x6C, 0x61, 0x6D, 0x00, 0x01]))
        try write(docs, ".hidden/secret.md", Data("# hidden".utf8))

        let first = try run(["index", docs.path] + base)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("docs/bin.txt: binary content") && first.stderr.contains("; skipped"), "\(first.stderr)")
        #expect(first.stdout.contains("inserted 4, updated 0, unchanged 0, deleted 0, failed 1 (5 documents"), "\(first.stdout)")

        do {
            let engine = try makeEngine(URL(fileURLWithPath: data), models: [tiny])
            let guide = try engine.document(collection: "c", id: "guide.md")
            #expect(guide.title == "Alpha guide" && guide.text == "Heading\n\nalpha beta gamma")
            #expect(
                guide.metadata
                    == .object([
                        "title": .string("Alpha guide"), "tags": .array([.string("beta"), .string("gamma")]),
                        "date": .string("2024-05-01T00:00:00Z"),
                    ]))
            #expect(guide.freshness.updatedAt == Timestamp(seconds: 1_714_521_600))
            let faq = try engine.document(collection: "c", id: "faq/billing.html")
            #expect(faq.title == "Delta" && faq.text == "delta & epsilon")
            #expect(try engine.document(collection: "c", id: "notes.txt").title == "Zeta notes")
            #expect(throws: SearchEngineError.self) { try engine.document(collection: "c", id: ".hidden/secret.md") }
        }

        let again = try run(["index", docs.path] + base)
        #expect(again.stdout.contains("inserted 0, updated 0, unchanged 4, deleted 0, failed 1"), "\(again.stdout)")

        // A touched file (same content, new mtime): its updated_at changes, nothing is embedded.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_600_000_000)], ofItemAtPath: docs.appendingPathComponent("notes.txt").path)
        let touched = try run(["index", docs.path] + base)
        #expect(
            touched.stdout.contains("inserted 0, updated 1, unchanged 3") && touched.stdout.contains("embedded 0)"), "\(touched.stdout)")

        // Changed, renamed, deleted, added; a stored file broken.
        try write(docs, "notes.txt", Data("Zeta notes\n\nzeta eta theta iota\n".utf8))
        try FileManager.default.moveItem(
            at: docs.appendingPathComponent("faq/billing.html"), to: docs.appendingPathComponent("faq/payments.html"))
        try FileManager.default.removeItem(at: docs.appendingPathComponent("guide.md"))
        try write(docs, "new.md", Data("# Lambda\n\nmu nu\n".utf8))
        try write(docs, "broken.md", Data([0x23, 0x20, 0xC3, 0x28]))
        let synced = try run(["index", docs.path, "--prune"] + base)
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect(synced.stderr.contains("docs/broken.md: not valid UTF-8 (at byte offset 2); skipped"), "\(synced.stderr)")
        #expect(synced.stdout.contains("inserted 2, updated 1, unchanged 0, deleted 2, failed 2"), "\(synced.stdout)")

        do {
            let engine = try makeEngine(URL(fileURLWithPath: data), models: [tiny])
            // The file that failed exists: its stored document is kept, as it was.
            #expect(try engine.document(collection: "c", id: "broken.md").text == "Iota\n\niota kappa")
            #expect(try engine.document(collection: "c", id: "faq/payments.html").text == "delta & epsilon")
            #expect(try engine.document(collection: "c", id: "notes.txt").text == "Zeta notes\n\nzeta eta theta iota\n")
            for gone in ["guide.md", "faq/billing.html"] {
                #expect(throws: SearchEngineError.self) { try engine.document(collection: "c", id: gone) }
            }
            #expect(try engine.collectionInfo("c").documents == 4)
        }

        let strict = try run(["index", docs.path, "--strict"] + base)
        #expect(strict.status != 0 && strict.stderr.contains("docs/bin.txt: binary content") && strict.stderr.contains("--strict"))

        let limited = try run(["index", docs.path, "--max-file-bytes", "10"] + base)
        #expect(limited.stderr.contains("docs/notes.txt: file has 32 bytes, more than the limit of 10"), "\(limited.stderr)")
    }
}
