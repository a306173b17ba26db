import Foundation
import SearchEngine
import Yams

/// A Markdown file's YAML front matter (`---` on the first line, up to the next `---` or `...`
/// line), read with Yams (libyaml).
///
/// Its keys become the document's metadata with JSON values only: strings, finite numbers,
/// booleans, null, arrays and maps (keys must be scalars, read as their text); YAML timestamps
/// become ISO 8601 strings; a number that JSON cannot hold (`.inf`, `.nan`) and any other tag
/// (`!!binary`, custom tags) is kept as its text. Plain scalars are typed as Yams's default
/// resolver types them (YAML 1.1: `yes`/`no`/`on`/`off` are booleans). `title` (a scalar) is the
/// document's title; `updated_at`, else `date` (a timestamp, a number of seconds since 1970, or an
/// ISO 8601 / `YYYY-MM-DD` string) its time — one that is none of these is an error, not ignored.
///
/// Hostile front matter is refused before or while it is read: more than 64 KiB, nested deeper
/// than 64 levels (flow brackets, indentation or compact `- -` items; Yams composes recursively,
/// and libyaml's own limit, 1,000, is deeper than a small thread stack allows), aliases (`*a`)
/// where a mapping key is complex (`? …`, `[…]: `, `*a :` — Yams hashes every key, expanded, so a
/// key built of nested aliases costs exponential time), or more than 10,000 values or 256 KiB of
/// text once aliases are expanded.
struct FrontMatter: Equatable {
    var metadata: [String: JSONValue]
    var title: String?
    var updatedAt: Double?

    static let maxBytes = 64 << 10
    static let maxDepth = 64
    static let maxValues = 10_000
    static let maxExpandedBytes = 256 << 10

    /// Where front matter is in `bytes` (newlines already `\n`): the YAML's range and the index
    /// where the Markdown body starts; nil when the file has none (no `---` first line, or no
    /// closing line).
    static func locate(_ bytes: [UInt8]) -> (yaml: Range<Int>, bodyStart: Int)? {
        guard let firstEnd = lineEnd(bytes, from: 0), isDelimiter(bytes[0..<firstEnd], allowDots: false) else { return nil }
        let yamlStart = min(firstEnd + 1, bytes.count)
        var lineStart = yamlStart
        while lineStart < bytes.count {
            let end = lineEnd(bytes, from: lineStart) ?? bytes.count
            if isDelimiter(bytes[lineStart..<end], allowDots: true) {
                return (yamlStart..<lineStart, min(end + 1, bytes.count))
            }
            lineStart = end + 1
        }
        return nil
    }

