import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a file line by line with `getline`, without loading it whole.
final class LineReader {
    let name: String
    private let file: UnsafeMutablePointer<FILE>
    private let owned: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    /// 1-based number of the line last returned.
    private(set) var lineNumber = 0

    init(file: UnsafeMutablePointer<FILE>, name: String, owned: Bool) {
        self.file = file
        self.name = name
        self.owned = owned
    }

    deinit {
        free(buffer)
        if owned { fclose(file) }
    }

    /// The next line's bytes without its line terminator, or nil at the end of the input.
    func next() -> [UInt8]? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        lineNumber += 1
        var length = count
        while length > 0, buffer[length - 1] == 0x0A || buffer[length - 1] == 0x0D { length -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// Buffered standard output for line-oriented results.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func append(_ string: String) { bytes.append(contentsOf: string.utf8) }

    mutating func flushIfLarge() { if bytes.count > 1 << 16 { flush() } }

    mutating func flush() {
        FileHandle.standardOutput.write(Data(bytes))
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Parses one JSONL line `{"text": "..."}`; the error names the line.
func parseTextLine(_ line: [UInt8], number: Int, source: String) throws -> String {
    struct TextLine: Decodable { let text: String }
    guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
        throw CLIError("\(source):\(number): empty line, expected a JSON object {\"text\": \"...\"}")
    }
    let object: Any
    do {
        object = try JSONSerialization.jsonObject(with: Data(line))
    } catch {
        throw CLIError("\(source):\(number): invalid JSON")
    }
    guard let dictionary = object as? [String: Any] else {
        throw CLIError("\(source):\(number): expected a JSON object {\"text\": \"...\"}")
    }
    guard let text = dictionary["text"] as? String else {
        throw CLIError("\(source):\(number): missing string field \"text\"")
    }
    return text
}

/// `[a,b,c]` with each float in its shortest round-trip form.
func jsonArray<T: CustomStringConvertible>(_ values: [T]) -> String {
    var out = "["
    out.reserveCapacity(values.count * 12)
    for (i, value) in values.enumerated() {
        if i > 0 { out += "," }
        out += value.description
    }
    return out + "]"
}
