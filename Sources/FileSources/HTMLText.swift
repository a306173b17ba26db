/// Readable plain text and a title from an HTML page.
///
/// Written by hand: the package mirror has no HTML parser (SwiftSoup is not in it), and what is
/// needed is narrower than a DOM — a text extractor that keeps the structure a reader (and the
/// embedding model) uses and cannot be made to fail by its input:
/// - headings and block elements (`p`, `div`, `section`, `blockquote`, …) become paragraphs
///   separated by a blank line; list items become one line each, `"- "` first (nested lists
///   indented two spaces a level, up to eight); table rows become one line each, cells joined by
///   `" | "`; `<br>` is a line break; `<pre>` is kept verbatim;
/// - `<script>`, `<style>`, `<noscript>`, `<template>`, `<nav>`, `<svg>`, `<math>`, `<iframe>`,
///   `<textarea>` and comments are dropped, and so are `<header>` and `<footer>` — except inside
///   `<article>` or `<main>`, where they hold the article's own title and byline;
/// - character references are decoded (``HTMLEntities``); an invalid one stays as written.
///
/// The title is the first `<title>`, else the first `<h1>` outside dropped parts.
///
/// One forward pass over the bytes, linear in their number, with no recursion and no element
/// tree: nesting is tracked by counters (and one stack of flags per dropped element name, on the
/// heap), so 100,000 nested `<div>`s cost what 100,000 siblings do. Like a browser, an unclosed
/// comment, raw-text element or tag at the end of the file swallows the rest.
public struct HTMLText: Sendable, Equatable {
    /// The page's title, nil when it has none.
    public var title: String?
    /// The readable text.
    public var text: String

    /// Creates a result.
    public init(title: String?, text: String) {
        self.title = title
        self.text = text
    }

    /// Converts UTF-8 HTML (the caller has checked the encoding).
    public static func convert(_ html: [UInt8]) -> HTMLText {
        var converter = HTMLConverter(normalizingNewlines(html))
        return converter.run()
    }

    /// `\r\n` and lone `\r` as `\n` (as an HTML parser reads its input).
    static func normalizingNewlines(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(0x0D) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0D {
                out.append(0x0A)
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
            } else {
                out.append(bytes[i])
            }
            i += 1
        }
        return out
    }
}

/// The elements the converter treats specially; every other name is `.other`.
private enum HTMLTag: String {
    // Raw text: skipped to their end tag (the title's content is kept aside).
    case script, style, noscript, textarea, xmp, iframe, noembed, noframes, title
    // Dropped with their content (nested ones counted).
    case nav, template, svg, math, header, footer
    // Blocks.
    case p, div, section, article, main, aside, blockquote, address, figure, figcaption, form, fieldset, details
    case summary, center, hgroup, dl, caption, legend, dialog, body, hr
    case h1, h2, h3, h4, h5, h6
    case ul, ol, menu, li, dt, dd
    case table, tr, td, th
    case pre, br
    case other

    static func named(_ bytes: ArraySlice<UInt8>) -> HTMLTag {
        guard bytes.count <= 12 else { return .other }
        return HTMLTag(rawValue: String(decoding: bytes.map { $0 | 0x20 }, as: UTF8.self)) ?? .other
    }

    var isRawText: Bool {
        switch self {
        case .script, .style, .noscript, .textarea, .xmp, .iframe, .noembed, .noframes, .title: true
        default: false
        }
    }

    var isDroppedContainer: Bool {
        switch self {
        case .nav, .template, .svg, .math, .header, .footer: true
        default: false
        }
    }

    var isHeading: Bool {
        switch self {
        case .h1, .h2, .h3, .h4, .h5, .h6: true
        default: false
        }
    }

    var isBlock: Bool {
        switch self {
        case .p, .div, .section, .article, .main, .aside, .blockquote, .address, .figure, .figcaption, .form, .fieldset,
            .details, .summary, .center, .hgroup, .dl, .caption, .legend, .dialog, .body, .hr:
            true
        default: isHeading
        }
    }
}

