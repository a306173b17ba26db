// The packed GEMM in int8 (VectorMath.matmulPackedInt8). Weights: symmetric per output column,
// `q = round(w · 127 / max|w_col|)`, packed as quads (four consecutive inputs of one column in a
// 32-bit word, 16 columns a panel: the operand layout of `vpdpbusd`). Activations: each row on its
// own, `q = round(x · 127 / max|x_row|)`, stored offset by +128 as unsigned bytes because
// `vpdpbusd` multiplies unsigned by signed bytes; the offset is taken back out with a per-column
// correction `128 · Σ q_w`. The int32 sums are exact; the epilogue is one fused multiply-add per
// element, `(Σ − correction) · (row scale · column scale) + bias`. The AVX2 twin (no VNNI) forms
// the same int32 sums with `vpmaddwd` and the same epilogue with `fmaf`, so the two paths agree
// bit for bit.
#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { PANEL = 16, MAX_ROWS = 12, TWIN_ROWS = 2 };

static long row_group(long remaining, long most) {
    if (remaining >= 2 * most || remaining <= most) return remaining < most ? remaining : most;
    return (remaining + 1) / 2;
}

static inline int clamp127(long v) { return v > 127 ? 127 : v < -127 ? -127 : (int)v; }

void quiver_int8_pack(const float *weight, long outputs, long inputs, signed char *packed, float *scales, int *corrections) {
    const long quads = (inputs + 3) / 4, panels = (outputs + PANEL - 1) / PANEL;
    memset(packed, 0, (size_t)(panels * quads * PANEL * 4));
    memset(scales, 0, (size_t)(panels * PANEL) * sizeof(float));
    memset(corrections, 0, (size_t)(panels * PANEL) * sizeof(int));
    for (long n = 0; n < outputs; n++) {
        const float *row = weight + n * inputs;
        float most = 0;
        for (long j = 0; j < inputs; j++) most = fmaxf(most, fabsf(row[j]));
        if (!(most > 0) || !isfinite(most)) continue;  // an all-zero (or non-finite) column stays zero
        const float inv = 127.0f / most;
        signed char *base = packed + (n / PANEL) * quads * PANEL * 4 + (n % PANEL) * 4;
        long sum = 0;
        for (long j = 0; j < inputs; j++) {
            const int q = clamp127(lrintf(row[j] * inv));
            base[(j / 4) * PANEL * 4 + (j & 3)] = (signed char)q;
            sum += q;
        }
        scales[n] = most / 127.0f;
        corrections[n] = (int)(128 * sum);
    }
}

float quiver_int8_quantize_row(const float *x, long count, unsigned char *out, long padded) {
    float most = 0;
    for (long j = 0; j < count; j++) most = fmaxf(most, fabsf(x[j]));
    if (!(most > 0) || !isfinite(most)) {
        memset(out, 128, (size_t)padded);
        return 0;
    }
    const float inv = 127.0f / most;
    for (long j = 0; j < count; j++) out[j] = (unsigned char)(clamp127(lrintf(x[j] * inv)) + 128);
    for (long j = count; j < padded; j++) out[j] = 128;
    return most / 127.0f;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,avx2,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// quiver_int8_quantize_row with 512-bit instructions: the same products `x · inv` and the same
// rounding (to nearest even), so the same bytes.
VNNI static float quantize_row_avx512(const float *x, long count, unsigned char *out, long padded) {
    __m512 most16 = _mm512_setzero_ps();
    long j = 0;
    for (; j + 16 <= count; j += 16) most16 = _mm512_max_ps(most16, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    float most = _mm512_reduce_max_ps(most16);
    for (; j < count; j++) most = fmaxf(most, fabsf(x[j]));
    if (!(most > 0) || !isfinite(most)) {
        memset(out, 128, (size_t)padded);
        return 0;
    }
    const float inv = 127.0f / most;
    const __m512 inv16 = _mm512_set1_ps(inv);
    const __m512i low = _mm512_set1_epi32(-127), high = _mm512_set1_epi32(127), offset = _mm512_set1_epi32(128);
    for (j = 0; j + 16 <= count; j += 16) {
        __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), inv16));
        q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, low), high), offset);
        _mm_storeu_si128((__m128i *)(out + j), _mm512_cvtepi32_epi8(q));
    }
    for (; j < count; j++) out[j] = (unsigned char)(clamp127(lrintf(x[j] * inv)) + 128);
    for (; j < padded; j++) out[j] = 128;
    return most / 127.0f;
}

