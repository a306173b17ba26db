// Register-only arithmetic loops that measure this machine's peak rates (KernelPeak).
#ifndef QUIVER_CPEAK_H
#define QUIVER_CPEAK_H
/// Runs `iterations` steps of 12 independent accumulators and returns a value that depends on
/// them (so the loop is not removed). FLOP per step: fp32 FMA 8 lanes × 2 × 12 (AVX2), 16 × 2 × 12
/// (AVX-512); bf16 dot 32 pairs... see KernelPeak/main.swift.
float quiver_peak_fma_avx2(long iterations);
float quiver_peak_fma_avx512(long iterations);
float quiver_peak_dpbf16(long iterations);
int quiver_peak_vnni(long iterations);
#endif
