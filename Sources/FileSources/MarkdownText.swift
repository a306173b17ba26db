/// Readable plain text and a title from a Markdown body (front matter already taken off).
///
/// The syntax is stripped, not kept: the text is what a reader sees, so the model embeds words,
/// not `](https://…)`, and a passage shown to a user reads cleanly. Headings lose their `#`s and
/// stand as their own paragraph; list items are one line each (`- ` for bullets, `N. ` kept for
/// ordered items); table rows are one line each, cells joined by `" | "` (the delimiter row
/// dropped); fenced and indented code is kept verbatim (the fence and its info string dropped);
/// block quotes lose their `>`; thematic breaks and link reference definitions are dropped; HTML
/// blocks go through ``HTMLText``; inline syntax through ``MarkdownInline``.
///
/// The title is the first level-1 heading (`# …` or `===` underlined), else the first heading of
/// any level.
///
/// Stripped by hand, not with Ink (JohnSundell/Ink 0.6.0, the only Markdown library in the package
/// mirror): Ink renders HTML, which would then be parsed again, and it is not robust on hostile
/// input — there are public reports of it hanging on an unclosed `<p` and trapping on a `---`
/// followed by blank lines, and a trap here would end the whole `quiver index` run. This converter
/// is a line-by-line pass with no recursion (nesting is counted, not descended into), each line
/// looked at a bounded number of times, so its time is linear in the file's size.
public struct MarkdownText: Sendable, Equatable {
    /// The first heading (see above), nil when there is none.
    public var title: String?
    /// The readable text.
    public var text: String

    /// Creates a result.
    public init(title: String?, text: String) {
        self.title = title
        self.text = text
    }

    /// Converts a UTF-8 Markdown body (the caller has checked the encoding).
    public static func convert(_ markdown: [UInt8]) -> MarkdownText {
        var converter = MarkdownConverter(HTMLText.normalizingNewlines(markdown))
        return converter.run()
    }
}

/// The line-by-line pass of ``MarkdownText/convert(_:)``.
struct MarkdownConverter {
    /// What the lines gathered so far are.
    enum Pending: Equatable {
        case none
        case paragraph
        case item(prefix: [UInt8])
    }

    /// An open fenced code block.
    struct Fence {
        var marker: UInt8
        var length: Int
        var indent: Int
        var quoteDepth: Int
    }

    /// How an open HTML block ends.
    enum HTMLEnd {
        case blankLine
        case contains([UInt8])
    }

    let lines: [ArraySlice<UInt8>]
    var writer: PlainTextWriter
    var pending = Pending.none
    var gathered: [UInt8] = []
    var lastWasItem = false
    /// A list item was seen and no unindented block since: indented lines continue it, not code.
    var inList = false
    var quoteDepth = 0
    var fence: Fence?
    var code: [ArraySlice<UInt8>] = []
    var indentedCode: [ArraySlice<UInt8>]?
    var html: (end: HTMLEnd, quoteDepth: Int)?
    var htmlLines: [ArraySlice<UInt8>] = []
    var firstH1: String?
    var firstHeading: String?

    init(_ bytes: [UInt8]) {
        lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        writer = PlainTextWriter(capacity: bytes.count)
    }

    mutating func run() -> MarkdownText {
        var k = 0
        while k < lines.count {
            k = line(k)
        }
        if fence != nil { endFence() }
        if html != nil { endHTML() }
        endIndentedCode()
        flush()
        let text = String(decoding: writer.finish(), as: UTF8.self)
        return MarkdownText(title: firstH1 ?? firstHeading, text: text)
    }

    /// Handles line `k`; returns the index of the next line to handle.
    mutating func line(_ k: Int) -> Int {
        let raw = lines[k]
        if let open = fence {
            let content = Self.stripQuotes(raw, maxDepth: open.quoteDepth).content
            if Self.closesFence(content, open) {
                endFence()
            } else {
                code.append(Self.dropIndent(content, columns: open.indent))
            }
            return k + 1
        }
        if let open = html {
            let content = Self.stripQuotes(raw, maxDepth: open.quoteDepth).content
            switch open.end {
            case .blankLine:
                if Self.isBlank(content) {
                    endHTML()
                } else {
                    htmlLines.append(content)
                }
            case .contains(let marker):
                htmlLines.append(content)
                if Self.contains(content, marker) { endHTML() }
            }
            return k + 1
        }
        let (depth, content) = Self.stripQuotes(raw, maxDepth: Int.max)
        if depth != quoteDepth {
            endIndentedCode()
            flush()
            quoteDepth = depth
        }
        let (indent, offset) = Self.indentation(content)
        let rest = content[(content.startIndex + offset)...]
        if Self.isBlank(rest) {
            if indentedCode != nil {
                indentedCode?.append(rest)
            } else {
                flush()
            }
            return k + 1
        }
        if indent >= 4, pending == .none, !inList {
            if indentedCode == nil { indentedCode = [] }
            indentedCode?.append(Self.dropIndent(content, columns: 4))
            return k + 1
        }
        endIndentedCode()
        if indent < 4 { return block(k, rest: rest, indent: indent) }
        gather(rest)
        return k + 1
    }

