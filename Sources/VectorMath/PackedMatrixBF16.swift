import CKernels

/// The arithmetic of an encoder's dense layers.
///
/// Part of a model's identity: vectors made at different precisions are never mixed in one
/// collection (the precision enters the model fingerprint, except fp32's, which is the plain
/// model's).
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Float32 throughout: exact to the reference (the default).
    case fp32
    /// Dense layers on bf16 weights and bf16-rounded activations with fp32 accumulation
    /// (`vdpbf16ps`); LayerNorm, softmax, GELU, attention, residuals and pooling in fp32.
    case bf16
    /// Dense layers on int8 weights (symmetric per output column) and int8 activations (per
    /// token) with exact int32 sums (`vpdpbusd`), except the layers a calibration on real text
    /// keeps in bf16; LayerNorm, softmax, GELU, attention, residuals and pooling in fp32.
    case int8

    /// Whether this machine runs `self` on AVX-512 (bf16: ``Kernels/bf16`` is `vdpbf16ps` or the
    /// widening AVX-512 kernel; int8: AVX512_VNNI). bf16 and int8 have AVX2 twins that compute the
    /// same sums more slowly, so every precision runs everywhere.
    public var isNative: Bool {
        switch self {
        case .fp32: return true
        case .bf16: return Kernels.bf16 != .avx2
        case .int8: return Kernels.active == .avx512 && Kernels.hasVNNI
        }
    }
}

/// A dense layer's weight `[n, k]` rounded to bf16 once and packed for
/// ``VectorMath/matmulPackedBF16(_:lda:_:into:ldc:m:panels:bias:kernels:)``: panels of 16 output
/// columns as ``PackedMatrix``, each holding for every pair of inputs the 16 columns' two bf16
/// values side by side (the operand layout of `vdpbf16ps`). Half the bytes of the fp32 packing.
public final class PackedMatrixBF16: @unchecked Sendable {
    /// Outputs (`n`).
    public let outputs: Int
    /// Inputs (`k`).
    public let inputs: Int
    /// Number of panels, `⌈outputs / 16⌉`.
    public let panelCount: Int
    /// `panelCount × ⌈inputs / 2⌉ × 32` bf16 values, 64-byte aligned; immutable after `init`.
    let storage: UnsafeMutablePointer<UInt16>

    /// Rounds (to nearest even) and packs `weight`, a row-major `[outputs, inputs]` matrix.
    /// Both sizes must be positive.
    public init(weight: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0, "PackedMatrixBF16 needs positive sizes")
        self.outputs = outputs
        self.inputs = inputs
        panelCount = (outputs + PackedMatrix.panelWidth - 1) / PackedMatrix.panelWidth
        let count = panelCount * ((inputs + 1) / 2) * 2 * PackedMatrix.panelWidth
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 2, alignment: 64)
        storage = raw.bindMemory(to: UInt16.self, capacity: count)
        quiver_bf16_pack(weight, outputs, inputs, storage)
    }

    /// Bytes of packed storage.
    public var byteCount: Int { panelCount * ((inputs + 1) / 2) * 2 * PackedMatrix.panelWidth * 2 }

    /// The output columns of a range of panels (the last panel may be narrower than 16).
    public func columns(of panels: Range<Int>) -> Range<Int> {
        min(outputs, panels.lowerBound * PackedMatrix.panelWidth)..<min(outputs, panels.upperBound * PackedMatrix.panelWidth)
    }

    deinit { storage.deallocate() }
}

extension VectorMath {
    /// `C[m × cols] = bf16(A) · Wᵀ (+ bias)` for the output columns of `panels`, accumulated in
    /// fp32, where `W` is a bf16-packed weight and every row of `A` is rounded to bf16 (nearest
    /// even) on its own: a row's result never depends on its batch-mates. With
    /// ``BF16Kernel/vdpbf16ps`` the products are `vdpbf16ps`; the widening kernels
    /// (``BF16Kernel/avx512``, ``BF16Kernel/avx2``) compute the same sums of the same rounded
    /// operands with FMAs (equal to fp32 rounding). `kernel` defaults to ``Kernels/bf16``; one the
    /// CPU cannot run falls back to the AVX2 twin. Only columns inside `panels` are written.
    /// Returns false, writing nothing, when the kernel's scratch buffer (the rounded rows, at most
    /// ~256 KB) could not be allocated.
    @discardableResult
    public static func matmulPackedBF16(
        _ a: UnsafePointer<Float>, lda: Int, _ w: PackedMatrixBF16, into c: UnsafeMutablePointer<Float>, ldc: Int,
        m: Int, panels: Range<Int>, bias: UnsafePointer<Float>?, kernel: BF16Kernel = Kernels.bf16
    ) -> Bool {
        guard m > 0 else { return true }
        let clamped = panels.clamped(to: 0..<w.panelCount)
        let code = kernel.isSupported ? kernel.code : BF16Kernel.avx2.code
        return quiver_gemm_packed_bf16(
            a, lda, w.storage, w.panelCount, w.outputs, w.inputs, bias, c, ldc, m, clamped.lowerBound, clamped.upperBound,
            code) == 0
    }

    /// `x` rounded to bf16 (nearest even) and widened back to fp32: the operand the bf16 GEMM
    /// multiplies (tests use it to build the exact reference).
    public static func roundedToBF16(_ x: Float) -> Float {
        var input = x
        var half: UInt16 = 0
        quiver_bf16_round(&input, 1, &half)
        return Float(bitPattern: UInt32(half) << 16)
    }
}
