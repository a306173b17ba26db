import DocumentStore

/// A filter: every entry must hold (AND). Keys are metadata fields, or the reserved `updated_at`
/// and `embedded_at`. A value is either a scalar (equality) or an object of operators:
///
/// ```json
/// {"lang": "en", "year": {"gte": 2020, "lt": 2025}, "embedded_at": {"gt": "2026-11-01T00:00:00Z"}}
/// ```
/// Operators: `eq`, `ne`, `gt`, `gte`, `lt`, `lte`. Times are ISO 8601 strings or seconds since 1970.
public struct QueryFilter: Sendable, Codable, Equatable {
    /// Field → condition.
    public var fields: [String: JSONValue]

    /// Creates a filter.
    public init(_ fields: [String: JSONValue]) { self.fields = fields }

    public init(from decoder: Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }

    /// Most conditions in one filter.
    static let maxConditions = 32

    /// The conditions for the store, validated.
    func conditions() throws(SearchEngineError) -> [FieldCondition] {
        var result: [FieldCondition] = []
        for (key, spec) in fields.sorted(by: { $0.key < $1.key }) {
            let field: FieldCondition.Field
            switch key {
            case "updated_at": field = .updatedAt
            case "embedded_at": field = .embeddedAt
            default:
                guard !key.isEmpty, key.utf8.count <= 128,
                    key.unicodeScalars.allSatisfy({ $0 != "\"" && $0 != "\\" && $0.value >= 0x20 })
                else { throw .invalidFilter("field name \"\(key)\" is not allowed") }
                field = .metadata(key)
            }
            let isTime = field != .metadata(key)
            if case .object(let operators) = spec {
                guard !operators.isEmpty else { throw .invalidFilter("\(key): empty operator object") }
                for (name, value) in operators.sorted(by: { $0.key < $1.key }) {
                    guard let comparison = FieldCondition.Comparison(rawValue: name) else {
                        throw .invalidFilter("\(key): unknown operator \"\(name)\" (eq, ne, gt, gte, lt, lte)")
                    }
                    result.append(
                        FieldCondition(
                            field: field, comparison: comparison,
                            value: try Self.value(value, key: key, isTime: isTime)))
                }
            } else {
                result.append(FieldCondition(field: field, comparison: .eq, value: try Self.value(spec, key: key, isTime: isTime)))
            }
        }
        guard result.count <= Self.maxConditions else { throw .invalidFilter("more than \(Self.maxConditions) conditions") }
        return result
    }

    private static func value(_ value: JSONValue, key: String, isTime: Bool) throws(SearchEngineError) -> FieldCondition.Value {
        if isTime {
            switch value {
            case .number(let x) where x.isFinite: return .number(x)
            case .string(let text):
                guard let time = Timestamp(iso8601: text) else { throw .invalidFilter("\(key): \"\(text)\" is not an ISO 8601 time") }
                return .number(time.seconds)
            default: throw .invalidFilter("\(key): expected a time (ISO 8601 string or seconds)")
            }
        }
        switch value {
        case .string(let text):
            // SQLite would compare only up to the NUL: a silent wrong match, so it is refused.
            guard !text.containsNUL else { throw .invalidFilter("\(key): a string with a NUL character (U+0000) cannot be matched") }
            return .string(text)
        case .number(let x) where x.isFinite: return .number(x)
        case .bool(let b): return .bool(b)
        default: throw .invalidFilter("\(key): expected a string, number or boolean")
        }
    }
}
