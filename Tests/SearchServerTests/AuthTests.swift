import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SearchServer

/// A module with one read and one admin (write) route, standing in for the collections API.
struct ProbeModule: APIModule {
    func addRoutes(to routes: APIRoutes, context: APIModuleContext) {
        routes.read.get("v1/probe") { _, context in "read ok as \(context.role?.rawValue ?? "anonymous")" }
        routes.admin.post("v1/probe") { _, context in "write ok as \(context.role?.rawValue ?? "anonymous")" }
    }
}

@Suite("API keys")
struct AuthTests {
    static func app() throws -> QuiverApplication {
        try makeApp(modules: [ProbeModule()]) { configuration in
            try configuration.apiKeys.add("admin-secret", role: .admin)
            try configuration.apiKeys.add("read-secret", role: .read)
        }
    }

    @Test("with keys: /health and /ready stay open; every other route needs a key (401 JSON with WWW-Authenticate)")
    func unauthorized() async throws {
        try await Self.app().test(.router) { client in
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/ready").status == .ok)
            for (uri, post) in [
                ("/v1/info", false), ("/metrics", false), ("/openapi.yaml", false), ("/v1/probe", false),
                ("/v1/embeddings", true), ("/embed", true), ("/tokenize", true), ("/v1/probe", true),
            ] {
                for headers in [
                    HTTPFields(), authorization("wrong"), authorization(""), authorization("admin-secretX"),
                    authorization("admin-secre"),
                    {
                        var h = HTTPFields()
                        h[.authorization] = "Basic admin-secret"
                        return h
                    }(),
                ] {
                    let response =
                        post
                        ? try await client.post(uri, json: #"{"input": "a", "inputs": "a"}"#, headers: headers)
                        : try await client.get(uri, headers: headers)
                    expectError(response, .unauthorized, code: "unauthorized")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                }
            }
        }
    }

    @Test("a read key reads but gets 403 on write routes; an admin key does both")
    func roles() async throws {
        try await Self.app().test(.router) { client in
            let read = authorization("read-secret")
            let admin = authorization("admin-secret")
            #expect(try await client.get("/v1/info", headers: read).status == .ok)
            #expect(try await client.post("/v1/embeddings", json: #"{"input": "a"}"#, headers: read).status == .ok)
            #expect(try await client.get("/v1/probe", headers: read).text == "read ok as read")
            expectError(
                try await client.post("/v1/probe", json: "{}", headers: read), .forbidden, code: "forbidden", messageContains: "admin")
            #expect(try await client.post("/v1/probe", json: "{}", headers: admin).text == "write ok as admin")
            #expect(try await client.get("/v1/probe", headers: admin).text == "read ok as admin")
            var lowercase = HTTPFields()
            lowercase[.authorization] = "bearer read-secret"
            #expect(try await client.get("/v1/info", headers: lowercase).status == .ok)
        }
    }

    @Test("without keys every route is open, including admin routes")
    func open() async throws {
        try await makeApp(modules: [ProbeModule()]).test(.router) { client in
            let write = try await client.post("/v1/probe", json: "{}")
            #expect(write.text == "write ok as anonymous")
            let info = try await client.get("/v1/info")
            #expect(info.status == .ok)
        }
    }

    @Test("keys file: admin:/read: lines, comments; bad lines are errors; description never shows keys")
    func keysFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("quiver-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try "# keys\nadmin:alpha\n\nread:beta\n  read:gamma  \n".write(to: file, atomically: true, encoding: .utf8)
        var keys = APIKeys()
        try keys.load(file: file)
        #expect(keys.role(of: "alpha") == .admin)
        #expect(keys.role(of: "beta") == .read)
        #expect(keys.role(of: "gamma") == .read)
        #expect(keys.role(of: "delta") == nil)
        #expect(keys.role(of: "") == nil)
        #expect(!keys.description.contains("alpha") && keys.description.contains("admin: 1"))
        try "writer:zeta\n".write(to: file, atomically: true, encoding: .utf8)
        var bad = APIKeys()
        #expect(throws: ConfigurationError.self) { try bad.load(file: file) }
        #expect(throws: ConfigurationError.self) { try bad.add("has space", role: .read) }
        #expect(throws: ConfigurationError.self) { try bad.load(file: file.appendingPathExtension("missing")) }
    }

    @Test("QUIVER_API_KEYS: entries separated by commas, spaces or newlines; a bad entry is an error naming the variable")
    func keysFromEnvironment() throws {
        var keys = APIKeys()
        try keys.load(environmentValue: "admin:alpha,read:beta\nread:gamma  admin:delta")
        #expect(keys.role(of: "alpha") == .admin && keys.role(of: "beta") == .read)
        #expect(keys.role(of: "gamma") == .read && keys.role(of: "delta") == .admin)
        #expect(keys.counts == [.admin: 2, .read: 2])
        var bad = APIKeys()
        do {
            try bad.load(environmentValue: "admin:alpha,writer:zeta")
            Issue.record("a bad entry was accepted")
        } catch {
            #expect(error.description.contains("QUIVER_API_KEYS:2") && !error.description.contains("alpha"), "\(error)")
        }
    }

    @Test("constant-time comparison is a correct equality on bytes")
    func constantTimeEqual() {
        let cases: [([UInt8], [UInt8], Bool)] = [
            ([], [], true), ([1], [1], true), ([1, 2], [1, 2], true), ([1, 2], [1, 3], false),
            ([1], [1, 0], false), ([1, 0], [1], false), ([], [0], false), ([0], [], false),
        ]
        for (a, b, equal) in cases { #expect(APIKeys.constantTimeEqual(a, b) == equal) }
    }
}

/// A module that failed with internal details.
struct FailedModule: APIModule {
    func addRoutes(to routes: APIRoutes, context: APIModuleContext) {}
    var unavailableReason: String? { get async { "cannot open /srv/secret/store.sqlite: disk I/O error" } }
    var publicUnavailableReason: String? { get async { "the collections are unavailable (details in the server log)" } }
}

@Suite("/ready does not tell strangers about files")
struct ReadyDetailTests {
    @Test("with keys, /ready's reason has no internal details unless an admin key asks; without keys it has them")
    func readyDetails() async throws {
        let withKeys = try makeApp(modules: [FailedModule()]) { configuration in
            try configuration.apiKeys.add("admin-secret", role: .admin)
            try configuration.apiKeys.add("read-secret", role: .read)
        }
        try await withKeys.test(.router) { client in
            for key in [nil, "read-secret", "wrong"] {
                let response = try await client.get("/ready", headers: key.map { authorization($0) } ?? [:])
                #expect(response.status == .serviceUnavailable)
                let body = String(buffer: response.body)
                #expect(!body.contains("store.sqlite") && body.contains("details in the server log"), "\(key ?? "no key"): \(body)")
            }
            let admin = try await client.get("/ready", headers: authorization("admin-secret"))
            #expect(admin.status == .serviceUnavailable && String(buffer: admin.body).contains("store.sqlite"))
        }
        try await makeApp(modules: [FailedModule()]).test(.router) { client throws in
            #expect(String(buffer: try await client.get("/ready").body).contains("store.sqlite"))
        }
    }
}
