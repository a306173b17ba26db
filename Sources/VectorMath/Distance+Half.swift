// Kernels against vectors stored in half precision (IEEE binary16): the vector index keeps a
// half-precision copy of normalized vectors for its graph walk, which halves the memory each
// distance reads. The query stays in float32 and every product is summed in float32; with
// `-target-cpu haswell` the conversion is one `vcvtph2ps` per 8 lanes. Scalar twins for the tests
// are in `Distance+Scalar.swift`.

extension VectorMath {
    /// Inner product `Σ a[i]·Float(b[i])` of a float vector and a half-precision one.
    ///
    /// - Precondition: both pointers address at least `count` elements.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var acc0 = SIMD8<Float>()
        var acc1 = SIMD8<Float>()
        var acc2 = SIMD8<Float>()
        var acc3 = SIMD8<Float>()
        var i = 0
        // 32 elements per step: four independent AVX2 chains.
        while i &+ 32 <= count {
            let h0 = rb.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
            let h1 = rb.loadUnaligned(fromByteOffset: (i &+ 8) &* 2, as: SIMD8<Float16>.self)
            let h2 = rb.loadUnaligned(fromByteOffset: (i &+ 16) &* 2, as: SIMD8<Float16>.self)
            let h3 = rb.loadUnaligned(fromByteOffset: (i &+ 24) &* 2, as: SIMD8<Float16>.self)
            acc0 += ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) * SIMD8<Float>(h0)
            acc1 += ra.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self) * SIMD8<Float>(h1)
            acc2 += ra.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD8<Float>.self) * SIMD8<Float>(h2)
            acc3 += ra.loadUnaligned(fromByteOffset: (i &+ 24) &* 4, as: SIMD8<Float>.self) * SIMD8<Float>(h3)
            i &+= 32
        }
        while i &+ 8 <= count {
            let h = rb.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
            acc0 += ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) * SIMD8<Float>(h)
            i &+= 8
        }
        var sum = ((acc0 + acc1) + (acc2 + acc3)).sum()
        while i < count {
            sum += a[i] * Float(b[i])
            i &+= 1
        }
        return sum
    }

    /// Squared Euclidean distance `Σ (a[i] − Float(b[i]))²` of a float vector and a half one.
    ///
    /// - Precondition: both pointers address at least `count` elements.
    @inlinable
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        var acc0 = SIMD8<Float>()
        var acc1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= count {
            let d0 =
                ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                - SIMD8<Float>(rb.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
            let d1 =
                ra.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
                - SIMD8<Float>(rb.loadUnaligned(fromByteOffset: (i &+ 8) &* 2, as: SIMD8<Float16>.self))
            acc0 += d0 * d0
            acc1 += d1 * d1
            i &+= 16
        }
        var sum = (acc0 + acc1).sum()
        while i < count {
            let d = a[i] - Float(b[i])
            sum += d * d
            i &+= 1
        }
        return sum
    }

    /// Rounds `count` floats to half precision (to nearest even; beyond ±65504 becomes ±infinity).
    ///
    /// - Precondition: both pointers address at least `count` elements.
    @inlinable
    public static func convertToHalf(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float16>, count: Int) {
        let rs = UnsafeRawPointer(source)
        let rt = UnsafeMutableRawPointer(target)
        var i = 0
        while i &+ 8 <= count {
            let x = rs.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            rt.storeBytes(of: SIMD8<Float16>(x), toByteOffset: i &* 2, as: SIMD8<Float16>.self)
            i &+= 8
        }
        while i < count {
            target[i] = Float16(source[i])
            i &+= 1
        }
    }
}
