import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SearchServer

/// The console's routes; the page itself is driven in a browser by tests-browser/test_console.py.
@Suite("Web console routes")
struct ConsoleRoutesTests {
    @Test("/ and its two assets are open even with keys, with a strict CSP; the API behind them is not")
    func servedOpenWithSecurityHeaders() async throws {
        let app = try makeApp { try $0.apiKeys.add("admin-secret", role: .admin) }
        let frameOptions = try #require(HTTPField.Name("X-Frame-Options"))
        let sniffing = try #require(HTTPField.Name("X-Content-Type-Options"))
        try await app.test(.router) { client throws in
            for (uri, type, marker) in [
                ("/", "text/html; charset=utf-8", "<script src=\"/console/app.js\" defer></script>"),
                ("/console/app.js", "text/javascript; charset=utf-8", "createTextNode"),
                ("/console/app.css", "text/css; charset=utf-8", ":focus-visible"),
            ] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok, "\(uri)")
                #expect(response.headers[.contentType] == type, "\(uri)")
                #expect(String(buffer: response.body).contains(marker), "\(uri)")
                let policy = response.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "\(policy)")
                #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "\(policy)")
                #expect(response.headers[frameOptions] == "DENY")
                #expect(response.headers[sniffing] == "nosniff")
            }
            #expect(try await client.execute(uri: "/v1/info", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/console/other.js", method: .get).status == .notFound)
        }
    }

    @Test("the page has no inline script or style the policy would block")
    func noInlineCode() {
        let page = ConsoleAssets.html
        let scripts = page.components(separatedBy: "<script").dropFirst()
        #expect(scripts.count == 1 && scripts.allSatisfy { $0.hasPrefix(" src=") })
        #expect(!page.contains("style=") && !page.contains("<style"))
        #expect(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "no inline event handler")
        // The script never parses server text as HTML.
        #expect(!ConsoleAssets.script.contains("innerHTML") && !ConsoleAssets.script.contains("insertAdjacentHTML"))
    }

    @Test("--no-console: / is not served")
    func off() async throws {
        try await makeApp { $0.console = false }.test(.router) { client throws in
            #expect(try await client.execute(uri: "/", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/console/app.js", method: .get).status == .notFound)
        }
    }
}
