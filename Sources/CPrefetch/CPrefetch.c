// Prefetch and spin hints are `static inline` in include/CPrefetch.h; this file holds what cannot
// be inline in Swift's view: naming a thread.
#if defined(__linux__)
#define _GNU_SOURCE
#include <pthread.h>
#endif
#include "CPrefetch.h"

void quiver_set_thread_name(const char *name) {
#if defined(__linux__)
    char truncated[16];
    size_t i = 0;
    for (; i < 15 && name[i] != '\0'; i++) truncated[i] = name[i];
    truncated[i] = '\0';
    (void)pthread_setname_np(pthread_self(), truncated);
#else
    (void)name;
#endif
}
