import ArgumentParser
import Foundation
import SearchEngine

/// `quiver settings --collection C [--set KEY=VALUE]... [--reset KEY]...`: show or change the
/// settings a collection's owner may change at any time (as `PATCH /v1/collections/{c}`).
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Show or change a collection's settings (verdict threshold, query log, shadow traffic).",
        discussion: """
            Without --set or --reset, prints the settings in force. VALUE is JSON: --set verdict_threshold=0.4, \
            --set query_log=true, --set 'query_log_text="redact"', --set query_log_retention_days=30, \
            --set query_log_max_queries=100000, --set shadow_rate=0.1. Every process serving the collection applies \
            a change at its next read of the store.
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions

    @Option(name: .long, help: "KEY=VALUE: set a setting (VALUE is JSON).")
    var set: [String] = []

    @Option(name: .long, help: "KEY: return a setting to its default.")
    var reset: [String] = []

    func run() throws {
        let patch = try Self.patch(set: set, reset: reset)
        let engine = try data.engine(model: nil)
        let name = collection.collection
        let tuning = try cli { () throws(SearchEngineError) in
            let handle = try engine.collection(name)
            return patch.isEmpty ? try handle.tuning() : try handle.updateTuning(patch)
        }
        print(try jsonLine(CollectionSettingsReport(tuning)))
    }

    /// The merge patch of `--set` and `--reset` options.
    static func patch(set: [String], reset: [String]) throws -> [String: JSONValue] {
        var patch: [String: JSONValue] = [:]
        for item in set {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CLIError("--set \(item): expected KEY=VALUE")
            }
            let key = String(item[..<equals])
            let text = String(item[item.index(after: equals)...])
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw CLIError("--set \(key): the value \"\(text)\" is not JSON (a number such as 0.4, true, \"text\")")
            }
            guard patch.updateValue(value, forKey: key) == nil else { throw CLIError("--set \(key): named twice") }
        }
        for key in reset {
            guard patch.updateValue(.null, forKey: key) == nil else { throw CLIError("--reset \(key): named twice") }
        }
        return patch
    }
}
