#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parameters of an HNSW index. Create one, then `validate()` (the index does it for you).
public struct HNSWConfiguration: Sendable, Equatable, Codable {
    /// Length of every vector.
    public var dimension: Int
    /// How vectors are compared. Default `.cosine`.
    public var metric: DistanceMetric
    /// Neighbours per node on the upper layers ("M" in the paper); the base layer keeps `2·m`.
    /// Default 16.
    public var m: Int
    /// Candidate list size while inserting ("efConstruction"). Default 200.
    public var efConstruction: Int
    /// Candidate list size for searches that do not pass `ef`. Default 64.
    public var defaultEf: Int
    /// Seed for the level generator, so builds on one thread are reproducible. Default 42.
    public var seed: UInt64
    /// Whether a cosine index walks its graph on half-precision copies of its vectors and re-ranks
    /// the candidates it found on the float vectors (the hits' distances are always the float
    /// ones). It halves the memory a search reads, for ~0.75 KB more memory per 384-dim vector;
    /// ignored for `.dot` and `.l2`, whose vectors may exceed half precision's range. Not stored in
    /// the file: an opened index uses the default. Default true.
    public var halfPrecisionWalk: Bool

    /// Whether this index keeps half-precision copies (see `halfPrecisionWalk`).
    var keepsHalves: Bool { halfPrecisionWalk && metric == .cosine }

    /// Allowed range of `dimension`.
    public static let dimensionRange = 1...65_536
    /// Allowed range of `m`.
    public static let mRange = 2...128
    /// Allowed range of `efConstruction` and `ef`.
    public static let efRange = 1...100_000

    /// Creates a configuration; all but `dimension` have the documented defaults.
    public init(
        dimension: Int, metric: DistanceMetric = .cosine, m: Int = 16, efConstruction: Int = 200,
        defaultEf: Int = 64, seed: UInt64 = 42, halfPrecisionWalk: Bool = true
    ) {
        self.dimension = dimension
        self.metric = metric
        self.m = m
        self.efConstruction = efConstruction
        self.defaultEf = defaultEf
        self.seed = seed
        self.halfPrecisionWalk = halfPrecisionWalk
    }

    enum CodingKeys: String, CodingKey {
        case dimension, metric, m, efConstruction, defaultEf, seed, halfPrecisionWalk
    }

    /// Decodes a configuration; a missing `halfPrecisionWalk` takes its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            dimension: try c.decode(Int.self, forKey: .dimension), metric: try c.decode(DistanceMetric.self, forKey: .metric),
            m: try c.decode(Int.self, forKey: .m), efConstruction: try c.decode(Int.self, forKey: .efConstruction),
            defaultEf: try c.decode(Int.self, forKey: .defaultEf), seed: try c.decode(UInt64.self, forKey: .seed),
            halfPrecisionWalk: try c.decodeIfPresent(Bool.self, forKey: .halfPrecisionWalk) ?? true)
    }

    /// Checks every parameter against its range.
    ///
    /// - Throws: `VectorIndexError.invalidParameter` naming the first bad parameter.
    public func validate() throws(VectorIndexError) {
        try Self.check("dimension", dimension, Self.dimensionRange)
        try Self.check("m", m, Self.mRange)
        try Self.check("efConstruction", efConstruction, Self.efRange)
        try Self.check("defaultEf", defaultEf, Self.efRange)
    }

    /// Links kept per node on the base layer.
    var maxLinks0: Int { 2 * m }

    /// 1 / ln(m): the level multiplier of the paper.
    var levelMultiplier: Double { 1 / log(Double(m)) }

    private static func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws(VectorIndexError) {
        guard range.contains(value) else {
            throw .invalidParameter(name: name, value: value, allowed: range)
        }
    }
}
