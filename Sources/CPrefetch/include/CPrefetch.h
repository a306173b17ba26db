// Cache prefetch hints for the vector index's search loop. Swift has no prefetch intrinsic; a
// `static inline` function in a C header is imported by Swift and inlined like Swift code.
// Wrapped by `VectorMath.prefetch`; nothing else should include this header.
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

#endif
