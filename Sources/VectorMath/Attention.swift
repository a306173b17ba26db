import CKernels

extension VectorMath {
    /// Whether ``attentionHead(q:k:v:ld:length:headSize:scale:into:ldc:scratch:kernels:)`` runs
    /// heads of `headSize` floats with `kernels`: the fused 512-bit kernel takes 16, 32, 48 or 64.
    /// Elsewhere the encoder forms the scores with a GEMM, a softmax per row and a second GEMM.
    public static func fusedAttentionSupported(headSize: Int, kernels: Kernels = Kernels.active) -> Bool {
        kernels == .avx512 && Kernels.supported(.avx512) && headSize % 16 == 0 && (16...64).contains(headSize)
    }

    /// Floats of 64-byte aligned scratch that one fused attention head over `length` tokens needs.
    public static func attentionScratchCount(length: Int, headSize: Int) -> Int {
        quiver_attention_scratch_floats(length, headSize)
    }

    /// One head of self-attention over one sequence, fused (scores, softmax over keys and the
    /// weighted sum of values, without a score matrix in memory):
    /// `context_i = Σ_j softmax_j(scale · q_i·k_j) · v_j`. Rows of q, k and v are `ld` floats
    /// apart and hold `headSize` floats; rows of the context are `ldc` apart. Returns false (and
    /// writes nothing) unless ``fusedAttentionSupported(headSize:kernels:)``.
    /// `scratch` must hold ``attentionScratchCount(length:headSize:)`` floats, 64-byte aligned.
    @discardableResult
    public static func attentionHead(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int, length: Int, headSize: Int,
        scale: Float, into context: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>,
        kernels: Kernels = Kernels.active
    ) -> Bool {
        guard fusedAttentionSupported(headSize: headSize, kernels: kernels) else { return false }
        return quiver_attention_head_avx512(q, k, v, ld, length, headSize, scale, context, ldc, scratch) == 0
    }
}
