import HTTPTypes
import Hummingbird

/// What a web page the user happens to open may do with this server.
///
/// Without these checks any page could write to a local Quiver: a `text/plain` POST needs no CORS
/// preflight, and DNS rebinding (a hostile name resolving to 127.0.0.1) makes the page
/// same-origin with the server. So:
/// - **Host.** A server bound to a loopback address answers only requests whose `Host` is a
///   loopback name (`localhost`, `127.x.x.x`, `[::1]`, any port) or one of `allowedHosts`
///   (`--allowed-host`); others get 403. A server bound elsewhere checks `Host` only when
///   `allowedHosts` is given (loopback names are always accepted). Requests without a `Host` (HTTP/1.0, in-process tests) pass: a
///   browser always sends one.
/// - **Content type.** POST, PUT and PATCH bodies must be declared JSON (`application/json`, or
///   `application/…+json`, parameters allowed): 415 otherwise. A browser can send a JSON content
///   type only after a CORS preflight.
/// - **CORS** is off unless `corsOrigins` lists origins (`--cors-origin`, or `*`): then preflights
///   from those origins are answered and their responses carry `Access-Control-Allow-Origin`.
public struct BrowserPolicy: Sendable, Equatable {
    /// Extra `Host` names accepted (lowercase, without port).
    public var allowedHosts: [String]
    /// Origins allowed by CORS (`*` for any); empty: no CORS headers at all.
    public var corsOrigins: [String]

    /// A policy; the default accepts loopback `Host` names only (for a loopback bind) and sends no
    /// CORS headers.
    public init(allowedHosts: [String] = [], corsOrigins: [String] = []) {
        self.allowedHosts = allowedHosts.map { $0.lowercased() }
        self.corsOrigins = corsOrigins
    }

    /// Whether `host` (a bind address) is a loopback address or name.
    public static func isLoopback(bindAddress host: String) -> Bool {
        let host = host.lowercased()
        return loopbackNames.contains(host) || isLoopbackIPv4(host)
    }

    /// `127.a.b.c` written as an IPv4 address (not a name such as `127.0.0.1.evil.example`).
    static func isLoopbackIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in UInt8(part) != nil }
    }

    /// The host part of a `Host` header value (lowercased, port removed).
    static func hostName(_ value: String) -> String {
        let value = value.lowercased()
        if value.hasPrefix("[") {
            // [::1]:8080 → [::1]
            guard let end = value.firstIndex(of: "]") else { return value }
            return String(value[...end])
        }
        if let colon = value.lastIndex(of: ":"), value.firstIndex(of: ":") == colon { return String(value[..<colon]) }
        return value
    }

    /// `Host` as a plain field (HTTP/1 servers move it to `authority`; some clients and tests
    /// leave it among the fields).
    static let hostField = HTTPField.Name("Host") ?? .authorization

    static let loopbackNames: Set<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]

    /// Whether a request with `Host: value` may be answered by a server bound to `bindAddress`.
    func accepts(host value: String, bindAddress: String) -> Bool {
        let name = Self.hostName(value)
        // A loopback name cannot be a rebinding attacker's: always accepted.
        if allowedHosts.contains(name) || Self.loopbackNames.contains(name) || Self.isLoopbackIPv4(name) { return true }
        return !Self.isLoopback(bindAddress: bindAddress) && allowedHosts.isEmpty
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, nil when it is not allowed.
    func allowOrigin(_ origin: String) -> String? {
        if corsOrigins.contains("*") { return "*" }
        return corsOrigins.contains(origin) ? origin : nil
    }

    /// Whether `value` (a `Content-Type` header) declares JSON.
    static func isJSON(contentType value: String) -> Bool {
        let type = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}

/// Enforces ``BrowserPolicy`` on every request, before authentication and before any body is read.
struct BrowserGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: BrowserPolicy
    let bindAddress: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let host = request.headers[BrowserPolicy.hostField] ?? request.head.authority,
            !policy.accepts(host: host, bindAddress: bindAddress)
        {
            throw APIError.forbidden(
                "Host \"\(String(host.prefix(100)))\" is not served here (this server answers loopback names; add it with --allowed-host)"
            )
        }
        let origin = request.headers[.origin]
        let allowed = origin.flatMap { policy.allowOrigin($0) }
        if request.method == .options, let allowed, request.headers[.accessControlRequestMethod] != nil {
            // A CORS preflight from an allowed origin.
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = allowed
            headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            headers[.accessControlMaxAge] = "600"
            if allowed != "*" { headers[.vary] = "Origin" }
            return Response(status: .noContent, headers: headers)
        }
        if [.post, .put, .patch].contains(request.method) {
            let type = request.headers[.contentType] ?? ""
            guard BrowserPolicy.isJSON(contentType: type) else {
                throw APIError.unsupportedMediaType(
                    type.isEmpty
                        ? "send the body with Content-Type: application/json"
                        : "Content-Type \"\(String(type.prefix(100)))\": send application/json")
            }
        }
        guard let allowed else { return try await next(request, context) }
        // An allowed origin reads errors too, so they become responses here.
        var response: Response
        do { response = try await next(request, context) } catch {
            response = try APIError(error).response(from: request, context: context)
        }
        response.headers[.accessControlAllowOrigin] = allowed
        if allowed != "*" { response.headers[.vary] = "Origin" }
        return response
    }
}
