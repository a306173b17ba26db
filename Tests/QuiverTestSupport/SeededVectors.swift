/// A seeded generator (splitmix64) of test numbers and vectors: the same sequence on every run.
public struct SeededVectors {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `dimensions` floats uniform in [-1, 1).
    public mutating func vector(_ dimensions: Int) -> [Float] {
        (0..<dimensions).map { _ in Float(Double(next() >> 11) * 0x1.0p-53 * 2 - 1) }
    }
}
