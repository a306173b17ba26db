import ArgumentParser
import CollectionsAPI
import Foundation
import Logging
import SearchEngine

/// `--data DIR` and `--collection NAME`, shared by the commands that work on collections.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (collections live in DIR/collections).")
    var data: String = "var/data"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: SQLite files under --data).",
            discussion: "With a PostgreSQL store, --data keeps only this machine's derived index files."))
    var store: String?

    @Option(name: .long, help: "A read-only standby of --store's database to read from (writes go to --store).")
    var readStore: String?

    @Option(
        name: .long,
        help: "Seconds a PostgreSQL statement may wait for the server before the command fails (0.1 to 3600).")
    var storeTimeout: Double = StoreChoice.defaultTimeoutSeconds

    @Flag(name: .long, help: "Log engine events (index loads, rebuilds, model changes) on standard error.")
    var verbose = false

    var url: URL { URL(fileURLWithPath: data) }

    /// An engine embedding with `model` (or unable to embed, for commands that only read vectors);
    /// `indexesOnDemand` for a command that only embeds (``SearchEngine/indexesOnDemand``).
    func engine(
        model: ModelOptions?, also extra: [String] = [], documentLimits: DocumentLimits = DocumentLimits(), indexesOnDemand: Bool = false
    ) throws -> SearchEngine {
        CLILogging.bootstrap()
        var logger = Logger(label: "quiver")
        logger.logLevel = verbose ? .info : .warning
        let embedding: EmbeddingModel
        if let model {
            do {
                embedding = try EmbeddingModel.load(
                    folder: URL(fileURLWithPath: model.model),
                    options: .init(tokenBudget: model.tokenBudget, precision: model.precision))
            } catch {
                throw CLIError("cannot load model: \(error)")
            }
        } else {
            embedding = .external(id: "none", dimensions: 1)
        }
        // Extra folders (`--candidate-model`) are offered at every precision and loaded when a
        // generation needs one, so a candidate of the same folder at another precision is found.
        let shelf: ModelShelf?
        do {
            shelf =
                extra.isEmpty
                ? nil
                : try ModelShelf(folders: extra.map { URL(fileURLWithPath: $0) }, tokenBudget: model?.tokenBudget ?? 4096, logger: logger)
        } catch {
            throw CLIError("cannot use --candidate-model: \(error)")
        }
        do {
            let catalog = try StoreChoice.catalog(url: store, readURL: readStore, timeout: storeTimeout, data: url, logger: logger)
            return try SearchEngine(
                dataDirectory: url, catalog: catalog, models: [embedding], modelProvider: shelf, documentLimits: documentLimits,
                indexesOnDemand: indexesOnDemand, logger: logger)
        } catch {
            throw CLIError("\(error)")
        }
    }
}

/// `--collection NAME`.
struct CollectionOption: ParsableArguments {
    @Option(name: [.short, .long], help: "Collection name ([a-z0-9][a-z0-9_-]{0,63}).")
    var collection: String
}

/// swift-log goes to standard error (standard output carries results).
enum CLILogging {
    private static let once: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func bootstrap() { once }
}

/// Maps engine errors to `quiver: <message>`.
@discardableResult
func cli<T>(_ body: () throws(SearchEngineError) -> T) throws -> T {
    do { return try body() } catch { throw CLIError(error.description) }
}

/// JSON for results: compact, keys sorted, slashes unescaped.
func jsonLine<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Standard error, unbuffered.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
