import Hummingbird
import NIOCore

/// Reads a request's whole body, under `max_body_bytes` and within `body_timeout_seconds`, before
/// the request goes on — so a request takes an in-flight slot (``ConcurrencyLimitMiddleware``
/// comes after this) only once it is authenticated and its body is in. Hundreds of clients that
/// send a header and dribble a body hold connections, never slots.
///
/// - A body that does not arrive in time is a 408 and its connection is closed (the read is
///   cancelled, which ends the connection's input).
/// - A body over the limit is a 413. When the client declared its length, the rest is read and
///   discarded first (a "lingering close", within the same deadline), so a client that sends its
///   whole body before reading the answer still gets the 413 instead of a stalled write.
/// - Methods without a body (GET, DELETE, HEAD, OPTIONS) pass straight through.
struct RequestBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    let timeout: Duration
    let timeoutSeconds: Int

    init(maxBodyBytes: Int, timeoutSeconds: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.timeoutSeconds = timeoutSeconds
        self.timeout = .seconds(timeoutSeconds)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put || request.method == .patch else {
            return try await next(request, context)
        }
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        var request = request
        let body = request.body
        let limit = maxBodyBytes
        let outcome = await Self.race(timeout: timeout) {
            if let declared, declared > limit {
                // Refused by its declared length: read and drop the rest so the client can finish
                // sending and read the 413.
                for try await _ in body {}
                return .tooLarge
            }
            do {
                return .complete(try await body.collect(upTo: limit))
            } catch is NIOTooManyBytesError {
                for try await _ in body {}
                return .tooLarge
            }
        }
        switch outcome {
        case .complete(let buffer):
            request.body = .init(buffer: buffer)
            return try await next(request, context)
        case .tooLarge:
            throw APIError.bodyTooLarge(limit: limit)
        case .timedOut:
            throw APIError.requestTimeout(seconds: timeoutSeconds)
        case .failed:
            throw APIError.invalidJSON("could not read the request body")
        }
    }

    enum Outcome: Sendable {
        case complete(ByteBuffer)
        case tooLarge
        case timedOut
        case failed
    }

    /// Runs `read` against a deadline; the loser is cancelled (a cancelled body read ends the
    /// connection's input).
    static func race(timeout: Duration, _ read: @escaping @Sendable () async throws -> Outcome) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do { return try await read() } catch { return .failed }
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return nil }
                return .timedOut
            }
            var outcome: Outcome = .failed
            for await result in group {
                guard let result else { continue }
                outcome = result
                break
            }
            group.cancelAll()
            return outcome
        }
    }
}
