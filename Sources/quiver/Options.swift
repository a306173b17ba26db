import ArgumentParser
import Embedder
import Foundation
import VectorMath

extension Precision: ExpressibleByArgument {}

/// `--model DIR`, shared by every command that loads the encoder.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model folder (Hugging Face / sentence-transformers layout).")
    var model: String = "models/all-MiniLM-L6-v2"

    @Option(name: .long, help: "Most tokens in one forward pass.")
    var tokenBudget: Int = 4096

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The encoder's arithmetic: fp32 (exact), bf16 (bf16 dense layers, fp32 accumulation) or int8 (int8 dense layers, exact int32 sums; the calibrated layers stay bf16).",
            discussion: "Part of the model: a collection's vectors are all of one precision; another one is a model change."))
    var precision: Precision = .fp32

    func load() throws -> Embedder {
        do {
            return try Embedder(folder: URL(fileURLWithPath: model), options: .init(tokenBudget: tokenBudget, precision: precision))
        } catch {
            throw CLIError("cannot load model: \(error)")
        }
    }
}

/// `--input FILE` (default: standard input) for the JSONL filters.
struct InputOptions: ParsableArguments {
    @Option(name: .long, help: "JSONL input file; '-' or absent reads standard input.")
    var input: String?

    func open() throws -> LineReader {
        guard let input, input != "-" else {
            guard let standardInput = fdopen(STDIN_FILENO, "r") else { throw CLIError("cannot read standard input") }
            return LineReader(file: standardInput, name: "<stdin>", owned: false)
        }
        guard let file = fopen(input, "r") else {
            throw CLIError("cannot open \(input): \(String(cString: strerror(errno)))")
        }
        return LineReader(file: file, name: input, owned: true)
    }
}

/// A failure reported as `quiver: <message>` on standard error with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
