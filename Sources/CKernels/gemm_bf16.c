// The packed GEMM in bf16 (VectorMath.matmulPackedBF16): weights stored as bf16 pairs, each row of
// A rounded to bf16 (round to nearest even) into a scratch buffer, products by `vdpbf16ps` (two
// bf16 products added into an fp32 accumulator) with the bias as the accumulators' start. The
// tiling follows gemm_avx512.c (up to 12 rows × 2 panels of 16 columns); the differences are the
// element type and that one step consumes two inputs. An AVX2 twin computes the same sums from the
// same rounded operands (bf16 widened to fp32 by a shift, two FMAs), so a bf16 collection can be
// served by a CPU without AVX512_BF16; the two agree to fp32 rounding, not bit for bit.
#include "CKernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { PANEL = 16, MAX_ROWS = 12 };

// Rows in the next group: 12, except that the last groups are balanced (as gemm_avx512.c).
static long row_group(long remaining, long most) {
    if (remaining >= 2 * most || remaining <= most) return remaining < most ? remaining : most;
    return (remaining + 1) / 2;
}

// Round to nearest even, NaN kept quiet: the scalar rule `vcvtne2ps2bf16` follows.
static inline uint16_t to_bf16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7FFFu + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

void quiver_bf16_pack(const float *weight, long outputs, long inputs, unsigned short *packed) {
    const long pairs = (inputs + 1) / 2, panels = (outputs + PANEL - 1) / PANEL;
    memset(packed, 0, (size_t)(panels * pairs * PANEL * 2) * sizeof(uint16_t));
    for (long panel = 0; panel < panels; panel++) {
        uint16_t *base = packed + panel * pairs * PANEL * 2;
        for (long lane = 0; lane < PANEL && panel * PANEL + lane < outputs; lane++) {
            const float *row = weight + (panel * PANEL + lane) * inputs;
            for (long j = 0; j < inputs; j++) base[(j / 2) * PANEL * 2 + lane * 2 + (j & 1)] = to_bf16(row[j]);
        }
    }
}

void quiver_bf16_round(const float *x, long count, unsigned short *out) {
    for (long i = 0; i < count; i++) out[i] = to_bf16(x[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// Rows of A (row stride `lda` floats) to bf16 pairs (`pairs` 32-bit words a row, an odd `k`'s last
// pair padded with zero), rounded as quiver_bf16_round.
BF16 static void rows_to_bf16_avx512(const float *a, long lda, long rows, long k, uint32_t *out, long pairs) {
    for (long r = 0; r < rows; r++) {
        const float *src = a + r * lda;
        uint16_t *dst = (uint16_t *)(out + r * pairs);
        long j = 0;
        for (; j + 32 <= k; j += 32) {
            const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j));
            _mm512_storeu_si512((void *)(dst + j), (__m512i)v);
        }
        const long left = k - j;
        if (left > 0) {
            const __mmask16 low = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            const __mmask16 high = left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
            const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(high, src + j + 16), _mm512_maskz_loadu_ps(low, src + j));
            const long store = pairs * 2 - j;  // the padding element too
            _mm512_mask_storeu_epi16((void *)(dst + j), (__mmask32)((1ull << store) - 1), (__m512i)v);
        }
    }
}

