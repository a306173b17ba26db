import Foundation

/// Paths every test suite shares: the package root and the default model folder.
public enum TestPaths {
    /// The package root, from this file's path (`Tests/QuiverTestSupport/TestPaths.swift`).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The model the tests run: `$QUIVER_MODEL_DIR`, else `<package root>/models/all-MiniLM-L6-v2`
    /// (installed by `make test` through scripts/setup.sh). A missing model is a test failure, not
    /// a skip.
    public static let modelFolder: URL = {
        if let configured = ProcessInfo.processInfo.environment["QUIVER_MODEL_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        return packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2")
    }()
}

/// A JSON text parsed and printed back with object members sorted by name, so two texts that are
/// the same JSON document (whatever their member order or spacing) give the same string.
public func canonicalJSON(_ data: Data) throws -> String {
    func text(_ value: Any) -> String {
        switch value {
        case let object as [String: Any]:
            return "{" + object.keys.sorted().map { "\(text($0)):\(text(object[$0]!))" }.joined(separator: ",") + "}"
        case let array as [Any]:
            return "[" + array.map(text).joined(separator: ",") + "]"
        case let string as String:
            return "\"" + string.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
        case is NSNull:
            return "null"
        default:
            return "\(value)"
        }
    }
    return text(try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed))
}
