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