INLINE BF16 void tile_avx512(
    const int rows, const int pair, const uint32_t *a, long lda, const uint32_t *w0, const uint32_t *w1, const uint32_t *n0,
    const uint32_t *n1, long pairs, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
    __m512 acc0[MAX_ROWS], acc1[MAX_ROWS];
    const __m512 b0 = bias0 ? _mm512_loadu_ps(bias0) : _mm512_setzero_ps();
    const __m512 b1 = (pair && bias1) ? _mm512_loadu_ps(bias1) : _mm512_setzero_ps();
    for (int r = 0; r < MAX_ROWS; r++) {
        acc0[r] = b0;
        acc1[r] = b1;
    }
    for (long j = 0; j < pairs; j++) {
        const __m512bh x0 = (__m512bh)_mm512_load_si512((const void *)(w0 + j * PANEL));
        const __m512bh x1 = pair ? (__m512bh)_mm512_load_si512((const void *)(w1 + j * PANEL)) : x0;
        _mm_prefetch((const char *)(n0 + j * PANEL), _MM_HINT_T0);
        if (pair) _mm_prefetch((const char *)(n1 + j * PANEL), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MAX_ROWS; r++) {
            if (r < rows) {
                const __m512bh s = (__m512bh)_mm512_set1_epi32((int)a[r * lda + j]);
                acc0[r] = _mm512_dpbf16_ps(acc0[r], s, x0);
                if (pair) acc1[r] = _mm512_dpbf16_ps(acc1[r], s, x1);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MAX_ROWS; r++) {
        if (r < rows) {
            _mm512_storeu_ps(c0 + r * ldc0, acc0[r]);
            if (pair) _mm512_storeu_ps(c1 + r * ldc1, acc1[r]);
        }
    }
}

#define TILE_CASE(R)                                                                                                  \
    case R:                                                                                                           \
        if (pair)                                                                                                     \
            tile_avx512(R, 1, a, lda, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);                       \
        else                                                                                                          \
            tile_avx512(R, 0, a, lda, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);                       \
        break;

__attribute__((noinline)) BF16 static void tile_any_avx512(
    int rows, int pair, const uint32_t *a, long lda, const uint32_t *w0, const uint32_t *w1, const uint32_t *n0,
    const uint32_t *n1, long pairs, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
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

// The AVX2 twin: a 4-row × 16-column tile over one panel. A pair word holds the even input in its
// low half and the odd one in its high half; each widens to fp32 exactly (bf16 is fp32's top half).
INLINE AVX2 void tile_avx2(
    const int rows, const uint32_t *a, long lda, const uint32_t *w, long pairs, const float *bias, float *c, long ldc) {
    __m256 acc[4][2];
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < 4; r++) {
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    for (long j = 0; j < pairs; j++) {
        const __m256i p0 = _mm256_load_si256((const __m256i *)(w + j * PANEL));
        const __m256i p1 = _mm256_load_si256((const __m256i *)(w + j * PANEL + 8));
        const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(p0, 16)), o0 = _mm256_castsi256_ps(_mm256_and_si256(p0, high));
        const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(p1, 16)), o1 = _mm256_castsi256_ps(_mm256_and_si256(p1, high));
#pragma clang loop unroll(full)
        for (int r = 0; r < 4; r++) {
            if (r < rows) {
                const uint32_t word = a[r * lda + j];
                const uint32_t even_bits = word << 16, odd_bits = word & 0xFFFF0000u;
                float even, odd;
                memcpy(&even, &even_bits, 4);
                memcpy(&odd, &odd_bits, 4);
                const __m256 se = _mm256_set1_ps(even), so = _mm256_set1_ps(odd);
                acc[r][0] = _mm256_fmadd_ps(so, o0, _mm256_fmadd_ps(se, e0, acc[r][0]));
                acc[r][1] = _mm256_fmadd_ps(so, o1, _mm256_fmadd_ps(se, e1, acc[r][1]));
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < 4; r++) {
        if (r < rows) {
            _mm256_storeu_ps(c + r * ldc, acc[r][0]);
            _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
        }
    }
}

__attribute__((noinline)) AVX2 static void tile_any_avx2(
    int rows, const uint32_t *a, long lda, const uint32_t *w, long pairs, const float *bias, float *c, long ldc) {
    switch (rows) {
        case 4: tile_avx2(4, a, lda, w, pairs, bias, c, ldc); break;
        case 3: tile_avx2(3, a, lda, w, pairs, bias, c, ldc); break;
        case 2: tile_avx2(2, a, lda, w, pairs, bias, c, ldc); break;
        default: tile_avx2(1, a, lda, w, pairs, bias, c, ldc); break;
    }
}

int quiver_gemm_packed_bf16(
    const float *a, long lda, const unsigned short *packed16, long panel_count, long outputs, long k, const float *bias, float *c,
    long ldc, long m, long panel_begin, long panel_end, int use_avx512) {
    if (m <= 0 || k <= 0) return 0;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panel_count) panel_end = panel_count;
    if (panel_begin >= panel_end) return 0;
    const uint32_t *packed = (const uint32_t *)packed16;
    const long pairs = (k + 1) / 2;
    const long step = use_avx512 ? MAX_ROWS : 4;
    // Rows in blocks whose bf16 copy (~256 KB) stays in L2 while every panel passes over it.
    long row_block = (1L << 18) / (pairs * 4) / step * step;
    if (row_block < step) row_block = step;
    if (row_block > m) row_block = m;
    uint32_t *rounded = aligned_alloc(64, (size_t)((row_block * pairs * 4 + 63) / 64 * 64));
    if (!rounded) return -1;
    float tile_out[MAX_ROWS * PANEL] __attribute__((aligned(64)));
    float padded_bias[PANEL] __attribute__((aligned(64)));
    const long last_valid = outputs - (panel_count - 1) * PANEL;
    if (bias && last_valid < PANEL) {
        memset(padded_bias, 0, sizeof padded_bias);
        memcpy(padded_bias, bias + (panel_count - 1) * PANEL, (size_t)last_valid * sizeof(float));
    }
    const long narrow_panel = last_valid < PANEL ? panel_count - 1 : -1;
    for (long block = 0; block < m; block += row_block) {
        const long block_rows = block + row_block < m ? row_block : m - block;
        if (use_avx512) {
            rows_to_bf16_avx512(a + block * lda, lda, block_rows, k, rounded, pairs);
        } else {
            for (long r = 0; r < block_rows; r++) {
                uint16_t *dst = (uint16_t *)(rounded + r * pairs);
                quiver_bf16_round(a + (block + r) * lda, k, dst);
                if (k & 1) dst[k] = 0;
            }
        }
        const long panel_step = use_avx512 ? 2 : 1;
        for (long panel = panel_begin; panel < panel_end; panel += panel_step) {
            const int pair = use_avx512 && panel + 1 < panel_end;
            const uint32_t *w0 = packed + panel * pairs * PANEL;
            const uint32_t *w1 = pair ? w0 + pairs * PANEL : w0;
            const long after = panel + 2 < panel_count ? panel + 2 : panel_count - 1;
            const uint32_t *n0 = packed + after * pairs * PANEL;
            const uint32_t *n1 = after + 1 < panel_count ? n0 + pairs * PANEL : n0;
            const int narrow0 = panel == narrow_panel, narrow1 = pair && panel + 1 == narrow_panel;
            const float *bias0 = bias ? (narrow0 ? padded_bias : bias + panel * PANEL) : NULL;
            const float *bias1 = bias && pair ? (narrow1 ? padded_bias : bias + (panel + 1) * PANEL) : NULL;
            for (long row = 0; row < block_rows;) {
                const long rows = row_group(block_rows - row, step);
                float *c0 = narrow0 ? tile_out : c + (block + row) * ldc + panel * PANEL;
                const long ldc0 = narrow0 ? PANEL : ldc;
                float *c1 = !pair ? c0 : narrow1 ? tile_out : c + (block + row) * ldc + (panel + 1) * PANEL;
                const long ldc1 = narrow1 ? PANEL : ldc;
                if (use_avx512)
                    tile_any_avx512((int)rows, pair, rounded + row * pairs, pairs, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);
                else
                    tile_any_avx2((int)rows, rounded + row * pairs, pairs, w0, pairs, bias0, c0, ldc0);
                if (narrow0 || narrow1) {
                    const long first = (narrow0 ? panel : panel + 1) * PANEL;
                    for (long r = 0; r < rows; r++)
                        memcpy(c + (block + row + r) * ldc + first, tile_out + r * PANEL, (size_t)last_valid * sizeof(float));
                }
                row += rows;
            }
        }
    }
    free(rounded);
    return 0;
}
#else
int quiver_gemm_packed_bf16(
    const float *a, long lda, const unsigned short *packed16, long panel_count, long outputs, long k, const float *bias, float *c,
    long ldc, long m, long panel_begin, long panel_end, int use_avx512) {
    (void)a, (void)lda, (void)packed16, (void)panel_count, (void)outputs, (void)k, (void)bias, (void)c, (void)ldc, (void)m;
    (void)panel_begin, (void)panel_end, (void)use_avx512;
    return -1;
}
#endif
