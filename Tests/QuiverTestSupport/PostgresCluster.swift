import Foundation

/// A throw-away PostgreSQL cluster for tests: `initdb` into a temporary folder, a server on a free
/// loopback port, stopped and removed when the test process exits (or by ``stop()``).
///
/// The binaries come from Debian's `postgresql-15` (installed by `scripts/setup.sh test`, which
/// `make test` runs) or `$QUIVER_PG_BIN`. PostgreSQL refuses to run as root, so as root every
/// server command runs as the `postgres` user on a folder it owns. A missing PostgreSQL is a test
/// failure, not a skip.
public final class PostgresCluster: @unchecked Sendable {
    /// The cluster's folder (data in `data/`, socket and log beside it).
    public let directory: URL
    /// The loopback port the server listens on.
    public let port: Int
    /// The folder holding `initdb`, `pg_ctl`, `postgres`.
    public let binaries: URL
    /// The network namespace the server runs in (see ``NetworkNamespace``), nil for this one.
    public private(set) var namespace: String?
    /// The addresses the server listens on (loopback, and a namespace's link addresses).
    public private(set) var listenAddresses = ["127.0.0.1"]
    private let lock = NSLock()
    private var databaseCounter = 0

    /// The cluster every suite of this process shares, started on first use.
    public static let shared: Result<PostgresCluster, PostgresClusterError> = Result { () throws(PostgresClusterError) -> PostgresCluster in
        try PostgresCluster.start(name: "shared")
    }

    /// The data folder.
    public var dataDirectory: URL { directory.appendingPathComponent("data") }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    public func url(database: String) -> String { url(database: database, host: "127.0.0.1") }

    /// `postgres://postgres@HOST:PORT/DATABASE`: the server at one of its ``listenAddresses``.
    public func url(database: String, host: String) -> String { "postgres://postgres@\(host):\(port)/\(database)" }