    /// Reads the YAML of front matter.
    static func parse(_ yaml: ArraySlice<UInt8>) throws(FileSourceError) -> FrontMatter {
        guard yaml.count <= maxBytes else { throw .frontMatter(reason: "larger than \(maxBytes) bytes") }
        try FrontMatterScan.check(yaml, maxDepth: maxDepth)
        let text = String(decoding: yaml, as: UTF8.self)
        let root: Node?
        do {
            root = try Parser(yaml: text).singleRoot()
        } catch let error as YamlError {
            throw .frontMatter(reason: describe(error))
        } catch {
            throw .frontMatter(reason: "\(error)")
        }
        guard let root else { return FrontMatter(metadata: [:]) }
        guard case .mapping(let mapping) = root else { throw .frontMatter(reason: "must be a mapping of keys to values") }
        var converter = Converter()
        var result = FrontMatter(metadata: [:])
        let hasUpdatedAt = mapping.contains { $0.key.scalar?.string == "updated_at" }
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else { throw .frontMatter(reason: "keys must be strings") }
            let name = keyScalar.string
            guard result.metadata[name] == nil else { throw .frontMatter(reason: "duplicate key \"\(name)\"") }
            result.metadata[name] = try converter.value(value, depth: 1)
            switch name {
            case "title": result.title = try title(value)
            case "updated_at": result.updatedAt = try time(value, key: name) ?? result.updatedAt
            case "date" where !hasUpdatedAt: result.updatedAt = try time(value, key: name)
            default: break
            }
        }
        return result
    }

    private static func title(_ node: Node) throws(FileSourceError) -> String? {
        guard case .scalar(let scalar) = node else { throw .frontMatter(reason: "\"title\" must be a string") }
        guard node.tag.description != Tag.Name.null.rawValue else { return nil }
        let title = scalar.string.trimmingASCIISpaces()
        return title.isEmpty ? nil : title
    }

    /// A time in seconds since 1970, nil for null.
    private static func time(_ node: Node, key: String) throws(FileSourceError) -> Double? {
        let invalid = FileSourceError.frontMatter(reason: "\"\(key)\" is not a time (ISO 8601, YYYY-MM-DD or seconds since 1970)")
        guard case .scalar(let scalar) = node else { throw invalid }
        switch node.tag.description {
        case Tag.Name.null.rawValue:
            return nil
        case Tag.Name.timestamp.rawValue:
            guard TimeText.hasValidDate(scalar.string), let date = node.timestamp, date.timeIntervalSince1970.isFinite else {
                throw invalid
            }
            return date.timeIntervalSince1970
        case Tag.Name.int.rawValue, Tag.Name.float.rawValue:
            guard let seconds = node.float ?? node.int.map(Double.init), seconds.isFinite else { throw invalid }
            return seconds
        default:
            guard let seconds = TimeText.seconds(scalar.string) else { throw invalid }
            return seconds
        }
    }

    private static func describe(_ error: YamlError) -> String {
        // Lines are counted in the file: the front matter starts on its second line.
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(problem) (line \(mark.line + 1), column \(mark.column))"
        case .reader(let problem, let offset, _, _):
            return "\(problem)\(offset.map { " (offset \($0))" } ?? "")"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate keys \(duplicates.joined(separator: ", "))"
        default:
            return "\(error)"
        }
    }

    private static func lineEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        var i = start
        while i < bytes.count, bytes[i] != 0x0A { i += 1 }
        return i
    }

    /// `---` (or `...` closing) with nothing after it but spaces and tabs.
    private static func isDelimiter(_ line: ArraySlice<UInt8>, allowDots: Bool) -> Bool {
        var trimmed = line
        while let last = trimmed.last, last == 0x20 || last == 0x09 { trimmed.removeLast() }
        return trimmed.elementsEqual("---".utf8) || (allowDots && trimmed.elementsEqual("...".utf8))
    }

    /// Yams nodes to JSON values, counting what aliases expand to.
    private struct Converter {
        var values = 0
        var bytes = 0

        mutating func value(_ node: Node, depth: Int) throws(FileSourceError) -> JSONValue {
            values += 1
            guard values <= FrontMatter.maxValues else {
                throw .frontMatter(reason: "more than \(FrontMatter.maxValues) values (with aliases expanded)")
            }
            guard depth <= FrontMatter.maxDepth else { throw .frontMatter(reason: "nested deeper than \(FrontMatter.maxDepth) levels") }
            switch node {
            case .scalar(let scalar):
                bytes += scalar.string.utf8.count
                guard bytes <= FrontMatter.maxExpandedBytes else {
                    throw .frontMatter(reason: "more than \(FrontMatter.maxExpandedBytes) bytes of text (with aliases expanded)")
                }
                return Self.scalarValue(node, scalar)
            case .sequence(let sequence):
                var array: [JSONValue] = []
                array.reserveCapacity(sequence.count)
                for element in sequence { array.append(try value(element, depth: depth + 1)) }
                return .array(array)
            case .mapping(let mapping):
                var object: [String: JSONValue] = [:]
                for (key, element) in mapping {
                    guard case .scalar(let keyScalar) = key else { throw .frontMatter(reason: "keys must be strings") }
                    guard object[keyScalar.string] == nil else { throw .frontMatter(reason: "duplicate key \"\(keyScalar.string)\"") }
                    object[keyScalar.string] = try value(element, depth: depth + 1)
                }
                return .object(object)
            case .alias:
                throw .frontMatter(reason: "unresolved alias")
            }
        }

        static func scalarValue(_ node: Node, _ scalar: Node.Scalar) -> JSONValue {
            switch node.tag.description {
            case Tag.Name.null.rawValue:
                return .null
            case Tag.Name.bool.rawValue:
                return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue:
                if let value = node.int { return .number(Double(value)) }
                if let value = node.float, value.isFinite { return .number(value) }
                return .string(scalar.string)
            case Tag.Name.float.rawValue:
                if let value = node.float, value.isFinite { return .number(value) }
                return .string(scalar.string)
            case Tag.Name.timestamp.rawValue:
                // Yams's calendar rolls 2024-02-30 over to March: such a date stays text.
                guard TimeText.hasValidDate(scalar.string), let date = node.timestamp else { return .string(scalar.string) }
                return .string(TimeText.iso8601(date.timeIntervalSince1970))
            default:
                return .string(scalar.string)
            }
        }
    }
}

