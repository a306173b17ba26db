import Embedder
import Foundation
import FuzzDriver

// One input = one text (any bytes). The tokenizer is the model's (QUIVER_MODEL_DIR, default
// ../models/all-MiniLM-L6-v2). Ids must stay inside the vocabulary and within the length limit.
private let tokenizer: WordPieceTokenizer = {
    let folder = ProcessInfo.processInfo.environment["QUIVER_MODEL_DIR"] ?? "../models/all-MiniLM-L6-v2"
    do {
        return try WordPieceTokenizer(folder: URL(fileURLWithPath: folder))
    } catch {
        fatalError("cannot load the tokenizer from \(folder): \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let maxLength = size > 0 ? Int(data[0]) : 8
    let ids = tokenizer.encode(text, maxLength: maxLength)
    precondition(ids.count >= 2 && ids.count <= max(maxLength, 2), "length \(ids.count) for maxLength \(maxLength)")
    precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "id outside the vocabulary")
    return 0
}

// The entry point SwiftPM links (see FuzzDriver).
@_cdecl("FuzzTokenizer_main")
public func fuzzTokenizerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzTokenizer)
}
