import ArgumentParser
import CollectionsAPI
import Foundation
import Logging
import PostgresStore
import SearchEngine

/// `quiver backup --data DIR --out PATH`: a consistent online copy of every collection.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy every collection of a data folder, online (a server may be writing), with a manifest of checksums.")

    @Option(help: "Data directory to back up.") var data = "var/data"
    @Option(help: "New folder receiving the backup (must not exist or be empty).") var out: String
    @Flag(help: "Print the manifest as JSON.") var json = false

    func run() throws {
        let manifest = try cli { () throws(SearchEngineError) in
            try DataBackup.backup(data: URL(fileURLWithPath: data), to: URL(fileURLWithPath: out))
        }
        if json {
            print(try jsonLine(manifest))
            return
        }
        for collection in manifest.collections {
            let bytes = collection.files.reduce(0) { $0 + $1.bytes }
            print("\(collection.name): seq \(collection.seq), \(collection.files.count) files, \(bytes) bytes")
        }
        print("backup in \(out) (\(manifest.collections.count) collections); restore with: quiver restore \(out) --data NEWDIR")
    }
}

/// `quiver restore PATH --data NEWDIR`: verifies a backup and puts it back.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Verify a backup's checksums and restore it into a data folder (its collections must not exist there).")

    @Argument(help: "The backup folder.") var backup: String
    @Option(help: "Data directory to restore into.") var data: String

    func run() throws {
        let manifest = try cli { () throws(SearchEngineError) in
            try DataBackup.restore(from: URL(fileURLWithPath: backup), to: URL(fileURLWithPath: data))
        }
        let report = try cli { () throws(SearchEngineError) in try DataCheck.run(data: URL(fileURLWithPath: data)) }
        for collection in manifest.collections {
            print("\(collection.name): restored at seq \(collection.seq)")
        }
        guard report.ok else { throw CLIError("the restored data does not check out; run quiver check --data \(data)") }
    }
}

/// `quiver check --data DIR [--store URL]`: verifies every store and index file; exit status 0
/// when all is well, 1 when a store has a problem or an index file is damaged.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every store (integrity, seqs, vectors) and index file (checksums); say what a server would rebuild.")

    @Option(help: "Data directory (with --store: this machine's index files).") var data = "var/data"
    @Option(help: "A PostgreSQL store to check (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE) instead of SQLite files.")
    var store: String?
    @Option(help: "Seconds a PostgreSQL statement may wait for the server (0.1 to 3600).")
    var storeTimeout: Double = StoreChoice.defaultTimeoutSeconds
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: data)
        let report = try cli { () throws(SearchEngineError) in
            guard
                let catalog = try StoreChoice.catalog(
                    url: store, timeout: storeTimeout, data: folder, logger: Logger(label: "quiver.check"))
            else { return try DataCheck.run(data: folder) }
            return try DataCheck.run(catalog: catalog)
        }
        if json {
            print(try jsonLine(report))
        } else {
            if report.collections.isEmpty { print("no collections in \(data)") }
            for collection in report.collections {
                print("\(collection.name): \(collection.ok ? "ok" : "PROBLEMS")\(collection.seq.map { ", seq \($0)" } ?? "")")
                for problem in collection.storeProblems { print("  store: \(problem)") }
                for file in collection.damagedIndexFiles { print("  damaged index file: \(file)") }
                for note in collection.indexNotes { print("  index: \(note)") }
            }
        }
        if !report.ok { throw ExitCode(1) }
    }
}

/// `quiver migrate --store URL`: applies the PostgreSQL store's schema migrations (every command
/// on a PostgreSQL store also applies them when it starts; this one does only that).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the PostgreSQL store's schema migrations (idempotent; serve and index also run them at start).")

    @Option(help: "The store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.") var store: String

    func run() throws {
        CLILogging.bootstrap()
        let applied: [Int]
        do {
            applied = try PostgresCatalog.migrate(url: store, logger: Logger(label: "quiver.migrate"))
        } catch {
            throw CLIError("\(error)")
        }
        let version = PostgresCatalog.schemaVersion
        print(
            applied.isEmpty
                ? "\(StoreChoice.describe(store)) is at schema version \(version); nothing to do"
                : "\(StoreChoice.describe(store)): applied schema versions \(applied.map(String.init).joined(separator: ", "))")
    }
}
