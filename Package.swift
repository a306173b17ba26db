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
        .library(name: "DocumentStore", targets: ["DocumentStore"]),
        .library(name: "KeywordIndex", targets: ["KeywordIndex"]),
        .library(name: "SearchEngine", targets: ["SearchEngine"]),
        .library(name: "SearchServer", targets: ["SearchServer"]),
        .library(name: "CollectionsAPI", targets: ["CollectionsAPI"]),
        .library(name: "FileSources", targets: ["FileSources"]),
        .library(name: "PostgresStore", targets: ["PostgresStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // Prefetch hints (a `static inline` C function; Swift has no intrinsic), used via VectorMath.
        .target(name: "CPrefetch"),
        // Kernels for instruction sets beyond the baseline (AVX-512), each function compiled for
        // its set by a `target` attribute and entered after a cpuid check; used via VectorMath.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "VectorMath", dependencies: ["CBLAS", "CPrefetch", "CKernels"], swiftSettings: cpuFlags),
        .target(name: "Embedder", dependencies: ["VectorMath", "CPrefetch"], swiftSettings: cpuFlags),
        .target(name: "VectorIndex", dependencies: ["VectorMath"], swiftSettings: cpuFlags),
        .target(
            name: "DocumentStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: cpuFlags
        ),
        // The store seam's second backend: collections in a PostgreSQL database (postgres-nio).
        .target(
            name: "PostgresStore",
            dependencies: [
                "DocumentStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: cpuFlags
        ),
        // The BM25 keyword index (SQLite FTS5 file, ranked in memory), derived from the change feed like the HNSW index.
        .target(
            name: "KeywordIndex", dependencies: ["VectorMath", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: cpuFlags
        ),
        // Each collection's query log, its feedback and the insights drawn from them (a SQLite file
        // beside the collection's index files).
        .target(
            name: "QueryLog",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: cpuFlags
        ),
        .target(
            name: "SearchEngine",
            dependencies: [
                "Embedder", "VectorMath", "VectorIndex", "DocumentStore", "KeywordIndex", "QueryLog",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: cpuFlags
        ),
        .target(
            name: "SearchServer",
            dependencies: [
                "Embedder", "VectorMath",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: cpuFlags
        ),
        // The collection routes over HTTP: the SearchEngine behind SearchServer's APIModule plug-in point.
        .target(
            name: "CollectionsAPI",
            dependencies: [
                "SearchServer", "SearchEngine", "Embedder", "VectorMath", "PostgresStore", "DocumentStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: cpuFlags
        ),
        // Documents from a folder of Markdown, HTML and text files (quiver index DIR); metadata as
        // the engine's JSONValue, nothing else of the engine.
        .target(name: "FileSources", dependencies: ["SearchEngine", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "quiver",
            dependencies: [
                "Embedder", "VectorMath", "VectorIndex", "SearchEngine", "SearchServer", "CollectionsAPI", "FileSources", "PostgresStore",
                "QueryLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: cpuFlags
        ),
        // Paths the test suites share (package root, model folder); built only with the tests.
        .target(name: "QuiverTestSupport", path: "Tests/QuiverTestSupport"),
        .testTarget(name: "VectorMathTests", dependencies: ["VectorMath", "CKernels"], swiftSettings: cpuFlags),
        .testTarget(
            name: "EmbedderTests", dependencies: ["Embedder", "VectorMath", "QuiverTestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: cpuFlags
        ),
        .testTarget(name: "VectorIndexTests", dependencies: ["VectorIndex"], swiftSettings: cpuFlags),
        .testTarget(
            name: "DocumentStoreTests", dependencies: ["DocumentStore", "PostgresStore", "QuiverTestSupport"], swiftSettings: cpuFlags
        ),
        .testTarget(name: "KeywordIndexTests", dependencies: ["KeywordIndex"], swiftSettings: cpuFlags),
        .testTarget(name: "QueryLogTests", dependencies: ["QueryLog"], swiftSettings: cpuFlags),
        .testTarget(name: "FileSourcesTests", dependencies: ["FileSources"]),
        .testTarget(
            name: "SearchEngineTests", dependencies: ["SearchEngine", "quiver", "QuiverTestSupport", "PostgresStore", "DocumentStore"],
            swiftSettings: cpuFlags),
        .testTarget(
            name: "SearchServerTests",
            dependencies: [
                "SearchServer", "Embedder", "VectorMath", "QuiverTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: cpuFlags
        ),
        .testTarget(
            name: "CollectionsAPITests",
            dependencies: [
                "CollectionsAPI", "SearchServer", "SearchEngine", "Embedder", "QuiverTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: cpuFlags
        ),
    ],
    swiftLanguageModes: [.v6]
)
