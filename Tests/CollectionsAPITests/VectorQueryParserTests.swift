import Foundation
import QuiverTestSupport
import Testing

@testable import CollectionsAPI

@Suite("The fast vector-query reader (quiver query --input lines, query/batch bodies)")
struct VectorQueryParserTests {
    /// What JSONDecoder reads from the same keys.
    struct Decoded: Decodable, Equatable {
        var vector: [Float]?
        var k: Int?
        var ef: Int?
        var withPayload: Bool?

        enum CodingKeys: String, CodingKey {
            case vector, k, ef
            case withPayload = "with_payload"
        }
    }

    func decoded(_ line: String) -> Decoded? { try? JSONDecoder().decode(Decoded.self, from: Data(line.utf8)) }

    struct DecodedBatch: Decodable { var queries: [Decoded] }

    @Test("batch bodies: the queries JSONDecoder gives; any other key or query form is left to it")
    func batches() throws {
        var random = SeededVectors(seed: 7)
        let lines = (0..<50).map { index in
            let numbers = random.vector(384).map { String(format: "%.17g", Double($0)) }.joined(separator: ", ")
            return index % 2 == 0
                ? #"{"vector": [\#(numbers)], "k": \#(1 + index), "with_payload": false}"# : #"{"ef": 40, "vector": [\#(numbers)]}"#
        }
        let body = "{ \"queries\" : [" + lines.joined(separator: ",\n") + "] }\n"
        let fast = try #require(Array(body.utf8).withUnsafeBytes { VectorQueryParser.parseBatch($0) })
        let slow = try JSONDecoder().decode(DecodedBatch.self, from: Data(body.utf8)).queries
        #expect(fast.count == 50)
        #expect(fast.map { $0.vector?.map(\.bitPattern) } == slow.map { $0.vector?.map(\.bitPattern) })
        #expect(fast.map(\.k) == slow.map(\.k) && fast.map(\.ef) == slow.map(\.ef) && fast.map(\.withPayload) == slow.map(\.withPayload))
        #expect(Array(#"{"queries": []}"#.utf8).withUnsafeBytes { VectorQueryParser.parseBatch($0) } == [])
        for other in [
            #"{"queries": [{"text": "a"}]}"#, #"{"queries": [{"vector": [1]}], "x": 1}"#, #"{"x": 1, "queries": []}"#,
            #"{"queries": [{"vector": [1]},]}"#, #"{"queries": [{"vector": [1]}] } x"#, #"{"queries": {}}"#, #"[]"#,
            #"{"queries": [{"vector": [1]} {"vector": [2]}]}"#, #"{"queries": [{"vector": [1]}]"#,
        ] {
            #expect(Array(other.utf8).withUnsafeBytes { VectorQueryParser.parseBatch($0) } == nil, "\(other)")
        }
    }

    @Test("generated lines: the same fields JSONDecoder gives, bit for bit")
    func agreesWithJSONDecoder() {
        var random = SeededVectors(seed: 404)
        for round in 0..<400 {
            let dimensions = [1, 8, 384][round % 3]
            var numbers: [String] = []
            for index in 0..<dimensions {
                let value = random.vector(1)[0] * Float([1, 1e-7, 3e5, 1e-38][index % 4])
                switch (round + index) % 5 {
                case 0: numbers.append("\(value)")  // Swift's shortest form (may use e-notation)
                case 1: numbers.append(String(format: "%.9g", Double(value)))
                case 2: numbers.append(String(format: "%.17e", Double(value)))
                case 3: numbers.append(String(Int(value * 1000)))
                default: numbers.append(String(format: "%.30f", Double(value)))
                }
            }
            let space = round % 2 == 0 ? "" : " \t"
            var members = ["\"vector\"\(space):\(space)[\(numbers.joined(separator: ",\(space)"))]"]
            if round % 3 == 0 { members.append("\"k\": \(1 + round % 50)") }
            if round % 4 == 0 { members.append("\"ef\":\(64 + round)") }
            if round % 5 == 0 { members.append("\"with_payload\": \(round % 10 == 0)") }
            if round % 7 == 0 { members.reverse() }
            let line = "\(space){\(members.joined(separator: ","))}\(space)"
            let fast = VectorQueryParser.parse(Array(line.utf8))
            let slow = decoded(line)
            #expect(fast != nil, "\(line.prefix(120))")
            #expect(slow != nil, "\(line.prefix(120))")
            guard let fast, let slow else { continue }
            #expect(fast.vector?.map(\.bitPattern) == slow.vector?.map(\.bitPattern), "\(line.prefix(200))")
            #expect(fast.k == slow.k && fast.ef == slow.ef && fast.withPayload == slow.withPayload)
        }
    }

