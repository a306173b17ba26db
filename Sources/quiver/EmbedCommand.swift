import ArgumentParser
import Embedder
import Foundation

/// `quiver embed`: JSONL `{"text"}` in, JSONL `{"embedding"}` out, one line per input, in order.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed JSONL {\"text\": ...} lines into JSONL {\"embedding\": [...]} lines.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var io: InputOptions

    @Option(help: "Lines embedded together (sorted by length inside the chunk).")
    var chunk: Int = 512

    func run() throws {
        guard chunk >= 1 else { throw ValidationError("--chunk must be at least 1") }
        let embedder = try model.load()
        let reader = try io.open()
        var output = OutputBuffer()
        var texts: [String] = []
        func flushChunk() throws {
            guard !texts.isEmpty else { return }
            let vectors: [[Float]]
            do { vectors = try embedder.embed(texts) } catch { throw CLIError("embedding failed: \(error)") }
            for vector in vectors {
                output.append("{\"embedding\":\(jsonArray(vector))}\n")
                output.flushIfLarge()
            }
            texts.removeAll(keepingCapacity: true)
        }
        do {
            while let line = reader.next() {
                texts.append(try parseTextLine(line, number: reader.lineNumber, source: reader.name))
                if texts.count >= chunk { try flushChunk() }
            }
            try flushChunk()
        } catch {
            // Lines before the bad one are still embedded and written, then the command stops.
            try? flushChunk()
            output.flush()
            throw error
        }
        output.flush()
    }
}

/// `quiver tokenize`: JSONL `{"text"}` in, JSONL `{"ids"}` out, one line per input, in order.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize JSONL {\"text\": ...} lines into JSONL {\"ids\": [...]} lines.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var io: InputOptions

    func run() throws {
        let tokenizer: WordPieceTokenizer
        let maxLength: Int
        do {
            let folder = URL(fileURLWithPath: model.model)
            tokenizer = try WordPieceTokenizer(folder: folder)
            let config = try BertConfig(url: folder.appendingPathComponent("config.json"))
            maxLength = try PoolingConfig(folder: folder, maxPositions: config.maxPositions).maxSequenceLength
        } catch {
            throw CLIError("cannot load tokenizer: \(error)")
        }
        let reader = try io.open()
        var output = OutputBuffer()
        do {
            while let line = reader.next() {
                let text = try parseTextLine(line, number: reader.lineNumber, source: reader.name)
                output.append("{\"ids\":\(jsonArray(tokenizer.encode(text, maxLength: maxLength)))}\n")
                output.flushIfLarge()
            }
        } catch {
            output.flush()
            throw error
        }
        output.flush()
    }
}
