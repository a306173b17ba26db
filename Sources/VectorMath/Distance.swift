// Distance kernels for the vector index.
//
// Written with Swift SIMD types in the `acc += x * y` form and several independent accumulators:
// `addProduct` becomes a library call per lane when the target has no FMA (see
// PERFORMANCE-NOTES.md), and one accumulator serialises on the add latency. Each kernel has a
// scalar twin in `Distance+Scalar.swift` that the tests compare against.

extension VectorMath {
    /// Inner product `Σ a[i]·b[i]` of two vectors of `count` floats.
    ///
    /// - Precondition: both pointers address at least `count` floats.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var acc0 = SIMD16<Float>()
        var acc1 = SIMD16<Float>()
        var i = 0
        // 32 floats per step: two SIMD16 accumulators are four independent AVX2 chains.
        while i &+ 32 <= count {
            let x0 = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            let y0 = rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            let x1 = ra.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
            let y1 = rb.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
            acc0 += x0 * y0
            acc1 += x1 * y1
            i &+= 32
        }
        var acc8 = SIMD8<Float>()
        while i &+ 8 <= count {
            let x = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            acc8 += x * y
            i &+= 8
        }
        let acc = acc0 + acc1
        var sum = (acc.lowHalf + acc.highHalf + acc8).sum()
        while i < count {
            sum += a[i] * b[i]
            i &+= 1
        }
        return sum
    }

    /// Squared Euclidean distance `Σ (a[i] − b[i])²` of two vectors of `count` floats.
    ///
    /// - Precondition: both pointers address at least `count` floats.
    @inlinable
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var acc0 = SIMD16<Float>()
        var acc1 = SIMD16<Float>()
        var i = 0
        while i &+ 32 <= count {
            let d0 =
                ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            let d1 =
                ra.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
            acc0 += d0 * d0
            acc1 += d1 * d1
            i &+= 32
        }
        var acc8 = SIMD8<Float>()
        while i &+ 8 <= count {
            let d =
                ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            acc8 += d * d
            i &+= 8
        }
        let acc = acc0 + acc1
        var sum = (acc.lowHalf + acc.highHalf + acc8).sum()
        while i < count {
            let d = a[i] - b[i]
            sum += d * d
            i &+= 1
        }
        return sum
    }

    /// Scales `vector` in place to unit Euclidean length; a zero vector is left unchanged.
    ///
    /// - Returns: the length before scaling.
    @inlinable
    @discardableResult
    public static func normalize(_ vector: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let norm = dot(vector, vector, count: count).squareRoot()
        guard norm > 0, norm.isFinite else { return norm }
        let scale = 1 / norm
        for i in 0..<count { vector[i] *= scale }
        return norm
    }
}
