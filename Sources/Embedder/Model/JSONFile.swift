import Foundation

/// A JSON object read from a file of a model folder, with typed accessors whose errors name the
/// file and the key.
struct JSONFile {
    let path: String
    let object: [String: Any]

    /// Reads and parses `url`; throws `.missingFile` when it does not exist.
    init(url: URL) throws(EmbedderError) {
        path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) { throw .missingFile(path: url.path) }
            throw .unreadableFile(path: url.path, reason: "\(error.localizedDescription)")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw .malformedFile(path: url.path, reason: "not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw .malformedFile(path: url.path, reason: "top level is not a JSON object")
        }
        self.object = object
    }

    /// An optional integer; throws when present but not an integer in `range`.
    func int(_ key: String, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws(EmbedderError) -> Int? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, number.doubleValue.rounded() == number.doubleValue,
            abs(number.doubleValue) < 1e15, range.contains(Int(number.doubleValue))
        else {
            throw .invalidConfiguration(path: path, reason: "\(key) must be an integer in \(range), found \(raw)")
        }
        return Int(number.doubleValue)
    }

    /// A required integer in `range`.
    func requiredInt(_ key: String, in range: ClosedRange<Int> = 1...Int(Int32.max)) throws(EmbedderError) -> Int {
        guard let value = try int(key, in: range) else {
            throw .invalidConfiguration(path: path, reason: "missing \(key)")
        }
        return value
    }

    /// An optional finite number.
    func double(_ key: String) throws(EmbedderError) -> Double? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, number.doubleValue.isFinite else {
            throw .invalidConfiguration(path: path, reason: "\(key) must be a finite number, found \(raw)")
        }
        return number.doubleValue
    }

    /// An optional boolean.
    func bool(_ key: String) throws(EmbedderError) -> Bool? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? Bool else {
            throw .invalidConfiguration(path: path, reason: "\(key) must be true or false, found \(raw)")
        }
        return value
    }

    /// An optional string.
    func string(_ key: String) throws(EmbedderError) -> String? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? String else {
            throw .invalidConfiguration(path: path, reason: "\(key) must be a string, found \(raw)")
        }
        return value
    }
}
