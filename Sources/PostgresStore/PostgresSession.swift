import DocumentStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// Where a PostgreSQL store is: parsed from `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// The user.
    public var user: String
    /// The password, if the URL has one (never printed).
    public var password: String?
    /// The host name or address.
    public var host: String
    /// The port (default 5432).
    public var port: Int
    /// The database.
    public var database: String

    /// Parses a `postgres://` (or `postgresql://`) URL; user and database are required.
    ///
    /// - Throws: `.database` naming what is wrong (the password is never repeated back).
    public init(url: String) throws(DocumentStoreError) {
        func fail(_ reason: String) -> DocumentStoreError {
            .database(path: "--store", message: "\(reason); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw fail("not a postgres:// URL") }
        guard let host = components.host, !host.isEmpty else { throw fail("no host") }
        guard let user = components.user, !user.isEmpty else { throw fail("no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("no database") }
        if let query = components.queryItems, !query.isEmpty {
            throw fail("URL parameters are not supported (\(query.map(\.name).joined(separator: ", ")))")
        }
        self.user = user
        self.password = components.password
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
    }

    /// `postgres://USER@HOST:PORT/DATABASE` (no password).
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

/// A small pool of PostgreSQL connections used from blocking code.
///
/// The store protocols are synchronous (the engine calls them from its own threads, like the
/// SQLite store), and postgres-nio is event-loop based: every call here sends its statements on
/// a connection of a private event loop group and waits for the reply on the calling thread. The
/// group is this module's own, so no caller ever waits on the loop that must answer it.
final class PostgresPool: Sendable {
    /// The event loop of every connection the module opens (one thread: the work is I/O).
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    let location: PostgresLocation
    let logger: Logger
    /// Connections open at most.
    let capacity: Int
    private let state = Mutex(State())
    private let available = NSCondition()

    private struct State {
        var idle: [PostgresConnection] = []
        /// Each open connection's prepared statements.
        var prepared: [ObjectIdentifier: PreparedStatements] = [:]
        var open = 0
        var nextID = 0
    }

    /// How long one statement may wait for the server's answer before its connection is closed
    /// and the call fails `unreachable`: a server that stopped answering (a network partition,
    /// a hung host) fails calls instead of holding their threads forever.
    let requestTimeout: TimeAmount

    init(location: PostgresLocation, capacity: Int = 16, requestTimeout: TimeAmount = .seconds(30), logger: Logger) {
        self.requestTimeout = requestTimeout
        self.location = location
        self.capacity = max(1, capacity)
        self.logger = logger
    }

    deinit {
        for connection in state.withLock({ $0.idle }) { closeQuietly(connection) }
    }

    /// Runs `body` with a connection of its own, outside a transaction.
    func withSession<T>(_ body: (PostgresSession) throws -> T) throws(DocumentStoreError) -> T {
        let connection = try checkOut()
        let prepared = state.withLock { state in
            if let known = state.prepared[ObjectIdentifier(connection)] { return known }
            let made = PreparedStatements()
            state.prepared[ObjectIdentifier(connection)] = made
            return made
        }
        let session = PostgresSession(
            connection: connection, location: location, prepared: prepared, requestTimeout: requestTimeout, logger: logger)
        defer { checkIn(connection, broken: session.broken) }
        do {
            return try body(session)
        } catch {
            throw session.classify(error)
        }
    }

    /// Runs `body` in one transaction (`READ COMMITTED`, or `REPEATABLE READ` for a consistent
    /// multi-statement read): committed when it returns, rolled back when it throws.
    func transaction<T>(readOnly: Bool = false, _ body: (PostgresSession) throws -> T) throws(DocumentStoreError) -> T {
        try withSession { session in
            try session.execute(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                if !session.broken { _ = try? session.execute("ROLLBACK") }
                throw error
            }
        }
    }

    private func checkOut() throws(DocumentStoreError) -> PostgresConnection {
        available.lock()
        var reuse: PostgresConnection?
        var makeID: Int?
        while reuse == nil, makeID == nil {
            state.withLock { state in
                while let candidate = state.idle.popLast() {
                    if candidate.isClosed {
                        state.open -= 1
                        state.prepared[ObjectIdentifier(candidate)] = nil
                        continue
                    }
                    reuse = candidate
                    return
                }
                if state.open < capacity {
                    state.open += 1
                    state.nextID += 1
                    makeID = state.nextID
                }
            }
            if reuse == nil, makeID == nil { available.wait() }
        }
        available.unlock()
        if let reuse { return reuse }
        do {
            return try connect(id: makeID ?? 0)
        } catch {
            // Under the condition's lock: a caller between checking the pool and waiting must
            // not miss this wake-up.
            available.lock()
            state.withLock { $0.open -= 1 }
            available.signal()
            available.unlock()
            throw error
        }
    }

    private func checkIn(_ connection: PostgresConnection, broken: Bool) {
        available.lock()
        state.withLock { state in
            if broken || connection.isClosed {
                state.open -= 1
                state.prepared[ObjectIdentifier(connection)] = nil
                closeQuietly(connection)
            } else {
                state.idle.append(connection)
            }
        }
        available.signal()
        available.unlock()
    }

    private func connect(id: Int) throws(DocumentStoreError) -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        let connection: PostgresConnection
        do {
            // The TCP connect has its own timeout; a server that accepts connections and never
            // answers (frozen, behind a partition that drops its replies) would otherwise hold the
            // start-up and authentication forever. A connection that arrives too late is closed.
            connection = try waitBounded(
                PostgresConnection.connect(on: Self.group.next(), configuration: configuration, id: id, logger: logger),
                for: "the connection's start-up", timeout: requestTimeout, late: { closeQuietly($0) })
        } catch {
            throw .unreachable(path: location.description, reason: "cannot connect: \(PostgresSession.describe(error))")
        }
        // Offsets into texts are counted in characters, which needs a UTF-8 database.
        do {
            let rows = try waitBounded(
                connection.query("SHOW server_encoding", logger: logger), for: "the encoding check", timeout: requestTimeout,
                expired: { closeQuietly(connection) }
            ).rows
            let encoding = try rows.first.map { try StoreRow($0).get(0, String.self) }
            guard encoding == "UTF8" else {
                closeQuietly(connection)
                throw DocumentStoreError.database(
                    path: location.description, message: "the database's encoding is \(encoding ?? "?"); Quiver needs UTF8")
            }
        } catch let error as DocumentStoreError {
            throw error
        } catch {
            closeQuietly(connection)
            throw .database(path: location.description, message: PostgresSession.describe(error))
        }
        return connection
    }
}

/// One connection lent to a caller: statements with bound values, rows back.
final class PostgresSession {
    let connection: PostgresConnection
    let location: PostgresLocation
    let logger: Logger
    /// The connection's prepared statements.
    let prepared: PreparedStatements
    /// See ``PostgresPool/requestTimeout``.
    let requestTimeout: TimeAmount
    /// Set when the connection failed (closed, protocol error): it is not returned to the pool.
    private var failed = false

    init(
        connection: PostgresConnection, location: PostgresLocation, prepared: PreparedStatements, requestTimeout: TimeAmount,
        logger: Logger
    ) {
        self.requestTimeout = requestTimeout
        self.prepared = prepared
        self.connection = connection
        self.location = location
        self.logger = logger
    }

    var broken: Bool { failed || connection.isClosed }

    /// Runs `sql` with `binds` ($1, $2, … in order) and returns every row.
    @discardableResult
    func query(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws -> [StoreRow] {
        try bounded(connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)).rows.map { StoreRow($0) }
    }

    /// Runs `sql` as a statement prepared once per connection (parsed and planned once: for the
    /// statements every query runs) with `binds`, and returns every row.
    func queryPrepared(_ sql: String, _ binds: [PostgresData]) throws -> [StoreRow] {
        let statement: PreparedQuery
        if let known = prepared.statements[sql] {
            statement = known
        } else {
            statement = try bounded(connection.prepare(query: sql))
            prepared.statements[sql] = statement
        }
        // postgres-nio 1.33 labels a prepared statement's cells with the format its Describe
        // reported (text) while they arrive in binary: they are read as binary.
        return try bounded(statement.execute(binds)).map { StoreRow($0, format: .binary) }
    }

    /// Runs `sql` and returns how many rows it changed (its command tag's count).
    @discardableResult
    func execute(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) throws -> Int {
        try bounded(connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)).metadata.rows ?? 0
    }

    /// Waits for `future`, at most ``requestTimeout`` (see ``waitBounded(_:for:timeout:late:expired:)``):
    /// then the connection is closed and the call fails (the session is broken: the pool drops it).
    private func bounded<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let connection = self.connection
        let fired = TimerFlag()
        do {
            return try waitBounded(
                future, for: "a statement", timeout: requestTimeout,
                expired: {
                    fired.set()
                    closeQuietly(connection)
                })
        } catch {
            // Anything but the server's own error report (a closed connection, a timeout, a
            // protocol failure) leaves the connection unusable: the pool drops it, and the call
            // is `unreachable` (the connection may close a moment after the error arrives).
            if fired.isSet || connection.isClosed || !Self.isServerError(error) { failed = true }
            throw error
        }
    }

    /// Whether `error` is the server's report on a statement (a constraint, a syntax error), after
    /// which the connection is still good.
    static func isServerError(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.code == .server }
        if let error = error as? PostgresError, case .server = error { return true }
        return false
    }

    /// `error` as a store error: constraint and server errors with their SQLSTATE, lost
    /// connections as such.
    func classify(_ error: any Error) -> DocumentStoreError {
        if let error = error as? DocumentStoreError { return error }
        if broken { return .unreachable(path: location.description, reason: Self.describe(error)) }
        // The server shutting down or a standby being promoted ends sessions with these states; a
        // standby cancels a read that conflicts with the changes it replays (40001): retryable.
        if let state = Self.sqlState(error), state.hasPrefix("57P") || state.hasPrefix("08") || state == "40001" {
            return .unreachable(path: location.description, reason: Self.describe(error))
        }
        return .database(path: location.description, message: Self.describe(error))
    }

    /// The SQLSTATE of a server error, else nil.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A one-line description: the server's message and SQLSTATE, or the client's error code.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            let message = info[.message] ?? "server error"
            let detail = info[.detail].map { " (\($0))" } ?? ""
            return "\(message)\(detail) [SQLSTATE \(info[.sqlState] ?? "?")]"
        }
        return error.underlying.map { "\(error.code): \($0)" } ?? "\(error.code)"
    }
}

