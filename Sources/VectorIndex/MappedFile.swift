#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only. Unmapped when the last reference goes.
final class MappedFile: @unchecked Sendable {
    /// First byte of the mapping (never written through).
    let base: UnsafeMutableRawPointer
    /// Length of the file and the mapping in bytes.
    let size: Int
    let path: String

    /// Maps `path`; an empty file cannot be mapped and is reported as truncated.
    init(path: String) throws(VectorIndexError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        let size = Int(info.st_size)
        guard size > 0 else { throw .truncated(path: path, expectedBytes: UInt64(IndexFileFormat.headerBytes), actualBytes: 0) }
        let address = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { throw .io(operation: "mmap", path: path, errno: errno) }
        base = address
        self.size = size
    }

    deinit { munmap(base, size) }
}
