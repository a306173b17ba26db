// Scalar twins of the SIMD distance kernels: the plain definitions the tests compare against.
// Accumulated in Double so that they are a stricter reference than the kernels themselves.

extension VectorMath {
    /// Reference inner product (`b` in float or half precision), one element at a time in `Double`.
    /// For tests.
    public static func dotScalar<B: BinaryFloatingPoint>(_ a: [Float], _ b: [B]) -> Float {
        precondition(a.count == b.count, "dotScalar: lengths differ. This is a bug.")
        var sum = 0.0
        for i in a.indices { sum += Double(a[i]) * Double(b[i]) }
        return Float(sum)
    }

    /// Reference squared Euclidean distance (`b` in float or half precision), in `Double`. For tests.
    public static func l2SquaredScalar<B: BinaryFloatingPoint>(_ a: [Float], _ b: [B]) -> Float {
        precondition(a.count == b.count, "l2SquaredScalar: lengths differ. This is a bug.")
        var sum = 0.0
        for i in a.indices {
            let d = Double(a[i]) - Double(b[i])
            sum += d * d
        }
        return Float(sum)
    }
}
