import DocumentStore
import Foundation
import QueryLog
import Synchronization

/// The settings of a collection that its owner may change at any time, stored with the collection
/// (`PATCH /v1/collections/{c}`, `quiver settings`). Every process serving the collection reads
/// them with the store state, so a change made through one server applies on every replica at its
/// next read of the store (within the follower's poll interval).
///
/// Settings that change what is stored or indexed (model, chunking, distance) are not here: they
/// take a new generation (`POST …/generations`).
public struct CollectionTuning: Sendable, Codable, Equatable {
    /// `answered` is `confidence ≥ verdictThreshold` when a query names no `verdict_threshold`;
    /// nil: ``SearchEngine/defaultVerdictThreshold``.
    public var verdictThreshold: Float?
    /// Whether a server logs this collection's text queries (``QueryLogFile``); off by default.
    public var queryLog: Bool?
    /// How a logged query's text is kept; nil: `plain`.
    public var queryLogText: QueryTextMode?
    /// Days a logged query is kept; nil: ``defaultRetentionDays``.
    public var queryLogRetentionDays: Int?
    /// Most queries kept (the oldest go first); nil: ``defaultMaxLoggedQueries``.
    public var queryLogMaxQueries: Int?
    /// Share (0–1) of a server's live text queries answered by the candidate generation too, off
    /// the request's path, to compare the two (``ShadowSummary``); nil: 0.
    public var shadowRate: Double?

    /// Every key a patch may name (the stored and reported names, ``CodingKeys``).
    public static let keys = CodingKeys.allCases.map(\.stringValue)
    /// Days a logged query is kept by default.
    public static let defaultRetentionDays = 30
    /// Queries a log keeps by default.
    public static let defaultMaxLoggedQueries = 100_000
    /// The range of `query_log_retention_days`.
    public static let retentionDaysRange = 1...3650
    /// The range of `query_log_max_queries` (a query costs ~2 KB with its embedding).
    public static let maxLoggedQueriesRange = 100...10_000_000

    /// No setting changed: every default.
    public init(verdictThreshold: Float? = nil) {
        self.verdictThreshold = verdictThreshold
    }

    /// The settings' names, stored and reported (``CollectionSettingsReport`` uses them too).
    enum CodingKeys: String, CodingKey, CaseIterable {
        case verdictThreshold = "verdict_threshold"
        case queryLog = "query_log"
        case queryLogText = "query_log_text"
        case queryLogRetentionDays = "query_log_retention_days"
        case queryLogMaxQueries = "query_log_max_queries"
        case shadowRate = "shadow_rate"
    }

    /// The threshold a query without its own `verdict_threshold` is judged by.
    public var effectiveVerdictThreshold: Float { verdictThreshold ?? SearchEngine.defaultVerdictThreshold }
    /// Whether text queries are logged.
    public var logsQueries: Bool { queryLog ?? false }
    /// How logged texts are kept.
    public var effectiveQueryLogText: QueryTextMode { queryLogText ?? .plain }
    /// Days logged queries are kept.
    public var effectiveRetentionDays: Int { queryLogRetentionDays ?? Self.defaultRetentionDays }
    /// Most queries kept.
    public var effectiveMaxLoggedQueries: Int { queryLogMaxQueries ?? Self.defaultMaxLoggedQueries }
    /// Share of live text queries shadowed on the candidate.
    public var effectiveShadowRate: Double { shadowRate ?? 0 }

