import ArgumentParser
import Embedder
import Foundation

/// `quiver demo`: embeds a few sentences and prints how similar they are — the main job until
/// the server exists.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Embed a few sentences and print their cosine similarities.")

    @OptionGroup var model: ModelOptions

    @Argument(help: "Sentences to compare (default: a built-in set).")
    var sentences: [String] = [
        "How do I reset my password?",
        "I forgot my login credentials and cannot sign in.",
        "Where can I download my invoice?",
        "The billing statement for last month is missing.",
        "What are your office opening hours?",
    ]

    func run() throws {
        let embedder = try model.load()
        let start = Date()
        let vectors: [[Float]]
        do { vectors = try embedder.embed(sentences) } catch { throw CLIError("embedding failed: \(error)") }
        let elapsed = Date().timeIntervalSince(start) * 1000
        print("model: \(model.model) (\(embedder.dimension) dimensions, \(embedder.pooling.mode.rawValue) pooling)")
        print(String(format: "embedded %d sentences in %.1f ms\n", sentences.count, elapsed))
        for (i, sentence) in sentences.enumerated() {
            let best = sentences.indices.filter { $0 != i }.max { dot(vectors[i], vectors[$0]) < dot(vectors[i], vectors[$1]) }
            if let best {
                print(String(format: "%.3f  %@\n       ↳ %@", dot(vectors[i], vectors[best]), sentence, sentences[best]))
            }
        }
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}
