import DocumentStore
import Foundation
import Logging
import PostgresStore
import SearchEngine

/// The `--store` choice shared by `quiver serve` and the CLI commands: the embedded SQLite store
/// (no URL) or a PostgreSQL database.
public enum StoreChoice {
    /// The catalog of `url` with derived files under `data`, or nil for the SQLite default (the
    /// engine makes it). A PostgreSQL database gets its missing migrations applied.
    /// `readURL`: a read-only standby of that database the change feed and queries read from;
    /// `timeout`: how long a statement may wait for the server before the call fails
    /// `unreachable` (``defaultTimeoutSeconds``).
    ///
    /// - Throws: the store's error, naming the database (never its password); `invalidQuery`
    ///   for a read store without a store, or a timeout out of ``timeoutRange``.
    public static func catalog(
        url: String?, readURL: String? = nil, timeout: Double = defaultTimeoutSeconds, data: URL, logger: Logger
    ) throws(SearchEngineError) -> (any StoreCatalog)? {
        guard timeoutRange.contains(timeout) else {
            throw .invalidQuery("--store-timeout must be between 0.1 and 3600 seconds (got \(timeout))")
        }
        guard let url else {
            if readURL != nil { throw .invalidQuery("--read-store needs --store (the primary writes go to)") }
            return nil
        }
        do {
            return try PostgresCatalog(
                url: url, readURL: readURL, layout: DataLayout(dataDirectory: data), requestTimeout: .milliseconds(Int64(timeout * 1000)),
                logger: logger)
        } catch {
            throw SearchEngineError(error)
        }
    }

    /// The request timeout of a PostgreSQL store when none is given (`--store-timeout`), seconds.
    public static let defaultTimeoutSeconds = 30.0
    /// The request timeouts accepted, seconds.
    public static let timeoutRange = 0.1...3600.0

    /// How logs and `info` name the store: the URL without its password, or "sqlite".
    public static func describe(_ url: String?) -> String {
        guard let url else { return "sqlite" }
        return (try? PostgresLocation(url: url).description) ?? "postgres (malformed URL)"
    }
}
