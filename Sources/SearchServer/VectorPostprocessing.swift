import Foundation

/// What the embedding routes do to a model vector before returning it.
enum VectorPostprocessing {
    /// Keeps the first `dimensions` components (Matryoshka-style) and, when `normalize`, rescales
    /// to unit length. A zero vector stays zero.
    static func apply(_ vector: [Float], dimensions: Int?, normalize: Bool) -> [Float] {
        var result = vector
        if let dimensions, dimensions < result.count, dimensions >= 0 {
            result.removeLast(result.count - dimensions)
        }
        if normalize {
            var sum: Double = 0
            for x in result { sum += Double(x) * Double(x) }
            let norm = sum.squareRoot()
            if norm > 0 {
                let scale = Float(1 / norm)
                for i in result.indices { result[i] *= scale }
            }
        }
        return result
    }

    /// Base64 of the vector as little-endian float32, as OpenAI's `encoding_format: "base64"`.
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for x in vector {
            let bits = x.bitPattern.littleEndian
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
        }
        return Data(bytes).base64EncodedString()
    }

    /// Validates a requested `dimensions` against the model's.
    static func checkDimensions(_ dimensions: Int?, modelDimension: Int) throws(APIError) {
        guard let dimensions else { return }
        guard (1...modelDimension).contains(dimensions) else {
            throw .invalidRequest("dimensions must be in 1...\(modelDimension) (got \(dimensions))")
        }
    }
}
