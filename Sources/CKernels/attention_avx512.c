// Self-attention of one head of one sequence, fused in 512-bit code (scores, softmax and the
// weighted sum of values without leaving L1/L2), and the exact GELU, for the AVX-512 path of the
// encoder. The AVX2 path keeps VectorMath's Swift kernels and OpenBLAS; these compute the same
// functions in a different order (tests compare them). Compiled for AVX-512 by the `target`
// attribute on each function; only called after quiver_cpu_features() checked.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
enum { LANES = 16, ROWS = 4, MAX_HEAD_VECTORS = 4 };

static long round_up16(long n) { return (n + LANES - 1) / LANES * LANES; }

long quiver_attention_scratch_floats(long n, long d) { return (d + ROWS) * round_up16(n > 0 ? n : 1); }

// e^x as VectorMath.exp computes it (range reduction to |r| ≤ ln2/2, degree-7 Taylor polynomial,
// 2^n in the exponent bits; inputs clamped to [-87.3, 88.3]), with fused multiply-adds.
INLINE AVX512 __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 shifted = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504f), magic);
    const __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.69314575f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.4286068e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000));
    const __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(scale));
}

// Scores of ROWS query rows (`q0…q3`, d floats each) against every key, times `scale`, into
// `s` (ROWS rows of `n16` floats); `kt` is the keys transposed (d rows of n16, zero past n).
// Two 16-key chunks at a time: 8 independent accumulators.
INLINE AVX512 void scores_block(
    const float *q0, const float *q1, const float *q2, const float *q3, const float *kt, long n16, long d, float scale,
    float *s) {
    const __m512 vs = _mm512_set1_ps(scale);
    long j = 0;
    for (; j + 2 * LANES <= n16; j += 2 * LANES) {
        __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps();
        __m512 a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps(), a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
        for (long t = 0; t < d; t++) {
            const __m512 k0 = _mm512_load_ps(kt + t * n16 + j);
            const __m512 k1 = _mm512_load_ps(kt + t * n16 + j + LANES);
            const __m512 b0 = _mm512_set1_ps(q0[t]), b1 = _mm512_set1_ps(q1[t]);
            const __m512 b2 = _mm512_set1_ps(q2[t]), b3 = _mm512_set1_ps(q3[t]);
            a00 = _mm512_fmadd_ps(b0, k0, a00);
            a01 = _mm512_fmadd_ps(b0, k1, a01);
            a10 = _mm512_fmadd_ps(b1, k0, a10);
            a11 = _mm512_fmadd_ps(b1, k1, a11);
            a20 = _mm512_fmadd_ps(b2, k0, a20);
            a21 = _mm512_fmadd_ps(b2, k1, a21);
            a30 = _mm512_fmadd_ps(b3, k0, a30);
            a31 = _mm512_fmadd_ps(b3, k1, a31);
        }
        _mm512_store_ps(s + j, _mm512_mul_ps(a00, vs));
        _mm512_store_ps(s + j + LANES, _mm512_mul_ps(a01, vs));
        _mm512_store_ps(s + n16 + j, _mm512_mul_ps(a10, vs));
        _mm512_store_ps(s + n16 + j + LANES, _mm512_mul_ps(a11, vs));
        _mm512_store_ps(s + 2 * n16 + j, _mm512_mul_ps(a20, vs));
        _mm512_store_ps(s + 2 * n16 + j + LANES, _mm512_mul_ps(a21, vs));
        _mm512_store_ps(s + 3 * n16 + j, _mm512_mul_ps(a30, vs));
        _mm512_store_ps(s + 3 * n16 + j + LANES, _mm512_mul_ps(a31, vs));
    }
    if (j < n16) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (long t = 0; t < d; t++) {
            const __m512 k0 = _mm512_load_ps(kt + t * n16 + j);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(q0[t]), k0, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(q1[t]), k0, a1);
            a2 = _mm512_fmadd_ps(_mm512_set1_ps(q2[t]), k0, a2);
            a3 = _mm512_fmadd_ps(_mm512_set1_ps(q3[t]), k0, a3);
        }
        _mm512_store_ps(s + j, _mm512_mul_ps(a0, vs));
        _mm512_store_ps(s + n16 + j, _mm512_mul_ps(a1, vs));
        _mm512_store_ps(s + 2 * n16 + j, _mm512_mul_ps(a2, vs));
        _mm512_store_ps(s + 3 * n16 + j, _mm512_mul_ps(a3, vs));
    }
}

// One row of scores (n valid of n16) → exp(s − max s) in place, zero past n; returns 1 / Σ.
INLINE AVX512 float softmax_row(float *s, long n, long n16) {
    const __mmask16 tail = (__mmask16)((1u << (n - (n16 - LANES))) - 1u);
    __m512 best = _mm512_set1_ps(-__builtin_inff());
    for (long j = 0; j + LANES < n16; j += LANES) best = _mm512_max_ps(best, _mm512_load_ps(s + j));
    best = _mm512_mask_max_ps(best, tail, best, _mm512_load_ps(s + n16 - LANES));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(best));
    __m512 sum = _mm512_setzero_ps();
    for (long j = 0; j + LANES < n16; j += LANES) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(s + j), m));
        _mm512_store_ps(s + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 e = _mm512_maskz_mov_ps(tail, exp512(_mm512_sub_ps(_mm512_load_ps(s + n16 - LANES), m)));
    _mm512_store_ps(s + n16 - LANES, e);
    sum = _mm512_add_ps(sum, e);
    return 1.0f / _mm512_reduce_add_ps(sum);
}

