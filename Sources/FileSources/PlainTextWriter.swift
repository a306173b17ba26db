/// Builds readable plain text from a stream of words, whitespace and structure: runs of
/// whitespace collapse to one space, and the breaks that blocks ask for (a line, a blank line) are
/// written lazily, before the next text, so empty elements and nested blocks leave no blank runs.
struct PlainTextWriter {
    /// A separation requested between what is written and what comes next.
    enum Break: Int, Comparable {
        case none, line, paragraph
        static func < (a: Break, b: Break) -> Bool { a.rawValue < b.rawValue }
    }

    private(set) var bytes: [UInt8] = []
    private var pendingBreak = Break.none
    private var pendingSpace = false
    private var pendingPrefix: [UInt8] = []
    /// When set, the collapsed text written (without breaks and prefixes) is copied here too.
    var capture: [UInt8]?

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Asks for at least `kind` of separation before the next text (a pending prefix stays: a list
    /// item's first text may sit in a nested block).
    mutating func requestBreak(_ kind: Break) {
        pendingBreak = max(pendingBreak, kind)
        pendingSpace = false
    }

    /// Text written next starts with `prefix` (`"- "` for a list item), after the pending break;
    /// an empty prefix cancels a pending one.
    mutating func requestPrefix(_ prefix: [UInt8]) { pendingPrefix = prefix }

    /// Writes `separator` now (a table cell's `" | "`), after any pending break.
    mutating func writeSeparator(_ separator: [UInt8]) {
        flushPending()
        trimTrailingSpaces()
        bytes.append(contentsOf: separator)
        pendingSpace = false
    }

    /// Writes text, collapsing each run of ASCII whitespace into one space.
    mutating func writeCollapsing(_ text: ArraySlice<UInt8>) {
        for byte in text {
            if Self.isSpace(byte) {
                pendingSpace = true
                continue
            }
            if pendingBreak != .none || !pendingPrefix.isEmpty || pendingSpace { flushPending() }
            bytes.append(byte)
            capture?.append(byte)
        }
    }

    /// Writes text exactly as given (the content of `<pre>` and code blocks).
    mutating func writeVerbatim(_ text: ArraySlice<UInt8>) {
        guard !text.isEmpty else { return }
        flushPending()
        bytes.append(contentsOf: text)
        capture?.append(contentsOf: text)
    }

    /// The text, without trailing whitespace.
    mutating func finish() -> [UInt8] {
        while let last = bytes.last, Self.isSpace(last) { bytes.removeLast() }
        return bytes
    }

    private mutating func flushPending() {
        if !bytes.isEmpty {
            switch pendingBreak {
            case .paragraph:
                trimTrailingWhitespace()
                if !bytes.isEmpty { bytes.append(contentsOf: [0x0A, 0x0A]) }
            case .line:
                trimTrailingWhitespace()
                if !bytes.isEmpty { bytes.append(0x0A) }
            case .none:
                if pendingSpace, let last = bytes.last, last != 0x20, last != 0x0A {
                    bytes.append(0x20)
                    if capture?.isEmpty == false { capture?.append(0x20) }
                }
            }
        }
        bytes.append(contentsOf: pendingPrefix)
        pendingBreak = .none
        pendingSpace = false
        pendingPrefix.removeAll()
    }

    private mutating func trimTrailingSpaces() {
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
    }

    private mutating func trimTrailingWhitespace() {
        while let last = bytes.last, Self.isSpace(last) { bytes.removeLast() }
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x0C }
}

extension String {
    /// Without leading and trailing ASCII whitespace.
    func trimmingASCIISpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !($0.isASCII && PlainTextWriter.isSpace(UInt8($0.value))) }) else { return "" }
        let last = scalars.lastIndex(where: { !($0.isASCII && PlainTextWriter.isSpace(UInt8($0.value))) }) ?? first
        return String(scalars[first...last])
    }
}
