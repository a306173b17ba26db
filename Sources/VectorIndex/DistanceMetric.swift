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
}

/// `1 − a·b`, for cosine (on normalized vectors) and dot.
enum InnerProductKernel: DistanceKernel {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        1 - VectorMath.dot(a, b, count: count)
    }
}

/// Squared Euclidean distance.
enum L2Kernel: DistanceKernel {
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        VectorMath.l2Squared(a, b, count: count)
    }
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
