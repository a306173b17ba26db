import Foundation
import Testing

@testable import VectorMath

/// Each vector kernel against a scalar twin written the obvious way with the C library.
@Suite("Element-wise kernels vs scalar twins")
struct ElementwiseTests {
    /// Deterministic pseudo-random floats (SplitMix64), so failures reproduce.
    static func randomFloats(_ count: Int, seed: UInt64, range: ClosedRange<Float>) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let unit = Float(z >> 40) / Float(1 << 24)
            return range.lowerBound + unit * (range.upperBound - range.lowerBound)
        }
    }

    @Test("exp within 2 ulp of expf over [-87, 88]")
    func expMatchesLibm() {
        let xs = Self.randomFloats(100_000, seed: 1, range: -87...88) + [0, -0.0, 1, -1, 1e-8, 88.0, -87.2]
        for x in xs {
            let expected = Foundation.exp(x)
            let got = VectorMath.exp(x)
            #expect(abs(got - expected) <= 2 * expected.ulp, "exp(\(x)) = \(got), libm \(expected)")
        }
    }

    @Test("exp saturates instead of producing inf or NaN for out-of-range inputs")
    func expClamps() {
        #expect(VectorMath.exp(-1000) >= 0)
        #expect(VectorMath.exp(-1000) < 1e-37)
        #expect(VectorMath.exp(1000).isFinite)
    }

    @Test("erf within 3e-7 of erff over [-6, 6]")
    func erfMatchesLibm() {
        let xs = Self.randomFloats(100_000, seed: 2, range: -6...6) + [0, 1e-6, -1e-6, 3.9, -3.9]
        var worst: Float = 0
        for x in xs { worst = max(worst, abs(VectorMath.erf(x) - Foundation.erf(x))) }
        #expect(worst <= 3e-7, "worst |Δ| \(worst)")
    }

    /// Both kernel sets where this CPU has them (the AVX-512 one is C with fused multiply-adds),
    /// each against the double-precision formula.
    @Test(
        "GELU, any length (vector body and tail), on each kernel set",
        arguments: [1, 15, 16, 17, 1536, 1537], Kernels.allCases.filter(Kernels.supported))
    func gelu(count: Int, kernels: Kernels) {
        let xs = Self.randomFloats(count, seed: UInt64(count), range: -8...8) + [0, -0.0, 0.4999, 0.5, -0.5, 30, -30]
        var ys = xs
        ys.withUnsafeMutableBufferPointer { VectorMath.geluInPlace($0.baseAddress!, count: $0.count, kernels: kernels) }
        for (x, y) in zip(xs, ys) {
            let expected = Double(x) * 0.5 * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(y) - expected) <= 3e-7 * max(1, abs(expected)), "gelu(\(x)) = \(y) on \(kernels)")
        }
    }

    @Test("softmax sums to 1 and matches the double-precision formula", arguments: [1, 7, 16, 33, 256])
    func softmax(count: Int) {
        let xs = Self.randomFloats(count, seed: 10 + UInt64(count), range: -30...30)
        var ys = xs
        ys.withUnsafeMutableBufferPointer { VectorMath.softmaxInPlace($0.baseAddress!, count: count) }
        let m = Double(xs.max() ?? 0)
        let denominator = xs.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
        for (x, y) in zip(xs, ys) {
            let expected = Foundation.exp(Double(x) - m) / denominator
            #expect(abs(Double(y) - expected) <= 1e-6 * max(expected, 1e-3))
        }
        #expect(abs(ys.reduce(0, +) - 1) < 1e-5)
    }

    @Test("LayerNorm matches the two-pass double-precision formula", arguments: [1, 3])
    func layerNorm(rows: Int) {
        let width = 384
        let xs = Self.randomFloats(rows * width, seed: 20, range: -5...5)
        let gamma = Self.randomFloats(width, seed: 21, range: 0.5...1.5)
        let beta = Self.randomFloats(width, seed: 22, range: -1...1)
        var ys = xs
        ys.withUnsafeMutableBufferPointer {
            VectorMath.layerNormInPlace($0.baseAddress!, rows: rows, width: width, gamma: gamma, beta: beta, eps: 1e-12)
        }
        for r in 0..<rows {
            let row = xs[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
            for j in 0..<width {
                let expected = (row[j] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[j]) + Double(beta[j])
                #expect(abs(Double(ys[r * width + j]) - expected) < 1e-5)
            }
        }
    }

    @Test("L2 normalization gives unit length; the zero vector stays zero")
    func normalize() {
        var v = Self.randomFloats(384, seed: 30, range: -1...1)
        v.withUnsafeMutableBufferPointer { VectorMath.l2NormalizeInPlace($0.baseAddress!, count: 384) }
        #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        var zero = [Float](repeating: 0, count: 17)
        zero.withUnsafeMutableBufferPointer { VectorMath.l2NormalizeInPlace($0.baseAddress!, count: 17) }
        #expect(zero.allSatisfy { $0 == 0 })
    }

    @Test("matmulTransposedB with bias and strides matches a naive triple loop")
    func gemm() {
        let m = 5
        let n = 7
        let k = 9
        let a = Self.randomFloats(m * k, seed: 40, range: -1...1)
        let b = Self.randomFloats(n * k, seed: 41, range: -1...1)
        let bias = Self.randomFloats(n, seed: 42, range: -1...1)
        var c = [Float](repeating: .nan, count: m * n)
        c.withUnsafeMutableBufferPointer {
            VectorMath.matmulTransposedB(a, b, into: $0.baseAddress!, m: m, n: n, k: k, bias: bias)
        }
        for i in 0..<m {
            for j in 0..<n {
                var expected = Double(bias[j])
                for l in 0..<k { expected += Double(a[i * k + l]) * Double(b[j * k + l]) }
                #expect(abs(Double(c[i * n + j]) - expected) < 1e-5)
            }
        }
    }
}
