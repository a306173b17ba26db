// The packed GEMM in bf16 (VectorMath.matmulPackedBF16): weights stored as bf16 pairs, each row of
// A rounded to bf16 (round to nearest even) into a scratch buffer, products by `vdpbf16ps` (two
// bf16 products added into an fp32 accumulator) with the bias as the accumulators' start. The
// tiling follows gemm_avx512.c (up to 12 rows × 2 panels of 16 columns); the differences are the
// element type and that one step consumes two inputs. An AVX2 twin computes the same sums from the
// same rounded operands (bf16 widened to fp32 by a shift, two FMAs), so a bf16 collection can be
// served by a CPU without AVX512_BF16; the two agree to fp32 rounding, not bit for bit. A widening
// AVX-512F kernel does the twin's arithmetic in the same order on 512-bit tiles (so it gives the
// twin's bits): for AVX-512 CPUs without AVX512_BF16, and for those where `vdpbf16ps` delivers
// fewer FLOPs than two FMAs (measured once per process, quiver_probe_dpbf16_over_fma).
#include "CKernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

// `tile_any_<name>`: the tile function `tile` instantiated for each row count (1…12) and for one
// or two panels, so that every loop inside is unrolled for its shape; `A` is the type of a row's
// operands (bf16 pairs or widened floats).
#define TILE_CASE(TILE, R)                                                                            \
    case R:                                                                                           \
        if (pair)                                                                                     \
            TILE(R, 1, a, lda, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);              \
        else                                                                                          \
            TILE(R, 0, a, lda, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);              \
        break;
#define DEFINE_TILE_ANY(NAME, TILE, A, TARGET)                                                                         \
    __attribute__((noinline)) TARGET static void NAME(                                                                 \
        int rows, int pair, const A *a, long lda, const uint32_t *w0, const uint32_t *w1, const uint32_t *n0,          \
        const uint32_t *n1, long pairs, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1,       \
        long ldc1) {                                                                                                   \
        switch (rows) {                                                                                                \
            TILE_CASE(TILE, 12)                                                                                        \
            TILE_CASE(TILE, 11)                                                                                        \
            TILE_CASE(TILE, 10)                                                                                        \
            TILE_CASE(TILE, 9)                                                                                         \
            TILE_CASE(TILE, 8)                                                                                         \
            TILE_CASE(TILE, 7)                                                                                         \
            TILE_CASE(TILE, 6)                                                                                         \
            TILE_CASE(TILE, 5)                                                                                         \
            TILE_CASE(TILE, 4)                                                                                         \
            TILE_CASE(TILE, 3)                                                                                         \
            TILE_CASE(TILE, 2)                                                                                         \
            default:                                                                                                   \
                TILE_CASE(TILE, 1)                                                                                     \
        }                                                                                                              \
    }

DEFINE_TILE_ANY(tile_any_avx512, tile_avx512, uint32_t, BF16)

#define AVX512F __attribute__((target("avx512f,avx2,fma")))

// Rows of A rounded to bf16 as quiver_bf16_round and widened back to fp32 (`2 · pairs` floats a
// row, an odd `k`'s last element zero): the operands of the widening kernel, which broadcasts them
// straight from memory.
AVX512F static void rows_to_widened_avx512(const float *a, long lda, long rows, long k, float *out, long stride) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF), top = _mm512_set1_epi32((int)0xFFFF0000u);
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF), infinity = _mm512_set1_epi32(0x7F800000), quiet = _mm512_set1_epi32(0x400000);
    for (long r = 0; r < rows; r++) {
        const float *src = a + r * lda;
        float *dst = out + r * stride;
        for (long j = 0; j < stride; j += 16) {
            const long left = k - j;
            const __mmask16 valid = left >= 16 ? 0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            const __m512i bits = _mm512_castps_si512(_mm512_maskz_loadu_ps(valid, src + j));
            // Nearest even: add 0x7FFF plus the lowest kept bit, keep the top half; NaN stays a quiet NaN.
            const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
            const __m512i rounded = _mm512_and_si512(_mm512_add_epi32(bits, _mm512_add_epi32(bias, odd)), top);
            const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, magnitude), infinity);
            const __m512i kept = _mm512_mask_or_epi32(rounded, nan, _mm512_and_si512(bits, top), quiet);
            const long room = stride - j;
            const __mmask16 store = room >= 16 ? 0xFFFF : (__mmask16)((1u << room) - 1);
            _mm512_mask_storeu_ps(dst + j, store, _mm512_castsi512_ps(kept));
        }
    }
}

