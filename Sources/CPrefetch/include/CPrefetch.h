// Cache prefetch hints (the vector index's search loop, the packed GEMM) and a spin-wait hint.
// Swift has no intrinsic for either; a `static inline` function in a C header is imported by Swift
// and inlined like Swift code. Wrapped by `VectorMath.prefetch` and `VectorMath.spinPause`.
// Also `quiver_set_thread_name`, which the Embedder's threads call (Swift's Glibc module does not
// export `pthread_setname_np`, and `prctl` is variadic). Nothing else should include this header.
#ifndef QUIVER_CPREFETCH_H
#define QUIVER_CPREFETCH_H

#include <stddef.h>

/// Hints that the cache line holding `p` will be read soon (into all cache levels). Never faults.
static inline void quiver_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Hints every cache line of `bytes` bytes starting at `p`.
static inline void quiver_prefetch_range(const void *p, long bytes) {
    const char *c = (const char *)p;
    for (long offset = 0; offset < bytes; offset += 64) {
        __builtin_prefetch(c + offset, 0, 3);
    }
}

/// Tells the CPU that the caller is in a spin-wait loop (`pause` on x86-64, `yield` on ARM), which
/// saves power and lets a waiting core give way to the one it waits for.
static inline void quiver_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Names the calling thread (Linux keeps the first 15 bytes; elsewhere a no-op).
void quiver_set_thread_name(const char *name);

#endif