// context rows = (Σ_j p_rj · v_j) · inverse_r for ROWS rows of probabilities `p` (n16 apart), with
// D vectors of 16 per value row; rows whose output is NULL are computed and not stored.
INLINE AVX512 void context_block(
    const int D, const float *p, long n16, const float *v, long ld, long n, const float *inverse, float *const out[ROWS]) {
    __m512 acc[ROWS][MAX_HEAD_VECTORS];
#pragma clang loop unroll(full)
    for (int r = 0; r < ROWS; r++)
#pragma clang loop unroll(full)
        for (int c = 0; c < MAX_HEAD_VECTORS; c++) acc[r][c] = _mm512_setzero_ps();
    for (long j = 0; j < n; j++) {
        __m512 vj[MAX_HEAD_VECTORS];
#pragma clang loop unroll(full)
        for (int c = 0; c < MAX_HEAD_VECTORS; c++)
            if (c < D) vj[c] = _mm512_loadu_ps(v + j * ld + c * LANES);
#pragma clang loop unroll(full)
        for (int r = 0; r < ROWS; r++) {
            const __m512 b = _mm512_set1_ps(p[r * n16 + j]);
#pragma clang loop unroll(full)
            for (int c = 0; c < MAX_HEAD_VECTORS; c++)
                if (c < D) acc[r][c] = _mm512_fmadd_ps(b, vj[c], acc[r][c]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < ROWS; r++) {
        if (!out[r]) continue;
        const __m512 scale = _mm512_set1_ps(inverse[r]);
#pragma clang loop unroll(full)
        for (int c = 0; c < MAX_HEAD_VECTORS; c++)
            if (c < D) _mm512_storeu_ps(out[r] + c * LANES, _mm512_mul_ps(acc[r][c], scale));
    }
}

INLINE AVX512 void attention_head(
    const int D, const float *q, const float *k, const float *v, long ld, long n, float scale, float *ctx, long ldc,
    float *scratch) {
    const long d = D * LANES;
    const long n16 = round_up16(n);
    float *kt = scratch;
    float *s = scratch + d * n16;
    for (long j = 0; j < n; j++)
        for (long t = 0; t < d; t++) kt[t * n16 + j] = k[j * ld + t];
    for (long t = 0; t < d; t++)
        for (long j = n; j < n16; j++) kt[t * n16 + j] = 0;
    for (long i = 0; i < n; i += ROWS) {
        // A short last block repeats the last row and does not store the repeats.
        const float *rows[ROWS];
        float *out[ROWS];
        for (int r = 0; r < ROWS; r++) {
            const long row = i + r < n ? i + r : n - 1;
            rows[r] = q + row * ld;
            out[r] = i + r < n ? ctx + (i + r) * ldc : 0;
        }
        scores_block(rows[0], rows[1], rows[2], rows[3], kt, n16, d, scale, s);
        float inverse[ROWS];
        for (int r = 0; r < ROWS; r++) inverse[r] = softmax_row(s + r * n16, n, n16);
        context_block(D, s, n16, v, ld, n, inverse, out);
    }
}

AVX512 int quiver_attention_head_avx512(
    const float *q, const float *k, const float *v, long ld, long n, long d, float scale, float *ctx, long ldc,
    float *scratch) {
    if (n <= 0) return 0;
    switch (d) {
    case 16: attention_head(1, q, k, v, ld, n, scale, ctx, ldc, scratch); return 0;
    case 32: attention_head(2, q, k, v, ld, n, scale, ctx, ldc, scratch); return 0;
    case 48: attention_head(3, q, k, v, ld, n, scale, ctx, ldc, scratch); return 0;
    case 64: attention_head(4, q, k, v, ld, n, scale, ctx, ldc, scratch); return 0;
    default: return -1;
    }
}

// erf as VectorMath.erf computes it: the Maclaurin series below |x| = 0.5, Abramowitz & Stegun
// 7.1.26 above, within 3e-7 absolute.
INLINE AVX512 __m512 erf512(__m512 x) {
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(ax, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 poly = _mm512_set1_ps(1.061405429f);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
    poly = _mm512_mul_ps(poly, t);
    const __m512 e = exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), ax), ax));
    __m512 tail = _mm512_fnmadd_ps(poly, e, _mm512_set1_ps(1.0f));
    // Copy x's sign onto the tail (which is ≥ 0).
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    tail = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(tail), sign));
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 series = _mm512_set1_ps(-1.0f / 1320);
    series = _mm512_fmadd_ps(series, x2, _mm512_set1_ps(1.0f / 216));
    series = _mm512_fmadd_ps(series, x2, _mm512_set1_ps(-1.0f / 42));
    series = _mm512_fmadd_ps(series, x2, _mm512_set1_ps(1.0f / 10));
    series = _mm512_fmadd_ps(series, x2, _mm512_set1_ps(-1.0f / 3));
    series = _mm512_fmadd_ps(series, x2, _mm512_set1_ps(1.0f));
    series = _mm512_mul_ps(_mm512_mul_ps(series, x), _mm512_set1_ps(1.12837917f));
    const __mmask16 small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.5f), _CMP_LT_OQ);
    return _mm512_mask_mov_ps(tail, small, series);
}

INLINE AVX512 __m512 gelu512(__m512 x) {
    const __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(half, erf512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678f))), half);
}

AVX512 void quiver_gelu_avx512(float *x, long count) {
    long i = 0;
    for (; i + LANES <= count; i += LANES) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
    if (i < count) {
        const __mmask16 tail = (__mmask16)((1u << (count - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, tail, gelu512(_mm512_maskz_loadu_ps(tail, x + i)));
    }
}

#else
long quiver_attention_scratch_floats(long n, long d) { return 0; }
int quiver_attention_head_avx512(
    const float *q, const float *k, const float *v, long ld, long n, long d, float scale, float *ctx, long ldc,
    float *scratch) {
    return -1;
}
void quiver_gelu_avx512(float *x, long count) {}
#endif