    private init(directory: URL, port: Int, binaries: URL) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
    }

    /// Creates and starts a cluster (UTF-8, C locale, trust authentication on loopback only).
    /// Given a `namespace`, the server runs in that network namespace, listening on its loopback
    /// and on `addresses` (a ``NetworkNamespace``'s link addresses; trusted from every address, as
    /// only this machine's namespaces reach them); ``psql(_:database:)`` then uses its socket.
    public static func start(name: String, namespace: String? = nil, addresses: [String] = []) throws(PostgresClusterError)
        -> PostgresCluster
    {
        removeAbandonedClusters()
        let cluster = try make(name: name, binaries: try findBinaries())
        cluster.namespace = namespace
        cluster.listenAddresses += addresses
        try cluster.runServerCommand(
            "initdb", ["-D", cluster.dataDirectory.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        try cluster.writeConfiguration()
        try cluster.startServer()
        Self.registry.add(cluster)
        return cluster
    }

    /// A cluster object with an empty folder of its own (owned by the server's user) and a free
    /// port; nothing started.
    private static func make(name: String, binaries: URL) throws(PostgresClusterError) -> PostgresCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "quiver-pg-\(ProcessInfo.processInfo.processIdentifier)-\(name)-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw PostgresClusterError("cannot create \(directory.path): \(error)")
        }
        let cluster = PostgresCluster(directory: directory, port: try freePort(), binaries: binaries)
        try cluster.chownToServerUser()
        return cluster
    }

    /// A streaming standby of this cluster (`pg_basebackup -R`: asynchronous, hot standby), on a
    /// port and folder of its own, started.
    public func startStandby(name: String) throws(PostgresClusterError) -> PostgresCluster {
        let standby = try Self.make(name: name, binaries: binaries)
        try standby.runServerCommand(
            "pg_basebackup",
            [
                "-D", standby.dataDirectory.path, "-R", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-X", "stream",
                "--checkpoint=fast",
            ])
        // The primary's settings came with the copy; the later lines win.
        try standby.writeConfiguration()
        try standby.startServer()
        Self.registry.add(standby)
        return standby
    }

    /// Stops the server, makes it listen on `port` from now on, and starts it again: how a test
    /// moves a promoted standby to its dead primary's address (what a failover manager's virtual
    /// address does), so clients of that address reach it.
    public func restart(listeningOn port: Int) throws(PostgresClusterError) {
        try stop(mode: "fast")
        let file = dataDirectory.appendingPathComponent("postgresql.conf")
        do {
            let handle = try FileHandle(forWritingTo: file)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\nport = \(port)\n".utf8))
            try handle.close()
        } catch {
            throw PostgresClusterError("cannot write \(file.path): \(error)")
        }
        try startServer()
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server and its backends: a server that holds its
    /// connections open and answers nothing, as across a network partition.
    public func freeze(_ frozen: Bool) throws(PostgresClusterError) {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) })
        else { throw PostgresClusterError("no running server in \(dataDirectory.path)") }
        let signal = frozen ? "-STOP" : "-CONT"
        // Children first when freezing (none of them acts meanwhile), the postmaster first when thawing.
        if !frozen { kill(pid, SIGCONT) }
        _ = try? Self.run(URL(fileURLWithPath: "/usr/bin/pkill"), [signal, "-P", String(pid)], asServerUser: false)
        if frozen { kill(pid, SIGSTOP) }
    }

    /// Ends recovery: the standby becomes a primary (`pg_ctl promote`, waiting until it accepts writes).
    public func promote() throws(PostgresClusterError) {
        try runServerCommand("pg_ctl", ["-D", dataDirectory.path, "-w", "-t", "60", "promote"])
    }

    /// A new empty database on this cluster; returns its URL.
    public func createDatabase(prefix: String = "quiver_test") throws(PostgresClusterError) -> String {
        let name = lock.withLock { () -> String in
            databaseCounter += 1
            return "\(prefix)_\(databaseCounter)"
        }
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs one SQL command as the superuser on database `postgres` (or `database`).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws(PostgresClusterError) -> String {
        try run(
            URL(fileURLWithPath: "/usr/bin/psql"),
            [
                "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", namespace == nil ? "127.0.0.1" : directory.path, "-p",
                String(port), "-U", "postgres", "-d", database,
                "-c", sql,
            ], asServerUser: false)
    }

    /// Starts the server (after ``stop(mode:)``); returns when it accepts connections.
    public func startServer() throws(PostgresClusterError) {
        let arguments = ["-D", dataDirectory.path, "-l", directory.appendingPathComponent("server.log").path, "-w", "-t", "60", "start"]
        guard let namespace else { return try runServerCommand("pg_ctl", arguments) }
        // `ip netns exec` as root, then the server's user: the postmaster inherits the namespace.
        let command = asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        try run(
            URL(fileURLWithPath: "/usr/sbin/ip"),
            ["netns", "exec", namespace] + command + [binaries.appendingPathComponent("pg_ctl").path] + arguments, asServerUser: false)
    }

    /// Stops the server: `fast` (clean), or `immediate` (like a crash: recovery runs at the next start).
    public func stop(mode: String = "fast") throws(PostgresClusterError) {
        try runServerCommand("pg_ctl", ["-D", dataDirectory.path, "-m", mode, "-w", "-t", "60", "stop"])
    }

    /// Stops the server if it runs and removes the folder.
    public func destroy() {
        try? stop(mode: "immediate")
        try? FileManager.default.removeItem(at: directory)
        Self.registry.remove(self)
    }

    /// The server log (for a failing test's message).
    public func serverLog() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    private func writeConfiguration() throws(PostgresClusterError) {
        let settings = """

            listen_addresses = '\(listenAddresses.joined(separator: ","))'
            port = \(port)
            unix_socket_directories = '\(directory.path)'
            max_connections = 200
            shared_buffers = 64MB
            wal_level = replica
            max_wal_senders = 4
            """
        try append(settings, to: "postgresql.conf")
        // Clients of the link addresses come from this machine's own namespaces.
        if listenAddresses.count > 1 { try append("\nhost all all 0.0.0.0/0 trust\n", to: "pg_hba.conf") }
    }

    private func append(_ text: String, to name: String) throws(PostgresClusterError) {
        let file = dataDirectory.appendingPathComponent(name)
        do {
            let handle = try FileHandle(forWritingTo: file)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        } catch {
            throw PostgresClusterError("cannot write \(file.path): \(error)")
        }
    }

    private var asRoot: Bool { geteuid() == 0 }

    private func chownToServerUser() throws(PostgresClusterError) {
        guard asRoot else { return }
        try run(URL(fileURLWithPath: "/bin/chown"), ["-R", "postgres:postgres", directory.path], asServerUser: false)
    }

    private func runServerCommand(_ tool: String, _ arguments: [String]) throws(PostgresClusterError) {
        try run(binaries.appendingPathComponent(tool), arguments, asServerUser: true)
    }

    @discardableResult
    private func run(_ executable: URL, _ arguments: [String], asServerUser: Bool) throws(PostgresClusterError) -> String {
        try Self.run(executable, arguments, asServerUser: asServerUser && asRoot, log: serverLog)
    }

    @discardableResult
    static func run(_ executable: URL, _ arguments: [String], asServerUser: Bool, log: () -> String = { "" })
        throws(PostgresClusterError) -> String
    {
        let (path, argv) =
            asServerUser
            ? ("/usr/sbin/runuser", ["runuser", "-u", "postgres", "--", executable.path] + arguments)
            : (executable.path, [executable.lastPathComponent] + arguments)
        // posix_spawn and waitpid, not Foundation's Process: `pg_ctl start` leaves a server running
        // that inherits the descriptors Process watches, so Process never sees pg_ctl exit. Output
        // goes to a file.
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-pgout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw PostgresClusterError("cannot run \(path): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let name = ([executable.lastPathComponent] + arguments.prefix(3)).joined(separator: " ")
            throw PostgresClusterError("\(name) exited with status \(status): \(text)\n\(log().suffix(2000))")
        }
        return text
    }

    static func findBinaries() throws(PostgresClusterError) -> URL {
        if let configured = ProcessInfo.processInfo.environment["QUIVER_PG_BIN"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let folder = URL(fileURLWithPath: "\(root)/\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("initdb").path) { return folder }
        }
        throw PostgresClusterError(
            "no PostgreSQL server binaries under \(root) (run `scripts/setup.sh test`, or set QUIVER_PG_BIN)")
    }

    static func freePort() throws(PostgresClusterError) -> Int {
        do { return try BlockingHTTP.freePort() } catch { throw PostgresClusterError("no free port: \(error)") }
    }

    /// Clusters left by test processes that no longer run (killed before their exit handler):
    /// stopped and removed, so they do not pile up.
    static func removeAbandonedClusters() {
        let temporary = FileManager.default.temporaryDirectory
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        where entry.hasPrefix("quiver-pg-") {
            let parts = entry.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[2]), pid != ProcessInfo.processInfo.processIdentifier else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // its owner still runs
            let folder = temporary.appendingPathComponent(entry)
            if let binaries = try? findBinaries() {
                _ = try? run(
                    binaries.appendingPathComponent("pg_ctl"),
                    ["-D", folder.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"], asServerUser: geteuid() == 0)
            }
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// Every cluster this process started, destroyed at exit.
    private static let registry = ExitRegistry<PostgresCluster> { $0.destroy() }
}

/// Why a test cluster could not be made or driven.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
