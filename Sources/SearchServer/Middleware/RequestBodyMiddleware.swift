import Hummingbird
import NIOCore
import Synchronization

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
/// - The bodies held by all requests together are bounded by `max_buffered_body_bytes`: past it a
///   request is answered 429 `overloaded` (so `max_connections` × `max_body_bytes` is never held).
/// - Methods without a body (GET, DELETE, HEAD, OPTIONS) pass straight through.
struct RequestBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Bytes of bodies being read or held by requests in flight, across all connections.
    final class Buffered: Sendable {
        let bytes = Atomic<Int>(0)
    }

    let maxBodyBytes: Int
    let maxBufferedBytes: Int
    let timeout: Duration
    let timeoutSeconds: Int
    let buffered: Buffered

    init(maxBodyBytes: Int, maxBufferedBytes: Int, timeoutSeconds: Int, buffered: Buffered = Buffered()) {
        self.maxBodyBytes = maxBodyBytes
        self.maxBufferedBytes = maxBufferedBytes
        self.timeoutSeconds = timeoutSeconds
        self.timeout = .seconds(timeoutSeconds)
        self.buffered = buffered
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put || request.method == .patch else {
            return try await next(request, context)
        }
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        var request = request
        let body = request.body
        let limit = maxBodyBytes
        let budget = Reservation(buffered: buffered, limit: maxBufferedBytes)
        defer { budget.release() }
        let outcome = await Self.race(timeout: timeout) {
            // One iterator (a request body allows only one): the bytes up to the limit are kept;
            // past it, or when the declared length is over it, the rest is read and dropped so
            // that a client that sends everything before reading gets the 413 (a lingering close).
            var iterator = body.makeAsyncIterator()
            var collected = ByteBuffer()
            var total = 0
            var over = (declared ?? 0) > limit
            while let chunk = try await iterator.next() {
                total += chunk.readableBytes
                if over || total > limit {
                    over = true
                    continue
                }
                guard budget.reserve(chunk.readableBytes) else { return .overloaded }
                collected.writeImmutableBuffer(chunk)
            }
            return over ? .tooLarge : .complete(collected)
        }
        switch outcome {
        case .complete(let buffer):
            request.body = .init(buffer: buffer)
            return try await next(request, context)
        case .tooLarge:
            throw APIError.bodyTooLarge(limit: limit)
        case .overloaded:
            throw APIError.overloaded("request bodies being read hold max_buffered_body_bytes (\(maxBufferedBytes)); retry later")
        case .timedOut:
            throw APIError.requestTimeout(seconds: timeoutSeconds)
        case .failed:
            throw APIError.invalidJSON("could not read the request body")
        }
    }

    /// This request's share of the bytes all bodies may hold at once; given back when it ends.
    final class Reservation: @unchecked Sendable {
        let buffered: Buffered
        let limit: Int
        // Touched by the reading task, then (after it finished) by `release`.
        private var held = 0

        init(buffered: Buffered, limit: Int) {
            self.buffered = buffered
            self.limit = limit
        }

        /// Takes `bytes` more; false (taking nothing) when that would pass the limit.
        func reserve(_ bytes: Int) -> Bool {
            let total = buffered.bytes.wrappingAdd(bytes, ordering: .relaxed).newValue
            guard total <= limit else {
                buffered.bytes.wrappingSubtract(bytes, ordering: .relaxed)
                return false
            }
            held += bytes
            return true
        }

        func release() {
            buffered.bytes.wrappingSubtract(held, ordering: .relaxed)
            held = 0
        }
    }

    enum Outcome: Sendable {
        case complete(ByteBuffer)
        case tooLarge
        case overloaded
        case timedOut
        case failed
    }

    /// Runs `read` against a deadline; the loser is cancelled (a cancelled body read ends the
    /// connection's input, so the connection closes after the answer).
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
