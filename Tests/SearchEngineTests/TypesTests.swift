import Foundation
import Testing

@testable import SearchEngine

@Suite("Wire types")
struct TypesTests {
    @Test("timestamps encode as ISO 8601 UTC with milliseconds and decode from strings or seconds")
    func timestamps() throws {
        #expect(Timestamp(seconds: 0).description == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(seconds: 1_764_018_132.25).description == "2025-11-24T21:02:12.250Z")
        #expect(Timestamp(seconds: -0.5).description == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp(iso8601: "2025-11-24T21:02:12Z")?.seconds == 1_764_018_132)
        #expect(Timestamp(iso8601: "2025-11-24T22:02:12.5+01:00")?.seconds == 1_764_018_132.5)
        #expect(Timestamp(iso8601: "yesterday") == nil)
        let decoded = try JSONDecoder().decode([Timestamp].self, from: Data(#"[12.5, "1970-01-01T00:00:10Z"]"#.utf8))
        #expect(decoded == [Timestamp(seconds: 12.5), Timestamp(seconds: 10)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Timestamp.self, from: Data("true".utf8)) }
    }

    @Test("documents decode from JSONL lines; metadata keeps its JSON shape")
    func documents() throws {
        let line =
            #"{"id":"x","text":"t","metadata":{"a":[1,true,null,"s"],"b":{"c":2.5}},"updated_at":"2026-01-01T00:00:00Z","vector":[1,2]}"#
        let document = try JSONDecoder().decode(DocumentInput.self, from: Data(line.utf8))
        #expect(
            document.metadata == .object(["a": .array([.number(1), .bool(true), .null, .string("s")]), "b": .object(["c": .number(2.5)])]))
        #expect(document.vector == [1, 2] && document.updatedAt == Timestamp(iso8601: "2026-01-01T00:00:00Z"))
        #expect(document.metadata?.canonicalText == #"{"a":[1,true,null,"s"],"b":{"c":2.5}}"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(DocumentInput.self, from: Data(#"{"text":"no id"}"#.utf8)) }
    }

    @Test("stored metadata parses the same with the fast reader as with JSONDecoder")
    func metadataParsing() throws {
        let samples = [
            #"{"revision":852149}"#, #"{"a":[1,true,null,"s"],"b":{"c":2.5}}"#, #"[]"#, #"{}"#, #""text""#, "-0", "1E+2",
            #"{"k":"quote \" backslash \\ slash \/ tab \t nl \n u \u00e9 pair \ud83d\ude80 ctl \u0001"}"#,
            #" { "spaced" : [ 1 , 2.5e-3 , -7 ] } "#, "12345678901234567890", #"{"dup":1,"dup":2}"#, "true", "null",
            #"{"nested":[[[{"x":[false]}]]]}"#, #""é中🚀""#,
        ]
        for text in samples {
            let fast = JSONValue.parseFast(text)
            let reference = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(fast == reference, "\(text)")
        }
        // Not JSON, or beyond what the fast reader takes: nil from it (callers then use JSONDecoder).
        for text in [
            "", "{", "[1,]", #"{"a" 1}"#, "01", "1.", ".5", "+1", "1e", "tru", "nul", #""\x""#, #""\ud800""#,
            #""\ud83d\u0041""#, "\"raw\u{1}control\"", "1e999", "[1] [2]", #"{"a":1,}"#,
        ] {
            #expect(JSONValue.parseFast(text) == nil, "\(text)")
        }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(JSONValue.parseFast(deep) == nil)
        #expect(JSONValue.parse(deep) == (try? JSONDecoder().decode(JSONValue.self, from: Data(deep.utf8))))
        #expect(JSONValue.parse(#"{"a":1}"#) == .object(["a": .number(1)]))
        #expect(JSONValue.parse("not json") == nil && JSONValue.parse(nil) == nil)
    }

    @Test("collection names: [a-z0-9][a-z0-9_-]{0,63}")
    func names() {
        for good in ["a", "docs", "a-b_c", "0", String(repeating: "x", count: 64)] {
            #expect((try? CollectionName.validate(good)) != nil, "\(good)")
        }
        for bad in ["", "A", "-a", "_a", "a.b", "a/b", "..", "é", String(repeating: "x", count: 65), "a b"] {
            #expect(throws: SearchEngineError.invalidName(bad)) { try CollectionName.validate(bad) }
        }
    }
}
