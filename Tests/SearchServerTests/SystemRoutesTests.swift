import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SearchServer

@Suite("Operational routes")
struct SystemRoutesTests {
    @Test("GET /health and /ready are 200 with a loaded model")
    func healthAndReady() async throws {
        try await makeApp().test(.router) { client in
            let health = try await client.get("/health")
            #expect(health.status == .ok && health.text == #"{"status":"ok"}"#)
            let ready = try await client.get("/ready")
            #expect(ready.status == .ok && ready.text == #"{"status":"ready"}"#)
        }
    }

    @Test("without a loadable model: /health 200, /ready and embedding routes 503 unavailable")
    func notReady() async throws {
        let configuration = ServerConfiguration(port: 0, modelFolder: URL(fileURLWithPath: "/nonexistent/model"))
        let app = try buildApplication(configuration: configuration, logger: testLogger)
        try await app.test(.router) { client in
            #expect(try await client.get("/health").status == .ok)
            // The lifecycle service tries to load the model in the background; it fails quickly here.
            var ready = try await client.get("/ready")
            for _ in 0..<200 where ready.errorBody?.error.message.contains("loading") == true {
                try await Task.sleep(for: .milliseconds(10))
                ready = try await client.get("/ready")
            }
            expectError(ready, .serviceUnavailable, code: "unavailable", messageContains: "failed to load")
            expectError(try await client.post("/v1/embeddings", json: #"{"input": "a"}"#), .serviceUnavailable, code: "unavailable")
            expectError(try await client.post("/embed", json: #"{"inputs": "a"}"#), .serviceUnavailable, code: "unavailable")
            let info = try await client.get("/v1/info")
            #expect(info.status == .ok && info.text.contains(#""loaded":false"#))
        }
    }

    @Test("GET /v1/info lists model, limits, batching and version")
    func info() async throws {
        let app = try makeApp {
            $0.limits.maxBatchInputs = 17
            $0.batching.coalesce = false
        }
        try await app.test(.router) { client in
            let response = try await client.get("/v1/info")
            #expect(response.status == .ok)
            guard let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
                let model = json["model"] as? [String: Any], let limits = json["limits"] as? [String: Any],
                let batching = json["batching"] as? [String: Any]
            else {
                Issue.record("unexpected /v1/info: \(response.text)")
                return
            }
            #expect(model["id"] as? String == "all-MiniLM-L6-v2")
            #expect(model["dimensions"] as? Int == 384)
            #expect(model["max_sequence_length"] as? Int == 256)
            #expect(limits["max_batch_inputs"] as? Int == 17)
            for key in [
                "max_body_bytes", "max_text_bytes", "max_k", "max_ef", "max_concurrent_requests", "max_queued_requests",
                "max_queued_tokens",
            ] {
                #expect((limits[key] as? Int ?? 0) > 0, "\(key)")
            }
            #expect(batching["enabled"] as? Bool == false)
            #expect(json["version"] as? String == QuiverVersion.current)
        }
    }

    @Test("GET /metrics: Prometheus text with request counts by route and status, latency histograms, batch metrics")
    func metrics() async throws {
        try await makeApp().test(.router) { client in
            _ = try await client.post("/v1/embeddings", json: #"{"input": ["a", "b"]}"#)
            _ = try await client.post("/v1/embeddings", json: "{")
            _ = try await client.get("/nowhere")
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = response.text
            for needle in [
                #"quiver_http_requests_total{route="/v1/embeddings",method="POST",status="200"} 1"#,
                #"quiver_http_requests_total{route="/v1/embeddings",method="POST",status="400"} 1"#,
                #"status="404""#,
                #"quiver_http_request_duration_seconds_bucket{route="/v1/embeddings",method="POST",le="#,
                "quiver_embed_batch_requests_bucket", "quiver_embed_batch_tokens_sum 6",
                "quiver_embed_queue_requests", "quiver_embed_rejected_total 0",
            ] {
                #expect(text.contains(needle), "missing \(needle)")
            }
        }
    }

    @Test("GET /openapi.yaml serves the repository's openapi.yaml")
    func openAPI() async throws {
        let onDisk = try String(contentsOf: TestModel.packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        try await makeApp().test(.router) { client in
            let response = try await client.get("/openapi.yaml")
            #expect(response.status == .ok)
            #expect(response.text == onDisk)
        }
    }

    @Test("every path and method documented in openapi.yaml is routed")
    func documentedPathsAreRouted() async throws {
        let document = try String(contentsOf: TestModel.packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        // Collection routes come from the CollectionsAPI module (checked in CollectionsAPITests).
        let operations = OpenAPIPaths.operations(in: document).filter { !$0.0.hasPrefix("/v1/collections") }
        #expect(operations.count >= 8)
        try await makeApp().test(.router) { client in
            for (path, method) in operations {
                let response = try await client.execute(
                    uri: path, method: method, headers: [:], body: method == .post ? ByteBuffer(string: "{}") : nil)
                let unrouted = response.status == .notFound && response.errorBody?.error.message == "no route for this path"
                #expect(!unrouted && response.status != .methodNotAllowed, "\(method) \(path) is documented but not routed")
            }
        }
    }
}

/// Reads `paths:` → `  /path:` → `    get:` lines of the OpenAPI document (its indentation is fixed).
enum OpenAPIPaths {
    static func operations(in document: String) -> [(String, HTTPRequest.Method)] {
        var result: [(String, HTTPRequest.Method)] = []
        var inPaths = false
        var current: String?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if !line.isEmpty, !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                current = String(line.dropFirst(2).dropLast())
            } else if let current, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let name = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if let method = HTTPRequest.Method(name), ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(name) {
                    result.append((current, method))
                }
            }
        }
        return result
    }
}
