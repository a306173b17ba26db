// This machine's arithmetic peaks and the packed GEMM as a fraction of them.
//
//   swift run -c release KernelPeak            (from Benchmarks/)
//
// Peaks: register-only loops of 12 independent accumulators (CPeak), on one thread and on every
// core at once. GEMM: VectorMath.matmulPacked on the encoder's shapes, one thread, on each kernel
// path the CPU supports, best of 5, the bf16 GEMM on its AVX-512 kernels and the int8 GEMM where the CPU has their
// instructions; the fused attention head on the AVX-512 path. Prints one JSON object.
import CPeak
import Foundation
import VectorMath

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Best of 5 timings of `reps` calls of `body` into `c`, in seconds per call.
func bestPerCall(reps: Int, into c: inout [Float], _ body: (UnsafeMutablePointer<Float>) -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<5 {
        let t = c.withUnsafeMutableBufferPointer { out in
            seconds { for _ in 0..<reps { body(out.baseAddress!) } }
        }
        best = min(best, t / Double(reps))
    }
    return best
}

/// GFLOP/s (or GOP/s) of `loop` run for `iterations` on `threads` threads at once, best of 3.
func peak(threads: Int, opsPerIteration: Double, iterations: Int, _ loop: @escaping @Sendable (Int) -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<3 {
        let t = seconds { DispatchQueue.concurrentPerform(iterations: threads) { _ in loop(iterations) } }
        best = min(best, t)
    }
    return opsPerIteration * Double(iterations) * Double(threads) / best / 1e9
}

let cores = ProcessInfo.processInfo.activeProcessorCount
var report: [String: Any] = [
    "cores": cores, "kernels_active": Kernels.active.rawValue, "cpu": Kernels.cpuFeatures, "bf16_kernel": Kernels.bf16.rawValue,
]
let iterations = 200_000_000 / 12
for threads in Set([1, cores]).sorted() {
    // 12 accumulators × lanes × 2 FLOP (multiply and add) per iteration.
    report["peak_fp32_avx2_gflops_\(threads)t"] = peak(threads: threads, opsPerIteration: 12 * 8 * 2, iterations: iterations) {
        _ = quiver_peak_fma_avx2($0)
    }
    if Kernels.supported(.avx512) {
        report["peak_fp32_avx512_gflops_\(threads)t"] = peak(threads: threads, opsPerIteration: 12 * 16 * 2, iterations: iterations) {
            _ = quiver_peak_fma_avx512($0)
        }
    }
    if Kernels.cpuFeatures.contains("avx512_bf16") {
        // 16 lanes × 2 bf16 pairs × 2 FLOP.
        report["peak_bf16_dp_gflops_\(threads)t"] = peak(threads: threads, opsPerIteration: 12 * 16 * 2 * 2, iterations: iterations) {
            _ = quiver_peak_dpbf16($0)
        }
    }
    if Kernels.cpuFeatures.contains("avx512_vnni") {
        // 16 lanes × 4 int8 products × 2 OP.
        report["peak_int8_vnni_gops_\(threads)t"] = peak(threads: threads, opsPerIteration: 12 * 16 * 4 * 2, iterations: iterations) {
            _ = quiver_peak_vnni($0)
        }
    }
}

