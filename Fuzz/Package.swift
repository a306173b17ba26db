// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for the model-folder loaders and the vector-query reader, in their own package so the product's build and
// `swift test` never see `-sanitize=fuzzer`. Sources/ holds symlinks to the product's modules (no
// dependency resolution needed). Build and run from this folder (see RELIABILITY.md):
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build/release/FuzzSafeTensors -max_total_time=60 corpus-st/ ../Tests/EmbedderTests/Fixtures/fuzz/safetensors
//   .build/release/FuzzTokenizer -max_total_time=60 corpus-tok/ ../Tests/EmbedderTests/Fixtures/fuzz/text
//   .build/release/FuzzVectorQuery -max_total_time=60 corpus-vq/
#if arch(x86_64)
    let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
    let cpuFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "QuiverFuzz",
    platforms: [.macOS(.v15)],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(name: "CPrefetch", path: "Sources/CPrefetch"),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "VectorMath", dependencies: ["CBLAS", "CPrefetch", "CKernels"], path: "Sources/VectorMath", swiftSettings: cpuFlags),
        .target(name: "Embedder", dependencies: ["VectorMath"], path: "Sources/Embedder", swiftSettings: cpuFlags),
        .target(name: "FuzzDriver", path: "Targets/FuzzDriver"),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["Embedder", "FuzzDriver"], path: "Targets/FuzzSafeTensors"),
        .executableTarget(name: "FuzzTokenizer", dependencies: ["Embedder", "FuzzDriver"], path: "Targets/FuzzTokenizer"),
        // The vector-query reader of `quiver query --input` and `query/batch` (two files of CollectionsAPI).
        .target(name: "VectorQueryReader", path: "Sources/VectorQueryReader"),
        .executableTarget(name: "FuzzVectorQuery", dependencies: ["VectorQueryReader", "FuzzDriver"], path: "Targets/FuzzVectorQuery"),
    ],
    swiftLanguageModes: [.v6]
)
