// System-library shim for OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#ifndef QUIVER_CBLAS_SHIM_H
#define QUIVER_CBLAS_SHIM_H
#include <cblas.h>
#endif
