// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so that the product's build and tests never pull in
// ordo-one/benchmark. Run from this folder: `swift package benchmark` (see BENCHMARKS.md).
let package = Package(
    name: "QuiverBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Quiver", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Register-only peak loops (fp32 AVX2/AVX-512 FMA, bf16 dot, int8 VNNI) for KernelPeak.
        .target(name: "CPeak", path: "Benchmarks/CPeak", cSettings: [.unsafeFlags(["-O2"])]),
        // This machine's peaks and the packed GEMM as a fraction of them (BENCHMARKS.md, "AVX-512").
        .executableTarget(
            name: "KernelPeak",
            dependencies: ["CPeak", .product(name: "VectorMath", package: "Quiver")],
            path: "Benchmarks/KernelPeak"
        ),
        .executableTarget(
            name: "EmbedCompare",
            dependencies: [
                .product(name: "Embedder", package: "Quiver"),
                .product(name: "VectorMath", package: "Quiver"),
            ],
            path: "Benchmarks/EmbedCompare"
        ),
        // bf16 against fp32 on real text: cosines and top-10 retrieval overlap (BENCHMARKS.md, "bf16").
        .executableTarget(
            name: "PrecisionCompare",
            dependencies: [
                .product(name: "Embedder", package: "Quiver"),
                .product(name: "VectorMath", package: "Quiver"),
            ],
            path: "Benchmarks/PrecisionCompare"
        ),
        .executableTarget(
            name: "EmbedderBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Embedder", package: "Quiver"),
            ],
            path: "Benchmarks/EmbedderBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "VectorIndexBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "VectorIndex", package: "Quiver"),
            ],
            path: "Benchmarks/VectorIndexBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Collections: ingest vs embedder throughput, unchanged re-sync, 1M-vector open (BENCHMARKS-collections.md).
        .executableTarget(
            name: "IngestCompare",
            dependencies: [
                .product(name: "SearchEngine", package: "Quiver"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/IngestCompare"
        ),
        // Issue 18's numbers on a PostgreSQL store: claims, visibility lag, catch-up (BENCHMARKS.md).
        .executableTarget(
            name: "ScaleOut",
            dependencies: [
                .product(name: "SearchEngine", package: "Quiver"),
                .product(name: "DocumentStore", package: "Quiver"),
                .product(name: "PostgresStore", package: "Quiver"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ScaleOut"
        ),
        // Benchmark-only executable for the side-by-side run with scripts/bench/index_bench.py.
        .executableTarget(
            name: "IndexCompare",
            dependencies: [.product(name: "VectorIndex", package: "Quiver")],
            path: "Benchmarks/IndexCompare"
        ),
    ]
)
