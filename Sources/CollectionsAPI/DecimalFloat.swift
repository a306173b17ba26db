/// The nearest `Float` to a decimal number `±significand × 10^exponent`, computed in `Double`
/// arithmetic when that provably gives the correctly rounded answer, else nil (the caller then
/// asks `strtof`, which is exact but several times slower on the 17-digit numbers that Python's
/// `json.dumps` writes).
///
/// Why it is exact when it answers: `significand` (< 2^64) becomes a double with at most one
/// rounding, the powers of ten used (up to 10^22) are exact, and one or two products or quotients
/// add at most two more roundings, so the double `d` is within 3 units in its last place (ulp) of
/// the exact value `x`. The float nearest to `x` can differ from the float nearest
/// to `d` only if a point halfway between two floats lies between `x` and `d` (or on `d`). Such a
/// point has a 25-bit significand, so in `d`'s bits it is where the 29 bits below the float's
/// last bit are exactly `1 << 28`. When `d`'s low 29 bits are more than 16 ulps from that
/// pattern (and `d` is a normal double whose float is normal and finite), no halfway point is
/// within reach, and `Float(d)` — one rounding, to nearest even — is the nearest float to `x`.
/// That rules out about one number in 16 million; those, and any other case, return nil.
enum DecimalFloat {
    /// 10^exponent for 0 ≤ exponent ≤ 22, exact as a double (10^22 is the last such power).
    @inline(__always)
    private static func power(_ exponent: Int) -> Double {
        switch exponent {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }

    /// The nearest float to `±significand × 10^exponent`, or nil when this cannot be sure.
    @inline(__always)
    static func nearest(significand: UInt64, exponent: Int, negative: Bool) -> Float? {
        if significand == 0 { return negative ? -0.0 : 0.0 }
        guard exponent >= -44, exponent <= 44 else { return nil }
        var value = Double(significand)
        if exponent >= 0 {
            if exponent > 22 {
                value *= power(22)
                value *= power(exponent - 22)
            } else {
                value *= power(exponent)
            }
        } else {
            let scale = -exponent
            if scale > 22 {
                value /= power(22)
                value /= power(scale - 22)
            } else {
                value /= power(scale)
            }
        }
        // Normal doubles whose nearest float is normal and finite only.
        guard value >= Double(Float.leastNormalMagnitude), value < Double(Float.greatestFiniteMagnitude) else { return nil }
        let low = Int(value.bitPattern & 0x1FFF_FFFF)
        guard abs(low - 0x1000_0000) > 16 else { return nil }
        let result = Float(value)
        return negative ? -result : result
    }
}
