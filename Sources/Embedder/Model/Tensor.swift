/// An immutable float32 buffer owned by the model: weights are loaded once, then only read, from
/// any number of threads at once.
final class Tensor: @unchecked Sendable {
    /// The first element. Valid for `count` elements as long as this object lives.
    let pointer: UnsafePointer<Float>
    /// Number of elements.
    let count: Int
    private let storage: UnsafeMutablePointer<Float>

    /// Copies `values` into storage 64-byte aligned for vector loads.
    init(_ values: [Float]) {
        count = values.count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, values.count) * 4, alignment: 64)
        let storage = raw.bindMemory(to: Float.self, capacity: max(1, values.count))
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { storage.update(from: base, count: source.count) }
        }
        self.storage = storage
        pointer = UnsafePointer(storage)
    }

    /// Rows stacked in order: used to fuse the Q, K and V projections into one matrix product.
    convenience init(concatenating parts: [[Float]]) {
        self.init(parts.flatMap { $0 })
    }

    deinit { storage.deallocate() }
}
