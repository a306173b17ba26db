import VectorMath

/// How the index compares vectors. Smaller distances are nearer.
public enum DistanceMetric: UInt8, Sendable, CaseIterable, Codable {
    /// Cosine similarity. Vectors are normalized when added and queries when searched, so the
    /// distance is `1 − a·b`.
    case cosine = 1
    /// Inner product on vectors as given; the distance is `1 − a·b`.
    case dot = 2
    /// Squared Euclidean distance.
    case l2 = 3
}

/// A distance function the graph code is specialised for; chosen once per search from the metric.
protocol DistanceKernel {
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float
    /// The same distance to a vector stored in half precision.
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float
}

/// `1 − a·b`, for cosine (on normalized vectors) and dot.
enum InnerProductKernel: DistanceKernel {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        1 - VectorMath.dot(a, b, count: count)
    }

    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        1 - VectorMath.dot(a, b, count: count)
    }
}

/// Squared Euclidean distance.
enum L2Kernel: DistanceKernel {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        VectorMath.l2Squared(a, b, count: count)
    }

    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count: Int) -> Float {
        VectorMath.l2Squared(a, b, count: count)
    }
}

/// Where a graph walk reads vectors: the float vectors, or their half-precision copies. Specialised
/// per walk, so the choice costs nothing inside the loop.
protocol VectorSpace {
    /// Distance from the walk's query to `node`'s vector.
    func distance(_ node: Int) -> Float
    /// Start of `node`'s vector, for prefetching.
    func address(_ node: Int) -> UnsafeRawPointer
    /// Bytes of one vector.
    var vectorBytes: Int { get }
}

/// The float vectors (construction, exact re-ranking, and indexes without half copies).
struct FloatSpace<K: DistanceKernel>: VectorSpace {
    let query: UnsafePointer<Float>
    let vectors: UnsafeMutablePointer<Float>
    let dimension: Int
    @inline(__always) func distance(_ node: Int) -> Float { K.distance(query, vectors + node &* dimension, count: dimension) }
    @inline(__always) func address(_ node: Int) -> UnsafeRawPointer { UnsafeRawPointer(vectors + node &* dimension) }
    var vectorBytes: Int { dimension &* MemoryLayout<Float>.stride }
}

/// The half-precision copies (searches of a cosine index that keeps them).
struct HalfSpace<K: DistanceKernel>: VectorSpace {
    let query: UnsafePointer<Float>
    let halves: UnsafeMutablePointer<Float16>
    let dimension: Int
    @inline(__always) func distance(_ node: Int) -> Float { K.distance(query, halves + node &* dimension, count: dimension) }
    @inline(__always) func address(_ node: Int) -> UnsafeRawPointer { UnsafeRawPointer(halves + node &* dimension) }
    var vectorBytes: Int { dimension &* MemoryLayout<Float16>.stride }
}

extension DistanceMetric {
    /// The distance between two stored (already prepared) vectors.
    func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        switch self {
        case .cosine, .dot: InnerProductKernel.distance(a, b, count: count)
        case .l2: L2Kernel.distance(a, b, count: count)
        }
    }
}
