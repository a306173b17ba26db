import CBLAS

/// Numeric kernels shared by the encoder and the vector index.
///
/// This module is the only place with SIMD types, unsafe pointers into float buffers and BLAS
/// calls; everything above it reads like the algorithm.
public enum VectorMath {}
