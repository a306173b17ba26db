import Foundation

/// A fast reader for the commonest `quiver query --input` line of a bulk job,
/// `{"vector": [floats], "k": 10, "ef": 64, "with_payload": false}` (any subset of those keys, in
/// any order, with JSON whitespace): parsing 384 floats with `JSONDecoder` costs more than the
/// search it feeds.
///
/// Anything else — another key, a string escape, a number JSON does not allow or that does not fit
/// a finite `Float`, a repeated key, trailing bytes — returns nil, and the caller decodes the line
/// with `JSONDecoder` as before (which also words the errors). Where it returns a value it is the
/// one `JSONDecoder` gives (`VectorLineParserTests` checks both on generated lines).
enum VectorLineParser {
    /// The fields of a vector-query line.
    struct Fields: Equatable {
        var vector: [Float]?
        var k: Int?
        var ef: Int?
        var withPayload: Bool?
    }

    /// The fields of `line`, or nil when the line is not of the simple form.
    static func parse(_ line: [UInt8]) -> Fields? {
        line.withUnsafeBufferPointer { bytes in
            var reader = Reader(bytes: bytes)
            return reader.object()
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

        mutating func object() -> Fields? {
            var fields = Fields()
            guard take(UInt8(ascii: "{")) else { return nil }
            if take(UInt8(ascii: "}")) { return end(fields) }
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
                return end(fields)
            }
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
        /// not finite as a Float or longer than 63 bytes.
        mutating func number() -> Float? {
            skipSpace()
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            func digits() -> Int {
                let from = at
                while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
                return at - from
            }
            let integerStart = at
            let integerDigits = digits()
            guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == 0x30) else { return nil }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { return nil }
            }
            if at < bytes.count, bytes[at] | 0x20 == 0x65 {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { return nil }
            }
            let length = at - start
            guard length < 64 else { return nil }
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
            return value.isFinite ? value : nil
        }
    }
}
