import GRDB

/// One condition of a metadata filter, translated to SQL by the store only: field names become a
/// bound JSON path argument and every value a bound argument, so no input reaches the SQL text.
///
/// Every backend gives a metadata condition the same meaning: a comparison matches a field of the
/// value's JSON type only (a string with a string, by code point; a number with a number; a
/// boolean with a boolean); `ne` matches any present, non-null field that is not equal (a field
/// of another type included); a missing or null field matches nothing.
public struct FieldCondition: Sendable, Equatable {
    /// What the condition looks at.
    public enum Field: Sendable, Equatable {
        /// A top-level key of the metadata object.
        case metadata(String)
        /// The document's `updated_at` (seconds since 1970).
        case updatedAt
        /// When its vector in the queried generation was computed (seconds since 1970).
        case embeddedAt
    }

    /// How the field is compared.
    public enum Comparison: String, Sendable, Equatable, CaseIterable {
        /// Equal (numbers by value, strings exactly, booleans as JSON true/false).
        case eq
        /// Not equal (documents without the field do not match).
        case ne
        /// Greater than.
        case gt
        /// Greater than or equal.
        case gte
        /// Less than.
        case lt
        /// Less than or equal.
        case lte

        var sql: String {
            switch self {
            case .eq: "="
            case .ne: "!="
            case .gt: ">"
            case .gte: ">="
            case .lt: "<"
            case .lte: "<="
            }
        }
    }

    /// A comparison value.
    public enum Value: Sendable, Equatable {
        /// A string.
        case string(String)
        /// A number.
        case number(Double)
        /// A boolean (JSON true/false are 1/0 to SQLite).
        case bool(Bool)
    }

    /// The field.
    public var field: Field
    /// The comparison.
    public var comparison: Comparison
    /// The value compared with.
    public var value: Value

    /// Creates a condition.
    public init(field: Field, comparison: Comparison, value: Value) {
        self.field = field
        self.comparison = comparison
        self.value = value
    }

    func sql() -> (String, [DatabaseValue]) {
        let bound: DatabaseValue =
            switch value {
            case .string(let s): s.databaseValue
            case .number(let x): x.databaseValue
            case .bool(let b): (b ? 1 : 0).databaseValue
            }
        switch field {
        case .metadata(let key):
            // The key is quoted as a JSON path member; a double quote inside cannot be expressed
            // in a path, so such keys are rejected by the engine before reaching here.
            let path = "$.\"" + key + "\""
            let types =
                switch value {
                case .string: "'text'"
                case .number: "'integer', 'real'"
                case .bool: "'true', 'false'"
                }
            // CASE: the value is compared only when the field has the value's type (SQLite would
            // otherwise order any number before any string).
            let typed = "(CASE WHEN json_type(d.metadata, ?) IN (\(types)) THEN json_extract(d.metadata, ?) END)"
            if comparison == .ne {
                return (
                    "(coalesce(json_type(d.metadata, ?), 'null') != 'null' AND NOT coalesce(\(typed) = ?, 0))",
                    [path.databaseValue, path.databaseValue, path.databaseValue, bound]
                )
            }
            return ("\(typed) \(comparison.sql) ?", [path.databaseValue, path.databaseValue, bound])
        case .updatedAt:
            return ("d.updated_at \(comparison.sql) ?", [bound])
        case .embeddedAt:
            return ("v.embedded_at \(comparison.sql) ?", [bound])
        }
    }
}
