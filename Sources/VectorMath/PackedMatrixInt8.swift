import CKernels

/// A dense layer's weight `[n, k]` quantized to int8 once, symmetric per output column, and
/// packed for ``VectorMath/matmulPackedInt8(_:lda:_:into:ldc:m:panels:bias:kernels:)``: panels of
/// 16 output columns, each holding for every quad of inputs the 16 columns' four int8 values side
/// by side (the operand layout of `vpdpbusd`), with each column's scale and offset correction.
/// A quarter of the bytes of the fp32 packing.
public final class PackedMatrixInt8: @unchecked Sendable {
    /// Outputs (`n`).
    public let outputs: Int
    /// Inputs (`k`).
    public let inputs: Int
    /// Number of panels, `⌈outputs / 16⌉`.
    public let panelCount: Int
    /// `panelCount × ⌈inputs / 4⌉ × 64` int8 values, 64-byte aligned; immutable after `init`.
    let storage: UnsafeMutablePointer<Int8>
    /// `panelCount × 16` column scales (`max|w| / 127`; 0 for padding and all-zero columns).
    let scales: UnsafeMutablePointer<Float>
    /// `panelCount × 16` corrections `128 · Σ q` (the activations' unsigned offset).
    let corrections: UnsafeMutablePointer<Int32>

    /// Quantizes and packs `weight`, a row-major `[outputs, inputs]` matrix. Both sizes must be
    /// positive.
    public init(weight: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0, "PackedMatrixInt8 needs positive sizes")
        self.outputs = outputs
        self.inputs = inputs
        panelCount = (outputs + PackedMatrix.panelWidth - 1) / PackedMatrix.panelWidth
        let count = panelCount * ((inputs + 3) / 4) * 4 * PackedMatrix.panelWidth
        storage = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64).bindMemory(to: Int8.self, capacity: count)
        let columns = panelCount * PackedMatrix.panelWidth
        scales = .allocate(capacity: columns)
        corrections = .allocate(capacity: columns)
        quiver_int8_pack(weight, outputs, inputs, storage, scales, corrections)
    }

    /// Bytes of packed storage (the weights, scales and corrections).
    public var byteCount: Int {
        panelCount * ((inputs + 3) / 4) * 4 * PackedMatrix.panelWidth + panelCount * PackedMatrix.panelWidth * 8
    }

    /// Column `n`'s scale: a quantized weight `q` stands for `q · scale`.
    public func scale(ofColumn n: Int) -> Float { scales[n] }

    /// The quantized weight of output `n`, input `j`.
    public func quantized(row n: Int, input j: Int) -> Int8 {
        let quads = (inputs + 3) / 4
        let panel = n / PackedMatrix.panelWidth
        let lane = n % PackedMatrix.panelWidth
        return storage[(panel * quads + j / 4) * PackedMatrix.panelWidth * 4 + lane * 4 + j % 4]
    }

    deinit {
        storage.deallocate()
        scales.deallocate()
        corrections.deallocate()
    }
}

extension VectorMath {
    /// `C[m × cols] = q(A) · q(W)ᵀ` dequantized `(+ bias)` for the output columns of `panels`:
    /// each row of `A` is quantized to int8 on its own (symmetric, `127 / max|row|`), so a row's
    /// result never depends on its batch-mates; the int32 sums are exact and dequantized with the
    /// bias in one fused multiply-add. With ``Kernels/avx512`` on a CPU with AVX512_VNNI the
    /// products are `vpdpbusd`; otherwise an AVX2 twin gives the same bits. Only columns inside
    /// `panels` are written. Returns false, writing nothing, when the kernel's scratch buffer
    /// (the quantized rows, at most ~256 KB) could not be allocated.
    @discardableResult
    public static func matmulPackedInt8(
        _ a: UnsafePointer<Float>, lda: Int, _ w: PackedMatrixInt8, into c: UnsafeMutablePointer<Float>, ldc: Int,
        m: Int, panels: Range<Int>, bias: UnsafePointer<Float>?, kernels: Kernels = Kernels.active
    ) -> Bool {
        guard m > 0 else { return true }
        let clamped = panels.clamped(to: 0..<w.panelCount)
        let native: Int32 = kernels == .avx512 && Kernels.hasVNNI ? 1 : 0
        return quiver_gemm_packed_int8(
            a, lda, w.storage, w.scales, w.corrections, w.panelCount, w.outputs, w.inputs, bias, c, ldc, m, clamped.lowerBound,
            clamped.upperBound, native) == 0
    }

    /// A row quantized as the int8 GEMM quantizes it: the values `q` in -127…127 and the scale
    /// (`x ≈ q · scale`). Tests build the exact reference from it.
    public static func quantizedInt8(_ row: [Float]) -> (values: [Int8], scale: Float) {
        let padded = Swift.max(1, row.count)
        var bytes = [UInt8](repeating: 0, count: padded)
        var rowScale: Float = 0
        row.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBufferPointer { out in
                rowScale = quiver_int8_quantize_row(source.baseAddress, row.count, out.baseAddress, padded)
            }
        }
        return (bytes.prefix(row.count).map { Int8(Int($0) - 128) }, rowScale)
    }
}
