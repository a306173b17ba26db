import Hummingbird
import Logging

/// Turns every error thrown by a route into the JSON error body of ``APIError``, so that nothing
/// reaches Hummingbird's generic 500. Unexpected errors are logged in full here.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError(error)
            if apiError == .internalError {
                context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