    /// A line indented less than four columns: a block start, or paragraph text.
    mutating func block(_ k: Int, rest: ArraySlice<UInt8>, indent: Int) -> Int {
        if let open = Self.fenceOpening(rest, indent: indent, quoteDepth: quoteDepth) {
            flush()
            fence = open
            return k + 1
        }
        if let (level, text) = Self.atxHeading(rest) {
            flush()
            heading(text, level: level)
            return k + 1
        }
        if pending == .paragraph, let level = Self.setextLevel(rest) {
            let text = gathered
            pending = .none
            gathered.removeAll()
            heading(text[...], level: level)
            return k + 1
        }
        if Self.isThematicBreak(rest) {
            flush()
            inList = false
            return k + 1
        }
        if let end = Self.htmlBlockStart(rest) {
            flush()
            inList = false
            htmlLines = [rest]
            html = (end, quoteDepth)
            if case .contains(let marker) = end, Self.contains(rest.dropFirst(2), marker) { endHTML() }
            return k + 1
        }
        if let (prefix, content) = Self.listItem(rest, indent: indent) {
            flush()
            pending = .item(prefix: prefix)
            inList = true
            gathered.append(contentsOf: content)
            return k + 1
        }
        if pending == .none, Self.isReferenceDefinition(rest) { return k + 1 }
        if rest.contains(UInt8(ascii: "|")), k + 1 < lines.count {
            let next = Self.stripQuotes(lines[k + 1], maxDepth: quoteDepth)
            if next.depth == quoteDepth, Self.isTableDelimiter(next.content) { return table(from: k) }
        }
        if indent == 0, pending == .none { inList = false }
        gather(rest)
        return k + 1
    }

    /// Adds a line of paragraph (or list item) text; a hard break (two trailing spaces or a `\`)
    /// is kept as a line end, a soft one becomes a space.
    mutating func gather(_ text: ArraySlice<UInt8>) {
        if pending == .none {
            pending = .paragraph
            lastWasItem = false
        } else if !gathered.isEmpty {
            gathered.append(0x20)
        }
        var line = text
        var spaces = 0
        while let last = line.last, last == 0x20 || last == 0x09 {
            line.removeLast()
            spaces += 1
        }
        if spaces >= 2 {
            gathered.append(contentsOf: line)
            gathered.append(0x0A)
        } else if line.last == UInt8(ascii: "\\"), line.dropLast().last != UInt8(ascii: "\\") {
            gathered.append(contentsOf: line.dropLast())
            gathered.append(0x0A)
        } else {
            gathered.append(contentsOf: line)
        }
    }

    /// Writes the gathered paragraph or list item.
    mutating func flush() {
        defer {
            pending = .none
            gathered.removeAll(keepingCapacity: true)
        }
        var text = MarkdownInline.render(gathered)
        while let last = text.last, PlainTextWriter.isSpace(last) { text.removeLast() }
        switch pending {
        case .none:
            return
        case .paragraph:
            guard !text.isEmpty else { return }
            writer.requestBreak(.paragraph)
            lastWasItem = false
        case .item(let prefix):
            guard !text.isEmpty else { return }
            writer.requestBreak(lastWasItem ? .line : .paragraph)
            writer.requestPrefix(prefix)
            lastWasItem = true
        }
        let start = text.firstIndex { !PlainTextWriter.isSpace($0) } ?? text.count
        writer.writeVerbatim(text[start...])
    }

    mutating func heading(_ source: ArraySlice<UInt8>, level: Int) {
        var text = MarkdownInline.render(Array(source))
        while let last = text.last, PlainTextWriter.isSpace(last) { text.removeLast() }
        inList = false
        lastWasItem = false
        guard !text.isEmpty else { return }
        let title = String(decoding: text, as: UTF8.self).trimmingASCIISpaces().replacingNewlines()
        if level == 1, firstH1 == nil { firstH1 = title }
        if firstHeading == nil { firstHeading = title }
        writer.requestBreak(.paragraph)
        writer.writeVerbatim(text[...])
    }

    mutating func endFence() {
        writeCode(code)
        code.removeAll()
        fence = nil
    }

    mutating func endIndentedCode() {
        guard var lines = indentedCode else { return }
        indentedCode = nil
        while let last = lines.last, Self.isBlank(last) { lines.removeLast() }
        writeCode(lines)
    }

    mutating func writeCode(_ lines: [ArraySlice<UInt8>]) {
        flush()
        inList = false
        lastWasItem = false
        let joined = Array(lines.joined(separator: [0x0A]))
        guard joined.contains(where: { !PlainTextWriter.isSpace($0) }) else { return }
        writer.requestBreak(.paragraph)
        writer.writeVerbatim(joined[...])
    }

    mutating func endHTML() {
        let converted = HTMLText.convert(Array(htmlLines.joined(separator: [0x0A]))).text
        htmlLines.removeAll()
        html = nil
        lastWasItem = false
        guard !converted.isEmpty else { return }
        writer.requestBreak(.paragraph)
        writer.writeVerbatim(Array(converted.utf8)[...])
    }

    /// A table from its header row at line `k`; returns the line after its last row.
    mutating func table(from k: Int) -> Int {
        flush()
        inList = false
        lastWasItem = false
        var rows = [Self.stripQuotes(lines[k], maxDepth: quoteDepth).content]
        var next = k + 2  // past the delimiter row
        while next < lines.count {
            let (depth, content) = Self.stripQuotes(lines[next], maxDepth: quoteDepth)
            guard depth == quoteDepth, !Self.isBlank(content), content.contains(UInt8(ascii: "|")) else { break }
            rows.append(content)
            next += 1
        }
        writer.requestBreak(.paragraph)
        for row in rows {
            let cells = Self.cells(row).map { cell -> [UInt8] in
                var text = MarkdownInline.render(Array(cell))
                while let last = text.last, PlainTextWriter.isSpace(last) { text.removeLast() }
                let start = text.firstIndex { !PlainTextWriter.isSpace($0) } ?? text.count
                return Array(text[start...])
            }
            writer.requestBreak(.line)
            writer.writeVerbatim(Array(cells.joined(separator: Array(" | ".utf8)))[...])
        }
        return next
    }
}
