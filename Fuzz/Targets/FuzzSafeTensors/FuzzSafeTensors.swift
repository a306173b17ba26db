import Embedder
import Foundation
import FuzzDriver

// One input = one safetensors file. Every input must open and read, or fail with EmbedderError;
// a trap or a sanitizer report is a finding.
private let path = "/dev/shm/quiver-fuzz-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = URL(fileURLWithPath: path)
    guard (try? Data(bytes: data, count: size).write(to: url)) != nil else { return 0 }
    do throws(EmbedderError) {
        let file = try SafeTensorsFile(url: url)
        for (name, info) in file.tensors {
            _ = try? file.floats(name, shape: info.shape)
        }
    } catch {
        _ = error.description
    }
    return 0
}

// The entry point SwiftPM links (see FuzzDriver).
@_cdecl("FuzzSafeTensors_main")
public func fuzzSafeTensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzSafeTensors)
}
