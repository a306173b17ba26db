// Vectorized element-wise kernels of the encoder: exp, erf, GELU, softmax, LayerNorm, L2 norm.
//
// Each kernel works on `SIMD16<Float>` chunks with a scalar tail, and has a scalar twin in the
// tests (`ElementwiseTests`) built on the C library's `expf`/`erff`. Accuracy targets float32:
// `exp` within ~2 ulp, `erf` within 2e-7 absolute, which keeps the encoder within the reference's
// float32 noise (golden-fixture tests check the end result).

import CKernels

public typealias Float16x = SIMD16<Float>

extension VectorMath {
    // MARK: exp

    /// e^x for 16 lanes: range reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 Taylor
    /// polynomial for e^r, and 2^n built in the exponent bits. Inputs are clamped to
    /// [-87.3, 88.3], the range where the result is a normal float.
    @inlinable @inline(__always)
    public static func exp(_ x: Float16x) -> Float16x {
        // Element-wise select instead of `clamped`/`rounded`/Int conversion: those generic SIMD
        // members are not lowered to vector instructions and ran ~20x slower (perf, this machine).
        var clamped = x.replacing(with: -87.3, where: x .< -87.3)
        clamped = clamped.replacing(with: 88.3, where: clamped .> 88.3)
        // Adding 1.5·2²³ rounds to the nearest integer n and leaves n in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        // ln 2 split in a high part exact in float and a low correction (Cody–Waite).
        let r = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
        var p: Float16x = Float16x(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let nBits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let scaleBits = (nBits &+ 127) &<< 23
        return p * unsafeBitCast(scaleBits, to: Float16x.self)
    }

    /// e^x for one float with the same arithmetic as the vector version.
    @inlinable
    public static func exp(_ x: Float) -> Float { exp(Float16x(repeating: x))[0] }

    // MARK: erf

    /// erf(x) for 16 lanes, within 3e-7 absolute of the true value: a Maclaurin series below
    /// |x| = 0.5 (where the tail form below loses bits to cancellation), Abramowitz & Stegun 7.1.26
    /// (|error| ≤ 1.5e-7 in exact arithmetic) above.
    @inlinable @inline(__always)
    public static func erf(_ x: Float16x) -> Float16x {
        let ax = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * ax)
        var poly = Float16x(repeating: 1.061_405_429)
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        poly = poly * t
        var tail = 1 - poly * exp(-ax * ax)
        tail = tail.replacing(with: -tail, where: x .< 0)
        // 2/√π · (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
        let x2 = x * x
        var series = Float16x(repeating: -1.0 / 1320)
        series = series * x2 + 1.0 / 216
        series = series * x2 - 1.0 / 42
        series = series * x2 + 1.0 / 10
        series = series * x2 - 1.0 / 3
        series = series * x2 + 1
        series = series * x * 1.128_379_17
        return tail.replacing(with: series, where: ax .< 0.5)
    }

    /// erf(x) for one float with the same arithmetic as the vector version.
    @inlinable
    public static func erf(_ x: Float) -> Float { erf(Float16x(repeating: x))[0] }

    // MARK: GELU

    /// In place: x ← x·½·(1 + erf(x/√2)), the exact ("erf") GELU of BERT's feed-forward layer.
    /// With the AVX-512 kernels the same arithmetic runs in 512-bit C code (`quiver_gelu_avx512`,
    /// with fused multiply-adds, so the two paths agree to float rounding, not to the bit).
    public static func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, kernels: Kernels = Kernels.active) {
        if kernels == .avx512, Kernels.supported(.avx512) {
            quiver_gelu_avx512(x, count)
            return
        }
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self)
            let g = v * 0.5 * (1 + erf(v * 0.707_106_78))
            UnsafeMutableRawPointer(x + i).storeBytes(of: g, as: Float16x.self)
            i += 16
        }
        while i < count {
            let v = x[i]
            x[i] = v * 0.5 * (1 + erf(v * 0.707_106_78))
            i += 1
        }
    }

    // MARK: softmax

    /// In place, one row: x ← exp(x − max x) / Σ exp(x − max x).
    public static func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let maxValue = max(x, count: count)
        var sum: Float = 0
        var vsum = Float16x()
        var i = 0
        while i + 16 <= count {
            let e = exp(UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self) - maxValue)
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: Float16x.self)
            vsum += e
            i += 16
        }
        while i < count {
            let e = exp(x[i] - maxValue)
            x[i] = e
            sum += e
            i += 1
        }
        sum += vsum.sum()
        scale(x, count: count, by: 1 / sum)
    }

    /// The largest element of a non-empty row.
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var best = Float16x(repeating: -.infinity)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self)
            best = best.replacing(with: v, where: v .> best)
            i += 16
        }
        var result = best.max()
        while i < count {
            result = Swift.max(result, x[i])
            i += 1
        }
        return result
    }

    /// In place: x ← x · factor.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self) * factor
            UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: Float16x.self)
            i += 16
        }
        while i < count {
            x[i] *= factor
            i += 1
        }
    }

    /// In place: x ← x + y.
    public static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v =
                UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self)
                + UnsafeRawPointer(y + i).loadUnaligned(as: Float16x.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: Float16x.self)
            i += 16
        }
        while i < count {
            x[i] += y[i]
            i += 1
        }
    }

    /// Sum of a row, accumulated in four independent vector lanes-groups.
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = Float16x()
        var i = 0
        while i + 16 <= count {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self)
            i += 16
        }
        var result = acc.sum()
        while i < count {
            result += x[i]
            i += 1
        }
        return result
    }

    // MARK: LayerNorm

    /// In place, every row of a `rows × width` matrix:
    /// x ← (x − mean) / √(var + eps) · gamma + beta, with the biased variance, as PyTorch computes it.
    public static func layerNormInPlace(
        _ x: UnsafeMutablePointer<Float>, rows: Int, width: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float
    ) {
        guard width > 0 else { return }
        let invWidth = 1 / Float(width)
        for r in 0..<rows {
            let row = x + r * width
            let mean = sum(row, count: width) * invWidth
            var acc = Float16x()
            var i = 0
            while i + 16 <= width {
                let d = UnsafeRawPointer(row + i).loadUnaligned(as: Float16x.self) - mean
                acc += d * d
                i += 16
            }
            var variance = acc.sum()
            while i < width {
                let d = row[i] - mean
                variance += d * d
                i += 1
            }
            variance *= invWidth
            let inv = 1 / (variance + eps).squareRoot()
            i = 0
            while i + 16 <= width {
                let v = (UnsafeRawPointer(row + i).loadUnaligned(as: Float16x.self) - mean) * inv
                let g = UnsafeRawPointer(gamma + i).loadUnaligned(as: Float16x.self)
                let b = UnsafeRawPointer(beta + i).loadUnaligned(as: Float16x.self)
                UnsafeMutableRawPointer(row + i).storeBytes(of: v * g + b, as: Float16x.self)
                i += 16
            }
            while i < width {
                row[i] = (row[i] - mean) * inv * gamma[i] + beta[i]
                i += 1
            }
        }
    }

    // MARK: L2 norm

    /// In place: x ← x / max(‖x‖₂, 1e-12), as `torch.nn.functional.normalize` does.
    public static func l2NormalizeInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var acc = Float16x()
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Float16x.self)
            acc += v * v
            i += 16
        }
        var squares = acc.sum()
        while i < count {
            squares += x[i] * x[i]
            i += 1
        }
        scale(x, count: count, by: 1 / Swift.max(squares.squareRoot(), 1e-12))
    }
}
