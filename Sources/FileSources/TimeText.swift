import Foundation

/// Times written in front matter, and times written into metadata.
enum TimeText {
    /// Seconds since 1970 of `YYYY-MM-DD` (midnight UTC) or an ISO 8601 time with a zone
    /// (`2024-05-01T09:30:00Z`, `…+02:00`, fractional seconds allowed, `T` or a space between).
    static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingASCIISpaces()
        let utf8 = Array(trimmed.utf8)
        if utf8.count == 10, let days = civilDays(utf8) { return Double(days) * 86_400 }
        for style in styles {
            if let date = try? Date(trimmed, strategy: style), date.timeIntervalSince1970.isFinite { return date.timeIntervalSince1970 }
        }
        return nil
    }

    /// `2024-05-01T09:30:00Z`, with milliseconds when there are any.
    static func iso8601(_ seconds: Double) -> String {
        let date = Date(timeIntervalSince1970: seconds)
        let whole = seconds.rounded(.down) == seconds
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: !whole))
    }

    private static let styles: [Date.ISO8601FormatStyle] = [
        Date.ISO8601FormatStyle(includingFractionalSeconds: true),
        Date.ISO8601FormatStyle(),
        Date.ISO8601FormatStyle(dateTimeSeparator: .space, includingFractionalSeconds: true),
        Date.ISO8601FormatStyle(dateTimeSeparator: .space),
    ]

    /// Whether a YAML timestamp's date part (`YYYY-M-D`, before a `T`, `t` or space) is a real
    /// calendar date.
    static func hasValidDate(_ timestamp: String) -> Bool {
        let date = Array(timestamp.utf8.prefix { $0 != UInt8(ascii: "T") && $0 != UInt8(ascii: "t") && $0 != 0x20 && $0 != 0x09 })
        let parts = date.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, (1...2).contains(parts[1].count), (1...2).contains(parts[2].count) else {
            return false
        }
        func padded(_ part: ArraySlice<UInt8>) -> [UInt8] { part.count == 1 ? [UInt8(ascii: "0")] + part : Array(part) }
        let canonical = Array(parts[0]) + [UInt8(ascii: "-")] + padded(parts[1]) + [UInt8(ascii: "-")] + padded(parts[2])
        return civilDays(canonical) != nil
    }

    /// Days since 1970-01-01 of a valid `YYYY-MM-DD` (H. Hinnant's days_from_civil).
    static func civilDays(_ bytes: [UInt8]) -> Int? {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { return nil }
                value = value * 10 + Int(bytes[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), (1...12).contains(month) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...monthDays[month - 1]).contains(day) else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
