import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SearchServer

@Suite("Validation and limits: always a 4xx JSON error")
struct ValidationTests {
    static let routes = ["/v1/embeddings", "/embed", "/tokenize"]
    static func field(_ route: String) -> String { route == "/v1/embeddings" ? "input" : "inputs" }

    @Test("malformed bodies are 400 invalid_json on every input route", arguments: routes)
    func malformed(route: String) async throws {
        try await makeApp().test(.router) { client in
            for json in ["", "{", "not json", "[1, 2", "{\"\(Self.field(route))\": \"a\"", "\u{0}\u{1}"] {
                expectError(try await client.post(route, json: json), .badRequest, code: "invalid_json")
            }
        }
    }

    @Test("wrong types and missing fields are 422 invalid_request", arguments: routes)
    func wrongTypes(route: String) async throws {
        let field = Self.field(route)
        try await makeApp().test(.router) { client in
            let bodies = [
                "{}", "[]", "42", "\"text\"", "null",
                #"{"\#(field)": 5}"#, #"{"\#(field)": null}"#, #"{"\#(field)": {"a": 1}}"#, #"{"\#(field)": [1.5]}"#,
                #"{"\#(field)": ["a", 3]}"#, #"{"\#(field)": [[1, "x"]]}"#, #"{"\#(field)": true}"#,
            ]
            for json in bodies {
                let response = try await client.post(route, json: json)
                expectError(response, .unprocessableContent, code: "invalid_request")
            }
        }
    }

    @Test("empty input, empty strings and empty token arrays are 422", arguments: routes)
    func empty(route: String) async throws {
        let field = Self.field(route)
        try await makeApp().test(.router) { client in
            for json in [#"{"\#(field)": []}"#, #"{"\#(field)": ""}"#, #"{"\#(field)": ["ok", ""]}"#] {
                expectError(try await client.post(route, json: json), .unprocessableContent, code: "invalid_request")
            }
        }
    }

    @Test("too many inputs and too long texts are 413 naming the limit", arguments: routes)
    func limits(route: String) async throws {
        let field = Self.field(route)
        let app = try makeApp {
            $0.limits.maxBatchInputs = 4
            $0.limits.maxTextBytes = 100
        }
        try await app.test(.router) { client in
            let five = try String(decoding: JSONEncoder().encode([field: ["a", "b", "c", "d", "e"]]), as: UTF8.self)
            expectError(
                try await client.post(route, json: five), .contentTooLarge, code: "limit_exceeded", messageContains: "max_batch_inputs")
            let long = #"{"\#(field)": "\#(String(repeating: "x", count: 101))"}"#
            expectError(
                try await client.post(route, json: long), .contentTooLarge, code: "limit_exceeded", messageContains: "max_text_bytes")
            let four = try String(decoding: JSONEncoder().encode([field: ["a", "b", "c", "d"]]), as: UTF8.self)
            #expect(try await client.post(route, json: four).status == .ok)
        }
    }

    @Test("a body over max_body_bytes is 413 payload_too_large", arguments: routes)
    func hugeBody(route: String) async throws {
        let app = try makeApp { $0.limits.maxBodyBytes = 1000 }
        try await app.test(.router) { client in
            let json = #"{"\#(Self.field(route))": "\#(String(repeating: "y", count: 5000))"}"#
            expectError(
                try await client.post(route, json: json), .contentTooLarge, code: "payload_too_large", messageContains: "max_body_bytes")
        }
    }

    @Test("bad option values are 422: encoding_format, dimensions, token ids")
    func badOptions() async throws {
        try await makeApp().test(.router) { client in
            let cases: [(String, String, String)] = [
                ("/v1/embeddings", #"{"input": "a", "encoding_format": "int8"}"#, "encoding_format"),
                ("/v1/embeddings", #"{"input": "a", "dimensions": 0}"#, "dimensions"),
                ("/v1/embeddings", #"{"input": "a", "dimensions": 385}"#, "dimensions"),
                ("/v1/embeddings", #"{"input": "a", "dimensions": "8"}"#, "dimensions"),
                ("/embed", #"{"inputs": "a", "dimensions": -3}"#, "dimensions"),
                ("/embed", #"{"inputs": "a", "truncate": "yes"}"#, "truncate"),
                ("/v1/embeddings", #"{"input": [[101, 99999999, 102]]}"#, "vocabulary"),
                ("/v1/embeddings", #"{"input": [[-1]]}"#, "vocabulary"),
                ("/v1/embeddings", #"{"input": [[1e30]]}"#, "input"),
                ("/tokenize", #"{"inputs": [[101, 102]]}"#, "string"),
            ]
            for (route, json, mention) in cases {
                expectError(
                    try await client.post(route, json: json), .unprocessableContent, code: "invalid_request", messageContains: mention)
            }
            let tooLong = try await client.post(
                "/embed", json: #"{"inputs": [[\#((0..<300).map { _ in "1000" }.joined(separator: ","))]]}"#)
            expectError(tooLong, .contentTooLarge, code: "input_too_long")
        }
    }

    @Test("unknown routes are 404 and wrong methods are 404/405, both as JSON errors")
    func unknownRoutes() async throws {
        try await makeApp().test(.router) { client in
            expectError(try await client.get("/v2/nothing"), .notFound, code: "not_found")
            expectError(try await client.get("/nothing"), .notFound, code: "not_found")
            expectError(try await client.get("/console/nothing.js"), .notFound, code: "not_found")
            let wrongMethod = try await client.get("/v1/embeddings")
            #expect([.notFound, .methodNotAllowed].contains(wrongMethod.status))
            #expect(wrongMethod.errorBody != nil)
        }
    }

    @Test("odd but valid JSON is handled: unicode, escapes, unknown fields, very nested junk")
    func oddValidJSON() async throws {
        try await makeApp().test(.router) { client in
            let ok = try await client.post(
                "/v1/embeddings", json: #"{"input": ["héllo \u00e9 \ud83d\ude00 中文", "\n\t"], "extra": {"x": [1,2,3]}}"#)
            #expect(ok.status == .ok, "\(ok.text)")
            let nested = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let deep = try await client.post("/embed", json: #"{"inputs": \#(nested)}"#)
            #expect((400..<500).contains(deep.status.code))
            #expect(deep.errorBody != nil)
        }
    }
}
