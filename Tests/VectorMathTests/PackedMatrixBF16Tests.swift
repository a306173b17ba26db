import CKernels
import Testing

@testable import VectorMath

/// The bf16 packed GEMM against a double-precision triple loop over the same bf16-rounded
/// operands, on each of its kernels this CPU can run: `vdpbf16ps`, the widening AVX-512 kernel and
/// the AVX2 twin.
@Suite("Packed GEMM, bf16")
struct PackedMatrixBF16Tests {
    static func product(
        _ a: [Float], lda: Int, _ packed: PackedMatrixBF16, ldc: Int, m: Int, panels: Range<Int>, bias: [Float]?,
        kernel: BF16Kernel, into c: inout [Float]
    ) -> Bool {
        c.withUnsafeMutableBufferPointer { out in
            if let bias {
                return bias.withUnsafeBufferPointer { b in
                    VectorMath.matmulPackedBF16(
                        a, lda: lda, packed, into: out.baseAddress!, ldc: ldc, m: m, panels: panels, bias: b.baseAddress,
                        kernel: kernel)
                }
            }
            return VectorMath.matmulPackedBF16(
                a, lda: lda, packed, into: out.baseAddress!, ldc: ldc, m: m, panels: panels, bias: nil, kernel: kernel)
        }
    }

    @Test("the bf16 kernel: the AVX2 twin under AVX2, an override the CPU allows, else vdpbf16ps only where it outruns FMAs")
    func kernelChoice() {
        #expect(BF16Kernel.choose(kernels: .avx2, override: nil) == .avx2)
        #expect(BF16Kernel.choose(kernels: .avx2, override: "vdpbf16ps") == .avx2)
        guard Kernels.supported(.avx512) else { return }
        #expect(BF16Kernel.choose(kernels: .avx512, override: "avx2") == .avx2)
        #expect(BF16Kernel.choose(kernels: .avx512, override: "AVX512") == .avx512)
        let chosen = BF16Kernel.choose(kernels: .avx512, override: nil)
        #expect(chosen.isSupported && chosen != .avx2)
        #expect(BF16Kernel.choose(kernels: .avx512, override: "sse") != .avx2)
        if Kernels.hasBF16 {
            #expect(BF16Kernel.choose(kernels: .avx512, override: "vdpbf16ps") == .vdpbf16ps)
            // The probe is a ratio of FLOP rates: 0.5 to 2 on the CPUs measured, never 0 or absurd.
            let ratio = quiver_probe_dpbf16_over_fma()
            #expect(ratio > 0.1 && ratio < 10, "vdpbf16ps / FMA FLOP ratio \(ratio)")
        } else {
            #expect(chosen == .avx512)
            #expect(BF16Kernel.choose(kernels: .avx512, override: "vdpbf16ps") == .avx512)
        }
    }

    @Test("bf16 rounding: nearest even, exact values kept, NaN stays NaN")
    func rounding() {
        #expect(VectorMath.roundedToBF16(1) == 1)
        #expect(VectorMath.roundedToBF16(-2.5) == -2.5)
        // 1 + 2⁻⁸ is halfway between two bf16 values (1 and 1 + 2⁻⁷): ties go to the even one, 1.
        #expect(VectorMath.roundedToBF16(1 + 1.0 / 256) == 1)
        // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶: the even one is 1 + 2⁻⁶.
        #expect(VectorMath.roundedToBF16(1 + 3.0 / 256) == 1 + 1.0 / 64)
        #expect(VectorMath.roundedToBF16(1 + 1.0 / 256 + 1.0 / 4096) == 1 + 1.0 / 128)
        #expect(VectorMath.roundedToBF16(.nan).isNaN)
        #expect(VectorMath.roundedToBF16(.infinity) == .infinity)
    }

