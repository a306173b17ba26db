import Testing

@testable import VectorMath

@Suite("Distance kernels against their scalar twins")
struct DistanceTests {
    /// Lengths around every loop boundary of the kernels (32-, 8- and 1-wide steps).
    static let lengths = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 100, 384, 385, 768, 1000]

    func vectors(_ n: Int, seed: UInt64) -> ([Float], [Float]) {
        var state = seed
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        return ((0..<n).map { _ in next() }, (0..<n).map { _ in next() })
    }

    @Test("dot equals the scalar dot", arguments: lengths)
    func dot(length: Int) {
        let (a, b) = vectors(length, seed: UInt64(length) + 1)
        let simd = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                VectorMath.dot(
                    pa.baseAddress ?? UnsafePointer(bitPattern: 16)!, pb.baseAddress ?? UnsafePointer(bitPattern: 16)!, count: length)
            }
        }
        #expect(abs(simd - VectorMath.dotScalar(a, b)) <= 1e-5 * Float(max(length, 1)))
    }

    @Test("l2Squared equals the scalar distance", arguments: lengths)
    func l2(length: Int) {
        let (a, b) = vectors(length, seed: UInt64(length) + 101)
        let simd = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                VectorMath.l2Squared(
                    pa.baseAddress ?? UnsafePointer(bitPattern: 16)!, pb.baseAddress ?? UnsafePointer(bitPattern: 16)!, count: length)
            }
        }
        #expect(abs(simd - VectorMath.l2SquaredScalar(a, b)) <= 1e-5 * Float(max(length, 1)))
    }

    @Test("half-precision dot, l2 and conversion equal their scalar twins", arguments: lengths)
    func half(length: Int) {
        let (a, b) = vectors(length, seed: UInt64(length) + 201)
        let scalarHalves = b.map { Float16($0) }
        var halves = [Float16](repeating: 0, count: length)
        b.withUnsafeBufferPointer { pb in
            halves.withUnsafeMutableBufferPointer { ph in
                if let source = pb.baseAddress, let target = ph.baseAddress {
                    VectorMath.convertToHalf(source, target, count: length)
                }
            }
        }
        #expect(halves.map(\.bitPattern) == scalarHalves.map(\.bitPattern), "SIMD and scalar rounding differ")
        let (dot, l2) = a.withUnsafeBufferPointer { pa in
            halves.withUnsafeBufferPointer { ph in
                let x = pa.baseAddress ?? UnsafePointer(bitPattern: 16)!
                let y = ph.baseAddress ?? UnsafePointer(bitPattern: 16)!
                return (VectorMath.dot(x, y, count: length), VectorMath.l2Squared(x, y, count: length))
            }
        }
        #expect(abs(dot - VectorMath.dotScalar(a, halves)) <= 1e-5 * Float(max(length, 1)))
        #expect(abs(l2 - VectorMath.l2SquaredScalar(a, halves)) <= 1e-5 * Float(max(length, 1)))
        // Half precision keeps ~3 decimal digits: against the float vector the dot moves little.
        #expect(abs(dot - VectorMath.dotScalar(a, b)) <= 1e-3 * Float(max(length, 1)))
    }

    @Test("unaligned pointers give the same result")
    func unaligned() {
        let (a, b) = vectors(400, seed: 9)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for offset in 0..<8 {
                    let expected = VectorMath.dotScalar(Array(a[offset..<(offset + 384)]), Array(b[offset..<(offset + 384)]))
                    let got = VectorMath.dot(pa.baseAddress! + offset, pb.baseAddress! + offset, count: 384)
                    #expect(abs(got - expected) < 1e-3)
                }
            }
        }
    }

    @Test("normalize gives unit length and leaves zero alone")
    func normalize() {
        var v: [Float] = [3, 4, 0, 0, 0, 0, 0, 0, 12]
        v.withUnsafeMutableBufferPointer { p in _ = VectorMath.normalize(p.baseAddress!, count: p.count) }
        #expect(abs(VectorMath.dotScalar(v, v) - 1) < 1e-6)
        var zero = [Float](repeating: 0, count: 5)
        zero.withUnsafeMutableBufferPointer { p in _ = VectorMath.normalize(p.baseAddress!, count: p.count) }
        #expect(zero == [0, 0, 0, 0, 0])
    }
}
