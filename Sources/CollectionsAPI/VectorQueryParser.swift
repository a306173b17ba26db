import Foundation

/// A fast reader for the commonest vector query of a bulk job,
/// `{"vector": [floats], "k": 10, "ef": 64, "with_payload": false}` (any subset of those keys, in
/// any order, with JSON whitespace): a line of `quiver query --input`, or the body of
/// `POST …/query/batch` holding only such queries. Parsing 384 floats with `JSONDecoder` costs
/// more than the search it feeds.
///
/// Anything else — another key, a string escape, a number JSON does not allow or that does not fit
/// a finite `Float`, a repeated key, trailing bytes — returns nil, and the caller decodes with
/// `JSONDecoder` as before (which also words the errors). Where it returns a value it is the
/// one `JSONDecoder` gives (`VectorQueryParserTests` checks both on generated lines, and every
/// number against `strtof`).
public enum VectorQueryParser {
    /// The fields of a vector query.
    public struct Fields: Equatable, Sendable {
        public var vector: [Float]?
        public var k: Int?
        public var ef: Int?
        public var withPayload: Bool?

        public init(vector: [Float]? = nil, k: Int? = nil, ef: Int? = nil, withPayload: Bool? = nil) {
            self.vector = vector
            self.k = k
            self.ef = ef
            self.withPayload = withPayload
        }
    }

    /// The fields of `line`, or nil when the line is not of the simple form.
    public static func parse(_ line: [UInt8]) -> Fields? {
        line.withUnsafeBufferPointer { bytes in
            var reader = Reader(bytes: bytes)
            return reader.object()
        }
    }

