import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CollectionsAPI

/// Chunked collections over HTTP: passage hits with code point offsets, `include: ["chunks"]`,
/// passage vectors by id and in the export, and the chunking in the collection's info.
@Suite("Passages over HTTP")
struct PassageRoutesTests {
    static let sentences = [
        "Invoices can be sent by email straight from the invoice page.",
        "Recurring invoices repeat on a schedule you choose, such as monthly or yearly.",
        "A customer who pays by card sees the payment in their portal right away.",
        "Late fees are added automatically when an invoice is overdue by more than thirty days.",
        "Currency conversion uses the daily rate published by the central bank at midnight.",
        "To export your ledger, open Reports and pick the CSV format with all columns.",
        "Two-factor authentication protects the account with a code from your phone.",
        "Archived customers keep their history but no longer appear in the picker.",
    ]

    /// Code points `start..<end` of `text`.
    static func slice(_ text: String, _ start: Int, _ end: Int) -> String {
        String(String.UnicodeScalarView(Array(text.unicodeScalars)[start..<end]))
    }

    @Test("a query names the passage that matched, with exact code point offsets; vectors and export carry passages")
    func passages() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (app, _) = try makeApp(data: directory.url)
        // Multi-byte characters first, so byte, UTF-16 and code point offsets all differ.
        let text = "Überblick 😀 über Rechnungen. " + Self.sentences.joined(separator: " ")
        try await app.test(.router) { client in
            try await client.waitUntilReady()
            let created = try await client.send(
                .post, "/v1/collections", json: #"{"name": "kb", "chunk_tokens": 32, "chunk_overlap": 0}"#)
            #expect(created.status == .created, "\(created.text)")
            let generations = try #require(try created.json()["generations"] as? [[String: Any]])
            let chunking = try #require(generations.first?["chunking"] as? [String: Any])
            #expect(chunking["chunk_tokens"] as? Int == 32 && chunking["chunk_overlap"] as? Int == 0)
            let body = try String(
                decoding: JSONSerialization.data(withJSONObject: [
                    "documents": [["id": "long", "text": text], ["id": "other", "text": "Payroll runs every other Friday."]]
                ]),
                as: UTF8.self)
            let written = try await client.send(.put, "/v1/collections/kb/documents", json: body)
            #expect(written.status == .ok, "\(written.text)")
            #expect(try written.json()["rejected"] as? [Any] != nil)

            let query = #"{"text": "How are late fees charged on overdue invoices?", "k": 2, "mode": "vector", "include": ["chunks"]}"#
            let answer = try await client.send(.post, "/v1/collections/kb/query", json: query)
            #expect(answer.status == .ok, "\(answer.text)")
            let hits = try #require(try answer.json()["results"] as? [[String: Any]])
            #expect(hits.map { $0["id"] as? String } == ["long", "other"])
            let passage = try #require(hits[0]["passage"] as? [String: Any])
            let start = try #require(passage["start"] as? Int)
            let end = try #require(passage["end"] as? Int)
            #expect(passage["text"] as? String == Self.slice(text, start, end))
            #expect((passage["text"] as? String)?.contains("Late fees") == true, "\(passage)")
            #expect(start > 0, "the matching passage is not the first one")
            let chunks = try #require(hits[0]["chunks"] as? [[String: Any]])
            #expect(chunks.first?["start"] as? Int == start && chunks.count >= 1)

            let vectors = try await client.send(.post, "/v1/collections/kb/vectors", json: #"{"ids": ["long"], "chunks": true}"#)
            let item = try #require((try vectors.json()["vectors"] as? [[String: Any]])?.first)
            let passages = try #require(item["chunks"] as? [[String: Any]])
            #expect(passages.count >= 3)
            #expect(passages.allSatisfy { ($0["vector"] as? [Any])?.count == 384 })
            #expect(passages.contains { $0["start"] as? Int == start && $0["end"] as? Int == end })

            let export = try await client.send(.get, "/v1/collections/kb/vectors?chunks=true")
            let lines = export.text.split(separator: "\n")
            #expect(lines.count == 2)
            let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect((first["chunks"] as? [Any])?.count == passages.count)
            expectError(
                try await client.send(.get, "/v1/collections/kb/vectors?chunks=true&format=f32"), .unprocessableContent,
                code: "invalid_request", messageContains: "ndjson")
        }
    }
}
