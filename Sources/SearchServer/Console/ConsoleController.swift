import HTTPTypes
import Hummingbird

/// The web console: `GET /` (the page), `/console/app.js` and `/console/app.css`.
///
/// The assets are string constants compiled into the binary (``ConsoleAssets``): nothing is read
/// from disk or fetched from the internet, so the console works offline and matches the server it
/// ships with. The routes are open even when API keys are configured because the assets hold no
/// data: every call the page makes goes to the API with the key typed into its login field (kept
/// in the tab's `sessionStorage`), so the console sees exactly what that key may see.
///
/// Every asset carries a strict `Content-Security-Policy` (scripts and styles from this server
/// only, no inline script, API calls to this origin only, no framing), `X-Frame-Options: DENY`,
/// `nosniff` and `Referrer-Policy: no-referrer`. The page builds every text it shows with DOM text
/// nodes, never HTML, so a hostile document or logged query cannot inject markup.
struct ConsoleController {
    /// Registers the console routes (open routes: see the type's documentation).
    func addRoutes(to router: Router<QuiverRequestContext>) {
        router.get("/") { _, _ in Self.asset(ConsoleAssets.html, type: "text/html; charset=utf-8") }
        router.get("console/app.js") { _, _ in Self.asset(ConsoleAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("console/app.css") { _, _ in Self.asset(ConsoleAssets.style, type: "text/css; charset=utf-8") }
    }

    /// The security headers every console asset carries.
    static let securityHeaders: [(HTTPField.Name, String)] = [
        (
            .contentSecurityPolicy,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
                + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        (HTTPField.Name("X-Frame-Options") ?? .contentType, "DENY"),
        (HTTPField.Name("X-Content-Type-Options") ?? .contentType, "nosniff"),
        (HTTPField.Name("Referrer-Policy") ?? .contentType, "no-referrer"),
        (.cacheControl, "no-cache"),
    ]

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        for (name, value) in securityHeaders { headers[name] = value }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
