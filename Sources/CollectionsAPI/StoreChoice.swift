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
    /// `readURL`: a read-only standby of that database the change feed and queries read from.
    ///
    /// - Throws: the store's error, naming the database (never its password); `invalidQuery`
    ///   for a read store without a store.
    public static func catalog(url: String?, readURL: String? = nil, data: URL, logger: Logger) throws(SearchEngineError)
        -> (any StoreCatalog)?
    {
        guard let url else {
            if readURL != nil { throw .invalidQuery("--read-store needs --store (the primary writes go to)") }
            return nil
        }
        do {
            return try PostgresCatalog(url: url, readURL: readURL, layout: DataLayout(dataDirectory: data), logger: logger)
        } catch {
            throw SearchEngineError(error)
        }
    }

    /// How logs and `info` name the store: the URL without its password, or "sqlite".
    public static func describe(_ url: String?) -> String {
        guard let url else { return "sqlite" }
        return (try? PostgresLocation(url: url).description) ?? "postgres (malformed URL)"
    }
}
