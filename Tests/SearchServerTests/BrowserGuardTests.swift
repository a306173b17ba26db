import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SearchServer

/// What a web page may do with a local server: nothing it could not do without the user's
/// consent (no writes by `text/plain` POST, no DNS rebinding, no CORS unless configured).
@Suite("Browser-safe defaults: content type, Host, CORS")
struct BrowserGuardTests {
    let hostField = HTTPField.Name("Host")!

    func request(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, headers: [HTTPField.Name: String],
        body: String? = nil
    ) async throws -> TestResponse {
        var fields = HTTPFields()
        for (name, value) in headers { fields[name] = value }
        return try await client.execute(uri: uri, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) })
    }

    @Test("a POST whose body is not declared JSON is a 415, before any work; JSON with parameters is fine")
    func contentType() async throws {
        try await makeApp(modules: [ProbeModule()]).test(.router) { client throws in
            let body = #"{"input": "hello"}"#
            for type in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data", ""] {
                let response = try await request(
                    client, .post, "/v1/embeddings", headers: type.isEmpty ? [:] : [.contentType: type], body: body)
                #expect(response.status == .unsupportedMediaType, "\(type): \(response.status)")
                #expect(String(buffer: response.body).contains("unsupported_media_type"))
            }
            #expect(
                try await request(client, .post, "/v1/probe", headers: [.contentType: "text/plain"], body: "x").status
                    == .unsupportedMediaType)
            for type in ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"] {
                let response = try await request(client, .post, "/v1/embeddings", headers: [.contentType: type], body: body)
                #expect(response.status == .ok, "\(type): \(response.status) \(String(buffer: response.body))")
            }
            // Reads need no content type.
            #expect(try await client.get("/v1/info").status == .ok)
        }
    }

    @Test("bound to loopback: only loopback Host names (any port) or --allowed-host ones are answered")
    func hostNames() async throws {
        try await makeApp().test(.router) { client throws in
            for host in ["localhost", "localhost:8080", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "LOCALHOST"] {
                #expect(try await request(client, .get, "/v1/info", headers: [hostField: host]).status == .ok, "\(host)")
            }
            for host in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.5"] {
                let response = try await request(client, .get, "/v1/info", headers: [hostField: host])
                #expect(response.status == .forbidden, "\(host): \(response.status)")
                #expect(String(buffer: response.body).contains("--allowed-host"))
                // Writes and the open probes alike.
                #expect(
                    try await request(
                        client, .post, "/v1/embeddings", headers: [hostField: host, .contentType: "application/json"],
                        body: #"{"input":"x"}"#
                    ).status == .forbidden)
                #expect(try await request(client, .get, "/health", headers: [hostField: host]).status == .forbidden)
            }
        }
        try await makeApp { $0.browser = BrowserPolicy(allowedHosts: ["Search.Internal"]) }.test(.router) { client throws in
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "search.internal:8080"]).status == .ok)
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "localhost"]).status == .ok)
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "other.internal"]).status == .forbidden)
        }
        // Bound to every interface, Host is checked only when names are given.
        try await makeApp { $0.host = "0.0.0.0" }.test(.router) { client throws in
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "search.example.com"]).status == .ok)
        }
        try await makeApp {
            $0.host = "0.0.0.0"
            $0.browser = BrowserPolicy(allowedHosts: ["search.example.com"])
        }.test(.router) { client throws in
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "search.example.com"]).status == .ok)
            #expect(try await request(client, .get, "/v1/info", headers: [hostField: "evil.example"]).status == .forbidden)
        }
    }

    @Test("CORS is off by default; with --cors-origin, preflights and responses of that origin carry the headers")
    func cors() async throws {
        let origin = "https://portal.example"
        try await makeApp().test(.router) { client throws in
            let preflight = try await request(
                client, .options, "/v1/embeddings", headers: [.origin: origin, .accessControlRequestMethod: "POST"])
            #expect(preflight.headers[.accessControlAllowOrigin] == nil && preflight.status != .noContent)
            let read = try await request(client, .get, "/v1/info", headers: [.origin: origin])
            #expect(read.status == .ok && read.headers[.accessControlAllowOrigin] == nil)
        }
        try await makeApp { $0.browser = BrowserPolicy(corsOrigins: [origin]) }.test(.router) { client throws in
            let preflight = try await request(
                client, .options, "/v1/embeddings", headers: [.origin: origin, .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == origin)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Content-Type") == true)
            let read = try await request(client, .get, "/v1/info", headers: [.origin: origin])
            #expect(read.headers[.accessControlAllowOrigin] == origin && read.headers[.vary] == "Origin")
            // Errors are readable by the allowed origin too.
            let error = try await request(client, .get, "/v1/nope", headers: [.origin: origin])
            #expect(error.status == .notFound && error.headers[.accessControlAllowOrigin] == origin)
            let other = try await request(client, .get, "/v1/info", headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("Host values parse with ports and IPv6 brackets")
    func hostParsing() {
        #expect(BrowserPolicy.hostName("LocalHost:8080") == "localhost")
        #expect(BrowserPolicy.hostName("[::1]:8080") == "[::1]")
        #expect(BrowserPolicy.hostName("::1") == "::1")
        #expect(BrowserPolicy.isLoopback(bindAddress: "127.0.0.1") && BrowserPolicy.isLoopback(bindAddress: "::1"))
        #expect(!BrowserPolicy.isLoopback(bindAddress: "0.0.0.0") && !BrowserPolicy.isLoopback(bindAddress: "192.168.1.2"))
        #expect(BrowserPolicy.isLoopbackIPv4("127.1.2.3") && !BrowserPolicy.isLoopbackIPv4("127.0.0.1.evil.example"))
        #expect(!BrowserPolicy.isLoopbackIPv4("127.0.0.256") && !BrowserPolicy.isLoopbackIPv4("127.evil"))
    }
}
