/// Markdown inline syntax stripped to its text: `[a](b)` → `a`, `*a*`/`**a**`/`_a_`/`~~a~~` → `a`,
/// `` `code` `` → `code`, images dropped, autolinks to their address, raw inline tags dropped
/// (`<br>` a line break), backslash escapes and character references decoded.
///
/// One pass over the bytes. Every forward look (a link's destination, a tag's end) is bounded, and
/// a code span's closing run is found through an index of backtick runs by length with cursors
/// that only move forward, so the work stays linear however many openers are left unclosed.
/// Emphasis runs are removed only in matched pairs, so `2 * 3 * 4` and `snake_case` keep theirs.
/// Deleted bytes are marked 0x00 (never in accepted input: it is refused as binary) and filtered
/// out at the end, so a matched opener costs O(1).
enum MarkdownInline {
    /// Longest link destination and title looked at after `](`.
    static let maxDestinationBytes = 2048
    /// Longest inline tag or autolink looked at after `<`.
    static let maxTagBytes = 1024

    private struct Delimiter {
        var position: Int
        var length: Int
    }

    static func render(_ source: [UInt8]) -> [UInt8] {
        let s = source
        let n = s.count
        var out: [UInt8] = []
        out.reserveCapacity(n)
        var codeRuns = BacktickRuns(s)
        var stars: [Delimiter] = []
        var underscores: [Delimiter] = []
        var tildes: [Delimiter] = []
        var brackets: [(position: Int, image: Bool)] = []
        var i = 0
        while i < n {
            let c = s[i]
            switch c {
            case UInt8(ascii: "\\"):
                if i + 1 < n, isASCIIPunctuation(s[i + 1]) {
                    out.append(s[i + 1])
                    i += 2
                } else {
                    out.append(c)
                    i += 1
                }
            case UInt8(ascii: "`"):
                var end = i
                while end < n, s[end] == c { end += 1 }
                if let close = codeRuns.closer(length: end - i, after: end - 1) {
                    out.append(contentsOf: codeSpanContent(s[end..<close]))
                    i = close + (end - i)
                } else {
                    out.append(contentsOf: s[i..<end])
                    i = end
                }
            case UInt8(ascii: "!") where i + 1 < n && s[i + 1] == UInt8(ascii: "["):
                brackets.append((out.count, true))
                out.append(contentsOf: [c, s[i + 1]])
                i += 2
            case UInt8(ascii: "["):
                brackets.append((out.count, false))
                out.append(c)
                i += 1
            case UInt8(ascii: "]"):
                guard let opener = brackets.popLast(), let end = linkEnd(s, after: i) else {
                    out.append(c)
                    i += 1
                    break
                }
                if opener.image {
                    // An image is dropped whole, with any delimiters opened inside its text.
                    // The stacks are in position order: popping from the top is enough.
                    let cut = opener.position
                    out.removeLast(out.count - cut)
                    while let last = stars.last, last.position >= cut { stars.removeLast() }
                    while let last = underscores.last, last.position >= cut { underscores.removeLast() }
                    while let last = tildes.last, last.position >= cut { tildes.removeLast() }
                    while let last = brackets.last, last.position >= cut { brackets.removeLast() }
                } else {
                    out[opener.position] = 0
                }
                i = end
            case UInt8(ascii: "*"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                var end = i
                while end < n, s[end] == c { end += 1 }
                let length = end - i
                let position = out.count
                out.append(contentsOf: s[i..<end])
                i = end
                if c == UInt8(ascii: "~"), length != 2 { break }  // `~5 min` is not strikethrough
                let before: UInt8 = i - length == 0 ? 0x20 : s[i - length - 1]
                let after: UInt8 = end < n ? s[end] : 0x20
                let (canOpen, canClose) = flanking(c, before: before, after: after)
                func match(_ stack: inout [Delimiter]) {
                    if canClose, let opener = stack.popLast() {
                        for k in opener.position..<opener.position + opener.length { out[k] = 0 }
                        for k in position..<position + length { out[k] = 0 }
                    } else if canOpen {
                        stack.append(Delimiter(position: position, length: length))
                    }
                }
                switch c {
                case UInt8(ascii: "*"): match(&stars)
                case UInt8(ascii: "_"): match(&underscores)
                default: match(&tildes)
                }
            case UInt8(ascii: "<"):
                if let (text, end) = inlineTag(s, at: i) {
                    out.append(contentsOf: text)
                    i = end
                } else {
                    out.append(c)
                    i += 1
                }
            case UInt8(ascii: "&"):
                if let (value, end) = HTMLEntities.decode(s, at: i) {
                    out.append(contentsOf: value)
                    i = end
                } else {
                    out.append(c)
                    i += 1
                }
            default:
                out.append(c)
                i += 1
            }
        }
        return out.filter { $0 != 0 }
    }

    /// Whether a run of `c` between `before` and `after` may open and close emphasis (CommonMark's
    /// flanking rules; `_` does not open or close inside a word).
    private static func flanking(_ c: UInt8, before: UInt8, after: UInt8) -> (open: Bool, close: Bool) {
        let beforeSpace = before == 0x20 || before == 0x0A || before == 0x09
        let afterSpace = after == 0x20 || after == 0x0A || after == 0x09
        let beforePunctuation = isASCIIPunctuation(before)
        let afterPunctuation = isASCIIPunctuation(after)
        let left = !afterSpace && (!afterPunctuation || beforeSpace || beforePunctuation)
        let right = !beforeSpace && (!beforePunctuation || afterSpace || afterPunctuation)
        if c == UInt8(ascii: "_") {
            return (left && (!right || beforePunctuation), right && (!left || afterPunctuation))
        }
        return (left, right)
    }

    /// After a `]` at `close`: the index past `(destination "title")` or `[label]`, nil when
    /// neither follows (the brackets are then literal text).
    private static func linkEnd(_ s: [UInt8], after close: Int) -> Int? {
        let start = close + 1
        guard start < s.count else { return nil }
        let limit = min(s.count, start + maxDestinationBytes)
        if s[start] == UInt8(ascii: "(") {
            var depth = 0
            var quote: UInt8?
            var j = start + 1
            while j < limit {
                let b = s[j]
                if b == UInt8(ascii: "\\") {
                    j += 2
                    continue
                }
                if let open = quote {
                    if b == open { quote = nil }
                } else if (b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")) && (s[j - 1] == 0x20 || s[j - 1] == 0x0A) {
                    quote = b
                } else if b == UInt8(ascii: "(") {
                    depth += 1
                } else if b == UInt8(ascii: ")") {
                    if depth == 0 { return j + 1 }
                    depth -= 1
                }
                j += 1
            }
            return nil
        }
        if s[start] == UInt8(ascii: "[") {
            var j = start + 1
            while j < limit, j - start <= 1000 {
                if s[j] == UInt8(ascii: "]") { return j + 1 }
                if s[j] == UInt8(ascii: "[") { return nil }
                j += 1
            }
        }
        return nil
    }

    /// At a `<`: an autolink (its address), an inline comment or tag (nothing; `<br>` a newline),
    /// with the index past it; nil when it is a literal `<`.
    private static func inlineTag(_ s: [UInt8], at start: Int) -> (text: [UInt8], end: Int)? {
        let n = s.count
        let limit = min(n, start + maxTagBytes)
        guard start + 1 < n else { return nil }
        if starts(s, at: start, with: "<!--") {
            var j = start + 4
            while j + 2 < limit {
                if s[j] == UInt8(ascii: "-"), s[j + 1] == UInt8(ascii: "-"), s[j + 2] == UInt8(ascii: ">") { return ([], j + 3) }
                j += 1
            }
            return nil
        }
        // Autolink: <scheme:address> or <user@host>.
        var j = start + 1
        var sawColon = false
        var sawAt = false
        while j < limit, s[j] != UInt8(ascii: ">") {
            let b = s[j]
            if b == 0x20 || b == 0x0A || b == 0x09 || b == UInt8(ascii: "<") { break }
            if b == UInt8(ascii: ":") { sawColon = true }
            if b == UInt8(ascii: "@") { sawAt = true }
            j += 1
        }
        if j < limit, s[j] == UInt8(ascii: ">"), j > start + 1, sawColon || sawAt,
            isASCIILetter(s[start + 1])
        {
            let schemeOrUser = s[(start + 1)..<j]
            if sawColon, let colon = schemeOrUser.firstIndex(of: UInt8(ascii: ":")), colon - start - 1 >= 2 {
                return (Array(schemeOrUser), j + 1)
            }
            if sawAt, !sawColon { return (Array(schemeOrUser), j + 1) }
        }
        // A tag: <name …> or </name>, attribute values quoted or not.
        let nameStart = s[start + 1] == UInt8(ascii: "/") ? start + 2 : start + 1
        guard nameStart < n, isASCIILetter(s[nameStart]) else { return nil }
        var nameEnd = nameStart
        while nameEnd < limit, isASCIILetter(s[nameEnd]) || (0x30...0x39).contains(s[nameEnd]) || s[nameEnd] == UInt8(ascii: "-") {
            nameEnd += 1
        }
        guard nameEnd < limit else { return nil }
        let next = s[nameEnd]
        guard next == 0x20 || next == 0x0A || next == 0x09 || next == UInt8(ascii: ">") || next == UInt8(ascii: "/") else { return nil }
        var quote: UInt8?
        j = nameEnd
        while j < limit {
            let b = s[j]
            if let open = quote {
                if b == open { quote = nil }
            } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                quote = b
            } else if b == UInt8(ascii: ">") {
                let name = s[nameStart..<nameEnd].map { $0 | 0x20 }
                return (name == Array("br".utf8) ? [0x0A] : [], j + 1)
            } else if b == UInt8(ascii: "<") {
                return nil
            }
            j += 1
        }
        return nil
    }