INLINE VNNI void tile_avx512(
    const int rows, const int pair, const uint32_t *a, long lda, const float *row_scales, const __m512i *w0, const __m512i *w1,
    const __m512i *n0, const __m512i *n1, long quads, const float *scale0, const float *scale1, const int *corr0,
    const int *corr1, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
    __m512i acc0[MAX_ROWS], acc1[MAX_ROWS];
    for (int r = 0; r < MAX_ROWS; r++) {
        acc0[r] = _mm512_setzero_si512();
        acc1[r] = _mm512_setzero_si512();
    }
    for (long j = 0; j < quads; j++) {
        const __m512i x0 = _mm512_load_si512((const void *)(w0 + j));
        const __m512i x1 = pair ? _mm512_load_si512((const void *)(w1 + j)) : x0;
        _mm_prefetch((const char *)(n0 + j), _MM_HINT_T0);
        if (pair) _mm_prefetch((const char *)(n1 + j), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MAX_ROWS; r++) {
            if (r < rows) {
                const __m512i s = _mm512_set1_epi32((int)a[r * lda + j]);
                acc0[r] = _mm512_dpbusd_epi32(acc0[r], s, x0);
                if (pair) acc1[r] = _mm512_dpbusd_epi32(acc1[r], s, x1);
            }
        }
    }
    const __m512 s0 = _mm512_loadu_ps(scale0), b0 = bias0 ? _mm512_loadu_ps(bias0) : _mm512_setzero_ps();
    const __m512i k0 = _mm512_loadu_si512((const void *)corr0);
    const __m512 s1 = pair ? _mm512_loadu_ps(scale1) : s0, b1 = (pair && bias1) ? _mm512_loadu_ps(bias1) : _mm512_setzero_ps();
    const __m512i k1 = pair ? _mm512_loadu_si512((const void *)corr1) : k0;
#pragma clang loop unroll(full)
    for (int r = 0; r < MAX_ROWS; r++) {
        if (r < rows) {
            const __m512 rs = _mm512_set1_ps(row_scales[r]);
            const __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc0[r], k0));
            _mm512_storeu_ps(c0 + r * ldc0, _mm512_fmadd_ps(v0, _mm512_mul_ps(rs, s0), b0));
            if (pair) {
                const __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc1[r], k1));
                _mm512_storeu_ps(c1 + r * ldc1, _mm512_fmadd_ps(v1, _mm512_mul_ps(rs, s1), b1));
            }
        }
    }
}

#define TILE_CASE(R)                                                                                                  \
    case R:                                                                                                           \
        if (pair)                                                                                                     \
            tile_avx512(R, 1, a, lda, rs, w0, w1, n0, n1, quads, s0, s1, k0, k1, b0, b1, c0, ldc0, c1, ldc1);          \
        else                                                                                                          \
            tile_avx512(R, 0, a, lda, rs, w0, w1, n0, n1, quads, s0, s1, k0, k1, b0, b1, c0, ldc0, c1, ldc1);          \
        break;

__attribute__((noinline)) VNNI static void tile_any_avx512(
    int rows, int pair, const uint32_t *a, long lda, const float *rs, const __m512i *w0, const __m512i *w1, const __m512i *n0,
    const __m512i *n1, long quads, const float *s0, const float *s1, const int *k0, const int *k1, const float *b0,
    const float *b1, float *c0, long ldc0, float *c1, long ldc1) {
    switch (rows) {
        TILE_CASE(12)
        TILE_CASE(11)
        TILE_CASE(10)
        TILE_CASE(9)
        TILE_CASE(8)
        TILE_CASE(7)
        TILE_CASE(6)
        TILE_CASE(5)
        TILE_CASE(4)
        TILE_CASE(3)
        TILE_CASE(2)
        default:
            TILE_CASE(1)
    }
}
#undef TILE_CASE

