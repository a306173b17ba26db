import ArgumentParser
import Foundation
import SearchEngine

/// `quiver worker --store URL [--collection C] [--once]`: an embedding worker for deferred
/// writes, model changes and candidates on a shared store.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Embed deferred writes, model changes and candidates, sharing the work with any other workers.",
        discussion: """
            Deferred writes (quiver index --defer-embedding, PUT …/documents with "defer_embedding": true) are \
            stored without a vector; a worker claims them in small batches (PostgreSQL: advisory locks, so \
            workers never embed a document twice), embeds them with the current generation's model and stores \
            each vector as a change with its own seq, which every quiver serve follows into its index. \
            For model changes and candidates it claims documents still lacking a vector in a collection's \
            building generation in small batches \
            (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so workers on many machines never embed a document \
            twice), embeds them with --model (the generation's model) and stores the vectors in the claim's \
            transaction. A worker killed mid-batch loses nothing: its claim is rolled back with its connection. \
            The worker that finds a model change complete switches it in; every quiver serve follows the switch. \
            Candidates are filled, never switched (see quiver promote). Start a model change with \
            POST /v1/collections/C/generations or quiver index --model M (those fill it too, sharing the \
            claims), then run workers anywhere.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var model: ModelOptions

    @Option(name: [.short, .long], help: "Work on this collection only (default: every collection).")
    var collection: String?

    @Option(name: .long, help: "Documents per claim (one transaction; a writer touching a claimed document waits for it).")
    var batchSize: Int = 32

    @Flag(name: .long, help: "Exit once no collection has work left (default: keep polling for new model changes).")
    var once = false

    @Option(name: .long, help: "Seconds between polls when there is no work, or only work other workers hold.")
    var pollSeconds: Double = 2

    func validate() throws {
        guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 4096") }
        guard pollSeconds > 0, pollSeconds <= 3600 else { throw ValidationError("--poll-seconds must be in (0, 3600]") }
    }

    func run() throws {
        // A worker only embeds: it loads no collection's index (a first open of 100k vectors
        // builds for over a minute).
        let engine = try data.engine(model: model, indexesOnDemand: true)
        let started = Date()
        var total = 0
        var reported: Set<String> = []
        while true {
            var waiting = false
            // A failure (a collection whose model change needs another model, one dropped
            // meanwhile, the store briefly unreachable) is reported and that collection retried at
            // the next poll; the others go on. With --once the worker exits non-zero at the end.
            var failures: [String: String] = [:]
            let names: [String]
            if let collection {
                names = [collection]
            } else {
                do { names = try engine.collectionNames() } catch {
                    guard !once else { throw CLIError(error.description) }
                    printError("worker: cannot list collections: \(error); retrying")
                    Thread.sleep(forTimeInterval: pollSeconds)
                    continue
                }
            }
            for name in names {
                // Deferred writes first, then a model change: each may fail on its own (this
                // worker may have only one of the two models).
                var passes: [WorkerPass] = []
                do {
                    let handle = try engine.collection(name)
                    do {
                        passes.append(
                            try handle.embedPending(batchSize: batchSize) { step in
                                printError("\(name): embedded \(step.done) deferred documents this pass (\(step.total) were pending)")
                            })
                    } catch {
                        failures[name] = error.description
                        printError("\(name): \(error)")
                    }
                    passes.append(
                        try handle.workOnModelChange(batchSize: batchSize) { step in
                            printError("\(name): embedded \(step.done) this pass (\(step.total) were pending)")
                        })
                } catch {
                    failures[name] = error.description
                    printError("\(name): \(error)")
                }
                for pass in passes {
                    guard let generation = pass.generation else { continue }
                    total += pass.embedded
                    if pass.pending {
                        if pass.remaining > 0 {
                            printError("\(name): \(pass.remaining) deferred documents pending (held by other workers, or new)")
                            waiting = true
                        }
                        continue
                    }
                    report(name, generation, pass, &reported, &waiting)
                }
            }
            if once, !waiting, !failures.isEmpty {
                throw CLIError("worker: failed on \(failures.keys.sorted().joined(separator: ", "))")
            }
            if once, !waiting {
                let seconds = Date().timeIntervalSince(started)
                printError("worker: embedded \(total) documents in \(String(format: "%.1f", seconds)) s")
                return
            }
            Thread.sleep(forTimeInterval: pollSeconds)
        }
    }

    /// Prints what a model-change pass did; `waiting` when documents are left to other workers.
    private func report(_ name: String, _ generation: Int64, _ pass: WorkerPass, _ reported: inout Set<String>, _ waiting: inout Bool) {
        if pass.switched {
            print("\(name): generation \(generation) complete and switched in")
        } else if pass.remaining == 0, pass.candidate {
            if reported.insert("\(name)#\(generation)").inserted {
                print("\(name): candidate generation \(generation) filled")
            }
        } else if pass.remaining > 0 {
            printError("\(name): \(pass.remaining) documents pending in generation \(generation) (held by other workers, or new)")
            waiting = true
        }
    }
}