/// The textual checks made before Yams sees front matter (see ``FrontMatter``): nesting depth,
/// and aliases together with complex keys. One pass; quoted scalars, comments and block scalars
/// (`|`, `>`) are stepped over so their text does not count.
enum FrontMatterScan {
    static func check(_ yaml: ArraySlice<UInt8>, maxDepth: Int) throws(FileSourceError) {
        let bytes = Array(yaml)
        let n = bytes.count
        var i = 0
        var flowDepth = 0
        var sawAlias = false
        var sawComplexKey = false
        var blockScalarIndent: Int?  // inside a block scalar: lines indented more than this are its text
        var lineStart = true
        var indent = 0
        var previous: UInt8 = 0x0A  // the last significant byte before `i` on this line (0x0A at a line start)
        func tooDeep() -> FileSourceError { .frontMatter(reason: "nested deeper than \(maxDepth) levels") }
        while i < n {
            if lineStart {
                indent = 0
                while i < n, bytes[i] == 0x20 {
                    indent += 1
                    i += 1
                }
                lineStart = false
                previous = 0x0A
                let blank = i >= n || bytes[i] == 0x0A || bytes[i] == UInt8(ascii: "#")
                if let parent = blockScalarIndent {
                    if blank || indent > parent {
                        while i < n, bytes[i] != 0x0A { i += 1 }
                        continue
                    }
                    blockScalarIndent = nil
                }
                guard indent <= 2 * maxDepth else { throw tooDeep() }
                // Compact nested items: `- - - x`.
                var items = 0
                var k = i
                while k + 1 < n, bytes[k] == UInt8(ascii: "-"), bytes[k + 1] == 0x20 {
                    items += 1
                    k += 2
                    while k < n, bytes[k] == 0x20 { k += 1 }
                }
                guard items <= maxDepth else { throw tooDeep() }
                continue
            }
            let byte = bytes[i]
            switch byte {
            case 0x0A:
                lineStart = true
                i += 1
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // A quoted scalar, which may run over lines; `\"` escapes in double quotes, `''` in single.
                i += 1
                while i < n {
                    if byte == UInt8(ascii: "\""), bytes[i] == UInt8(ascii: "\\") {
                        i += 2
                        continue
                    }
                    if bytes[i] == byte {
                        if byte == UInt8(ascii: "'"), i + 1 < n, bytes[i + 1] == byte {
                            i += 2
                            continue
                        }
                        break
                    }
                    i += 1
                }
                i += 1
                previous = byte
                continue
            case UInt8(ascii: "#") where previous == 0x0A || previous == 0x20 || previous == 0x09:
                while i < n, bytes[i] != 0x0A { i += 1 }
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flowDepth += 1
                guard flowDepth <= maxDepth else { throw tooDeep() }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                flowDepth = max(flowDepth - 1, 0)
                if followedByColon(bytes, from: i + 1) { sawComplexKey = true }
            case UInt8(ascii: "*") where isTokenStart(previous):
                sawAlias = true
                var end = i + 1
                while end < n, !isSeparator(bytes[end]) { end += 1 }
                if end > i + 1, followedByColon(bytes, from: end) { sawComplexKey = true }
            case UInt8(ascii: "?") where isTokenStart(previous) && (i + 1 >= n || bytes[i + 1] == 0x20 || bytes[i + 1] == 0x0A):
                sawComplexKey = true
            case UInt8(ascii: "|"), UInt8(ascii: ">"):
                if isTokenStart(previous), blockIndicatorEndsLine(bytes, from: i + 1) { blockScalarIndent = indent }
            default:
                break
            }
            if byte != 0x20 && byte != 0x09 { previous = byte }
            i += 1
        }
        if sawAlias && sawComplexKey {
            throw .frontMatter(reason: "aliases (*name) together with complex keys (? key, [..]: or *alias :) are not supported")
        }
    }

    /// After whitespace, a line start, `:`, `-`, `[`, `{` or `,`: where a YAML node may begin.
    private static func isTokenStart(_ previous: UInt8) -> Bool {
        previous == 0x0A || previous == UInt8(ascii: ":") || previous == UInt8(ascii: "-") || previous == UInt8(ascii: "[")
            || previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",") || previous == UInt8(ascii: "?")
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]")
            || byte == UInt8(ascii: "}") || byte == UInt8(ascii: ":")
    }

    /// Spaces, then a `:` followed by a space, a line end or a flow indicator.
    private static func followedByColon(_ bytes: [UInt8], from start: Int) -> Bool {
        var i = start
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
        let next = i + 1 < bytes.count ? bytes[i + 1] : 0x0A
        return next == 0x20 || next == 0x0A || next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next == UInt8(ascii: "]")
    }

    /// `|` or `>` with only chomping/indentation indicators, spaces and a comment after it.
    private static func blockIndicatorEndsLine(_ bytes: [UInt8], from start: Int) -> Bool {
        var i = start
        while i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") || (0x31...0x39).contains(bytes[i]) {
            i += 1
        }
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        return i >= bytes.count || bytes[i] == 0x0A || bytes[i] == UInt8(ascii: "#")
    }
}
