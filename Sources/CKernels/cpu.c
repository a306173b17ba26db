// CPU feature detection for the kernels' dispatch: cpuid for what the CPU has, xgetbv for what the
// OS saves on a context switch (an instruction set whose registers the OS does not save cannot be
// used even when cpuid lists it).
#include "CKernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int quiver_cpu_features(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx) return 0;
    const unsigned long long xcr0 = read_xcr0();
    const int ymm_saved = (xcr0 & 0x6) == 0x6;
    // Opmask, upper halves of ZMM0-15 and ZMM16-31 (bits 5-7), plus XMM and YMM.
    const int zmm_saved = (xcr0 & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int avx2 = (ebx >> 5) & 1;
    const int avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    const int vnni = (ecx >> 11) & 1;
    int features = 0;
    if (avx2 && fma && ymm_saved) features |= QUIVER_CPU_AVX2_FMA;
    if (avx512f && avx512dq && avx512bw && avx512vl && zmm_saved && (features & QUIVER_CPU_AVX2_FMA)) {
        features |= QUIVER_CPU_AVX512;
        if (vnni) features |= QUIVER_CPU_AVX512_VNNI;
        unsigned int a1, b1, c1, d1;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 5) & 1)) features |= QUIVER_CPU_AVX512_BF16;
    }
    return features;
}
#else
int quiver_cpu_features(void) { return 0; }
#endif
