import DocumentStore

/// Cuts a document into passages that each fit the model's window, on sentence and paragraph
/// boundaries where it can.
///
/// A passage is embedded as `title + "\n" + passage text` (the title given to every passage, as
/// the whole document is embedded without chunking), within `tokens` word pieces counting
/// `[CLS]` and `[SEP]`. A title longer than a quarter of the window is left out of the passages
/// (it would crowd out the text). A document that fits the window whole is one passage whose
/// input is exactly the unchunked input, so short documents get the same vector either way.
///
/// Units are sentences (ending in `.`, `!`, `?` or a CJK full stop followed by whitespace) and
/// lines; a unit longer than the window is cut at whitespace, and a run without whitespace that is
/// still too long is cut at the longest prefix that fits (found by bisection), so no input can
/// make a passage that overflows the window by more than the tokenizer's splitting of one word.
/// Passages are packed greedily up to an even share of the text (its word pieces and overlaps
/// divided by the number of passages it needs), so the last one is not a scrap; a cut moves back
/// to a paragraph start (a blank line) when that keeps the passage at least 60 % of that share. The next passage starts `overlap` word pieces back, in
/// whole units. Word pieces are counted per unit: tokenization splits words at whitespace, so the
/// count of a text cut at whitespace is the sum of its parts'.
///
/// Spans are Unicode scalar offsets into the text, trimmed of surrounding whitespace.
public struct Chunker: Sendable {
    /// Most word pieces per embedded passage, `[CLS]`, `[SEP]` and title included.
    public let tokens: Int
    /// Word pieces repeated from the end of the previous passage.
    public let overlap: Int
    /// Word pieces of a text (no `[CLS]`/`[SEP]`, no truncation).
    let count: @Sendable (String) -> Int

    /// A chunker for a window of `tokens` word pieces.
    public init(tokens: Int, overlap: Int, count: @escaping @Sendable (String) -> Int) {
        self.tokens = max(tokens, 8)
        self.overlap = max(0, overlap)
        self.count = count
    }

    /// One passage: where it is in the text and what is embedded for it.
    public struct Passage: Sendable, Equatable {
        /// Unicode scalar offsets into the document's text.
        public var span: ChunkSpan
        /// The embedding input.
        public var input: String
    }

    /// The passages of a document, in text order (at least one: an empty text is one empty passage).
    public func passages(title: String?, text: String) -> [Passage] {
        let title = title.flatMap { $0.isEmpty ? nil : $0 }
        let titleTokens = title.map(count) ?? 0
        let scalars = Array(text.unicodeScalars)
        if 2 + titleTokens + count(text) <= tokens {
            return [Passage(span: ChunkSpan(start: 0, end: scalars.count), input: DocumentEmbedding.input(title: title, text: text))]
        }
        let withTitle = title != nil && titleTokens <= (tokens - 2) / 4
        let budget = tokens - 2 - (withTitle ? titleTokens : 0)
        let units = self.units(scalars, budget: budget)
        // Balanced sizes: the text's word pieces (with the overlaps) spread over as many passages
        // as it needs, so the last one is not a scrap that matches on a sentence or two.
        let total = units.reduce(0) { $0 + $1.tokens }
        let count = max(1, (total - overlap + (budget - overlap) - 1) / max(1, budget - overlap))
        let target = min(budget, (total + (count - 1) * overlap + count - 1) / count + 1)
        var passages: [Passage] = []
        var first = 0
        while first < units.count {
            var end = first
            var used = 0
            while end < units.count, end == first || used + units[end].tokens <= target {
                used += units[end].tokens
                end += 1
            }
            if end < units.count {
                // Back to the last paragraph start that keeps the passage at least 60 % full.
                var sum = 0
                var best: Int?
                for index in first..<end {
                    if index > first, units[index].paragraphStart, sum * 10 >= target * 6 { best = index }
                    sum += units[index].tokens
                }
                if let best { end = best }
            }
            if let span = Self.trimmed(scalars, from: units[first].start, to: units[end - 1].end) {
                let body = String(String.UnicodeScalarView(scalars[span.start..<span.end]))
                passages.append(Passage(span: span, input: withTitle ? "\(title ?? "")\n\(body)" : body))
            }
            guard end < units.count else { break }
            var next = end
            var repeated = 0
            while next - 1 > first, repeated + units[next - 1].tokens <= overlap {
                next -= 1
                repeated += units[next].tokens
            }
            first = next
        }
        if passages.isEmpty {
            return [Passage(span: ChunkSpan(start: 0, end: scalars.count), input: DocumentEmbedding.input(title: title, text: text))]
        }
        return passages
    }

