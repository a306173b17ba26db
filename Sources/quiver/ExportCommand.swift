import ArgumentParser
import Foundation
import SearchEngine

/// `quiver export --collection NAME`: every vector, as JSONL or raw float32.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a collection's vectors: JSONL {\"id\", \"vector\", \"model\", \"embedded_at\"} or raw little-endian float32 rows."
    )

    enum Format: String, ExpressibleByArgument {
        case jsonl, f32
    }

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions

    @Option(help: "jsonl, or f32 (rows of float32; ids go to --ids, one per line).")
    var format: Format = .jsonl

    @Option(help: "With --format f32: file receiving the ids, one per line, in row order.")
    var ids: String?

    @Option(help: "Vectors per page read from the store.")
    var page: Int = 2000

    func run() throws {
        guard (1...SearchEngine.maxVectorsPerCall).contains(page) else { throw ValidationError("--page must be in 1...10000") }
        let engine = try data.engine(model: nil)
        let name = collection.collection
        var idsFile: FileHandle?
        if let ids {
            guard FileManager.default.createFile(atPath: ids, contents: nil), let handle = FileHandle(forWritingAtPath: ids) else {
                throw CLIError("cannot create \(ids)")
            }
            idsFile = handle
        }
        defer { try? idsFile?.close() }
        var cursor: String?
        var count = 0
        var output = OutputBuffer()
        var model = ""
        var dimensions = 0
        repeat {
            let pageSize = page
            let current = cursor
            let response = try cli { () throws(SearchEngineError) in
                try engine.exportVectors(collection: name, cursor: current, limit: pageSize)
            }
            model = response.model.fingerprint
            var idLines = ""
            for item in response.vectors {
                dimensions = item.vector.count
                switch format {
                case .jsonl:
                    output.append(try jsonLine(item) + "\n")
                case .f32:
                    var bytes = Data(capacity: item.vector.count * 4)
                    for x in item.vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                    output.flush()
                    FileHandle.standardOutput.write(bytes)
                    idLines += item.id + "\n"
                }
                output.flushIfLarge()
            }
            idsFile?.write(Data(idLines.utf8))
            count += response.vectors.count
            cursor = response.nextCursor
        } while cursor != nil
        output.flush()
        printError("exported \(count) vectors of \(dimensions) dimensions from \(name) (model \(model))")
    }
}
