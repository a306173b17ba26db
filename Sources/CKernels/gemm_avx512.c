// The packed GEMM with 512-bit tiles (VectorMath.matmulPacked's AVX-512 path). Same product and
// packing as the Swift AVX2 kernel in PackedMatrix.swift; the differences are the tile (up to 12
// rows × 2 panels = 24 accumulators of 16 lanes, against 6 × 1 × 2 of 8 lanes there) and the
// instruction set. Compiled for AVX-512 by the `target` attribute on each function, so the rest of
// the binary stays runnable on an AVX2 CPU; only called after quiver_cpu_features() checked.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
enum { PANEL = 16, MAX_ROWS = 12 };

// A `rows × 32` tile over two panels (`w0`, `w1`: k × 16 floats each), or `rows × 16` over one
// (`w1` NULL), accumulators starting at the bias. Called with a constant `rows` (see the switches
// below), so the compiler keeps exactly `rows` (× 2) accumulators in registers and drops the rest.
// Each step prefetches the matching lines of the next panels (`n0`, `n1`).
INLINE AVX512 void tile(
    const int rows, const int pair, const float *a, long lda, const float *w0, const float *w1, const float *n0, const float *n1,
    long k, const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
    __m512 acc0[MAX_ROWS], acc1[MAX_ROWS];
    const __m512 b0 = bias0 ? _mm512_loadu_ps(bias0) : _mm512_setzero_ps();
    const __m512 b1 = (pair && bias1) ? _mm512_loadu_ps(bias1) : _mm512_setzero_ps();
    for (int r = 0; r < MAX_ROWS; r++) {
        acc0[r] = b0;
        acc1[r] = b1;
    }
    for (long j = 0; j < k; j++) {
        const __m512 x0 = _mm512_load_ps(w0 + j * PANEL);
        const __m512 x1 = pair ? _mm512_load_ps(w1 + j * PANEL) : _mm512_setzero_ps();
        _mm_prefetch((const char *)(n0 + j * PANEL), _MM_HINT_T0);
        if (pair) _mm_prefetch((const char *)(n1 + j * PANEL), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MAX_ROWS; r++) {
            if (r < rows) {
                const __m512 s = _mm512_set1_ps(a[r * lda + j]);
                acc0[r] = _mm512_fmadd_ps(s, x0, acc0[r]);
                if (pair) acc1[r] = _mm512_fmadd_ps(s, x1, acc1[r]);
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
            tile(R, 1, a, lda, w0, w1, n0, n1, k, bias0, bias1, c0, ldc0, c1, ldc1);                                   \
        else                                                                                                          \
            tile(R, 0, a, lda, w0, w1, n0, n1, k, bias0, bias1, c0, ldc0, c1, ldc1);                                   \
        break;

// One tile, with `tile` inlined once per row count and pairing.
__attribute__((noinline)) AVX512 static void tile_any(
    int rows, int pair, const float *a, long lda, const float *w0, const float *w1, const float *n0, const float *n1, long k,
    const float *bias0, const float *bias1, float *c0, long ldc0, float *c1, long ldc1) {
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

// Rows in the next group: 12, except that the last groups are balanced (20 = 10 + 10, not
// 12 + 8; 13 = 7 + 6): a short group costs a pass over the panels for little work.
static long row_group(long remaining) {
    if (remaining >= 24 || remaining <= MAX_ROWS) return remaining < MAX_ROWS ? remaining : MAX_ROWS;
    return (remaining + 1) / 2;
}

AVX512 void quiver_gemm_packed_avx512(
    const float *a, long lda, const float *packed, long panel_count, long outputs, long k, const float *bias, float *c, long ldc,
    long m, long panel_begin, long panel_end) {
    if (m <= 0 || k <= 0) return;
    if (panel_begin < 0) panel_begin = 0;
    if (panel_end > panel_count) panel_end = panel_count;
    if (panel_begin >= panel_end) return;
    // A narrow last panel (fewer than 16 valid columns) goes through zero-padded copies, so no
    // access leaves the caller's buffers.
    float tile_out[MAX_ROWS * PANEL] __attribute__((aligned(64)));
    float padded_bias[PANEL] __attribute__((aligned(64)));
    const long last_valid = outputs - (panel_count - 1) * PANEL;
    if (bias && last_valid < PANEL) {
        memset(padded_bias, 0, sizeof padded_bias);
        memcpy(padded_bias, bias + (panel_count - 1) * PANEL, (size_t)last_valid * sizeof(float));
    }
    // Rows in blocks whose slice of A (~512 KB) stays in L2 while every panel passes over it.
    long row_block = (1L << 19) / (k * 4) / MAX_ROWS * MAX_ROWS;
    if (row_block < MAX_ROWS) row_block = MAX_ROWS;
    for (long block = 0; block < m; block += row_block) {
        const long block_end = block + row_block < m ? block + row_block : m;
        for (long panel = panel_begin; panel < panel_end; panel += 2) {
            const int pair = panel + 1 < panel_end;
            const float *w0 = packed + panel * k * PANEL;
            const float *w1 = pair ? w0 + k * PANEL : w0;
            const long after = panel + 2 < panel_count ? panel + 2 : panel_count - 1;
            const float *n0 = packed + after * k * PANEL;
            const float *n1 = after + 1 < panel_count ? n0 + k * PANEL : n0;
            // Only the overall last panel can be narrow: the second of a pair, or a lone one.
            const long narrow_panel = last_valid < PANEL ? panel_count - 1 : -1;
            const int narrow0 = panel == narrow_panel, narrow1 = pair && panel + 1 == narrow_panel;
            const float *bias0 = bias ? (narrow0 ? padded_bias : bias + panel * PANEL) : NULL;
            const float *bias1 = bias && pair ? (narrow1 ? padded_bias : bias + (panel + 1) * PANEL) : NULL;
            for (long row = block; row < block_end;) {
                const long rows = row_group(block_end - row);
                float *c0 = narrow0 ? tile_out : c + row * ldc + panel * PANEL;
                const long ldc0 = narrow0 ? PANEL : ldc;
                // The second panel's columns only exist for a pair (no pointer past C otherwise).
                float *c1 = !pair ? c0 : narrow1 ? tile_out : c + row * ldc + (panel + 1) * PANEL;
                const long ldc1 = narrow1 ? PANEL : ldc;
                tile_any((int)rows, pair, a + row * lda, lda, w0, w1, n0, n1, k, bias0, bias1, c0, ldc0, c1, ldc1);
                if (narrow0 || narrow1) {
                    const long first = (narrow0 ? panel : panel + 1) * PANEL;
                    for (long r = 0; r < rows; r++)
                        memcpy(c + (row + r) * ldc + first, tile_out + r * PANEL, (size_t)last_valid * sizeof(float));
                }
                row += rows;
            }
        }
    }
}
#else
void quiver_gemm_packed_avx512(
    const float *a, long lda, const float *packed, long panel_count, long outputs, long k, const float *bias, float *c, long ldc,
    long m, long panel_begin, long panel_end) {
    (void)a, (void)lda, (void)packed, (void)panel_count, (void)outputs, (void)k, (void)bias, (void)c, (void)ldc, (void)m;
    (void)panel_begin, (void)panel_end;
}
#endif
