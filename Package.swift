// swift-tools-version:6.0
import PackageDescription

// Hot numeric code (distance kernels, LayerNorm, GELU, softmax) is compiled for AVX2+FMA on x86-64:
// without it `swiftc` targets baseline SSE2 and fused multiply-adds become library calls
// (see docs/ARCHITECTURE.md, "Code generation"). The binary therefore needs a Haswell-or-newer CPU.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Quiver",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "quiver", targets: ["quiver"]),
        .library(name: "Embedder", targets: ["Embedder"]),
        .library(name: "VectorIndex", targets: ["VectorIndex"]),
        .library(name: "VectorMath", targets: ["VectorMath"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // Prefetch hints (a `static inline` C function; Swift has no intrinsic), used via VectorMath.
        .target(name: "CPrefetch"),
        .target(name: "VectorMath", dependencies: ["CBLAS", "CPrefetch"], swiftSettings: cpuFlags),
        .target(name: "Embedder", dependencies: ["VectorMath"], swiftSettings: cpuFlags),
        .target(name: "VectorIndex", dependencies: ["VectorMath"], swiftSettings: cpuFlags),
        .executableTarget(
            name: "quiver",
            dependencies: [
                "Embedder", "VectorIndex",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuFlags
        ),
        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath"], swiftSettings: cpuFlags),
        .testTarget(
            name: "EmbedderTests", dependencies: ["Embedder"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(name: "VectorIndexTests", dependencies: ["VectorIndex"], swiftSettings: cpuFlags),
    ],
    swiftLanguageModes: [.v6]
)
