import Foundation
import Testing

@testable import quiver

@Suite("quiver query --input: the fast vector-line reader")
struct VectorLineParserTests {
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
            let fast = VectorLineParser.parse(Array(line.utf8))
            let slow = decoded(line)
            #expect(fast != nil, "\(line.prefix(120))")
            #expect(slow != nil, "\(line.prefix(120))")
            guard let fast, let slow else { continue }
            #expect(fast.vector?.map(\.bitPattern) == slow.vector?.map(\.bitPattern), "\(line.prefix(200))")
            #expect(fast.k == slow.k && fast.ef == slow.ef && fast.withPayload == slow.withPayload)
        }
    }

    @Test("anything else is left to JSONDecoder: other keys, escapes, bad numbers, repeats, trailing bytes")
    func fallsBack() {
        for line in [
            #"{"text": "a"}"#, #"{"id": "x"}"#, #"{"vector": [1], "filter": {}}"#, #"{"vec\u0074or": [1]}"#,
            #"{"vector": [01]}"#, #"{"vector": [1.]}"#, #"{"vector": [.5]}"#, #"{"vector": [1e]}"#, #"{"vector": [+1]}"#,
            #"{"vector": [1e999]}"#, #"{"vector": [NaN]}"#, #"{"vector": [1,]}"#, #"{"vector": [1] "k": 2}"#,
            #"{"vector": [1], "vector": [2]}"#, #"{"vector": [1]} x"#, #"{"vector": [1]"#, #"{"k": 1.0}"#, #"{"k": 1e2}"#,
            #"{"k": 1234567890}"#, #"{"with_payload": 0}"#, #"{"vector": ["1"]}"#, "", "[]", #"{"vector": [1], }"#,
            #"{"vector": [\#(String(repeating: "1", count: 70))]}"#,
        ] {
            #expect(VectorLineParser.parse(Array(line.utf8)) == nil, "\(line)")
        }
        // The simple forms it does take.
        #expect(VectorLineParser.parse(Array("{}".utf8)) == VectorLineParser.Fields())
        #expect(VectorLineParser.parse(Array(#"{"vector":[],"k":-3}"#.utf8)) == VectorLineParser.Fields(vector: [], k: -3))
        #expect(VectorLineParser.parse(Array(#"{"vector":[-0,1E+2,2.5e-3]}"#.utf8))?.vector == [-0.0, 100, 0.0025])
    }
}
