import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only, memory-mapped `.safetensors` file.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON mapping tensor names to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the end of the header),
/// then the tensor bytes. Every length, shape and offset is validated before any byte is read, so a
/// truncated or hostile file yields ``EmbedderError`` rather than a crash.
public final class SafeTensorsFile: @unchecked Sendable {
    /// One tensor's entry in the header.
    public struct TensorInfo: Sendable, Equatable {
        /// The element type as written in the file (`F32`, `F16`, `BF16`, `I64`, ...).
        public var dtype: String
        /// The tensor's shape, outermost dimension first.
        public var shape: [Int]
        /// Byte range of the data, relative to the start of the data section.
        public var range: Range<Int>
    }

    /// The path the file was opened from (for error messages).
    public let path: String
    /// Every tensor in the file, by name.
    public let tensors: [String: TensorInfo]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataOffset: Int

    /// Largest header accepted: real headers are kilobytes; this bounds memory on hostile input.
    static let maxHeaderBytes = 100 << 20

    /// Maps `url` and validates its header. The mapping stays alive as long as this object.
    public init(url: URL) throws(EmbedderError) {
        let path = url.path
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missingFile(path: path) }
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadableFile(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw .malformedFile(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .unreadableFile(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let (tensors, dataOffset) = try Self.parseHeader(base: base, size: size, path: path)
            self.tensors = tensors
            self.dataOffset = dataOffset
        } catch {
            munmap(mapped, size)
            throw error
        }
        self.base = base
        self.mappedLength = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedLength)
    }

    /// Byte size of one element of `dtype`, or nil for dtypes this reader does not know.
    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": 8
        case "F32", "I32", "U32": 4
        case "F16", "BF16", "I16", "U16": 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": 1
        default: nil
        }
    }

    private static func parseHeader(
        base: UnsafeRawPointer, size: Int, path: String
    ) throws(EmbedderError) -> ([String: TensorInfo], Int) {
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(size - 8) else {
            throw .malformedFile(path: path, reason: "header length \(declared) runs past the end of the \(size)-byte file (truncated?)")
        }
        guard declared <= UInt64(maxHeaderBytes) else {
            throw .malformedFile(path: path, reason: "header length \(declared) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let headerLength = Int(declared)
        let headerData = Data(bytes: base + 8, count: headerLength)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw .malformedFile(path: path, reason: "header is not valid JSON")
        }
        guard let entries = object as? [String: Any] else {
            throw .malformedFile(path: path, reason: "header is not a JSON object")
        }
        let dataOffset = 8 + headerLength
        let dataSize = size - dataOffset
        var tensors: [String: TensorInfo] = [:]
        for (name, value) in entries where name != "__metadata__" {
            tensors[name] = try parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }
        // The format forbids tensors sharing bytes; a header that declares it was damaged or forged.
        let ranges = tensors.filter { !$0.value.range.isEmpty }.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.value.range.upperBound > b.value.range.lowerBound {
            throw .malformedFile(path: path, reason: "tensors \(a.key) \(a.value.range) and \(b.key) \(b.value.range) overlap")
        }
        return (tensors, dataOffset)
    }

    private static func parseEntry(
        name: String, value: Any, dataSize: Int, path: String
    ) throws(EmbedderError) -> TensorInfo {
        func bad(_ reason: String) -> EmbedderError {
            .malformedFile(path: path, reason: "tensor \(name): \(reason)")
        }
        guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dtype = entry["dtype"] as? String else { throw bad("missing dtype") }
        guard let rawShape = entry["shape"] as? [Any], let shape = intArray(rawShape),
            shape.allSatisfy({ $0 >= 0 })
        else {
            throw bad("shape is not a list of non-negative integers")
        }
        guard let rawOffsets = entry["data_offsets"] as? [Any], let offsets = intArray(rawOffsets),
            offsets.count == 2
        else {
            throw bad("data_offsets is not a pair of integers")
        }
        let begin = offsets[0]
        let end = offsets[1]
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw bad("data_offsets [\(begin), \(end)] lie outside the \(dataSize)-byte data section")
        }
        // The element count must fit whatever the dtype: `floats` computes it before it looks at
        // the dtype (libFuzzer found an unknown dtype with shape [2³², 2³², 2³²] trapping there).
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw bad("shape \(shape) overflows") }
            count = product
        }
        if let width = elementSize(dtype) {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow, bytes == end - begin else {
                throw bad("shape \(shape) of \(dtype) needs \(count)×\(width) bytes, data_offsets hold \(end - begin)")
            }
        }
        return TensorInfo(dtype: dtype, shape: shape, range: begin..<end)
    }

    private static func intArray(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            // JSONSerialization yields NSNumber; reject non-integral and out-of-range numbers.
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 1e15 else { return nil }
            result.append(Int(double))
        }
        return result
    }

    /// Returns the tensor `name` as float32 values, converting F16 and BF16, after checking that
    /// its shape is `expected`.
    public func floats(_ name: String, shape expected: [Int]) throws(EmbedderError) -> [Float] {
        guard let info = tensors[name] else { throw .missingTensor(name: name) }
        guard info.shape == expected else {
            throw .tensorShapeMismatch(name: name, expected: expected, actual: info.shape)
        }
        let start = base + dataOffset + info.range.lowerBound
        let count = expected.reduce(1, *)
        switch info.dtype {
        case "F32":
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(start: start, count: count * 4))
                for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: buffer[i].bitPattern)) }
                initialized = count
            }
        case "F16":
            return (0..<count).map { i in
                Float(Float16(bitPattern: UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        case "BF16":
            return (0..<count).map { i in
                Float(bitPattern: UInt32(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            }
        default:
            throw .unsupportedDType(tensor: name, dtype: info.dtype)
        }
    }
}
