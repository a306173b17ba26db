import Benchmark

let benchmarks: @Sendable () -> Void = {
    registerTokenizerBenchmarks()
    embeddingBenchmarks()
}
