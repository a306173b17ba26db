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

    /// The calendar fields of a timestamp in UTC.
    public struct UTCParts: Sendable, Equatable {
        /// Year, month (1–12), day (1–31), hour, minute, second and millisecond.
        public var year, month, day, hour, minute, second, millisecond: Int
    }

    /// The UTC calendar fields, rounded down to the millisecond; nil when not finite or more than
    /// ~3,000 years from 1970.
    public var utcParts: UTCParts? {
        guard seconds.isFinite, abs(seconds) < 1e11 else { return nil }
        var millis = Int64((seconds * 1000).rounded(.down))
        let fraction = Int(((millis % 1000) + 1000) % 1000)
        millis -= Int64(fraction)
        var time = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&time, &parts)
        return UTCParts(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec), millisecond: fraction)
    }

    /// ISO 8601 UTC with milliseconds.
    public var description: String {
        guard let parts = utcParts else { return "invalid" }
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T"
            + "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(parts.millisecond, 3))Z"
    }
}
