// Kernels that need instructions beyond the baseline the Swift code is compiled for (AVX2+FMA):
// each is compiled for its instruction set with a `target` attribute and entered only after
// `quiver_cpu_features` said the CPU (and the OS) supports it. Used through VectorMath only.
#ifndef QUIVER_CKERNELS_H
#define QUIVER_CKERNELS_H

/// Bits of `quiver_cpu_features`.
enum {
    /// AVX-512 F, BW, VL and DQ, with the OS saving the 512-bit and mask registers.
    QUIVER_CPU_AVX512 = 1 << 0,
    /// AVX-512 BF16 (`vdpbf16ps`).
    QUIVER_CPU_AVX512_BF16 = 1 << 1,
    /// AVX-512 VNNI (`vpdpbusd`).
    QUIVER_CPU_AVX512_VNNI = 1 << 2,
    /// AVX2 and FMA with the OS saving the 256-bit registers.
    QUIVER_CPU_AVX2_FMA = 1 << 3,
};

/// The features of this CPU Quiver's kernels use (cpuid, and xgetbv for the OS's register saving).
int quiver_cpu_features(void);

/// `C[m × cols] = A[m × k] · Wᵀ (+ bias)` over the panels `[panel_begin, panel_end)` of a packed
/// weight (VectorMath's `PackedMatrix` layout: panels of 16 output columns, each `k × 16` floats,
/// 64-byte aligned, the last one zero-padded), with 512-bit tiles of up to 12 rows × 32 columns.
/// `outputs` is the weight's column count `n`; `bias` (n floats) may be NULL. Writes only the
/// columns of those panels. Call only when `quiver_cpu_features()` has `QUIVER_CPU_AVX512`.
void quiver_gemm_packed_avx512(
    const float *a, long lda, const float *packed, long panel_count, long outputs, long k, const float *bias, float *c, long ldc,
    long m, long panel_begin, long panel_end);

#endif
