import Testing

@testable import VectorMath

/// The int8 packed GEMM against an integer triple loop over the same quantized operands, on the
/// `vpdpbusd` kernel and on its AVX2 twin (which must give the same bits).
@Suite("Packed GEMM, int8")
struct PackedMatrixInt8Tests {
    /// Whether `kernels` can run here (the AVX-512 case also needs AVX512_VNNI; the twin runs anywhere).
    static func runs(_ kernels: Kernels) -> Bool {
        kernels == .avx2 || (Kernels.supported(.avx512) && Kernels.hasVNNI)
    }

    static func product(
        _ a: [Float], lda: Int, _ packed: PackedMatrixInt8, ldc: Int, m: Int, panels: Range<Int>, bias: [Float]?,
        kernels: Kernels, into c: inout [Float]
    ) -> Bool {
        c.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return false }
            if let bias {
                return bias.withUnsafeBufferPointer { b in
                    VectorMath.matmulPackedInt8(
                        a, lda: lda, packed, into: base, ldc: ldc, m: m, panels: panels, bias: b.baseAddress, kernels: kernels)
                }
            }
            return VectorMath.matmulPackedInt8(a, lda: lda, packed, into: base, ldc: ldc, m: m, panels: panels, bias: nil, kernels: kernels)
        }
    }

    /// The exact result: integer sums of the quantized operands, dequantized as the kernel does
    /// (one fused multiply-add of the sum, the two scales' product and the bias).
    static func reference(_ a: [Float], lda: Int, _ packed: PackedMatrixInt8, bias: [Float]?, m: Int, row: Int = 0) -> [Float] {
        let (n, k) = (packed.outputs, packed.inputs)
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            let (q, scale) = VectorMath.quantizedInt8(Array(a[((row + i) * lda)..<((row + i) * lda + k)]))
            for j in 0..<n {
                var sum = 0
                for l in 0..<k { sum += Int(q[l]) * Int(packed.quantized(row: j, input: l)) }
                c[i * n + j] = (bias?[j] ?? 0).addingProduct(Float(sum), scale * packed.scale(ofColumn: j))
            }
        }
        return c
    }

    @Test("weights: symmetric per output column, q = round(w · 127 / max|w|), the largest at ±127")
    func weightQuantization() {
        let (n, k) = (19, 37)
        var w = ElementwiseTests.randomFloats(n * k, seed: 5, range: -0.3...0.3)
        for l in 0..<k { w[4 * k + l] = 0 }  // an all-zero column stays zero, scale 0
        let packed = PackedMatrixInt8(weight: w, outputs: n, inputs: k)
        #expect(packed.panelCount == 2)
        for j in 0..<n {
            let most = (0..<k).map { abs(w[j * k + $0]) }.max() ?? 0
            #expect(packed.scale(ofColumn: j) == most / 127)
            for l in 0..<k {
                let expected = most == 0 ? 0 : Int8((w[j * k + l] * (127 / most)).rounded(.toNearestOrEven))
                #expect(packed.quantized(row: j, input: l) == expected, "column \(j) input \(l)")
            }
            if most > 0 { #expect((0..<k).contains { abs(packed.quantized(row: j, input: $0)) == 127 }) }
        }
        let (q, scale) = VectorMath.quantizedInt8([0.5, -1, 0.25, 0.003])
        #expect(q == [64, -127, 32, 0] && scale == 1 / 127)
        #expect(VectorMath.quantizedInt8([0, 0]).scale == 0 && VectorMath.quantizedInt8([0, 0]).values == [0, 0])
    }

    @Test(
        "every row count, ragged inputs and widths give exactly the integer triple loop's result",
        arguments: [
            (1, 16, 1), (1, 7, 5), (2, 33, 9), (3, 16, 64), (4, 48, 3), (5, 17, 31), (6, 32, 384),
            (7, 50, 22), (9, 64, 7), (11, 1, 13), (13, 80, 100), (14, 96, 384), (16, 40, 33), (37, 23, 19),
            (90, 20, 1536), (12, 48, 8), (24, 33, 50), (25, 160, 384), (41, 112, 17), (300, 40, 1537),
        ],  // (90, 20, 1536) and (300, 40, 1537): several row blocks of the quantized copy
        Kernels.allCases)
    func matchesIntegerLoop(shape: (Int, Int, Int), kernels: Kernels) {
        guard Self.runs(kernels) else { return }
        let (m, n, k) = shape
        let a = ElementwiseTests.randomFloats(m * k, seed: UInt64(m * 1000 + k), range: -3...3)
        let w = ElementwiseTests.randomFloats(n * k, seed: UInt64(n * 1000 + k), range: -0.2...0.2)
        let bias = ElementwiseTests.randomFloats(n, seed: UInt64(n), range: -1...1)
        let packed = PackedMatrixInt8(weight: w, outputs: n, inputs: k)
        for withBias in [true, false] {
            let expected = Self.reference(a, lda: k, packed, bias: withBias ? bias : nil, m: m)
            var c = [Float](repeating: .nan, count: m * n)
            #expect(
                Self.product(
                    a, lda: k, packed, ldc: n, m: m, panels: 0..<packed.panelCount, bias: withBias ? bias : nil, kernels: kernels,
                    into: &c))
            let wrong = zip(c, expected).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(kernels) m \(m) n \(n) k \(k) bias \(withBias): \(wrong) elements differ")
            // And it is a product: within the quantization error of the fp32 one.
            let exact = PackedMatrixTests.reference(a, w, bias: withBias ? bias : nil, m: m, n: n, k: k)
            let worst = zip(c, exact).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(worst < 0.02 * Double(k).squareRoot() + 1e-3, "\(kernels) m \(m) n \(n) k \(k): off by \(worst)")
        }
    }

    @Test(
        "panel shares write only their own columns and together the whole product (narrow last panel, strided A and C)",
        arguments: [1, 2, 3, 5], Kernels.allCases)
    func sharesCoverExactly(parts: Int, kernels: Kernels) {
        guard Self.runs(kernels) else { return }
        let (m, n, k, lda, ldc) = (14, 72, 25, 30, 80)
        let a = ElementwiseTests.randomFloats(m * lda, seed: 7, range: -1...1)
        let w = ElementwiseTests.randomFloats(n * k, seed: 8, range: -1...1)
        let bias = ElementwiseTests.randomFloats(n, seed: 9, range: -1...1)
        let packed = PackedMatrixInt8(weight: w, outputs: n, inputs: k)
        var whole = [Float](repeating: .nan, count: m * ldc)
        for part in 0..<parts {
            let panels = (packed.panelCount * part / parts)..<(packed.panelCount * (part + 1) / parts)
            let columns = min(n, panels.lowerBound * 16)..<min(n, panels.upperBound * 16)
            var alone = [Float](repeating: .nan, count: m * ldc)
            #expect(Self.product(a, lda: lda, packed, ldc: ldc, m: m, panels: panels, bias: bias, kernels: kernels, into: &alone))
            for i in 0..<m {
                for j in 0..<ldc where !columns.contains(j) {
                    #expect(alone[i * ldc + j].isNaN, "\(kernels) share \(panels) wrote column \(j)")
                }
            }
            #expect(Self.product(a, lda: lda, packed, ldc: ldc, m: m, panels: panels, bias: bias, kernels: kernels, into: &whole))
        }
        let expected = Self.reference(a, lda: lda, packed, bias: bias, m: m)
        for i in 0..<m {
            for j in 0..<ldc {
                if j >= n {
                    #expect(whole[i * ldc + j].isNaN, "column \(j) beyond n was written")
                } else {
                    #expect(whole[i * ldc + j] == expected[i * n + j], "row \(i) column \(j)")
                }
            }
        }
    }

    @Test("a row's result does not depend on its batch-mates, and the two kernels give the same bits")
    func rowsIndependent() {
        let (m, n, k) = (29, 384, 384)
        var a = ElementwiseTests.randomFloats(m * k, seed: 21, range: -2...2)
        for l in 0..<k { a[3 * k + l] = 0 }  // a zero row: zero products, the bias
        a[7 * k + 5] = 400  // an outlier squeezes only its own row
        let w = ElementwiseTests.randomFloats(n * k, seed: 22, range: -0.1...0.1)
        let bias = ElementwiseTests.randomFloats(n, seed: 23, range: -1...1)
        let packed = PackedMatrixInt8(weight: w, outputs: n, inputs: k)
        var results: [[Float]] = []
        for kernels in Kernels.allCases where Self.runs(kernels) {
            var batch = [Float](repeating: 0, count: m * n)
            #expect(
                Self.product(a, lda: k, packed, ldc: n, m: m, panels: 0..<packed.panelCount, bias: bias, kernels: kernels, into: &batch))
            for row in [0, 3, 5, 7, 13, 28] {
                var alone = [Float](repeating: 0, count: n)
                let single = Array(a[(row * k)..<((row + 1) * k)])
                #expect(
                    Self.product(
                        single, lda: k, packed, ldc: n, m: 1, panels: 0..<packed.panelCount, bias: bias, kernels: kernels, into: &alone))
                #expect(Array(batch[(row * n)..<((row + 1) * n)]) == alone, "\(kernels) row \(row)")
            }
            #expect(Array(batch[(3 * n)..<(4 * n)]) == bias)
            results.append(batch)
        }
        if results.count == 2 { #expect(results[0] == results[1], "vpdpbusd and the AVX2 twin differ") }
    }
}
