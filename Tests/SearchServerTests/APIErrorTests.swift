import Embedder
import Foundation
import Hummingbird
import Testing

@testable import SearchServer

@Suite("The error table")
struct APIErrorTests {
    @Test("every case has its documented status and code")
    func table() {
        let cases: [(APIError, HTTPResponse.Status, String)] = [
            (.invalidJSON("x"), .badRequest, "invalid_json"),
            (.invalidRequest("x"), .unprocessableContent, "invalid_request"),
            (.unauthorized, .unauthorized, "unauthorized"),
            (.forbidden("x"), .forbidden, "forbidden"),
            (.notFound("x"), .notFound, "not_found"),
            (.methodNotAllowed("x"), .methodNotAllowed, "method_not_allowed"),
            (.conflict("x"), .conflict, "conflict"),
            (.bodyTooLarge(limit: 10), .contentTooLarge, "payload_too_large"),
            (.limitExceeded(limit: "max_k", value: 2, allowed: 1), .contentTooLarge, "limit_exceeded"),
            (.inputTooLong(index: 0, tokens: 300, allowed: 256), .contentTooLarge, "input_too_long"),
            (.overloaded("x"), .tooManyRequests, "overloaded"),
            (.unavailable("x"), .serviceUnavailable, "unavailable"),
            (.internalError, .internalServerError, "internal_error"),
        ]
        for (error, status, code) in cases {
            #expect(error.status == status && error.code == code, "\(error)")
            #expect(!error.message.isEmpty)
        }
        #expect(APIError.limitExceeded(limit: "max_k", value: 2, allowed: 1).message.contains("max_k"))
    }

    @Test("errors of other layers map to 4xx/5xx as documented")
    func translation() {
        #expect(APIError(BatcherError.overloaded(pendingRequests: 1, pendingTokens: 2)).status == .tooManyRequests)
        #expect(APIError(BatcherError.shutDown).status == .serviceUnavailable)
        #expect(APIError(BatcherError.cancelled).status == .serviceUnavailable)
        #expect(APIError(BatcherError.invalidInput("bad")).status == .unprocessableContent)
        #expect(APIError(BatcherError.embedder(.invalidInput(reason: "x"))).status == .internalServerError)
        #expect(APIError(HTTPError(.notFound)).status == .notFound)
        #expect(APIError(HTTPError(.contentTooLarge)).status == .contentTooLarge)
        #expect(APIError(HTTPError(.badRequest, message: "m")) == .invalidJSON("m"))
        #expect(APIError(CocoaError(.fileNoSuchFile)) == .internalError)
        do {
            _ = try JSONDecoder().decode([String: Int].self, from: Data(#"{"a": "b"}"#.utf8))
        } catch {
            #expect(APIError(error).status == .unprocessableContent)
            #expect(APIError(error).message.contains("a"))
        }
        do {
            _ = try JSONDecoder().decode([String: Int].self, from: Data("nope".utf8))
        } catch {
            #expect(APIError(error).status == .badRequest)
        }
    }
}