    /// Reads `numbers` through the parser, one line of them, and checks each against `strtof`.
    func expectStrtof(_ numbers: [String], sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        let line = "{\"vector\":[" + numbers.joined(separator: ",") + "]}"
        guard let parsed = VectorQueryParser.parse(Array(line.utf8))?.vector, parsed.count == numbers.count else {
            Issue.record("line not parsed: \(line.prefix(200))", sourceLocation: sourceLocation)
            return 1
        }
        var mismatches = 0
        for (text, value) in zip(numbers, parsed) where strtof(text, nil).bitPattern != value.bitPattern {
            mismatches += 1
            if mismatches <= 5 {
                Issue.record("\(text): strtof \(strtof(text, nil)), parser \(value)", sourceLocation: sourceLocation)
            }
        }
        return mismatches
    }

    @Test("numbers are the float strtof gives, bit for bit: Python's 17 digits, shortest forms, near halfway points")
    func agreesWithStrtof() {
        var random = SeededVectors(seed: 2026)
        var checked = 0
        var mismatches = 0
        for round in 0..<200 {
            var numbers: [String] = []
            for index in 0..<1000 {
                // A double spread over the float range's decades (and beyond, into strtof's path).
                let unit = Double(random.next() >> 11) * 0x1.0p-53
                let decade = Double(Int(random.next() % 90) - 50)
                let value = (unit * 2 - 1) * pow(10, decade)
                switch (round + index) % 6 {
                case 0: numbers.append(String(format: "%.17g", value))  // Python's json.dumps of a float64
                case 1: numbers.append("\(Float(value))")  // Swift's shortest float form
                case 2: numbers.append("\(value)")  // Swift's shortest double form
                case 3: numbers.append(String(format: "%.9e", value))
                case 4:
                    // Halfway between two floats, written with 17-19 digits and nudged by one in the last.
                    let float = Float(value)
                    guard float.isFinite, float.nextUp.isFinite else { continue }
                    let halfway = (Double(float) + Double(float.nextUp)) / 2
                    let digits = 17 + Int(random.next() % 3)
                    var text = String(format: "%.\(digits - 1)e", halfway)
                    if random.next() % 2 == 0, let last = text.firstIndex(of: "e").map({ text.index(before: $0) }),
                        let digit = text[last].wholeNumberValue
                    {
                        text.replaceSubrange(last...last, with: "\((digit + 1) % 10)")
                    }
                    numbers.append(text)
                default: numbers.append(String(format: "%.25f", value))  // more digits than the fast path takes
                }
            }
            // No "inf"/"nan" (not JSON), nothing that overflows a float or rounds to zero, nothing
            // over the reader's 63 bytes (those lines go to JSONDecoder, which refuses or reads them).
            numbers = numbers.filter {
                !$0.contains("inf") && !$0.contains("nan") && strtof($0, nil).isFinite && strtof($0, nil) != 0 && $0.utf8.count < 64
            }
            checked += numbers.count
            mismatches += expectStrtof(numbers)
        }
        #expect(checked > 150_000)
        #expect(mismatches == 0)
        // Exact halfway points and their neighbours, written out in full (long: strtof's path),
        // and round numbers the fast path takes.
        _ = expectStrtof(["0.5", "1", "-1", "16777216", "16777217", "16777219", "3.4028234663852886e38", "1.1754943508222875e-38"])
        _ = expectStrtof([
            "0.000000000000000000000000000000000000011754943508222875", "1e-45", "7.1e-46", "-0", "-0.000", "0.0", "123456789012345678",
        ])
    }

    @Test("anything else is left to JSONDecoder: other keys, escapes, bad numbers, repeats, trailing bytes")
    func fallsBack() {
        for line in [
            #"{"text": "a"}"#, #"{"id": "x"}"#, #"{"vector": [1], "filter": {}}"#, #"{"vec\u0074or": [1]}"#,
            #"{"vector": [01]}"#, #"{"vector": [1.]}"#, #"{"vector": [.5]}"#, #"{"vector": [1e]}"#, #"{"vector": [+1]}"#,
            #"{"vector": [1e999]}"#, #"{"vector": [7e-46]}"#, #"{"vector": [2.5e-3750]}"#, #"{"vector": [0.00e-1]}"#,
            #"{"vector": [NaN]}"#, #"{"vector": [1,]}"#, #"{"vector": [1] "k": 2}"#,
            #"{"vector": [1], "vector": [2]}"#, #"{"vector": [1]} x"#, #"{"vector": [1]"#, #"{"k": 1.0}"#, #"{"k": 1e2}"#,
            #"{"k": 1234567890}"#, #"{"with_payload": 0}"#, #"{"vector": ["1"]}"#, "", "[]", #"{"vector": [1], }"#,
            #"{"vector": [\#(String(repeating: "1", count: 70))]}"#,
        ] {
            #expect(VectorQueryParser.parse(Array(line.utf8)) == nil, "\(line)")
        }
        // The simple forms it does take.
        #expect(VectorQueryParser.parse(Array("{}".utf8)) == VectorQueryParser.Fields())
        #expect(VectorQueryParser.parse(Array(#"{"vector":[],"k":-3}"#.utf8)) == VectorQueryParser.Fields(vector: [], k: -3))
        #expect(VectorQueryParser.parse(Array(#"{"vector":[-0,1E+2,2.5e-3]}"#.utf8))?.vector == [-0.0, 100, 0.0025])
    }
}
