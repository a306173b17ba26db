/// How ``MarkdownText`` classifies a line: each test looks at the line once, from its start.
extension MarkdownConverter {
    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool { line.allSatisfy { $0 == 0x20 || $0 == 0x09 } }

    /// Columns of leading whitespace (a tab to the next multiple of 4) and the bytes it spans.
    static func indentation(_ line: ArraySlice<UInt8>) -> (columns: Int, bytes: Int) {
        var columns = 0
        var bytes = 0
        for byte in line {
            if byte == 0x20 {
                columns += 1
            } else if byte == 0x09 {
                columns += 4 - columns % 4
            } else {
                break
            }
            bytes += 1
        }
        return (columns, bytes)
    }

    /// `line` without up to `columns` columns of leading whitespace.
    static func dropIndent(_ line: ArraySlice<UInt8>, columns: Int) -> ArraySlice<UInt8> {
        var column = 0
        var index = line.startIndex
        while index < line.endIndex, column < columns {
            if line[index] == 0x20 {
                column += 1
            } else if line[index] == 0x09 {
                column += 4 - column % 4
            } else {
                break
            }
            index += 1
        }
        return line[index...]
    }

    /// The block-quote depth of a line (up to `maxDepth` `>` markers) and the line without them.
    static func stripQuotes(_ line: ArraySlice<UInt8>, maxDepth: Int) -> (depth: Int, content: ArraySlice<UInt8>) {
        var depth = 0
        var rest = line
        while depth < maxDepth {
            let (columns, bytes) = indentation(rest)
            let after = rest.dropFirst(bytes)
            guard columns < 4, after.first == UInt8(ascii: ">") else { break }
            rest = after.dropFirst()
            if let first = rest.first, first == 0x20 || first == 0x09 { rest = rest.dropFirst() }
            depth += 1
        }
        return (depth, rest)
    }

    static func fenceOpening(_ rest: ArraySlice<UInt8>, indent: Int, quoteDepth: Int) -> Fence? {
        guard let marker = rest.first, marker == UInt8(ascii: "`") || marker == UInt8(ascii: "~") else { return nil }
        let length = rest.prefix { $0 == marker }.count
        guard length >= 3 else { return nil }
        if marker == UInt8(ascii: "`"), rest.dropFirst(length).contains(marker) { return nil }  // inline code, not a fence
        return Fence(marker: marker, length: length, indent: indent, quoteDepth: quoteDepth)
    }

    static func closesFence(_ content: ArraySlice<UInt8>, _ fence: Fence) -> Bool {
        let (columns, bytes) = indentation(content)
        guard columns < 4 else { return false }
        let rest = content.dropFirst(bytes)
        let length = rest.prefix { $0 == fence.marker }.count
        return length >= fence.length && isBlank(rest.dropFirst(length))
    }

    /// `# Title #` → (1, "Title").
    static func atxHeading(_ rest: ArraySlice<UInt8>) -> (Int, ArraySlice<UInt8>)? {
        let level = rest.prefix { $0 == UInt8(ascii: "#") }.count
        guard (1...6).contains(level) else { return nil }
        var text = rest.dropFirst(level)
        guard text.isEmpty || text.first == 0x20 || text.first == 0x09 else { return nil }
        while let first = text.first, first == 0x20 || first == 0x09 { text.removeFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text.removeLast() }
        // A closing run of #s, when a space precedes it (or it is all there is).
        let closing = text.reversed().prefix { $0 == UInt8(ascii: "#") }.count
        if closing > 0 {
            let before = text.dropLast(closing)
            if before.isEmpty || before.last == 0x20 || before.last == 0x09 { text = before }
        }
        return (level, text)
    }

    /// `===` → 1, `---` → 2 (a setext underline), else nil.
    static func setextLevel(_ rest: ArraySlice<UInt8>) -> Int? {
        guard let marker = rest.first, marker == UInt8(ascii: "=") || marker == UInt8(ascii: "-") else { return nil }
        let run = rest.prefix { $0 == marker }.count
        guard isBlank(rest.dropFirst(run)) else { return nil }
        return marker == UInt8(ascii: "=") ? 1 : 2
    }

    /// Three or more `-`, `*` or `_` (one kind), spaces allowed between.
    static func isThematicBreak(_ rest: ArraySlice<UInt8>) -> Bool {
        guard let marker = rest.first, marker == UInt8(ascii: "-") || marker == UInt8(ascii: "*") || marker == UInt8(ascii: "_") else {
            return false
        }
        var count = 0
        for byte in rest {
            if byte == marker {
                count += 1
            } else if byte != 0x20 && byte != 0x09 {
                return false
            }
        }
        return count >= 3
    }

