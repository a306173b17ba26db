/// Everything that can go wrong in the vector index, with the values needed to explain it.
public enum VectorIndexError: Error, Equatable, Sendable {
    /// A parameter of `HNSWConfiguration` is out of its allowed range.
    case invalidParameter(name: String, value: Int, allowed: ClosedRange<Int>)
    /// A vector's length differs from the index dimension.
    case dimensionMismatch(expected: Int, actual: Int)
    /// A vector contains NaN or infinity.
    case nonFiniteVector(label: UInt64)
    /// A query contains NaN or infinity.
    case nonFiniteQuery
    /// The index was opened read-only and cannot change.
    case readOnly
    /// The label is not in the index (never added, or removed).
    case labelNotFound(UInt64)
    /// The index cannot hold more vectors (slots are 32-bit).
    case capacityExceeded(limit: Int)
    /// `k` or `ef` given to a search is not positive.
    case invalidSearchParameter(name: String, value: Int)
    /// The labels and vectors given to a batch add differ in number.
    case batchSizeMismatch(labels: Int, vectors: Int)
    /// The file could not be opened, read, written, synced or renamed; `errno` is the OS error.
    case io(operation: String, path: String, errno: Int32)
    /// The file does not start with the index magic: it is not an index file.
    case notAnIndexFile(path: String)
    /// The file was written by a format version this build cannot read.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The file is shorter than its header and sections say it should be.
    case truncated(path: String, expectedBytes: UInt64, actualBytes: UInt64)
    /// A checksum does not match: the named part of the file is corrupted.
    case checksumMismatch(section: String)
    /// A header field or section holds a value that cannot be right (the file is corrupted).
    case corrupted(reason: String)
}
