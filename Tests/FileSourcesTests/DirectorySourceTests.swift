import Foundation
import Testing

@testable import FileSources

/// A temporary folder removed at the end of the test.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ path: String, _ text: String) throws { try write(path, Data(text.utf8)) }

    func write(_ path: String, _ data: Data) throws {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }
}

@Suite("Folder listing and hostile files")
struct DirectorySourceTests {
    @Test("walks recursively in sorted path order: source extensions of any case; hidden, other files and folder links skipped")
    func walk() throws {
        let folder = try TemporaryFolder()
        for path in ["b.md", "a/z.TXT", "a/y.Markdown", "a.htm", "c/d/e.html", "notes.rst", ".hidden.md", ".git/x.md", "a/.h/y.md"] {
            try folder.write(path, "text")
        }
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("loop").path, withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("c/up").path, withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: folder.url.appendingPathComponent("link.md").path, withDestinationPath: "b.md")
        try FileManager.default.createSymbolicLink(
            atPath: folder.url.appendingPathComponent("out.md").path, withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(
            atPath: folder.url.appendingPathComponent("broken.md").path, withDestinationPath: "nowhere.md")
        let source = try DirectorySource(root: folder.url.path)
        let listing = source.list()
        #expect(listing.complete)
        #expect(
            listing.entries.map(\.path) == ["a.htm", "a/y.Markdown", "a/z.TXT", "b.md", "broken.md", "c/d/e.html", "link.md", "out.md"])
        let formats = listing.entries.compactMap { entry -> SourceFormat? in if case .file(let file) = entry { file.format } else { nil } }
        #expect(formats == [.html, .markdown, .text, .markdown, .html, .markdown])
        #expect(
            listing.entries.contains(.failure(SourceFailure(path: "out.md", error: .symlinkTarget(reason: "points outside the folder")))))
        guard case .failure(let broken) = listing.entries[4], case .symlinkTarget = broken.error else {
            Issue.record("broken link: \(listing.entries[4])")
            return
        }
        guard case .file(let link) = listing.entries[6] else { return }
        #expect(try source.load(link).get().text == "text")
        #expect(throws: FileSourceError.self) { try DirectorySource(root: folder.url.appendingPathComponent("b.md").path) }
    }

    @Test("invalid UTF-8 and NUL bytes are refused, not repaired; a BOM is skipped; text files keep their content")
    func encodings() throws {
        func load(_ bytes: [UInt8], _ format: SourceFormat = .text) -> Result<SourceDocument, FileSourceError> {
            Result { () throws(FileSourceError) in try DirectorySource.document(id: "f", format: format, bytes: bytes, modified: 0) }
        }
        #expect(load(Array("ok ".utf8) + [0xC3, 0x28] + Array(" rest".utf8)) == .failure(.invalidUTF8(offset: 3)))
        #expect(load([0xED, 0xA0, 0x80]) == .failure(.invalidUTF8(offset: 0)))  // an encoded surrogate
        #expect(load([0xC0, 0xAF]) == .failure(.invalidUTF8(offset: 0)))  // overlong
        #expect(load(Array("abc".utf8) + [0xE2, 0x82]) == .failure(.invalidUTF8(offset: 3)))  // truncated at the end
        #expect(load(Array("PNG".utf8) + [0, 1, 2], .markdown) == .failure(.binary(offset: 3)))
        #expect(load([0xFF, 0xFE, 0x41, 0x00], .html) == .failure(.binary(offset: 3)))  // UTF-16
        let bom = try load([0xEF, 0xBB, 0xBF] + Array("Title\r\n\r\nBody ünïcode\r\n".utf8)).get()
        #expect(bom.text == "Title\r\n\r\nBody ünïcode\r\n" && bom.title == "Title")
        #expect(try load(Array("A sentence that\nruns on.".utf8)).get().title == nil)
        #expect(try load(Array((String(repeating: "x", count: 121) + "\n\nbody").utf8)).get().title == nil)
        #expect(try load(Array("\n\n  Short title  \n\nbody".utf8)).get().title == "Short title")
    }

    @Test("a file over the limit is refused from its size without being read; unreadable and special files are named")
    func limitsAndUnreadable() throws {
        let folder = try TemporaryFolder()
        try folder.write("small.txt", "fits")
        // 100 MB, sparse: refused from its size (a read would take the test's memory and time).
        let big = folder.url.appendingPathComponent("big.md").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, 100_000_000) == 0)
        try folder.write("locked.txt", "secret")
        #expect(chmod(folder.url.appendingPathComponent("locked.txt").path, 0) == 0)
        #expect(mkfifo(folder.url.appendingPathComponent("pipe.txt").path, 0o644) == 0)
        try folder.write("sub/inside.md", "# In")
        #expect(chmod(folder.url.appendingPathComponent("sub").path, 0) == 0)
        defer { _ = chmod(folder.url.appendingPathComponent("sub").path, 0o755) }
        let source = try DirectorySource(root: folder.url.path, options: FileSourceOptions(maxFileBytes: 1 << 20))
        let listing = source.list()
        var results: [String: Result<SourceDocument, SourceFailure>] = [:]
        for entry in listing.entries {
            switch entry {
            case .file(let file): results[file.id] = source.load(file)
            case .failure(let failure): results[failure.path] = .failure(failure)
            }
        }
        #expect(results["big.md"] == .failure(SourceFailure(path: "big.md", error: .tooLarge(bytes: 100_000_000, limit: 1 << 20))))
        #expect(results["pipe.txt"] == .failure(SourceFailure(path: "pipe.txt", error: .notARegularFile)))
        #expect(try results["small.txt"]?.get().text == "fits")
        if getuid() != 0 {  // root reads and lists anything
            #expect(results["locked.txt"] == .failure(SourceFailure(path: "locked.txt", error: .unreadable(reason: "Permission denied"))))
            #expect(!listing.complete)
            guard case .failure(let sub) = results["sub"], case .unlistableFolder = sub.error else {
                Issue.record("sub: \(String(describing: results["sub"]))")
                return
            }
        }
        #expect(throws: FileSourceError.self) { try FileSourceOptions(maxFileBytes: 0).validate() }
    }

    @Test("a file name that is not UTF-8 is reported, not mangled into an id")
    func invalidName() throws {
        let folder = try TemporaryFolder()
        let name: [UInt8] = Array(folder.url.path.utf8) + Array("/bad-".utf8) + [0xFF] + Array(".md".utf8)
        let descriptor = name.withUnsafeBufferPointer { buffer -> Int32 in
            let path = buffer.map { CChar(bitPattern: $0) } + [0]
            return open(path, O_CREAT | O_WRONLY, 0o644)
        }
        #expect(descriptor >= 0)
        close(descriptor)
        let listing = try DirectorySource(root: folder.url.path).list()
        #expect(listing.entries == [.failure(SourceFailure(path: "bad-\u{FFFD}.md", error: .invalidFileName))])
    }
}
