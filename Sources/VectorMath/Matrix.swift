import CBLAS

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

    /// The number of threads OpenBLAS uses for one GEMM.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}

import Dispatch

extension VectorMath {
    /// Pointers handed to the column-block workers of one call: each writes its own columns of
    /// `c`, and the call returns only after all of them have.
    private struct GEMMOperands: @unchecked Sendable {
        let a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
        let bias: UnsafePointer<Float>?
    }

    /// ``matmulTransposedB(_:_:into:m:n:k:lda:ldb:ldc:alpha:bias:)`` with the columns of `C` split
    /// into `parts` blocks computed on separate threads, each a single-threaded GEMM.
    ///
    /// For small `m` (one short query) this is how both cores work on one forward pass without
    /// OpenBLAS's own thread pool, whose spin-waits cost more than they save at that size.
    public static func matmulTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, bias: UnsafePointer<Float>?, parts: Int
    ) {
        let blocks = min(parts, n / 64)
        guard blocks > 1 else {
            matmulTransposedB(a, b, into: c, m: m, n: n, k: k, bias: bias)
            return
        }
        // Column blocks in multiples of 16 so every block but the last stays vector-aligned.
        let width = (n / blocks + 15) / 16 * 16
        let operands = GEMMOperands(a: a, b: b, c: c, bias: bias)
        DispatchQueue.concurrentPerform(iterations: blocks) { block in
            let start = block * width
            let columns = Swift.min(width, n - start)
            guard columns > 0 else { return }
            matmulTransposedB(
                operands.a, operands.b + start * k, into: operands.c + start, m: m, n: columns, k: k,
                lda: k, ldb: k, ldc: n, bias: operands.bias.map { $0 + start })
        }
    }
}
