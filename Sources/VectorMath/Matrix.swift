import CBLAS

#if canImport(Glibc)
    import Glibc
#endif

extension VectorMath {
    /// `C[m×n] = A[m×k] · B[n×k]ᵀ (+ bias)`, all row-major: the shape of a PyTorch `Linear` layer,
    /// whose weight is stored `[out, in]`.
    ///
    /// `lda`, `ldb` and `ldc` are row strides in elements (defaults: dense rows), so column slices of a
    /// wider matrix — one attention head inside a fused Q|K|V buffer — work without copying.
    /// With `bias` (length `n`) every row of `C` starts from the bias and the product is added to it.
    @inlinable
    public static func matmulTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
        alpha: Float = 1, bias: UnsafePointer<Float>? = nil
    ) {
        guard m > 0, n > 0 else { return }
        let ldc = ldc ?? n
        var beta: Float = 0
        if let bias {
            for row in 0..<m { (c + row * ldc).update(from: bias, count: n) }
            beta = 1
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda ?? k), b, Int32(ldb ?? k), beta, c, Int32(ldc))
    }

    /// `C[m×n] = A[m×k] · B[k×n]`, row-major, with optional row strides (see `matmulTransposedB`).
    @inlinable
    public static func matmul(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
            1, a, Int32(lda ?? k), b, Int32(ldb ?? n), 0, c, Int32(ldc ?? n))
    }

    /// Sets the number of threads OpenBLAS uses for one GEMM.
    public static func setBLASThreads(_ count: Int) {
        openblas_set_num_threads(Int32(Swift.max(1, count)))
    }

    /// Runs OpenBLAS on the calling thread only and stops the thread pool its library constructor
    /// started. Quiver parallelizes above OpenBLAS (``setBLASThreads(_:)`` is 1 everywhere), but
    /// the pthread build of OpenBLAS starts one server thread per core at load, and each spins on
    /// `sched_yield` for ~0.1 s before it sleeps: a third of a short command's CPU (a one-line
    /// `quiver query --input` measured 0.10–0.17 s of system time with the pool, 0.02–0.04 s
    /// without). Call it first thing in a process. The pool is looked up by name, so a serial or
    /// OpenMP build of OpenBLAS (no such pool) is left as it is. Quiver never asks OpenBLAS for a
    /// second thread afterwards (whether OpenBLAS would restart its pool then is not tested here).
    public static func stopBLASThreadPool() {
        setBLASThreads(1)
        typealias Shutdown = @convention(c) () -> Int32
        guard let symbol = dlsym(nil, "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(symbol, to: Shutdown.self)()
    }

    /// The number of threads OpenBLAS uses for one GEMM.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}