/// One result row: its cells by position.
struct StoreRow {
    let cells: [PostgresCell]

    /// The cells of `row`, with their format replaced by `format` when given.
    init(_ row: PostgresRow, format: PostgresFormat? = nil) {
        cells = row.map { cell in
            guard let format else { return cell }
            return PostgresCell(
                bytes: cell.bytes, dataType: cell.dataType, format: format, columnName: cell.columnName, columnIndex: cell.columnIndex)
        }
    }

    /// Column `index` as `T` (an optional type decodes NULL as nil).
    func get<T: PostgresDecodable>(_ index: Int, _ type: T.Type = T.self) throws -> T {
        guard cells.indices.contains(index) else {
            throw DocumentStoreError.corrupted(path: "result row", reason: "no column \(index) of \(cells.count)")
        }
        return try cells[index].decode(T.self)
    }
}

/// Bindings of non-optional values, in order ($1, $2, …); a statement with a nullable value
/// builds its bindings with `append` (which binds nil as NULL).
func binds<each V: PostgresDynamicTypeEncodable>(_ values: repeat each V) -> PostgresBindings {
    var bindings = PostgresBindings()
    repeat bindings.append(each values)
    return bindings
}

/// Waits for `future` at most `timeout`, on a timer of its own: whichever comes first, the
/// future's outcome or the timeout, ends the wait. Every wait on the server goes through here:
/// closing a connection was not enough to end a wait on it (a statement's future was seen pending
/// minutes after its connection's close, once the server had restarted). At the timeout
/// `expired` runs (a statement closes its connection) and the wait throws ``PostgresTimedOut``; a
/// value that arrives after it goes to `late` (a connection is closed).
func waitBounded<T: Sendable>(
    _ future: EventLoopFuture<T>, for what: String, timeout: TimeAmount, late: @escaping @Sendable (T) -> Void = { _ in },
    expired: @escaping @Sendable () -> Void = {}
) throws -> T {
    let outcome = future.eventLoop.makePromise(of: T.self)
    let settled = OnceFlag()
    let timer = future.eventLoop.scheduleTask(in: timeout) {
        expired()
        if settled.claim() { outcome.fail(PostgresTimedOut(what: what, timeout: timeout)) }
    }
    future.whenComplete { result in
        timer.cancel()
        if settled.claim() {
            outcome.completeWith(result)
        } else if case .success(let value) = result {
            late(value)
        }
    }
    return try outcome.futureResult.wait()
}

/// The server gave no answer to `what` within `timeout`.
struct PostgresTimedOut: Error, CustomStringConvertible {
    let what: String
    let timeout: TimeAmount
    var description: String { "no answer from the server to \(what) within \(timeout.nanoseconds / 1_000_000) ms" }
}

/// True for the first caller of ``claim()`` only: which of two racing outcomes settles a promise.
final class OnceFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func claim() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
}

/// Set once by a statement's timer (on the event loop), read by the waiting thread.
final class TimerFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// The statements prepared on one connection, by SQL text; used only by the session holding
/// the connection.
final class PreparedStatements: @unchecked Sendable {
    var statements: [String: PreparedQuery] = [:]
}

/// Closes a connection without waiting for the server's goodbye.
func closeQuietly(_ connection: PostgresConnection) {
    let closing: EventLoopFuture<Void> = connection.close()
    closing.whenComplete { _ in }
}