// The packed GEMM, one thread: C[m×n] = A[m×k]·Wᵀ + b.
for (m, n, k) in [(3200, 1152, 384), (3200, 384, 384), (3200, 1536, 384), (3200, 384, 1536), (14, 1152, 384), (14, 384, 1536)] {
    let a = (0..<(m * k)).map { Float(($0 % 97) - 48) / 97 }
    let w = (0..<(n * k)).map { Float(($0 % 89) - 44) / 890 }
    let bias = [Float](repeating: 0.01, count: n)
    let packed = w.withUnsafeBufferPointer { PackedMatrix(weight: $0.baseAddress!, outputs: n, inputs: k) }
    var c = [Float](repeating: 0, count: m * n)
    for kernels in Kernels.allCases where Kernels.supported(kernels) {
        let best = bestPerCall(reps: max(1, Int(4e9 / Double(2 * m * n * k))), into: &c) { out in
            VectorMath.matmulPacked(
                a, lda: k, packed, into: out, ldc: n, m: m, panels: 0..<packed.panelCount, bias: bias, kernels: kernels)
        }
        let gflops = 2 * Double(m * n * k) / best / 1e9
        report["gemm_\(kernels.rawValue)_\(m)x\(n)x\(k)_gflops_1t"] = gflops
        if let peak = report["peak_fp32_\(kernels.rawValue)_gflops_1t"] as? Double {
            report["gemm_\(kernels.rawValue)_\(m)x\(n)x\(k)_of_peak"] = gflops / peak
        }
    }
    // The bf16 GEMM (activations rounded inside the call) on each of its AVX-512 kernels:
    // vdpbf16ps against its peak, the widening kernel (two FMAs a pair) against the fp32 peak.
    let packedBF16 = w.withUnsafeBufferPointer { PackedMatrixBF16(weight: $0.baseAddress!, outputs: n, inputs: k) }
    for kernel in [BF16Kernel.vdpbf16ps, .avx512] where kernel.isSupported {
        let best = bestPerCall(reps: max(1, Int(8e9 / Double(2 * m * n * k))), into: &c) { out in
            VectorMath.matmulPackedBF16(
                a, lda: k, packedBF16, into: out, ldc: n, m: m, panels: 0..<packedBF16.panelCount, bias: bias, kernel: kernel)
        }
        let gflops = 2 * Double(m * n * k) / best / 1e9
        let name = kernel == .vdpbf16ps ? "gemm_bf16" : "gemm_bf16_widened"
        report["\(name)_\(m)x\(n)x\(k)_gflops_1t"] = gflops
        let peakKey = kernel == .vdpbf16ps ? "peak_bf16_dp_gflops_1t" : "peak_fp32_avx512_gflops_1t"
        if let peak = report[peakKey] as? Double { report["\(name)_\(m)x\(n)x\(k)_of_peak"] = gflops / peak }
    }
    // The int8 GEMM (each activation row quantized inside the call, dequantized with the bias)
    // against the vpdpbusd peak.
    if Precision.int8.isNative {
        let packedInt8 = w.withUnsafeBufferPointer { PackedMatrixInt8(weight: $0.baseAddress!, outputs: n, inputs: k) }
        let best = bestPerCall(reps: max(1, Int(16e9 / Double(2 * m * n * k))), into: &c) { out in
            VectorMath.matmulPackedInt8(a, lda: k, packedInt8, into: out, ldc: n, m: m, panels: 0..<packedInt8.panelCount, bias: bias)
        }
        let gops = 2 * Double(m * n * k) / best / 1e9
        report["gemm_int8_\(m)x\(n)x\(k)_gops_1t"] = gops
        if let peak = report["peak_int8_vnni_gops_1t"] as? Double { report["gemm_int8_\(m)x\(n)x\(k)_of_peak"] = gops / peak }
    }
}
// The fused attention head (MiniLM's: 12 heads of 32 floats in a [n, 3·384] QKV buffer), one
// thread, against the fp32 AVX-512 peak. FLOPs counted as the kernel does them: scores for rows
// in blocks of 4 against keys padded to 16, and the weighted sum of values (the exp of the softmax
// not counted).
if VectorMath.fusedAttentionSupported(headSize: 32, kernels: .avx512) {
    let heads = 12
    let d = 32
    let h = heads * d
    for n in [14, 64, 121, 256] {
        let qkv = (0..<(n * 3 * h)).map { Float(($0 % 1000) - 500) / 500 }
        let scratchCount = VectorMath.attentionScratchCount(length: n, headSize: d)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCount * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: scratchCount)
        defer { scratch.deallocate() }
        var context = [Float](repeating: 0, count: n * h)
        let rows4 = (n + 3) / 4 * 4
        let keys16 = (n + 15) / 16 * 16
        let flopsPerHead = Double(2 * rows4 * keys16 * d + 2 * rows4 * n * d)
        let best = qkv.withUnsafeBufferPointer { q in
            bestPerCall(reps: max(1, Int(2e9 / (flopsPerHead * Double(heads)))), into: &context) { out in
                for head in 0..<heads {
                    VectorMath.attentionHead(
                        q: q.baseAddress! + head * d, k: q.baseAddress! + h + head * d, v: q.baseAddress! + 2 * h + head * d,
                        ld: 3 * h, length: n, headSize: d, scale: 1 / Float(d).squareRoot(), into: out + head * d, ldc: h,
                        scratch: scratch, kernels: .avx512)
                }
            }
        }
        let gflops = flopsPerHead * Double(heads) / best / 1e9
        report["attention_avx512_n\(n)_d\(d)_gflops_1t"] = gflops
        if let peak = report["peak_fp32_avx512_gflops_1t"] as? Double { report["attention_avx512_n\(n)_d\(d)_of_peak"] = gflops / peak }
    }
}
let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
print(String(decoding: data, as: UTF8.self))
