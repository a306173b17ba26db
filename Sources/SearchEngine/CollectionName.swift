/// Collection names: `[a-z0-9][a-z0-9_-]{0,63}`. Names become folder names, so nothing else —
/// no dot, no slash — can ever reach the file system from a request.
public enum CollectionName {
    /// Throws `invalidName` unless `name` matches `[a-z0-9][a-z0-9_-]{0,63}`.
    public static func validate(_ name: String) throws(SearchEngineError) {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLowerAlnum(first),
            bytes.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { throw .invalidName(name) }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