    /// A code span's text: line ends as spaces; one space stripped from each end when both have one.
    private static func codeSpanContent(_ content: ArraySlice<UInt8>) -> [UInt8] {
        var text = content.map { $0 == 0x0A ? 0x20 : $0 }
        if text.count >= 2, text.first == 0x20, text.last == 0x20, text.contains(where: { $0 != 0x20 }) {
            text.removeFirst()
            text.removeLast()
        }
        return text
    }

    private static func starts(_ s: [UInt8], at index: Int, with literal: String) -> Bool {
        let bytes = Array(literal.utf8)
        guard index + bytes.count <= s.count else { return false }
        return s[index..<index + bytes.count].elementsEqual(bytes)
    }

    static func isASCIIPunctuation(_ b: UInt8) -> Bool {
        (0x21...0x2F).contains(b) || (0x3A...0x40).contains(b) || (0x5B...0x60).contains(b) || (0x7B...0x7E).contains(b)
    }

    static func isASCIILetter(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b | 0x20) }
}

/// The backtick runs of a text, by length, for finding a code span's closing run in linear time.
private struct BacktickRuns {
    private var startsByLength: [Int: [Int]] = [:]
    private var cursors: [Int: Int] = [:]

    init(_ s: [UInt8]) {
        var i = 0
        while i < s.count {
            guard s[i] == UInt8(ascii: "`") else {
                i += 1
                continue
            }
            let start = i
            while i < s.count, s[i] == UInt8(ascii: "`") { i += 1 }
            startsByLength[i - start, default: []].append(start)
        }
    }

    /// The start of the first run of exactly `length` backticks starting after `after`; calls
    /// must come with non-decreasing `after`.
    mutating func closer(length: Int, after: Int) -> Int? {
        guard let starts = startsByLength[length] else { return nil }
        var cursor = cursors[length] ?? 0
        while cursor < starts.count, starts[cursor] <= after { cursor += 1 }
        cursors[length] = cursor
        return cursor < starts.count ? starts[cursor] : nil
    }
}
