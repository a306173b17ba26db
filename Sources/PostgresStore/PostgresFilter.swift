import DocumentStore
import PostgresNIO

/// Metadata filters as PostgreSQL: keys and values are bound parameters, never SQL text.
///
/// The semantics are the store contract's (see ``FieldCondition``): a comparison matches a field
/// of the value's JSON type only (a string with a string, a number with a number, a boolean with a
/// boolean); `ne` matches any present, non-null field that is not equal (another type included);
/// a missing or null field matches nothing. Strings compare by code point (`COLLATE "C"`), numbers
/// as `numeric` (a JSON number beyond float8's range compares instead of failing the query).
/// Metadata is stored as the text the client sent and parsed as `json` per condition (not `jsonb`,
/// which refuses `\u0000`); a GIN index over it is future work.
enum PostgresFilter {
    static func clause(_ condition: FieldCondition, binding values: inout PostgresBindings) -> String {
        let op = sqlOperator(condition.comparison)
        func parameter(_ value: FieldCondition.Value) -> String {
            switch value {
            case .string(let s): values.append(s)
            case .number(let x): values.append(x)
            case .bool(let b): values.append(b)
            }
            return "$\(values.count)"
        }
        switch condition.field {
        case .updatedAt:
            guard case .number = condition.value else { return "false" }
            return "d.updated_at \(op) \(parameter(condition.value))"
        case .embeddedAt:
            guard case .number = condition.value else { return "false" }
            return "v.embedded_at \(op) \(parameter(condition.value))"
        case .metadata(let key):
            values.append(key)
            // PostgreSQL's JSON operators fail the whole query on a document holding an escaped NUL
            // (`\u0000`, which text cannot hold): such metadata is read with U+0001 in its place
            // (the engine refuses NUL in filter values, so only the order against U+0001 differs).
            let metadata =
                "(CASE WHEN strpos(d.metadata, '\\u0000') > 0 THEN replace(d.metadata, '\\u0000', '\\u0001') ELSE d.metadata END)::json"
            let field = "(\(metadata) -> $\(values.count))"
            let text = "(\(metadata) ->> $\(values.count))"
            let (type, typed, bound): (String, String, String)
            switch condition.value {
            case .string:
                (type, typed, bound) = ("string", "\(text) COLLATE \"C\"", "\(parameter(condition.value))::text COLLATE \"C\"")
            case .number:
                (type, typed, bound) = ("number", "\(text)::numeric", "\(parameter(condition.value))::double precision::numeric")
            case .bool:
                (type, typed, bound) = ("boolean", "\(text)::boolean", "\(parameter(condition.value))::boolean")
            }
            // CASE fixes the order: the cast runs only on a field of the right type.
            let value = "(CASE WHEN json_typeof(\(field)) = '\(type)' THEN \(typed) END)"
            if condition.comparison == .ne {
                return "(coalesce(json_typeof(\(field)), 'null') <> 'null' AND NOT coalesce(\(value) = \(bound), false))"
            }
            return "\(value) \(op) \(bound)"
        }
    }

    static func sqlOperator(_ comparison: FieldCondition.Comparison) -> String {
        switch comparison {
        case .eq: "="
        case .ne: "<>"
        case .gt: ">"
        case .gte: ">="
        case .lt: "<"
        case .lte: "<="
        }
    }
}