    /// The queries of a batch body `{"queries": [query, …]}` when every one is of the simple form
    /// (and the body has no other key), else nil.
    public static func parseBatch(_ body: UnsafeRawBufferPointer) -> [Fields]? {
        body.withMemoryRebound(to: UInt8.self) { bytes in
            var reader = Reader(bytes: bytes)
            return reader.batch()
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D { at += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard at < bytes.count, bytes[at] == byte else { return false }
            at += 1
            return true
        }

        /// One query object; with `whole`, nothing but whitespace may follow it.
        mutating func object(whole: Bool = true) -> Fields? {
            var fields = Fields()
            guard take(UInt8(ascii: "{")) else { return nil }
            if take(UInt8(ascii: "}")) { return whole ? end(fields) : fields }
            while true {
                guard let key = key(), take(UInt8(ascii: ":")) else { return nil }
                switch key {
                case "vector":
                    guard fields.vector == nil, let vector = floats() else { return nil }
                    fields.vector = vector
                case "k":
                    guard fields.k == nil, let k = integer() else { return nil }
                    fields.k = k
                case "ef":
                    guard fields.ef == nil, let ef = integer() else { return nil }
                    fields.ef = ef
                case "with_payload":
                    guard fields.withPayload == nil, let flag = boolean() else { return nil }
                    fields.withPayload = flag
                default: return nil
                }
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return whole ? end(fields) : fields
            }
        }

        /// A number's significant digits as read: the first 19 in `significand` (leading zeros
        /// not counted); a longer number is not `exact` and goes to `strtof`.
        struct Digits {
            var significand: UInt64 = 0
            var count = 0
            var exact = true

            /// Appends one digit (0–9); false when it did not fit in the 19.
            @inline(__always)
            mutating func append(_ digit: UInt8) -> Bool {
                guard count < 19 else {
                    exact = false
                    return false
                }
                significand = significand &* 10 &+ UInt64(digit)
                if significand != 0 { count += 1 }
                return true
            }
        }

        /// The value of eight ASCII digits held little-endian in `word` (first digit in the low
        /// byte), or nil when any of the eight bytes is not a digit: the usual SWAR steps, pairs
        /// then quads then the halves, three multiplications instead of eight.
        @inline(__always)
        static func eightDigits(_ word: UInt64) -> UInt64? {
            // Every byte in 0x30...0x39: its high nibble is 3, and adding 6 keeps it 3.
            let high = word & 0xF0F0_F0F0_F0F0_F0F0
            let carried = (word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0
            guard high == 0x3030_3030_3030_3030, carried == 0x3030_3030_3030_3030 else { return nil }
            var value = word &- 0x3030_3030_3030_3030
            value = (value &* 10) &+ (value >> 8)  // each even byte: a two-digit number
            let pairs = value & 0x0000_00FF_0000_00FF
            let nextPairs = (value >> 16) & 0x0000_00FF_0000_00FF
            return ((pairs &* (100 &+ (1_000_000 << 32))) &+ (nextPairs &* (1 &+ (10_000 << 32)))) >> 32
        }

        /// `{"queries": [object, …]}` and nothing after it.
        mutating func batch() -> [Fields]? {
            guard take(UInt8(ascii: "{")), key() == "queries", take(UInt8(ascii: ":")), take(UInt8(ascii: "[")) else { return nil }
            var queries: [Fields] = []
            if !take(UInt8(ascii: "]")) {
                while true {
                    guard let fields = object(whole: false) else { return nil }
                    queries.append(fields)
                    if take(UInt8(ascii: ",")) { continue }
                    guard take(UInt8(ascii: "]")) else { return nil }
                    break
                }
            }
            guard take(UInt8(ascii: "}")) else { return nil }
            skipSpace()
            return at == bytes.count ? queries : nil
        }

        /// `fields` when nothing but whitespace follows.
        mutating func end(_ fields: Fields) -> Fields? {
            skipSpace()
            return at == bytes.count ? fields : nil
        }

        /// A key of plain ASCII letters and underscores (no escapes).
        mutating func key() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = at
            while at < bytes.count, bytes[at] != UInt8(ascii: "\"") {
                let byte = bytes[at]
                guard (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_") else { return nil }
                at += 1
            }
            guard at < bytes.count, at - start <= 16 else { return nil }
            let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            at += 1
            return key
        }

        mutating func boolean() -> Bool? {
            skipSpace()
            for (word, value) in [("true", true), ("false", false)] {
                let utf8 = Array(word.utf8)
                if at + utf8.count <= bytes.count, Array(bytes[at..<at + utf8.count]) == utf8 {
                    at += utf8.count
                    return value
                }
            }
            return nil
        }

        /// A non-negative or negative integer of at most 9 digits (no fraction or exponent).
        mutating func integer() -> Int? {
            skipSpace()
            var negative = false
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") {
                negative = true
                at += 1
            }
            let start = at
            var value = 0
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39, at - start < 9 {
                value = value * 10 + Int(bytes[at] - 0x30)
                at += 1
            }
            let digits = at - start
            guard digits > 0, !(digits > 1 && bytes[start] == 0x30) else { return nil }
            // A tenth digit, a fraction or an exponent: not this reader's form.
            if at < bytes.count, bytes[at] >= 0x30 && bytes[at] <= 0x39 || bytes[at] == UInt8(ascii: ".") || bytes[at] | 0x20 == 0x65 {
                return nil
            }
            return negative ? -value : value
        }

        mutating func floats() -> [Float]? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var values: [Float] = []
            values.reserveCapacity(512)
            if take(UInt8(ascii: "]")) { return values }
            while true {
                guard let value = number() else { return nil }
                values.append(value)
                if take(UInt8(ascii: ",")) { continue }
                return take(UInt8(ascii: "]")) ? values : nil
            }
        }

        /// One JSON number (checked against JSON's grammar), as the nearest `Float`; nil when it is
        /// not finite as a Float, not zero but rounds to zero, zero with an exponent, or longer than
        /// 63 bytes.
        ///
        /// The digits are read once: up to 19 significant digits and the decimal exponent go to
        /// `DecimalFloat`, which answers in double arithmetic when that is provably the nearest
        /// float; longer numbers and the rare undecided ones are read again by `strtof`.
        mutating func number() -> Float? {
            skipSpace()
            guard let base = bytes.baseAddress else { return nil }
            let end = bytes.count
            let start = at
            var i = at
            let negative = i < end && base[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            var digits = Digits()
            var exponent = 0
            let integerStart = i
            while i < end {
                let digit = base[i] &- 0x30
                guard digit <= 9 else { break }
                _ = digits.append(digit)
                i += 1
            }
            let integerDigits = i - integerStart
            guard integerDigits > 0, !(integerDigits > 1 && base[integerStart] == 0x30) else { return nil }
            if i < end, base[i] == UInt8(ascii: ".") {
                i += 1
                let fractionStart = i
                while i < end {
                    // Eight digits at once once the significand has started (Python writes 17).
                    if digits.significand != 0, digits.count <= 11, end - i >= 8 {
                        let word = Unaligned.load(base + i)
                        if let eight = Self.eightDigits(word) {
                            digits.significand = digits.significand &* 100_000_000 &+ eight
                            digits.count += 8
                            exponent -= 8
                            i += 8
                            continue
                        }
                    }
                    let digit = base[i] &- 0x30
                    guard digit <= 9 else { break }
                    if digits.append(digit) { exponent -= 1 }
                    i += 1
                }
                guard i > fractionStart else { return nil }
            }
            if i < end, base[i] | 0x20 == 0x65 {
                i += 1
                var exponentNegative = false
                if i < end, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") {
                    exponentNegative = base[i] == UInt8(ascii: "-")
                    i += 1
                }
                let from = i
                var written = 0
                while i < end, base[i] >= 0x30, base[i] <= 0x39 {
                    if written < 10_000 { written = written * 10 + Int(base[i] - 0x30) }
                    i += 1
                }
                guard i > from, digits.significand != 0 else {
                    // No exponent digits; or a zero with an exponent, which JSONDecoder reads
                    // inconsistently (0.0e-5 is 0, 0.00e-1 "does not fit"): left to it.
                    return nil
                }
                exponent += exponentNegative ? -written : written
            }
            at = i
            let length = at - start
            guard length < 64 else { return nil }
            if digits.exact, let value = DecimalFloat.nearest(significand: digits.significand, exponent: exponent, negative: negative) {
                return value
            }
            // strtof reads the decimal text and rounds once, to the nearest Float.
            var buffer = (
                UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0)
            )
            let value = withUnsafeMutableBytes(of: &buffer) { raw -> Float in
                guard let base = raw.baseAddress else { return .nan }
                for i in 0..<length { raw[i] = bytes[start + i] }
                raw[length] = 0
                return strtof(base.assumingMemoryBound(to: CChar.self), nil)
            }
            // Like JSONDecoder: a number that is not zero but rounds to 0 (below half the smallest
            // float) does not fit a Float.
            return value.isFinite && (value != 0 || digits.significand == 0) ? value : nil
        }
    }
}

/// An unaligned little-endian load of eight bytes.
private enum Unaligned {
    @inline(__always)
    static func load(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
    }
}
