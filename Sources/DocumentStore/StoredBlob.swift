import Foundation

/// How vectors and passage spans are stored as bytes, by every store backend: vectors as
/// little-endian float32, spans as little-endian int32 start and end per passage.
public enum StoredBlob {
    /// A vector's bytes.
    public static func bytes(_ vector: [Float]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for x in vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Spans' bytes (offsets beyond Int32 are clamped; the engine's limits keep them far below).
    public static func bytes(_ spans: [ChunkSpan]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(spans.count * 8)
        for span in spans {
            for value in [span.start, span.end] {
                withUnsafeBytes(of: Int32(clamping: value).littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }

    /// The floats of a vector blob, or nil when its length is not a multiple of 4 or not
    /// `4 × dimensions` (when given).
    public static func floats(_ raw: UnsafeRawBufferPointer, dimensions: Int?) -> [Float]? {
        guard raw.count % 4 == 0, dimensions.map({ raw.count == $0 * 4 }) ?? true else { return nil }
        return (0..<(raw.count / 4)).map { i in
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        }
    }

    /// The spans of a spans blob, or nil when it is empty, not a multiple of 8 bytes, or holds a
    /// span out of order.
    public static func spans(_ raw: UnsafeRawBufferPointer) -> [ChunkSpan]? {
        guard raw.count % 8 == 0, raw.count > 0 else { return nil }
        let spans = (0..<(raw.count / 8)).map { i in
            ChunkSpan(
                start: Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int32.self))),
                end: Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: Int32.self))))
        }
        return spans.allSatisfy({ $0.start >= 0 && $0.start <= $0.end }) ? spans : nil
    }

    /// A stored row's passages from its spans and passage-vector blobs (read through `access`,
    /// which hands each blob's bytes over, nil for NULL): nil when the row has no spans.
    ///
    /// - Throws: `.corrupted` at `path` for a malformed blob or a vector blob that does not hold
    ///   one vector of `dimensions` per span.
    public static func chunks(
        spans: UnsafeRawBufferPointer?, vectors: UnsafeRawBufferPointer?, dimensions: Int, withVectors: Bool, path: String
    ) throws(DocumentStoreError) -> ChunkVectors? {
        guard let spans else { return nil }
        guard let decoded = Self.spans(spans) else {
            throw .corrupted(path: path, reason: "chunk spans blob of \(spans.count) bytes, or a span out of order")
        }
        guard withVectors else { return ChunkVectors(spans: decoded, flat: []) }
        guard let vectors, vectors.count == decoded.count * dimensions * 4, let flat = floats(vectors, dimensions: nil) else {
            throw .corrupted(path: path, reason: "chunk vectors blob of \(vectors?.count ?? 0) bytes for \(decoded.count) spans")
        }
        return ChunkVectors(spans: decoded, flat: flat)
    }
}
