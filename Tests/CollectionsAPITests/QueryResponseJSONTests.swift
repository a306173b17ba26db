import Foundation
import QuiverTestSupport
import SearchServer
import Testing

@testable import CollectionsAPI
@testable import SearchEngine

/// Query answers are written with JSONWriter; they must be the same JSON as JSONEncoder's output
/// (which orders object members differently from run to run, so documents are compared parsed).
@Suite("Query response JSON")
struct QueryResponseJSONTests {
    static func encoded(_ value: some Encodable) throws -> Data {
        try JSONResponse.encoder.encode(value)
    }

    /// Both texts parsed: equal as JSON documents, whatever the order of object members.
    static func sameJSON(_ written: [UInt8], _ encoded: Data) throws -> Bool {
        try canonicalJSON(Data(written)) == canonicalJSON(encoded)
    }

    static func response(metadata: JSONValue?, lastSync: Timestamp?, withOptionals: Bool) -> QueryResponse {
        let model = ModelInfo(id: "all-MiniLM-L6-v2", fingerprint: "7ac98f46")
        let times: [Double] = [0, 1_764_018_132.25, -0.5, 1_764_018_132.9999, 4_102_444_800.001]
        let hits = times.enumerated().map { index, seconds in
            QueryHit(
                id: "doc-\(index) \"quoted\"/é", score: [0.56313324, -0.0, 1, .nan, 0.1][index],
                title: withOptionals ? "Title \(index)\n" : nil, text: withOptionals ? "text\twith\u{1}control" : nil,
                metadata: metadata, vector: withOptionals ? [0.25, -1e-7, 3] : nil,
                freshness: Freshness(
                    updatedAt: Timestamp(seconds: seconds), embeddedAt: withOptionals ? Timestamp(seconds: seconds + 0.011) : nil,
                    indexedAt: withOptionals ? Timestamp(seconds: seconds + 60) : nil, model: model, ageSeconds: 22890.531534433365),
                scores: withOptionals
                    ? HitScores(
                        vector: 0.61, keyword: index == 2 ? nil : 7.25, fused: 0.9, vectorRank: index == 1 ? nil : index + 1,
                        keywordRank: index == 2 ? nil : 4)
                    : nil)
        }
        return QueryResponse(
            results: hits,
            index: IndexState(
                generation: 3, indexedSeq: 71004, storeSeq: 71010, pending: 6, lastSyncAt: lastSync, vectors: 56100,
                keywordIndexedSeq: withOptionals ? 71002 : nil, keywordError: withOptionals ? "keyword index \"k\": not built yet" : nil,
                lagSeconds: withOptionals ? 0.125 : nil),
            model: model, timings: QueryTimings(embedMs: 2.09767, searchMs: 0.2, fetchMs: 1))
    }

    @Test("the JSON JSONEncoder writes, with and without the optional members")
    func bytes() throws {
        for withOptionals in [false, true] {
            for metadata in [
                nil, JSONValue.object(["revision": .number(852149)]), .array([.null, .bool(true), .string("s/t"), .number(-2.5e-8)]),
            ] {
                let response = Self.response(
                    metadata: metadata, lastSync: withOptionals ? Timestamp(seconds: 12.5) : nil,
                    withOptionals: withOptionals)
                #expect(try Self.sameJSON(response.jsonBytes(), Self.encoded(response)))
                let batch = BatchQueryResponse(results: [response, response])
                #expect(try Self.sameJSON(batch.jsonBytes(), Self.encoded(batch)))
            }
        }
        let empty = QueryResponse(
            results: [], index: IndexState(generation: 1, indexedSeq: 0, storeSeq: 0, pending: 0, lastSyncAt: nil, vectors: 0),
            model: ModelInfo(id: "m", fingerprint: "f"), timings: QueryTimings())
        #expect(try Self.sameJSON(empty.jsonBytes(), Self.encoded(empty)))
        // Members come in declaration order, nil ones left out.
        #expect(
            String(decoding: empty.jsonBytes(), as: UTF8.self) == """
                {"results":[],"index":{"generation":1,"indexed_seq":0,"store_seq":0,"pending":0,"vectors":0},\
                "model":{"id":"m","fingerprint":"f"},"timings":{"embed_ms":0,"search_ms":0,"fetch_ms":0}}
                """)
    }

    @Test("metadata objects with many members: the same JSON (member order is free in JSON)")
    func metadataObjects() throws {
        let metadata = JSONValue.object([
            "a": .array([.number(1), .bool(true), .null, .string("s")]), "b": .object(["c": .number(2.5), "d": .string("\u{0}")]),
            "z": .string("last"), "key \"quoted\"": .number(0),
        ])
        var response = Self.response(metadata: metadata, lastSync: nil, withOptionals: true)
        #expect(try Self.sameJSON(response.jsonBytes(), Self.encoded(response)))
        response.results[3].score = 0.3  // NaN is written as "NaN", which does not decode as a Float
        // And it decodes back to the same value.
        let decoded = try JSONDecoder().decode(QueryResponse.self, from: Data(response.jsonBytes()))
        #expect(decoded.results.map(\.metadata) == response.results.map(\.metadata))
        #expect(decoded.index == response.index && decoded.model == response.model)
    }

    @Test("timestamps outside four-digit years fall back to the description")
    func oddTimestamps() throws {
        for seconds in [-62_167_219_200.0 - 1, 253_402_300_800, .infinity, 1e12] {
            var json = JSONWriter()
            Timestamp(seconds: seconds).write(to: &json)
            #expect(try Self.sameJSON(json.bytes, Self.encoded(Timestamp(seconds: seconds))))
        }
    }
}