// The widening tile: up to 12 rows × 2 panels; per pair of inputs, each panel's 16 words split into
// the even and the odd inputs' fp32 weights, then two FMAs per row and panel in the AVX2 twin's order.
INLINE AVX512F void tile_widen(
    const int rows, const int pair, const float *a, long lda, const uint32_t *w0, const uint32_t *w1, const uint32_t *n0,
    const uint32_t *n1, long pairs, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
    __m512 acc0[MAX_ROWS], acc1[MAX_ROWS];
    const __m512 b0 = bias0 ? _mm512_loadu_ps(bias0) : _mm512_setzero_ps();
    const __m512 b1 = (pair && bias1) ? _mm512_loadu_ps(bias1) : _mm512_setzero_ps();
    for (int r = 0; r < MAX_ROWS; r++) {
        acc0[r] = b0;
        acc1[r] = b1;
    }
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    for (long j = 0; j < pairs; j++) {
        const __m512i p0 = _mm512_load_si512((const void *)(w0 + j * PANEL));
        const __m512i p1 = pair ? _mm512_load_si512((const void *)(w1 + j * PANEL)) : p0;
        const __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(p0, 16)), o0 = _mm512_castsi512_ps(_mm512_and_si512(p0, high));
        const __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(p1, 16)), o1 = _mm512_castsi512_ps(_mm512_and_si512(p1, high));
        _mm_prefetch((const char *)(n0 + j * PANEL), _MM_HINT_T0);
        if (pair) _mm_prefetch((const char *)(n1 + j * PANEL), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MAX_ROWS; r++) {
            if (r < rows) {
                const __m512 se = _mm512_set1_ps(a[r * lda + 2 * j]), so = _mm512_set1_ps(a[r * lda + 2 * j + 1]);
                acc0[r] = _mm512_fmadd_ps(so, o0, _mm512_fmadd_ps(se, e0, acc0[r]));
                if (pair) acc1[r] = _mm512_fmadd_ps(so, o1, _mm512_fmadd_ps(se, e1, acc1[r]));
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

DEFINE_TILE_ANY(tile_any_widen, tile_widen, float, AVX512F)
#undef DEFINE_TILE_ANY
#undef TILE_CASE

// Seconds for `iterations` rounds of 12 independent `op`s on 512-bit registers (the best of 5).
static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define STEP12(OP) OP(a0) OP(a1) OP(a2) OP(a3) OP(a4) OP(a5) OP(a6) OP(a7) OP(a8) OP(a9) OP(a10) OP(a11)

__attribute__((noinline)) BF16 static float run_dpbf16(long iterations) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80), y = x;
#define DP(acc) acc = _mm512_dpbf16_ps(acc, x, y);
    for (long i = 0; i < iterations; i++) {
        STEP12(DP)
        __asm__ volatile("" ::: "memory");
    }
#undef DP
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)), _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
    return _mm512_reduce_add_ps(sum);
}

__attribute__((noinline)) AVX512F static float run_fma512(long iterations) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
#define FMA(acc) acc = _mm512_fmadd_ps(x, acc, y);
    for (long i = 0; i < iterations; i++) {
        STEP12(FMA)
        __asm__ volatile("" ::: "memory");
    }
#undef FMA
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)), _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
    return _mm512_reduce_add_ps(sum);
}
#undef STEP12

double quiver_probe_dpbf16_over_fma(void) {
    const long iterations = 20000;
    volatile float sink = 0;
    double dp = 1e30, fma = 1e30;
    for (int trial = 0; trial < 5; trial++) {
        double t = now_seconds();
        sink += run_dpbf16(iterations);
        const double t_dp = now_seconds() - t;
        t = now_seconds();
        sink += run_fma512(iterations);
        const double t_fma = now_seconds() - t;
        if (t_dp < dp) dp = t_dp;
        if (t_fma < fma) fma = t_fma;
    }
    (void)sink;
    if (!(dp > 0) || !(fma > 0)) return 1;
    // vdpbf16ps does 2 products per lane (64 FLOP), an FMA 1 (32 FLOP): the ratio of FLOP rates.
    return (64.0 / dp) / (32.0 / fma);
}

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
    long ldc, long m, long panel_begin, long panel_end, int kernel) {
    if (m <= 0 || k <= 0) return 0;
    const int use_avx512 = kernel == 1, widen = kernel == 2;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panel_count) panel_end = panel_count;
    if (panel_begin >= panel_end) return 0;
    const uint32_t *packed = (const uint32_t *)packed16;
    const long pairs = (k + 1) / 2;
    const long step = use_avx512 || widen ? MAX_ROWS : 4;
    const long stride = widen ? pairs * 2 : pairs;  // 32-bit words (pairs, or widened floats) a row
    // Rows in blocks whose bf16 copy (~256 KB) stays in L2 while every panel passes over it.
    long row_block = (1L << 18) / (stride * 4) / step * step;
    if (row_block < step) row_block = step;
    if (row_block > m) row_block = m;
    uint32_t *rounded = aligned_alloc(64, (size_t)((row_block * stride * 4 + 63) / 64 * 64));
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
        if (widen) {
            rows_to_widened_avx512(a + block * lda, lda, block_rows, k, (float *)rounded, stride);
        } else if (use_avx512) {
            rows_to_bf16_avx512(a + block * lda, lda, block_rows, k, rounded, pairs);
        } else {
            for (long r = 0; r < block_rows; r++) {
                uint16_t *dst = (uint16_t *)(rounded + r * pairs);
                quiver_bf16_round(a + (block + r) * lda, k, dst);
                if (k & 1) dst[k] = 0;
            }
        }
        const long panel_step = use_avx512 || widen ? 2 : 1;
        for (long panel = panel_begin; panel < panel_end; panel += panel_step) {
            const int pair = (use_avx512 || widen) && panel + 1 < panel_end;
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
                if (widen)
                    tile_any_widen(
                        (int)rows, pair, (const float *)rounded + row * stride, stride, w0, w1, n0, n1, pairs, bias0, bias1, c0, ldc0, c1, ldc1);
                else if (use_avx512)
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
    long ldc, long m, long panel_begin, long panel_end, int kernel) {
    (void)a, (void)lda, (void)packed16, (void)panel_count, (void)outputs, (void)k, (void)bias, (void)c, (void)ldc, (void)m;
    (void)panel_begin, (void)panel_end, (void)kernel;
    return -1;
}

double quiver_probe_dpbf16_over_fma(void) { return 1; }
#endif
