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

/// Packs a row-major `[outputs, inputs]` fp32 weight into the bf16 panel layout of
/// `quiver_gemm_packed_bf16`: panels of 16 output columns; in each, for every pair of inputs
/// `(2q, 2q+1)`, 16 words of two bf16 (the even input in the low half), an odd `inputs`' last pair
/// and a last panel's missing columns zero. `packed` holds `⌈outputs/16⌉ · ⌈inputs/2⌉ · 32` values.
/// Rounds to nearest even.
void quiver_bf16_pack(const float *weight, long outputs, long inputs, unsigned short *packed);

/// `count` floats rounded to bf16 (nearest even), as the GEMM rounds its activations.
void quiver_bf16_round(const float *x, long count, unsigned short *out);

/// `C[m × cols] = bf16(A)[m × k] · Wᵀ (+ bias)` over the panels `[panel_begin, panel_end)` of a
/// bf16-packed weight (`quiver_bf16_pack`), accumulated in fp32: each row of A is rounded to bf16
/// on its own, so a row's result does not depend on the other rows. `kernel`: 0 the AVX2+FMA twin
/// (bf16 widened to fp32, two FMAs a pair), 1 `vdpbf16ps` (only when `quiver_cpu_features()` has
/// `QUIVER_CPU_AVX512_BF16`), 2 the twin's arithmetic on 512-bit tiles (only with
/// `QUIVER_CPU_AVX512`; the same bits as 0). Returns 0, or -1 when its scratch buffer could not be
/// allocated (nothing written).
int quiver_gemm_packed_bf16(
    const float *a, long lda, const unsigned short *packed, long panel_count, long outputs, long k, const float *bias, float *c,
    long ldc, long m, long panel_begin, long panel_end, int kernel);

/// How many FLOPs `vdpbf16ps` delivers per FLOP of 512-bit FMAs on this core (register-only loops,
/// best of 5, ~1 ms): about 2 on the AMD hosts measured (Zen 4, Zen 5), 0.5 on the Intel Xeon
/// measured (cpu family 6, model 207). Call only when
/// `quiver_cpu_features()` has `QUIVER_CPU_AVX512_BF16`.
double quiver_probe_dpbf16_over_fma(void);

/// Quantizes a row-major `[outputs, inputs]` fp32 weight for `quiver_gemm_packed_int8`: each output
/// column symmetric on its own (`q = round(w · 127 / max|w|)`, `scales[n] = max|w| / 127`), packed
/// in panels of 16 columns where every quad of inputs `(4q … 4q+3)` is 16 words of four int8.
/// `packed` holds `⌈outputs/16⌉ · ⌈inputs/4⌉ · 64` bytes; `scales` and `corrections`
/// (`128 · Σ q` of each column) `⌈outputs/16⌉ · 16` values; padding is zero.
void quiver_int8_pack(const float *weight, long outputs, long inputs, signed char *packed, float *scales, int *corrections);

/// One row of activations quantized as the int8 GEMM does: `q = round(x · 127 / max|x|)`
/// (nearest even), stored as `q + 128` in `padded ≥ count` bytes (the rest 128). Returns the scale
/// `max|x| / 127` (0 for a row of zeros or one that is not finite: all bytes 128).
float quiver_int8_quantize_row(const float *x, long count, unsigned char *out, long padded);

/// `C[m × cols] = dequant(q(A) · q(W)ᵀ) (+ bias)` over the panels `[panel_begin, panel_end)` of an
/// int8-packed weight (`quiver_int8_pack`): each row of A quantized on its own, exact int32 sums,
/// then `(Σ − correction) · (row scale · column scale) + bias` fused. `use_vnni` picks `vpdpbusd`
/// (only when `quiver_cpu_features()` has `QUIVER_CPU_AVX512_VNNI`) or the AVX2 twin, which gives
/// the same bits. Returns 0, or -1 when its scratch buffer could not be allocated (nothing written).
int quiver_gemm_packed_int8(
    const float *a, long lda, const signed char *packed, const float *scales, const int *corrections, long panel_count,
    long outputs, long k, const float *bias, float *c, long ldc, long m, long panel_begin, long panel_end, int use_vnni);

/// Floats of 64-byte aligned scratch `quiver_attention_head_avx512` needs for a sequence of `n`
/// tokens and heads of `d` floats: the keys transposed and four rows of scores.
long quiver_attention_scratch_floats(long n, long d);

/// One head of self-attention over one sequence of `n` tokens, fused:
/// `ctx_i = Σ_j softmax_j(scale · q_i · k_j) · v_j`, where row `i` of q, k and v starts at
/// `q + i·ld` (likewise k, v) and holds `d` floats, and row `i` of the context is written at
/// `ctx + i·ldc`. `scratch`: `quiver_attention_scratch_floats(n, d)` floats, 64-byte aligned.
/// Returns 0, or -1 (nothing written) when `d` is not 16, 32, 48 or 64. Call only when
/// `quiver_cpu_features()` has `QUIVER_CPU_AVX512`.
int quiver_attention_head_avx512(
    const float *q, const float *k, const float *v, long ld, long n, long d, float scale, float *ctx, long ldc,
    float *scratch);

/// In place: x ← x·½·(1 + erf(x/√2)) with VectorMath.erf's arithmetic in 512-bit lanes. Call only
/// when `quiver_cpu_features()` has `QUIVER_CPU_AVX512`.
void quiver_gelu_avx512(float *x, long count);

#endif
