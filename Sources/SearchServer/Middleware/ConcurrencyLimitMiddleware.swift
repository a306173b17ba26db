import Hummingbird
import Synchronization

/// Answers 429 at once when more than `limit` requests are in flight, instead of letting work
/// pile up without bound.
struct ConcurrencyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    let limit: Int
    let inFlight: Counter

    init(limit: Int, inFlight: Counter = Counter()) {
        self.limit = limit
        self.inFlight = inFlight
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let now = inFlight.value.wrappingAdd(1, ordering: .relaxed).newValue
        defer { inFlight.value.wrappingSubtract(1, ordering: .relaxed) }
        guard now <= limit else {
            throw APIError.overloaded("more than max_concurrent_requests (\(limit)) requests in flight; retry later")
        }
        return try await next(request, context)
    }
}
