import Foundation
import Testing

@testable import VectorMath

/// The fused 512-bit attention head against attention written the obvious way in double
/// precision, on the shapes the encoder meets (one token to past 256, heads of 16 to 64 floats,
/// q/k/v interleaved in one buffer as the QKV projection writes them).
@Suite("Fused attention vs the textbook formula")
struct AttentionTests {
    /// Runs whenever the CPU has AVX-512, also in the `QUIVER_KERNELS=avx2` pass (the kernels are
    /// named, not taken from the process's choice).
    @Test(
        "one head, any length", .enabled(if: Kernels.supported(.avx512), "needs an AVX-512 CPU"),
        arguments: [1, 2, 3, 4, 5, 15, 16, 17, 31, 33, 121, 256, 257], [16, 32, 64])
    func matchesReference(length: Int, headSize: Int) throws {
        #expect(VectorMath.fusedAttentionSupported(headSize: headSize, kernels: .avx512))
        let ld = 3 * headSize + 8  // q | k | v | 8 floats of gap, as interleaved projections are
        let ldc = headSize + 5
        let rows = ElementwiseTests.randomFloats(length * ld, seed: UInt64(length * 100 + headSize), range: -2...2)
        let scale = 1 / Float(headSize).squareRoot()
        var context = [Float](repeating: .nan, count: length * ldc)
        let scratchCount = VectorMath.attentionScratchCount(length: length, headSize: headSize)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCount * 4, alignment: 64)
        defer { scratch.deallocate() }
        let done = rows.withUnsafeBufferPointer { r in
            context.withUnsafeMutableBufferPointer { c in
                VectorMath.attentionHead(
                    q: r.baseAddress!, k: r.baseAddress! + headSize, v: r.baseAddress! + 2 * headSize, ld: ld,
                    length: length, headSize: headSize, scale: scale, into: c.baseAddress!, ldc: ldc,
                    scratch: scratch.bindMemory(to: Float.self, capacity: scratchCount), kernels: .avx512)
            }
        }
        #expect(done)
        var worst = 0.0
        for i in 0..<length {
            var scores = (0..<length).map { j in
                (0..<headSize).reduce(0.0) { $0 + Double(rows[i * ld + $1]) * Double(rows[j * ld + headSize + $1]) }
                    * Double(scale)
            }
            let top = scores.max() ?? 0
            scores = scores.map { Foundation.exp($0 - top) }
            let total = scores.reduce(0, +)
            for t in 0..<headSize {
                let expected = (0..<length).reduce(0.0) { $0 + scores[$1] / total * Double(rows[$1 * ld + 2 * headSize + t]) }
                worst = max(worst, abs(Double(context[i * ldc + t]) - expected))
            }
            // The gap between context rows is never written.
            for t in headSize..<ldc { #expect(context[i * ldc + t].isNaN) }
        }
        #expect(worst <= 2e-6, "worst |Δ| \(worst)")
    }

    @Test("head sizes the fused kernel does not take are refused, not computed wrong")
    func unsupportedHeadSize() {
        #expect(!VectorMath.fusedAttentionSupported(headSize: 24, kernels: .avx512))
        #expect(!VectorMath.fusedAttentionSupported(headSize: 128, kernels: .avx512))
        #expect(!VectorMath.fusedAttentionSupported(headSize: 32, kernels: .avx2))
    }
}
