import Hummingbird

/// Requires `Authorization: Bearer KEY` with a key of at least `required` role when keys are
/// configured: 401 for a missing or unknown key, 403 for a read key on an admin route.
/// Keys never reach a log.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = QuiverRequestContext

    let keys: APIKeys
    let required: APIRole

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard keys.isEnabled else { return try await next(request, context) }
        guard let presented = Self.bearer(request), let role = keys.role(of: presented) else { throw APIError.unauthorized }
        guard role >= required else {
            throw APIError.forbidden("this route needs an \(required.rawValue) key; the key presented is a \(role.rawValue) key")
        }
        var context = context
        context.role = role
        return try await next(request, context)
    }

    /// The key of an `Authorization: Bearer KEY` header, nil without one.
    static func bearer(_ request: Request) -> Substring? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1]
    }
}
