import Foundation
import FuzzDriver
import VectorQueryReader

// One input = a `quiver query --input` line and a `query/batch` body (any bytes). Differential:
// whatever the fast reader accepts, JSONDecoder must accept with the same fields, numbers bit for
// bit; the reader must never trap.
private struct Decoded: Decodable {
    var vector: [Float]?
    var k: Int?
    var ef: Int?
    var withPayload: Bool?

    enum CodingKeys: String, CodingKey {
        case vector, k, ef
        case withPayload = "with_payload"
    }
}

private struct Batch: Decodable { var queries: [Decoded] }

private func same(_ fast: VectorQueryParser.Fields, _ slow: Decoded) -> Bool {
    fast.vector?.map(\.bitPattern) == slow.vector?.map(\.bitPattern) && fast.k == slow.k && fast.ef == slow.ef
        && fast.withPayload == slow.withPayload
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVectorQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let fast = VectorQueryParser.parse(bytes) {
        guard let slow = try? JSONDecoder().decode(Decoded.self, from: Data(bytes)) else {
            fatalError("the reader accepted a line JSONDecoder refuses")
        }
        precondition(same(fast, slow), "the reader and JSONDecoder read different fields")
    }
    if let fast = bytes.withUnsafeBytes({ VectorQueryParser.parseBatch($0) }) {
        guard let slow = try? JSONDecoder().decode(Batch.self, from: Data(bytes)) else {
            fatalError("the reader accepted a batch JSONDecoder refuses")
        }
        precondition(fast.count == slow.queries.count && zip(fast, slow.queries).allSatisfy(same), "batches differ")
    }
    return 0
}

// The entry point SwiftPM links (see FuzzDriver).
@_cdecl("FuzzVectorQuery_main")
public func fuzzVectorQueryMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzVectorQuery)
}