/// The single pass of ``HTMLText/convert(_:)``.
private struct HTMLConverter {
    let bytes: [UInt8]
    var position = 0
    var writer: PlainTextWriter
    var title: String?
    var firstHeading: String?
    var inFirstHeading = false
    /// Open dropped elements (each counted once, whatever its name).
    var dropDepth = 0
    /// Per dropped element name, whether each open one was dropped (a `<header>` in an article is not).
    var containerStacks: [HTMLTag: [Bool]] = [:]
    var articleDepth = 0
    var listDepth = 0
    var tableDepth = 0
    var preDepth = 0
    var cellsInRow = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        writer = PlainTextWriter(capacity: bytes.count / 2)
    }

    mutating func run() -> HTMLText {
        while position < bytes.count {
            if bytes[position] == UInt8(ascii: "<") {
                markup()
            } else {
                var end = position
                while end < bytes.count, bytes[end] != UInt8(ascii: "<") { end += 1 }
                text(bytes[position..<end])
                position = end
            }
        }
        if inFirstHeading { endFirstHeading() }
        let text = String(decoding: writer.finish(), as: UTF8.self)
        return HTMLText(title: title ?? firstHeading, text: text)
    }

    mutating func text(_ run: ArraySlice<UInt8>) {
        guard dropDepth == 0 else { return }
        let decoded = HTMLEntities.decodeAll(run)
        if preDepth > 0 {
            writer.writeVerbatim(decoded[...])
        } else {
            writer.writeCollapsing(decoded[...])
        }
    }

    /// At a `<`: a comment, a declaration, a tag, or a literal `<`.
    mutating func markup() {
        let n = bytes.count
        let next = position + 1 < n ? bytes[position + 1] : 0
        if next == UInt8(ascii: "!") {
            if starts(with: "<!--", at: position) {
                let body = position + 4
                if body < n, bytes[body] == UInt8(ascii: ">") {
                    position = body + 1  // <!-->
                } else if body + 1 < n, bytes[body] == UInt8(ascii: "-"), bytes[body + 1] == UInt8(ascii: ">") {
                    position = body + 2  // <!--->
                } else {
                    position = find("-->", from: body).map { $0 + 3 } ?? n
                }
            } else {
                position = find(">", from: position + 2).map { $0 + 1 } ?? n  // <!DOCTYPE …>, <![CDATA[ … ]]>
            }
            return
        }
        if next == UInt8(ascii: "?") {
            position = find(">", from: position + 2).map { $0 + 1 } ?? n
            return
        }
        let closing = next == UInt8(ascii: "/")
        let nameStart = position + (closing ? 2 : 1)
        guard nameStart < n, Self.isASCIILetter(bytes[nameStart]) else {
            if closing {
                position = find(">", from: nameStart).map { $0 + 1 } ?? n  // `</ …>`: a bogus comment
            } else {
                text(bytes[position..<position + 1])  // a literal `<`
                position += 1
            }
            return
        }
        var end = nameStart
        while end < n, !PlainTextWriter.isSpace(bytes[end]), bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: ">") {
            end += 1
        }
        let tag = HTMLTag.named(bytes[nameStart..<end])
        let nameEnd = end
        // To the tag's `>`, stepping over quoted attribute values (which may hold `>`).
        var quote: UInt8?
        var afterEquals = false
        while end < n {
            let byte = bytes[end]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: ">") {
                break
            } else if byte == UInt8(ascii: "=") {
                afterEquals = true
            } else if afterEquals, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
                afterEquals = false
            } else if !PlainTextWriter.isSpace(byte) {
                afterEquals = false
            }
            end += 1
        }
        guard end < n else {
            position = n  // the file ends inside a tag: the tag and the rest are dropped
            return
        }
        position = end + 1
        if closing {
            endTag(tag)
        } else {
            startTag(tag, name: bytes[nameStart..<nameEnd])
        }
    }

    mutating func startTag(_ tag: HTMLTag, name: ArraySlice<UInt8>) {
        if tag.isRawText {
            let contentStart = position
            let contentEnd = findEndTag(name, from: position) ?? bytes.count
            position = find(">", from: contentEnd).map { $0 + 1 } ?? bytes.count
            if tag == .title, dropDepth == 0, title == nil {
                var collapsed = PlainTextWriter()
                collapsed.writeCollapsing(HTMLEntities.decodeAll(bytes[contentStart..<contentEnd])[...])
                let value = collapsed.finish()
                if !value.isEmpty { title = String(decoding: value, as: UTF8.self) }
            }
            return
        }
        if tag.isDroppedContainer {
            let dropped = dropDepth > 0 || !((tag == .header || tag == .footer) && articleDepth > 0)
            containerStacks[tag, default: []].append(dropped)
            if dropped { dropDepth += 1 } else { blockBreak() }
            return
        }
        guard dropDepth == 0 else { return }
        switch tag {
        case .article, .main:
            articleDepth += 1
            blockBreak()
        case .h1:
            blockBreak()
            if firstHeading == nil, !inFirstHeading {
                inFirstHeading = true
                writer.capture = []
            }
        case .ul, .ol, .menu:
            blockBreak()
            listDepth += 1
        case .li:
            if tableDepth == 0 { writer.requestBreak(.line) }
            let indent = [UInt8](repeating: 0x20, count: 2 * min(max(listDepth - 1, 0), 8))
            writer.requestPrefix(indent + [UInt8(ascii: "-"), 0x20])
        case .dt, .dd:
            if tableDepth == 0 { writer.requestBreak(.line) }
        case .table:
            writer.requestBreak(.paragraph)
            tableDepth += 1
            cellsInRow = 0
        case .tr:
            writer.requestBreak(.line)
            cellsInRow = 0
        case .td, .th:
            if cellsInRow > 0 { writer.writeSeparator(Array(" | ".utf8)) }
            cellsInRow += 1
        case .br:
            if tableDepth == 0 { writer.requestBreak(.line) } else { writer.writeCollapsing([0x20]) }
        case .pre:
            blockBreak()
            preDepth += 1
            if position < bytes.count, bytes[position] == 0x0A { position += 1 }  // a newline right after <pre> is not content
        default:
            if tag.isBlock { blockBreak() }
        }
    }

    mutating func endTag(_ tag: HTMLTag) {
        if tag.isDroppedContainer {
            guard let dropped = containerStacks[tag]?.popLast() else { return }
            if dropped {
                dropDepth = max(dropDepth - 1, 0)
            } else if dropDepth == 0 {
                blockBreak()
            }
            return
        }
        guard dropDepth == 0 else { return }
        switch tag {
        case .article, .main:
            articleDepth = max(articleDepth - 1, 0)
            blockBreak()
        case .h1:
            blockBreak()
            if inFirstHeading { endFirstHeading() }
        case .ul, .ol, .menu:
            listDepth = max(listDepth - 1, 0)
            blockBreak()
        case .li, .dt, .dd:
            writer.requestPrefix([])
            if tableDepth == 0 { writer.requestBreak(.line) }
        case .tr:
            writer.requestBreak(.line)
        case .table:
            tableDepth = max(tableDepth - 1, 0)
            writer.requestBreak(.paragraph)
        case .pre:
            preDepth = max(preDepth - 1, 0)
            blockBreak()
        default:
            if tag.isBlock { blockBreak() }
        }
    }

    /// A block's edge: a blank line; a line break inside a list; a space inside a table cell.
    mutating func blockBreak() {
        if tableDepth > 0 {
            writer.writeCollapsing([0x20])
        } else {
            writer.requestBreak(listDepth > 0 ? .line : .paragraph)
        }
    }

    mutating func endFirstHeading() {
        inFirstHeading = false
        if let captured = writer.capture, !captured.isEmpty {
            firstHeading = String(decoding: captured, as: UTF8.self).trimmingASCIISpaces()
        }
        writer.capture = nil
    }

    /// The index of `</name` (any case) followed by whitespace, `/` or `>` at or after `from`.
    func findEndTag(_ name: ArraySlice<UInt8>, from: Int) -> Int? {
        let n = bytes.count
        var i = from
        while i + 1 < n {
            if bytes[i] == UInt8(ascii: "<"), bytes[i + 1] == UInt8(ascii: "/") {
                var matched = true
                var k = 0
                for byte in name {
                    let j = i + 2 + k
                    if j >= n || bytes[j] | 0x20 != byte | 0x20 {
                        matched = false
                        break
                    }
                    k += 1
                }
                let after = i + 2 + k
                if matched,
                    after >= n || PlainTextWriter.isSpace(bytes[after]) || bytes[after] == UInt8(ascii: "/")
                        || bytes[after] == UInt8(ascii: ">")
                {
                    return i
                }
            }
            i += 1
        }
        return nil
    }

    func starts(with literal: StaticString, at index: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return (0..<count).allSatisfy { bytes[index + $0] == literal.utf8Start[$0] }
    }

    /// The index of the first occurrence of `literal` at or after `from`.
    func find(_ literal: StaticString, from: Int) -> Int? {
        let count = literal.utf8CodeUnitCount
        var i = max(from, 0)
        while i + count <= bytes.count {
            if bytes[i] == literal.utf8Start[0], starts(with: literal, at: i) { return i }
            i += 1
        }
        return nil
    }

    static func isASCIILetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) }
}
