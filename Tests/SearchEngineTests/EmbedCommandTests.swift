import Foundation
import Testing

/// The `quiver embed` / `quiver tokenize` contract, driven through the real binary: JSONL in,
/// one JSONL line out per input in order, golden results, and a bad line stopping with its number.
@Suite("quiver embed and tokenize")
struct EmbedCommandTests {
    struct Golden: Decodable {
        let text: String
        let embedding: [Float]
    }
    struct TokenGolden: Decodable {
        let text: String
        let ids: [Int32]
    }

    func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try quiverExecutable()
        process.arguments = arguments + ["--model", TestModel.folder.path]
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func fixture<T: Decodable>(_ name: String, _ type: T.Type, count: Int) throws -> [T] {
        let url = packageRoot.appendingPathComponent("Tests/EmbedderTests/Fixtures/\(name).jsonl")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").prefix(count)
        return try lines.map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    func jsonl(_ texts: [String]) throws -> String {
        try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self) }
            .joined(separator: "\n") + "\n"
    }

    @Test("embed: one golden embedding per line, in input order, from stdin and from --input")
    func embedGolden() throws {
        let golden = try fixture("minilm-embeddings", Golden.self, count: 40)
        let input = try jsonl(golden.map(\.text))
        let directory = try TemporaryDirectory("quiver-embed")
        let file = directory.url.appendingPathComponent("in.jsonl")
        try input.write(to: file, atomically: true, encoding: .utf8)
        for result in [try run(["embed"], stdin: input), try run(["embed", "--input", file.path, "--chunk", "7"])] {
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            try #require(lines.count == golden.count)
            for (line, expected) in zip(lines, golden) {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                let vector = try #require(object?["embedding"] as? [Double]).map(Float.init)
                var dot = 0.0
                for (a, b) in zip(vector, expected.embedding) { dot += Double(a) * Double(b) }
                #expect(vector.count == 384)
                #expect(dot >= 0.99999, "\(expected.text.prefix(40))")
            }
        }
    }

    @Test("tokenize: golden ids, one line per input")
    func tokenizeGolden() throws {
        let golden = try fixture("minilm-tokens", TokenGolden.self, count: 150)
        let result = try run(["tokenize"], stdin: try jsonl(golden.map(\.text)))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        try #require(lines.count == golden.count)
        for (line, expected) in zip(lines, golden) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect((object?["ids"] as? [Int])?.map(Int32.init) == expected.ids)
        }
    }

    @Test(
        "a bad line stops with its number on stderr and exit 1; the lines before it are written",
        arguments: [#"not json"#, #"{"txt": "x"}"#, #"[1, 2]"#, #"{"text": 5}"#, ""])
    func badLine(bad: String) throws {
        for command in ["embed", "tokenize"] {
            let result = try run([command], stdin: "{\"text\": \"first\"}\n\(bad)\n{\"text\": \"third\"}\n")
            #expect(result.status == 1)
            #expect(result.stderr.contains("<stdin>:2:"), "\(result.stderr)")
            #expect(result.stdout.split(separator: "\n").count == 1, "\(command): \(result.stdout.prefix(80))")
        }
    }

    @Test("a missing model folder or input file is a clear error, not a crash")
    func missingFiles() throws {
        let noInput = try run(["embed", "--input", "/nonexistent/in.jsonl"])
        #expect(noInput.status == 1)
        #expect(noInput.stderr.contains("cannot open /nonexistent/in.jsonl"))
        let process = Process()
        process.executableURL = try quiverExecutable()
        process.arguments = ["embed", "--model", "/nonexistent-model"]
        let err = Pipe()
        process.standardError = err
        process.standardInput = Pipe()
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message.contains("cannot load model"))
    }
}
