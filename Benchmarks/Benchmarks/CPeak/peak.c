// Peak loops: 12 independent accumulators kept in registers, each step one instruction per
// accumulator; each function compiled for its instruction set by a `target` attribute.
#include "CPeak.h"
#include <immintrin.h>

#define STEP12(OP) \
    OP(a0) OP(a1) OP(a2) OP(a3) OP(a4) OP(a5) OP(a6) OP(a7) OP(a8) OP(a9) OP(a10) OP(a11)

__attribute__((target("avx2,fma"))) float quiver_peak_fma_avx2(long iterations) {
    __m256 a0 = _mm256_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m256 x = _mm256_set1_ps(1e-7f), y = _mm256_set1_ps(0.999f);
#define FMA256(acc) acc = _mm256_fmadd_ps(x, y, acc);
    for (long i = 0; i < iterations; i++) { STEP12(FMA256) __asm__ volatile("" ::: "memory"); }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx512f"))) float quiver_peak_fma_avx512(long iterations) {
    __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512 x = _mm512_set1_ps(1e-7f), y = _mm512_set1_ps(0.999f);
#define FMA512(acc) acc = _mm512_fmadd_ps(x, y, acc);
    for (long i = 0; i < iterations; i++) { STEP12(FMA512) __asm__ volatile("" ::: "memory"); }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) float quiver_peak_dpbf16(long iterations) {
    __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3c00), y = (__m512bh)_mm512_set1_epi16(0x3f80);
#define DP(acc) acc = _mm512_dpbf16_ps(acc, x, y);
    for (long i = 0; i < iterations; i++) { STEP12(DP) __asm__ volatile("" ::: "memory"); }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) int quiver_peak_vnni(long iterations) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(1);
#define VN(acc) acc = _mm512_dpbusd_epi32(acc, x, y);
    for (long i = 0; i < iterations; i++) { STEP12(VN) __asm__ volatile("" ::: "memory"); }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)), _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    return _mm512_reduce_add_epi32(s);
}
