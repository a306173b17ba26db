import Foundation

/// A point in time, as seconds since 1970, encoded in JSON as an ISO 8601 UTC string with
/// milliseconds (`2026-11-24T21:02:12.123Z`) and decoded from such a string or from a number of
/// seconds.
public struct Timestamp: Sendable, Equatable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Double

    /// Creates a timestamp.
    public init(seconds: Double) { self.seconds = seconds }

    /// The current time.
    public static func now() -> Timestamp { Timestamp(seconds: Date().timeIntervalSince1970) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            guard number.isFinite else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "time must be finite")
            }
            self.seconds = number
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = Timestamp(iso8601: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Parses `2026-11-24T21:02:12Z`, with optional fractional seconds and a numeric offset.
    public init?(iso8601 text: String) {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            seconds = date.timeIntervalSince1970
        } else if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) {
            seconds = date.timeIntervalSince1970
        } else {
            return nil
        }
    }

    /// ISO 8601 UTC with milliseconds.
    public var description: String {
        guard seconds.isFinite, abs(seconds) < 1e11 else { return "invalid" }
        var millis = Int64((seconds * 1000).rounded(.down))
        let fraction = Int(((millis % 1000) + 1000) % 1000)
        millis -= Int64(fraction)
        var time = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let fractionText = pad(Int32(fraction), 3)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(fractionText)Z"
    }
}