    /// A run of the text: scalars `start..<end` (trailing whitespace included), its word pieces,
    /// and whether a blank line comes before it.
    struct Unit {
        var start: Int
        var end: Int
        var tokens: Int
        var paragraphStart: Bool
    }

    /// Sentences and lines of `scalars`, each cut to fit `budget` word pieces.
    func units(_ scalars: [Unicode.Scalar], budget: Int) -> [Unit] {
        var units: [Unit] = []
        var start = 0
        var newlines = 2  // the text's start counts as a paragraph start
        var index = 0
        func emit(_ end: Int) {
            guard end > start else { return }
            let paragraph = newlines >= 2
            appendFitting(scalars, start, end, budget: budget, paragraphStart: paragraph, into: &units)
            start = end
        }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\n" {
                // A line ends after its newline and the whitespace that follows it.
                var end = index + 1
                var blank = 1
                while end < scalars.count, scalars[end].properties.isWhitespace {
                    if scalars[end] == "\n" { blank += 1 }
                    end += 1
                }
                emit(end)
                newlines = blank
                index = end
                continue
            }
            if Self.sentenceEnds.contains(scalar), index + 1 < scalars.count,
                scalars[index + 1].properties.isWhitespace
                    || scalar.value >= 0x3000
            {
                var end = index + 1
                while end < scalars.count, scalars[end].properties.isWhitespace, scalars[end] != "\n" { end += 1 }
                if end < scalars.count, scalars[end] == "\n" {
                    index = end
                    continue  // the line end closes it
                }
                emit(end)
                newlines = 0
                index = end
                continue
            }
            index += 1
        }
        emit(scalars.count)
        return units
    }

    static let sentenceEnds: Set<Unicode.Scalar> = [".", "!", "?", "\u{3002}", "\u{FF01}", "\u{FF1F}"]

    /// Appends `start..<end` as one unit, or cut at whitespace (or, failing that, anywhere) into
    /// units of at most `budget` word pieces.
    func appendFitting(_ scalars: [Unicode.Scalar], _ start: Int, _ end: Int, budget: Int, paragraphStart: Bool, into units: inout [Unit]) {
        var pending = [(start, end)]
        var first = true
        while let (s, e) = pending.popLast() {
            let tokens = count(String(String.UnicodeScalarView(scalars[s..<e])))
            if tokens <= budget || e - s <= 1 {
                units.append(Unit(start: s, end: e, tokens: tokens, paragraphStart: first && paragraphStart))
                first = false
                continue
            }
            // Cut at the whitespace nearest the middle; without whitespace, at the longest prefix
            // that fits.
            let middle = s + (e - s) / 2
            var cut: Int?
            var offset = 0
            while cut == nil, middle - offset > s || middle + offset < e {
                for candidate in [middle - offset, middle + offset] where candidate > s && candidate < e {
                    if scalars[candidate - 1].properties.isWhitespace {
                        cut = candidate
                        break
                    }
                }
                offset += 1
            }
            if cut == nil {
                var low = s + 1
                var high = e - 1
                while low < high {
                    let mid = (low + high + 1) / 2
                    if count(String(String.UnicodeScalarView(scalars[s..<mid]))) <= budget { low = mid } else { high = mid - 1 }
                }
                cut = low
            }
            let at = cut ?? middle
            pending.append((at, e))
            pending.append((s, at))
        }
    }

    /// `from..<to` without leading and trailing whitespace, or nil when nothing is left.
    static func trimmed(_ scalars: [Unicode.Scalar], from: Int, to: Int) -> ChunkSpan? {
        var start = from
        var end = to
        while start < end, scalars[start].properties.isWhitespace { start += 1 }
        while end > start, scalars[end - 1].properties.isWhitespace { end -= 1 }
        return start < end ? ChunkSpan(start: start, end: end) : nil
    }
}
