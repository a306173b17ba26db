import CKernels
import Testing

@testable import VectorMath

/// The packed small-pass GEMM against a double-precision triple loop and against OpenBLAS.
@Suite("Packed GEMM")
struct PackedMatrixTests {
    /// `A·Wᵀ + bias` in double precision, the obvious way.
    static func reference(_ a: [Float], _ w: [Float], bias: [Float]?, m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = bias.map { Double($0[j]) } ?? 0
                for l in 0..<k { sum += Double(a[i * k + l]) * Double(w[j * k + l]) }
                c[i * n + j] = sum
            }
        }
        return c
    }

    @Test(
        "every row count and ragged widths match the triple loop",
        arguments: [
            (1, 16, 1), (1, 7, 5), (2, 33, 9), (3, 16, 64), (4, 48, 3), (5, 17, 31), (6, 32, 384),
            (7, 50, 20), (9, 64, 7), (11, 1, 13), (13, 80, 100), (14, 96, 384), (16, 40, 33), (37, 23, 19),
            (90, 20, 1536), (12, 48, 8), (24, 33, 50), (25, 160, 384), (41, 112, 17),
        ],  // (90, 20, 1536): two row blocks (84 rows each at k 1536 on the AVX2 path)
        Kernels.allCases)
    func matchesTripleLoop(shape: (Int, Int, Int), kernels: Kernels) {
        guard Kernels.supported(kernels) else { return }  // a CPU without AVX-512 (this suite's AVX-512 cases need one)
        let (m, n, k) = shape
        let a = ElementwiseTests.randomFloats(m * k, seed: UInt64(m * 1000 + k), range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: UInt64(n * 1000 + k), range: -1...1)
        let bias = ElementwiseTests.randomFloats(n, seed: UInt64(n), range: -1...1)
        let packed = PackedMatrix(weight: w, outputs: n, inputs: k)
        #expect(packed.panelCount == (n + 15) / 16)
        for withBias in [true, false] {
            let expected = Self.reference(a, w, bias: withBias ? bias : nil, m: m, n: n, k: k)
            var c = [Float](repeating: .nan, count: m * n)
            c.withUnsafeMutableBufferPointer { out in
                bias.withUnsafeBufferPointer { b in
                    VectorMath.matmulPacked(
                        a, lda: k, packed, into: out.baseAddress!, ldc: n, m: m, panels: 0..<packed.panelCount,
                        bias: withBias ? b.baseAddress : nil, kernels: kernels)
                }
            }
            let worst = zip(c, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(worst < 1e-4 * Double(max(1, k / 16)), "\(kernels) m \(m) n \(n) k \(k) bias \(withBias): worst \(worst)")
        }
    }

    @Test(
        "panel shares write only their own columns (each alone on a fresh buffer) and together the whole product, with bias and a narrow last panel",
        arguments: [2, 3, 5], Kernels.allCases)
    func sharesCoverExactly(parts: Int, kernels: Kernels) {
        guard Kernels.supported(kernels) else { return }  // a CPU without AVX-512
        let m = 14
        let n = 72  // 4.5 panels: the last is narrow
        let k = 24
        let lda = 30
        let ldc = 80
        let a = ElementwiseTests.randomFloats(m * lda, seed: 7, range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: 8, range: -1...1)
        let bias = ElementwiseTests.randomFloats(n, seed: 9, range: -1...1)
        let packed = PackedMatrix(weight: w, outputs: n, inputs: k)
        var whole = [Float](repeating: .nan, count: m * ldc)
        var covered = 0
        for part in 0..<parts {
            // Equal shares, as the forward team splits them (ForwardTeam.Member.share).
            let panels = (packed.panelCount * part / parts)..<(packed.panelCount * (part + 1) / parts)
            let columns = packed.columns(of: panels)
            covered += columns.count
            // Alone: exactly its own columns are written.
            var alone = [Float](repeating: .nan, count: m * ldc)
            alone.withUnsafeMutableBufferPointer { out in
                bias.withUnsafeBufferPointer { b in
                    VectorMath.matmulPacked(
                        a, lda: lda, packed, into: out.baseAddress!, ldc: ldc, m: m, panels: panels, bias: b.baseAddress, kernels: kernels)
                }
            }
            for i in 0..<m {
                for j in 0..<ldc where !columns.contains(j) {
                    #expect(alone[i * ldc + j].isNaN, "\(kernels) share \(panels) wrote column \(j)")
                }
            }
            whole.withUnsafeMutableBufferPointer { out in
                bias.withUnsafeBufferPointer { b in
                    VectorMath.matmulPacked(
                        a, lda: lda, packed, into: out.baseAddress!, ldc: ldc, m: m, panels: panels, bias: b.baseAddress, kernels: kernels)
                }
            }
        }
        #expect(covered == n)
        for i in 0..<m {
            for j in 0..<ldc {
                if j >= n {
                    #expect(whole[i * ldc + j].isNaN, "column \(j) beyond n was written")
                    continue
                }
                var sum = Double(bias[j])
                for l in 0..<k { sum += Double(a[i * lda + l]) * Double(w[j * k + l]) }
                #expect(abs(Double(whole[i * ldc + j]) - sum) < 1e-4)
            }
        }
    }

    @Test(
        "same result as OpenBLAS on the encoder's shapes",
        arguments: [(14, 1152, 384), (14, 384, 1536), (64, 1536, 384), (430, 384, 1536), (700, 96, 384)], Kernels.allCases)
    func matchesBLAS(shape: (Int, Int, Int), kernels: Kernels) {
        guard Kernels.supported(kernels) else { return }
        let (m, n, k) = shape
        let a = ElementwiseTests.randomFloats(m * k, seed: 11, range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: 12, range: -0.1...0.1)
        let bias = ElementwiseTests.randomFloats(n, seed: 13, range: -1...1)
        let packed = PackedMatrix(weight: w, outputs: n, inputs: k)
        var blas = [Float](repeating: 0, count: m * n)
        var ours = blas
        blas.withUnsafeMutableBufferPointer {
            VectorMath.matmulTransposedB(a, w, into: $0.baseAddress!, m: m, n: n, k: k, bias: bias)
        }
        ours.withUnsafeMutableBufferPointer {
            VectorMath.matmulPacked(
                a, lda: k, packed, into: $0.baseAddress!, ldc: n, m: m, panels: 0..<packed.panelCount, bias: bias, kernels: kernels)
        }
        let worst = zip(blas, ours).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 2e-5)
    }

    @Test("the kernel choice: AVX-512 where the CPU has it, QUIVER_KERNELS=avx2 forces the fallback, unknown values are ignored")
    func kernelChoice() {
        let avx512 = Int32(QUIVER_CPU_AVX512) | Int32(QUIVER_CPU_AVX2_FMA)
        let avx2 = Int32(QUIVER_CPU_AVX2_FMA)
        #expect(Kernels.choose(features: avx512, override: nil) == .avx512)
        #expect(Kernels.choose(features: avx512, override: "avx2") == .avx2)
        #expect(Kernels.choose(features: avx512, override: "AVX2") == .avx2)
        #expect(Kernels.choose(features: avx2, override: nil) == .avx2)
        #expect(Kernels.choose(features: avx2, override: "avx512") == .avx2)
        #expect(Kernels.choose(features: avx512, override: "sse") == .avx512)
        #expect(Kernels.choose(features: 0, override: nil) == .avx2)
    }

    @Test("row groups cover any row count, six rows at most and (from three rows on) three at least")
    func rowGroups() {
        for m in 1...64 {
            var groups: [Int] = []
            var left = m
            while left > 0 {
                let rows = VectorMath.rowGroup(remaining: left)
                groups.append(rows)
                left -= rows
            }
            #expect(groups.reduce(0, +) == m)
            #expect(groups.allSatisfy { (1...6).contains($0) })
            if m >= 3 { #expect(groups.allSatisfy { $0 >= 3 }, "m \(m): \(groups)") }
        }
    }
}