// The AVX2 twin: up to 2 rows × one panel. A quad of 16 columns (64 bytes) widens to four vectors
// of 16 int16 (4 columns × 4 inputs each); `vpmaddwd` with the row's four activations repeated
// gives each column's two partial sums side by side, exact in int32 (|u8 · s8| ≤ 32,385).
INLINE AVX2 void tile_avx2(
    const int rows, const uint32_t *a, long lda, const float *row_scales, const signed char *w, long quads, const float *scale,
    const int *corr, const float *bias, float *c, long ldc) {
    __m256i acc[TWIN_ROWS][4];
    for (int r = 0; r < TWIN_ROWS; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = _mm256_setzero_si256();
    for (long j = 0; j < quads; j++) {
        const signed char *q = w + j * PANEL * 4;
        __m256i wide[4];
        for (int i = 0; i < 4; i++) wide[i] = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(q + 16 * i)));
#pragma clang loop unroll(full)
        for (int r = 0; r < TWIN_ROWS; r++) {
            if (r < rows) {
                const uint32_t word = a[r * lda + j];
                const long long four = (long long)(word & 0xFF) | (long long)((word >> 8) & 0xFF) << 16 |
                                       (long long)((word >> 16) & 0xFF) << 32 | (long long)((word >> 24) & 0xFF) << 48;
                const __m256i s = _mm256_set1_epi64x(four);
                for (int i = 0; i < 4; i++) acc[r][i] = _mm256_add_epi32(acc[r][i], _mm256_madd_epi16(wide[i], s));
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        int32_t partial[32] __attribute__((aligned(32)));
        for (int i = 0; i < 4; i++) _mm256_store_si256((__m256i *)(partial + 8 * i), acc[r][i]);
        for (int col = 0; col < PANEL; col++) {
            const int32_t sum = partial[2 * col] + partial[2 * col + 1] - corr[col];
            c[r * ldc + col] = fmaf((float)sum, row_scales[r] * scale[col], bias ? bias[col] : 0.0f);
        }
    }
}

__attribute__((noinline)) AVX2 static void tile_any_avx2(
    int rows, const uint32_t *a, long lda, const float *rs, const signed char *w, long quads, const float *scale,
    const int *corr, const float *bias, float *c, long ldc) {
    if (rows >= 2)
        tile_avx2(2, a, lda, rs, w, quads, scale, corr, bias, c, ldc);
    else
        tile_avx2(1, a, lda, rs, w, quads, scale, corr, bias, c, ldc);
}

int quiver_gemm_packed_int8(
    const float *a, long lda, const signed char *packed, const float *scales, const int *corrections, long panel_count,
    long outputs, long k, const float *bias, float *c, long ldc, long m, long panel_begin, long panel_end, int use_vnni) {
    if (m <= 0 || k <= 0) return 0;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panel_count) panel_end = panel_count;
    if (panel_begin >= panel_end) return 0;
    const long quads = (k + 3) / 4;
    const long step = use_vnni ? MAX_ROWS : TWIN_ROWS;
    // Rows in blocks whose quantized copy (~256 KB) stays in L2 while every panel passes over it.
    long row_block = (1L << 18) / (quads * 4) / step * step;
    if (row_block < step) row_block = step;
    if (row_block > m) row_block = m;
    uint32_t *quantized = aligned_alloc(64, (size_t)((row_block * quads * 4 + 63) / 64 * 64));
    float *row_scales = malloc((size_t)row_block * sizeof(float));
    if (!quantized || !row_scales) {
        free(quantized);
        free(row_scales);
        return -1;
    }
    float tile_out[MAX_ROWS * PANEL] __attribute__((aligned(64)));
    float padded_bias[PANEL] __attribute__((aligned(64)));
    const long last_valid = outputs - (panel_count - 1) * PANEL;
    if (bias && last_valid < PANEL) {
        memset(padded_bias, 0, sizeof padded_bias);
        memcpy(padded_bias, bias + (panel_count - 1) * PANEL, (size_t)last_valid * sizeof(float));
    }
    const long narrow_panel = last_valid < PANEL ? panel_count - 1 : -1;
    const long panel_bytes = quads * PANEL * 4;
    for (long block = 0; block < m; block += row_block) {
        const long block_rows = block + row_block < m ? row_block : m - block;
        for (long r = 0; r < block_rows; r++) {
            unsigned char *dst = (unsigned char *)(quantized + r * quads);
            row_scales[r] = use_vnni ? quantize_row_avx512(a + (block + r) * lda, k, dst, quads * 4)
                                     : quiver_int8_quantize_row(a + (block + r) * lda, k, dst, quads * 4);
        }
        const long panel_step = use_vnni ? 2 : 1;
        for (long panel = panel_begin; panel < panel_end; panel += panel_step) {
            const int pair = use_vnni && panel + 1 < panel_end;
            const signed char *w0 = packed + panel * panel_bytes;
            const signed char *w1 = pair ? w0 + panel_bytes : w0;
            const long after = panel + 2 < panel_count ? panel + 2 : panel_count - 1;
            const signed char *n0 = packed + after * panel_bytes;
            const signed char *n1 = after + 1 < panel_count ? n0 + panel_bytes : n0;
            const int narrow0 = panel == narrow_panel, narrow1 = pair && panel + 1 == narrow_panel;
            const float *bias0 = bias ? (narrow0 ? padded_bias : bias + panel * PANEL) : NULL;
            const float *bias1 = bias && pair ? (narrow1 ? padded_bias : bias + (panel + 1) * PANEL) : NULL;
            for (long row = 0; row < block_rows;) {
                const long rows = row_group(block_rows - row, step);
                float *c0 = narrow0 ? tile_out : c + (block + row) * ldc + panel * PANEL;
                const long ldc0 = narrow0 ? PANEL : ldc;
                float *c1 = !pair ? c0 : narrow1 ? tile_out : c + (block + row) * ldc + (panel + 1) * PANEL;
                const long ldc1 = narrow1 ? PANEL : ldc;
                if (use_vnni)
                    tile_any_avx512(
                        (int)rows, pair, quantized + row * quads, quads, row_scales + row, (const __m512i *)w0,
                        (const __m512i *)w1, (const __m512i *)n0, (const __m512i *)n1, quads, scales + panel * PANEL,
                        scales + (pair ? panel + 1 : panel) * PANEL, corrections + panel * PANEL,
                        corrections + (pair ? panel + 1 : panel) * PANEL, bias0, bias1, c0, ldc0, c1, ldc1);
                else
                    for (long r = 0; r < rows; r += TWIN_ROWS)
                        tile_any_avx2(
                            (int)(rows - r < TWIN_ROWS ? rows - r : TWIN_ROWS), quantized + (row + r) * quads, quads,
                            row_scales + row + r, w0, quads, scales + panel * PANEL, corrections + panel * PANEL, bias0,
                            c0 + r * ldc0, ldc0);
                if (narrow0 || narrow1) {
                    const long first = (narrow0 ? panel : panel + 1) * PANEL;
                    for (long r = 0; r < rows; r++)
                        memcpy(c + (block + row + r) * ldc + first, tile_out + r * PANEL, (size_t)last_valid * sizeof(float));
                }
                row += rows;
            }
        }
    }
    free(quantized);
    free(row_scales);
    return 0;
}
#else
int quiver_gemm_packed_int8(
    const float *a, long lda, const signed char *packed, const float *scales, const int *corrections, long panel_count,
    long outputs, long k, const float *bias, float *c, long ldc, long m, long panel_begin, long panel_end, int use_vnni) {
    (void)a, (void)lda, (void)packed, (void)scales, (void)corrections, (void)panel_count, (void)outputs, (void)k;
    (void)bias, (void)c, (void)ldc, (void)m, (void)panel_begin, (void)panel_end, (void)use_vnni;
    return -1;
}
#endif