    /// A bullet (`-`, `*`, `+`) or ordered (`1.`, `1)`) item: the text's prefix and the content.
    static func listItem(_ rest: ArraySlice<UInt8>, indent: Int) -> ([UInt8], ArraySlice<UInt8>)? {
        guard let first = rest.first else { return nil }
        let marker: [UInt8]
        var after: ArraySlice<UInt8>
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "*") || first == UInt8(ascii: "+") {
            marker = [UInt8(ascii: "-")]
            after = rest.dropFirst()
        } else {
            let digits = rest.prefix { (0x30...0x39).contains($0) }
            guard (1...9).contains(digits.count), let delimiter = rest.dropFirst(digits.count).first,
                delimiter == UInt8(ascii: ".") || delimiter == UInt8(ascii: ")")
            else { return nil }
            marker = Array(digits) + [UInt8(ascii: ".")]
            after = rest.dropFirst(digits.count + 1)
        }
        guard after.isEmpty || after.first == 0x20 || after.first == 0x09 else { return nil }
        while let next = after.first, next == 0x20 || next == 0x09 { after.removeFirst() }
        let nesting = [UInt8](repeating: 0x20, count: min(indent, 16))
        return (nesting + marker + [0x20], after)
    }

    /// `[label]: destination` (dropped: it is not text).
    static func isReferenceDefinition(_ rest: ArraySlice<UInt8>) -> Bool {
        guard rest.first == UInt8(ascii: "["), rest.dropFirst().first != UInt8(ascii: "^") else { return false }
        guard let close = rest.firstIndex(of: UInt8(ascii: "]")), close > rest.startIndex + 1 else { return false }
        return rest[(close + 1)...].first == UInt8(ascii: ":")
    }

    /// `| --- | :-: |`: cells of dashes with optional colons, at least one `|`.
    static func isTableDelimiter(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.contains(UInt8(ascii: "|")), line.contains(UInt8(ascii: "-")) else { return false }
        return line.allSatisfy { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ":") || $0 == 0x20 || $0 == 0x09 }
    }

    /// A table row's cells: split at unescaped `|`, the outer pipes dropped.
    static func cells(_ row: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var line = row
        while let first = line.first, first == 0x20 || first == 0x09 { line.removeFirst() }
        while let last = line.last, last == 0x20 || last == 0x09 { line.removeLast() }
        if line.first == UInt8(ascii: "|") { line.removeFirst() }
        if line.last == UInt8(ascii: "|"), line.dropLast().last != UInt8(ascii: "\\") { line.removeLast() }
        var cells: [ArraySlice<UInt8>] = []
        var start = line.startIndex
        var i = line.startIndex
        while i < line.endIndex {
            if line[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if line[i] == UInt8(ascii: "|") {
                cells.append(line[start..<i])
                start = i + 1
            }
            i += 1
        }
        cells.append(line[min(start, line.endIndex)..<line.endIndex])
        return cells
    }

    /// An HTML block's start (CommonMark's kinds 1–6) and how it ends.
    static func htmlBlockStart(_ rest: ArraySlice<UInt8>) -> HTMLEnd? {
        guard rest.first == UInt8(ascii: "<"), rest.count >= 2 else { return nil }
        let lowered = rest.prefix(12).map { $0 | 0x20 }
        func hasPrefix(_ literal: String) -> Bool { lowered.starts(with: Array(literal.utf8)) }
        if hasPrefix("<!--") { return .contains(Array("-->".utf8)) }
        if hasPrefix("<?") { return .contains(Array("?>".utf8)) }
        if rest.starts(with: Array("<![CDATA[".utf8)) { return .contains(Array("]]>".utf8)) }
        if hasPrefix("<!"), rest.count > 2, MarkdownInline.isASCIILetter(rest[rest.startIndex + 2]) {
            return .contains([UInt8(ascii: ">")])
        }
        let closing = rest.dropFirst().first == UInt8(ascii: "/")
        let nameBytes = rest.dropFirst(closing ? 2 : 1).prefix { MarkdownInline.isASCIILetter($0) || (0x30...0x39).contains($0) }
        guard !nameBytes.isEmpty, nameBytes.count <= 10 else { return nil }
        let after = rest.dropFirst((closing ? 2 : 1) + nameBytes.count).first
        guard after == nil || after == 0x20 || after == 0x09 || after == UInt8(ascii: ">") || after == UInt8(ascii: "/") else { return nil }
        let name = String(decoding: nameBytes.map { $0 | 0x20 }, as: UTF8.self)
        if !closing, ["script", "pre", "style", "textarea"].contains(name) { return .contains(Array("</\(name)>".utf8)) }
        return htmlBlockNames.contains(name) ? .blankLine : nil
    }

    /// Whether `line` contains `marker` (ASCII, any case).
    static func contains(_ line: ArraySlice<UInt8>, _ marker: [UInt8]) -> Bool {
        guard marker.count <= line.count else { return false }
        var i = line.startIndex
        while i + marker.count <= line.endIndex {
            var matched = true
            for (offset, byte) in marker.enumerated() where lowercased(line[i + offset]) != lowercased(byte) {
                matched = false
                break
            }
            if matched { return true }
            i += 1
        }
        return false
    }

    static func lowercased(_ byte: UInt8) -> UInt8 { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte }

    static let htmlBlockNames: Set<String> = [
        "address", "article", "aside", "base", "basefont", "blockquote", "body", "caption", "center", "col", "colgroup", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset",
        "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "iframe", "legend", "li", "link", "main", "menu",
        "menuitem", "nav", "noframes", "ol", "optgroup", "option", "p", "param", "search", "section", "summary", "table",
        "tbody", "td", "tfoot", "th", "thead", "title", "tr", "track", "ul",
    ]
}

extension String {
    /// Line ends as spaces (a title is one line).
    func replacingNewlines() -> String {
        String(decoding: utf8.map { $0 == 0x0A ? 0x20 : $0 }, as: UTF8.self)
    }
}
