import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CollectionsAPI

@Suite("openapi.yaml and the collection routes")
struct OpenAPITests {
    /// `(path, method)` of every operation under `paths:` (two-space path lines, four-space methods).
    static func operations(in document: String) -> [(String, HTTPRequest.Method)] {
        var found: [(String, HTTPRequest.Method)] = []
        var inPaths = false
        var path: String?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            if !inPaths { continue }
            if !line.isEmpty, !line.hasPrefix(" ") { break }
            let indent = line.prefix { $0 == " " }.count
            if indent == 2, line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if indent == 4, line.hasSuffix(":"), let path {
                let name = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(name), let method = HTTPRequest.Method(name) {
                    found.append((path, method))
                }
            }
        }
        return found
    }

    @Test("every documented collection operation is routed, and every collection route is documented")
    func documentedRoutes() async throws {
        let document = try String(contentsOf: TestModel.packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        let operations = Self.operations(in: document).filter { $0.0.hasPrefix("/v1/collections") }
        let documented = Set(operations.map { "\($0.1.rawValue) \($0.0)" })
        #expect(
            documented == [
                "GET /v1/collections", "POST /v1/collections", "GET /v1/collections/{collection}",
                "DELETE /v1/collections/{collection}", "PATCH /v1/collections/{collection}", "PUT /v1/collections/{collection}/documents",
                "GET /v1/collections/{collection}/documents/{id}", "DELETE /v1/collections/{collection}/documents/{id}",
                "POST /v1/collections/{collection}/query", "POST /v1/collections/{collection}/query/batch",
                "POST /v1/collections/{collection}/recommend", "POST /v1/collections/{collection}/vectors",
                "POST /v1/collections/{collection}/evaluate", "POST /v1/collections/{collection}/feedback",
                "GET /v1/collections/{collection}/insights",
                "GET /v1/collections/{collection}/vectors",
                "POST /v1/collections/{collection}/generations", "POST /v1/collections/{collection}/generations/promote",
                "POST /v1/collections/{collection}/generations/discard",
            ])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            for (path, method) in operations {
                let concrete = path.replacingOccurrences(of: "{collection}", with: "absent")
                    .replacingOccurrences(of: "{id}", with: "x")
                let response = try await client.send(method, concrete, json: method == .get || method == .delete ? nil : "{}")
                let message = (try? response.decode(ErrorBody.self))?.error.message
                #expect(
                    message != "no route for this path" && response.status != .methodNotAllowed,
                    "\(method) \(path) is documented but not routed")
                #expect(response.status.code < 500, "\(method) \(path): \(response.text)")
            }
        }
    }
}