    @Test(
        "every row count, odd inputs and ragged widths match the triple loop over rounded operands",
        arguments: [
            (1, 16, 1), (1, 7, 5), (2, 33, 9), (3, 16, 64), (4, 48, 3), (5, 17, 31), (6, 32, 384),
            (7, 50, 20), (9, 64, 7), (11, 1, 13), (13, 80, 100), (14, 96, 384), (16, 40, 33), (37, 23, 19),
            (90, 20, 1536), (12, 48, 8), (24, 33, 50), (25, 160, 384), (41, 112, 17), (300, 40, 1537),
        ],  // (90, 20, 1536) and (300, 40, 1537): several row blocks of the rounded copy
        BF16Kernel.allCases)
    func matchesTripleLoop(shape: (Int, Int, Int), kernel: BF16Kernel) {
        guard kernel.isSupported else { return }
        let (m, n, k) = shape
        let a = ElementwiseTests.randomFloats(m * k, seed: UInt64(m * 1000 + k), range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: UInt64(n * 1000 + k), range: -1...1)
        let bias = ElementwiseTests.randomFloats(n, seed: UInt64(n), range: -1...1)
        let packed = PackedMatrixBF16(weight: w, outputs: n, inputs: k)
        #expect(packed.panelCount == (n + 15) / 16)
        let roundedA = a.map(VectorMath.roundedToBF16)
        let roundedW = w.map(VectorMath.roundedToBF16)
        // The rounding is real: the plain product differs from the rounded one.
        #expect(zip(a, roundedA).contains { $0 != $1 })
        for withBias in [true, false] {
            let expected = PackedMatrixTests.reference(roundedA, roundedW, bias: withBias ? bias : nil, m: m, n: n, k: k)
            var c = [Float](repeating: .nan, count: m * n)
            let done = Self.product(
                a, lda: k, packed, ldc: n, m: m, panels: 0..<packed.panelCount, bias: withBias ? bias : nil, kernel: kernel,
                into: &c)
            #expect(done)
            let worst = zip(c, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(worst < 1e-4 * Double(max(1, k / 16)), "\(kernel) m \(m) n \(n) k \(k) bias \(withBias): worst \(worst)")
        }
    }

    @Test(
        "panel shares write only their own columns and together the whole product (narrow last panel, strided A and C)",
        arguments: [1, 2, 3, 5], BF16Kernel.allCases)
    func sharesCoverExactly(parts: Int, kernel: BF16Kernel) {
        guard kernel.isSupported else { return }
        let m = 14
        let n = 72
        let k = 25
        let lda = 30
        let ldc = 80
        let a = ElementwiseTests.randomFloats(m * lda, seed: 7, range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: 8, range: -1...1)
        let bias = ElementwiseTests.randomFloats(n, seed: 9, range: -1...1)
        let packed = PackedMatrixBF16(weight: w, outputs: n, inputs: k)
        var whole = [Float](repeating: .nan, count: m * ldc)
        for part in 0..<parts {
            let panels = (packed.panelCount * part / parts)..<(packed.panelCount * (part + 1) / parts)
            let columns = packed.columns(of: panels)
            var alone = [Float](repeating: .nan, count: m * ldc)
            #expect(Self.product(a, lda: lda, packed, ldc: ldc, m: m, panels: panels, bias: bias, kernel: kernel, into: &alone))
            for i in 0..<m {
                for j in 0..<ldc where !columns.contains(j) {
                    #expect(alone[i * ldc + j].isNaN, "\(kernel) share \(panels) wrote column \(j)")
                }
            }
            #expect(Self.product(a, lda: lda, packed, ldc: ldc, m: m, panels: panels, bias: bias, kernel: kernel, into: &whole))
        }
        for i in 0..<m {
            for j in 0..<ldc {
                if j >= n {
                    #expect(whole[i * ldc + j].isNaN, "column \(j) beyond n was written")
                    continue
                }
                var sum = Double(bias[j])
                for l in 0..<k {
                    sum += Double(VectorMath.roundedToBF16(a[i * lda + l])) * Double(VectorMath.roundedToBF16(w[j * k + l]))
                }
                #expect(abs(Double(whole[i * ldc + j]) - sum) < 1e-4)
            }
        }
    }

    @Test(
        "a row's result does not depend on its batch-mates; the widening kernels give the same bits, vdpbf16ps agrees to fp32 rounding"
    )
    func rowsIndependent() {
        let (m, n, k) = (29, 384, 385)
        var a = ElementwiseTests.randomFloats(m * k, seed: 21, range: -2...2)
        // Values the rounding must treat exactly as the scalar rule: ties, a NaN, infinities, tiny.
        a[3] = 1 + 1.0 / 256
        a[4] = 1 + 3.0 / 256
        a[k + 7] = .infinity
        a[2 * k + 9] = -.infinity
        a[3 * k + 1] = 1e-40
        a[4 * k + 2] = .nan
        let w = ElementwiseTests.randomFloats(n * k, seed: 22, range: -0.1...0.1)
        let bias = ElementwiseTests.randomFloats(n, seed: 23, range: -1...1)
        let packed = PackedMatrixBF16(weight: w, outputs: n, inputs: k)
        var results: [BF16Kernel: [Float]] = [:]
        for kernel in BF16Kernel.allCases where kernel.isSupported {
            var batch = [Float](repeating: 0, count: m * n)
            #expect(
                Self.product(a, lda: k, packed, ldc: n, m: m, panels: 0..<packed.panelCount, bias: bias, kernel: kernel, into: &batch))
            for row in [0, 5, 13, 28] {
                var alone = [Float](repeating: 0, count: n)
                let single = Array(a[(row * k)..<((row + 1) * k)])
                #expect(
                    Self.product(
                        single, lda: k, packed, ldc: n, m: 1, panels: 0..<packed.panelCount, bias: bias, kernel: kernel, into: &alone))
                #expect(Array(batch[(row * n)..<((row + 1) * n)]) == alone, "\(kernel) row \(row)")
            }
            results[kernel] = batch
        }
        guard let twin = results[.avx2] else { return }
        // Rows 1, 2 and 4 hold ±infinity and a NaN: every kernel must give non-finite values there.
        for row in [1, 2, 4] {
            for (kernel, values) in results {
                #expect(values[(row * n)..<((row + 1) * n)].allSatisfy { !$0.isFinite }, "\(kernel) row \(row)")
            }
        }
        let finiteRows = (0..<m).filter { ![1, 2, 4].contains($0) }
        if let widened = results[.avx512] {
            #expect(zip(widened, twin).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) })
        }
        if let native = results[.vdpbf16ps] {
            var worst: Float = 0
            for row in finiteRows {
                for j in 0..<n { worst = max(worst, abs(native[row * n + j] - twin[row * n + j])) }
            }
            #expect(worst < 1e-4)
        }
    }
}