    /// The settings stored as `json` (``CollectionSettings/tuning``). Keys this build does not
    /// know (written by a newer one) are ignored; the store's constraint keeps the column a JSON
    /// object, and a value that does not decode leaves that setting at its default.
    public init(stored json: String?) {
        guard let json, let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8)) else {
            self.init()
            return
        }
        var tuning = CollectionTuning()
        // Each key on its own: one a build cannot read leaves only that setting at its default.
        for (key, value) in object where Self.keys.contains(key) {
            tuning = (try? tuning.applying([key: value])) ?? tuning
        }
        self = tuning
    }

    /// These settings changed by `patch`, a JSON merge patch (RFC 7396): a key with a value sets
    /// it, a key with `null` returns it to its default, a key not named is left as it is.
    ///
    /// - Throws: `invalidSetting` naming the key, for an unknown key or a value out of range;
    ///   nothing is changed then.
    public func applying(_ patch: [String: JSONValue]) throws(SearchEngineError) -> CollectionTuning {
        var tuning = self
        for key in patch.keys.sorted() {
            guard let value = patch[key] else { continue }
            switch key {
            case "verdict_threshold":
                switch value {
                case .null: tuning.verdictThreshold = nil
                case .number(let threshold) where threshold >= 0 && threshold <= 1: tuning.verdictThreshold = Float(threshold)
                default: throw .invalidSetting("verdict_threshold must be a number between 0 and 1, or null for the default")
                }
            case "query_log":
                switch value {
                case .null: tuning.queryLog = nil
                case .bool(let on): tuning.queryLog = on
                default: throw .invalidSetting("query_log must be true or false, or null for the default (false)")
                }
            case "query_log_text":
                switch value {
                case .null: tuning.queryLogText = nil
                case .string(let name) where QueryTextMode(rawValue: name) != nil: tuning.queryLogText = QueryTextMode(rawValue: name)
                default: throw .invalidSetting("query_log_text must be \"plain\", \"redact\" or \"hash\", or null for the default (plain)")
                }
            case "query_log_retention_days":
                tuning.queryLogRetentionDays = try Self.integer(value, key, in: Self.retentionDaysRange, default: Self.defaultRetentionDays)
            case "shadow_rate":
                switch value {
                case .null: tuning.shadowRate = nil
                case .number(let rate) where rate >= 0 && rate <= 1: tuning.shadowRate = rate
                default: throw .invalidSetting("shadow_rate must be a number between 0 and 1, or null for the default (0)")
                }
            case "query_log_max_queries":
                tuning.queryLogMaxQueries = try Self.integer(
                    value, key, in: Self.maxLoggedQueriesRange, default: Self.defaultMaxLoggedQueries)
            default:
                let shown = key.count > 64 ? String(key.prefix(64)) + "…" : key
                throw .invalidSetting("unknown setting \"\(shown)\" (settings: \(Self.keys.joined(separator: ", ")))")
            }
        }
        return tuning
    }

    /// A whole number in `range`, or nil for JSON null.
    private static func integer(_ value: JSONValue, _ key: String, in range: ClosedRange<Int>, default fallback: Int)
        throws(SearchEngineError) -> Int?
    {
        if case .null = value { return nil }
        guard case .number(let number) = value, number.rounded() == number, number >= Double(range.lowerBound),
            number <= Double(range.upperBound)
        else {
            throw .invalidSetting(
                "\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), or null for the default (\(fallback))")
        }
        return Int(number)
    }

    /// The stored form: a JSON object of the settings that are not at their default (nil when
    /// none is), keeping keys of `stored` this build does not know (a newer build's).
    func stored(keepingUnknownOf stored: String?) -> String? {
        var object: [String: JSONValue] = [:]
        if let stored, let old = try? JSONDecoder().decode([String: JSONValue].self, from: Data(stored.utf8)) {
            for (key, value) in old where !Self.keys.contains(key) { object[key] = value }
        }
        // A Float widened to Double prints its shortest decimal form (0.4, not 0.4000000059604645).
        if let threshold = verdictThreshold { object["verdict_threshold"] = .number(Double("\(threshold)") ?? Double(threshold)) }
        if let queryLog { object["query_log"] = .bool(queryLog) }
        if let queryLogText { object["query_log_text"] = .string(queryLogText.rawValue) }
        if let days = queryLogRetentionDays { object["query_log_retention_days"] = .number(Double(days)) }
        if let most = queryLogMaxQueries { object["query_log_max_queries"] = .number(Double(most)) }
        if let rate = shadowRate { object["shadow_rate"] = .number(rate) }
        guard !object.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The last stored settings a follower read and what they parse to: queries read the settings
/// with every store state, and parse them only when they changed.
final class TuningCache: Sendable {
    private let last = Mutex<(json: String?, tuning: CollectionTuning)>((nil, CollectionTuning()))

    /// The settings as last read.
    var current: CollectionTuning { last.withLock { $0.tuning } }

    /// The settings stored as `json`.
    func tuning(_ json: String?) -> CollectionTuning {
        if let hit = last.withLock({ $0.json == json ? $0.tuning : nil }) { return hit }
        let tuning = CollectionTuning(stored: json)
        last.withLock { $0 = (json, tuning) }
        return tuning
    }
}

extension CollectionHandle {
    /// The collection's changeable settings as the store holds them now.
    public func tuning() throws(SearchEngineError) -> CollectionTuning {
        do { return follower.tuningCache.tuning(try store.settings().tuning) } catch { throw SearchEngineError(error) }
    }

    /// Changes the collection's settings by `patch` (see ``CollectionTuning/applying(_:)``), in
    /// one store transaction, and returns them as stored. Every process serving the collection
    /// applies them at its next read of the store state.
    ///
    /// - Throws: `invalidSetting` (nothing changed); storage errors.
    @discardableResult
    public func updateTuning(_ patch: [String: JSONValue]) throws(SearchEngineError) -> CollectionTuning {
        // Checked against the defaults first, so a bad patch fails before the transaction.
        _ = try CollectionTuning().applying(patch)
        let stored: String?
        do {
            stored = try store.updateTuning { current in
                // Cannot fail: every key and value was checked above.
                let changed = (try? CollectionTuning(stored: current).applying(patch)) ?? CollectionTuning(stored: current)
                return changed.stored(keepingUnknownOf: current)
            }
        } catch {
            throw SearchEngineError(error)
        }
        follower.forgetState()
        return follower.tuningCache.tuning(stored)
    }
}
