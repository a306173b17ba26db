import ArgumentParser
import Foundation
import SearchEngine

/// `quiver promote --collection C [--model M]`: switch the candidate generation in.
struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Switch a collection's candidate generation in, atomically (the current one becomes the rollback copy).",
        discussion: """
            Documents written since the candidate was filled are embedded first, with --model (which must be the \
            candidate's model when there are any); then its index is built and the switch is one store transaction. \
            A running quiver serve picks the new generation up from the store.
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    func run() throws {
        let engine = try data.engine(model: model)
        let name = collection.collection
        let generation = try cli { () throws(SearchEngineError) in
            try engine.collection(name).promoteCandidate { step in printError("embedding: \(step.done)/\(step.total)") }
        }
        try cli { () throws(SearchEngineError) in try engine.checkpoint(collection: name) }
        print("\(name): generation \(generation) is current")
    }
}

/// `quiver discard --collection C [--model M]`: drop the candidate generation.
struct DiscardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard",
        abstract: "Drop a collection's candidate generation and its vectors; the current generation is untouched.",
        discussion: """
            Documents that only the candidate holds (written while it was a plain model change, before a --candidate \
            run turned it into a candidate) are embedded into the current generation first, with --model (the current \
            model).
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    func run() throws {
        let engine = try data.engine(model: model)
        let name = collection.collection
        let generation = try cli { () throws(SearchEngineError) in try engine.collection(name).discardCandidate() }
        print("\(name): candidate generation \(generation) discarded")
    }
}
