import Foundation
import Hummingbird
import Logging

/// The outermost middleware: once the response is ready, logs one structured line (method,
/// route, path, status, duration; the logger already carries Hummingbird's `hb.request.id`) and
/// records the request metrics.
struct ObservabilityMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = try APIError(error).response(from: request, context: context)
        }
        let duration = ContinuousClock.now - start
        // The matched route pattern (not the raw path) keeps metric labels bounded.
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(route: route, method: request.method.rawValue, status: response.status.code, duration: duration)
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "route": "\(route)",
                "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "duration_ms": "\(String(format: "%.3f", Double(micros) / 1000))",
            ])
        return response
    }
}
