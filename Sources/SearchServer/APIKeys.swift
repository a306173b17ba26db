import Foundation

/// What a key may do: `read` keys call every read route, `admin` keys also the write routes.
public enum APIRole: String, Sendable, Comparable, Codable {
    /// Reads: embeddings, tokenize, queries, info, metrics.
    case read
    /// Reads and writes (collections, documents).
    case admin

    /// `read` < `admin`: an admin key may do everything a read key may.
    public static func < (lhs: APIRole, rhs: APIRole) -> Bool { lhs == .read && rhs == .admin }
}

/// The configured API keys. When empty, authentication is off.
///
/// Keys are compared in constant time (every configured key is compared in full, whatever the
/// input), and never appear in logs or in `description`.
public struct APIKeys: Sendable, CustomStringConvertible {
    private var entries: [(role: APIRole, key: [UInt8])] = []

    /// No keys: every route is open.
    public init() {}

    /// `true` when at least one key is configured, so that requests need one.
    public var isEnabled: Bool { !entries.isEmpty }

    /// Number of keys per role, for logs and `/v1/info`.
    public var counts: [APIRole: Int] {
        entries.reduce(into: [:]) { $0[$1.role, default: 0] += 1 }
    }

    /// Key counts per role; never the keys.
    public var description: String {
        "APIKeys(admin: \(counts[.admin] ?? 0), read: \(counts[.read] ?? 0))"
    }

    /// Adds `key` with `role`. Throws when the key is empty or has whitespace.
    public mutating func add(_ key: String, role: APIRole) throws(ConfigurationError) {
        guard !key.isEmpty, !key.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ConfigurationError("an API key must be non-empty without whitespace")
        }
        entries.append((role, Array(key.utf8)))
    }

    /// Adds the keys of a keys file: one `admin:KEY` or `read:KEY` per line; blank lines and lines
    /// starting with `#` are ignored.
    public mutating func load(file: URL) throws(ConfigurationError) {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read API keys file \(file.path): \(error.localizedDescription)")
        }
        try load(text: text, source: file.path)
    }

    /// Adds keys given as `admin:KEY` / `read:KEY` entries separated by newlines, commas or
    /// spaces — the `QUIVER_API_KEYS` environment variable, which unlike a command-line flag does
    /// not show in `ps`.
    public mutating func load(environmentValue value: String, name: String = "QUIVER_API_KEYS") throws(ConfigurationError) {
        let entries = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" })
        try load(text: entries.joined(separator: "\n"), source: name)
    }

    private mutating func load(text: String, source: String) throws(ConfigurationError) {
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), let role = APIRole(rawValue: String(line[..<colon])) else {
                throw ConfigurationError("\(source):\(number + 1): expected 'admin:KEY' or 'read:KEY'")
            }
            do { try add(String(line[line.index(after: colon)...]), role: role) } catch {
                throw ConfigurationError("\(source):\(number + 1): \(error)")
            }
        }
    }

    /// The role of `presented`, or `nil` when it matches no key. Takes the same time whichever key
    /// (if any) matches and wherever a mismatch is.
    public func role(of presented: some StringProtocol) -> APIRole? {
        let bytes = Array(presented.utf8)
        var found: APIRole?
        for entry in entries where Self.constantTimeEqual(bytes, entry.key) {
            found = max(found ?? entry.role, entry.role)
        }
        return found
    }

    /// Compares every byte of the longer input, so the time depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
