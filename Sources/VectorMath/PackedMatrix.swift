import CKernels

/// A weight matrix stored `[n, k]` (a PyTorch `Linear` weight: `n` outputs, `k` inputs), copied
/// once into the layout that ``VectorMath/matmulPacked(_:lda:_:into:ldc:m:panels:bias:)`` streams.
///
/// The outputs are cut into panels of ``panelWidth`` (16) columns. Panel `p` holds, for each input
/// `j` in order, the 16 weights `W[16p ..< 16p+16][j]` next to each other, so a product reads the
/// whole matrix front to back in one pass with unit stride; a last, partial panel is padded with
/// zeros. This is the packing that a BLAS does on every call; doing it once at load time is what
/// makes products with few rows (a short query) cheap. See docs/ARCHITECTURE.md, "Small passes".
public final class PackedMatrix: @unchecked Sendable {
    /// Output columns per panel: two 8-lane vectors.
    public static let panelWidth = 16

    /// Outputs (`n`): rows of the original weight, columns of a product.
    public let outputs: Int
    /// Inputs (`k`): columns of the original weight, the shared dimension of a product.
    public let inputs: Int
    /// Number of panels, `⌈outputs / 16⌉`.
    public let panelCount: Int
    /// `panelCount × inputs × 16` floats, 64-byte aligned; immutable after `init`.
    let storage: UnsafeMutablePointer<Float>

    /// Packs `weight`, a row-major `[outputs, inputs]` matrix (row stride `inputs`).
    /// Both sizes must be positive.
    public init(weight: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        precondition(outputs > 0 && inputs > 0, "PackedMatrix needs positive sizes")
        self.outputs = outputs
        self.inputs = inputs
        panelCount = (outputs + Self.panelWidth - 1) / Self.panelWidth
        let count = panelCount * inputs * Self.panelWidth
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: count)
        storage.initialize(repeating: 0, count: count)
        for panel in 0..<panelCount {
            let base = storage + panel * inputs * Self.panelWidth
            for lane in 0..<min(Self.panelWidth, outputs - panel * Self.panelWidth) {
                let row = weight + (panel * Self.panelWidth + lane) * inputs
                for j in 0..<inputs { base[j * Self.panelWidth + lane] = row[j] }
            }
        }
    }

    /// Bytes of packed storage.
    public var byteCount: Int { panelCount * inputs * Self.panelWidth * 4 }

    /// The output columns of a range of panels (the last panel may be narrower than 16).
    public func columns(of panels: Range<Int>) -> Range<Int> {
        min(outputs, panels.lowerBound * Self.panelWidth)..<min(outputs, panels.upperBound * Self.panelWidth)
    }

    deinit { storage.deallocate() }
}

extension VectorMath {
    /// `C[m × cols] = A[m × k] · Wᵀ (+ bias)` for the output columns of `panels`, where `W` is the
    /// packed `[n, k]` weight: the same product as ``matmulTransposedB(_:_:into:m:n:k:lda:ldb:ldc:alpha:bias:)``
    /// without a BLAS call.
    ///
    /// Rows are taken six at a time (12 accumulators of 8 lanes, a 6×16 tile per panel) and a
    /// panel's weights are read once per row group; the next panel is prefetched while the current
    /// one is in use, so the weights stream from memory at close to full bandwidth even when `m` is
    /// a handful of rows. Only columns inside `panels` are written, so several threads can fill
    /// disjoint panel ranges of one `C`. `lda` and `ldc` are row strides in elements; `bias`, when
    /// given, has `n` elements.
    public static func matmulPacked(
        _ a: UnsafePointer<Float>, lda: Int, _ w: PackedMatrix, into c: UnsafeMutablePointer<Float>, ldc: Int,
        m: Int, panels: Range<Int>, bias: UnsafePointer<Float>?, kernels: Kernels = Kernels.active
    ) {
        guard m > 0 else { return }
        if kernels == .avx512, Kernels.supported(.avx512) {
            let clamped = panels.clamped(to: 0..<w.panelCount)
            quiver_gemm_packed_avx512(
                a, lda, w.storage, w.panelCount, w.outputs, w.inputs, bias, c, ldc, m, clamped.lowerBound, clamped.upperBound)
            return
        }
        let k = w.inputs
        let width = PackedMatrix.panelWidth
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 6 * width + width) { temporary in
            guard let base = temporary.baseAddress else { return }
            let tile = base
            let paddedBias = base + 6 * width
            // Rows in blocks whose slice of A (~512 KB) stays in L2 while every panel passes over
            // it; a small pass is one block.
            let rowBlock = Swift.max(6, (1 << 19) / (k * 4) / 6 * 6)
            for blockStart in stride(from: 0, to: m, by: rowBlock) {
                let blockEnd = Swift.min(m, blockStart + rowBlock)
                for panel in panels.clamped(to: 0..<w.panelCount) {
                    let weights = UnsafeRawPointer(w.storage + panel * k * width)
                    let next = UnsafeRawPointer(w.storage + Swift.min(panel + 1, w.panelCount - 1) * k * width)
                    let first = panel * width
                    let valid = Swift.min(width, w.outputs - first)
                    // A full panel reads its bias and writes its columns in place; the narrow last
                    // one goes through zero-padded copies so no access leaves the caller's buffers.
                    let panelBias: UnsafePointer<Float>?
                    if let bias, valid < width {
                        paddedBias.initialize(repeating: 0, count: width)
                        paddedBias.update(from: bias + first, count: valid)
                        panelBias = UnsafePointer(paddedBias)
                    } else {
                        panelBias = bias.map { $0 + first }
                    }
                    var row = blockStart
                    while row < blockEnd {
                        let rows = rowGroup(remaining: blockEnd - row)
                        let target = valid == width ? c + row * ldc + first : tile
                        let targetStride = valid == width ? ldc : width
                        packedTile(
                            rows: rows, a: a + row * lda, lda: lda, weights: weights, next: next, k: k,
                            bias: panelBias, c: target, ldc: targetStride)
                        if valid < width {
                            for r in 0..<rows {
                                (c + (row + r) * ldc + first).update(from: tile + r * width, count: valid)
                            }
                        }
                        row += rows
                    }
                }
            }
        }
    }

    /// Rows in the next group: six, except that the last groups are balanced so that none has
    /// fewer than three rows (14 = 6 + 4 + 4, not 6 + 6 + 2): a short group costs a panel pass
    /// for little work.
    @inline(__always)
    static func rowGroup(remaining: Int) -> Int {
        if remaining >= 10 || remaining == 6 { return 6 }
        return remaining > 6 ? remaining - 4 : remaining
    }

    /// One tile, with the kernel inlined once per row count: `rows` is a constant in each copy,
    /// so the unused accumulators and their branches are compiled away and the 6-row loop keeps
    /// all 12 accumulators in registers.
    @inline(never)
    static func packedTile(
        rows: Int, a: UnsafePointer<Float>, lda: Int, weights: UnsafeRawPointer, next: UnsafeRawPointer, k: Int,
        bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch rows {
        case 6: tileKernel(rows: 6, a, lda, weights, next, k, bias, c, ldc)
        case 5: tileKernel(rows: 5, a, lda, weights, next, k, bias, c, ldc)
        case 4: tileKernel(rows: 4, a, lda, weights, next, k, bias, c, ldc)
        case 3: tileKernel(rows: 3, a, lda, weights, next, k, bias, c, ldc)
        case 2: tileKernel(rows: 2, a, lda, weights, next, k, bias, c, ldc)
        default: tileKernel(rows: 1, a, lda, weights, next, k, bias, c, ldc)
        }
    }

    /// A `rows × 16` tile (rows ≤ 6) of `A · Wᵀ (+ bias)` over one panel: per input `j`, two
    /// 8-lane loads of the panel, one broadcast of `A[r][j]` per row and two fused multiply-adds.
    /// One prefetch per step pulls the matching line of the next panel toward the cache.
    @inline(__always)
    static func tileKernel(
        rows: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ w: UnsafeRawPointer, _ next: UnsafeRawPointer, _ k: Int,
        _ bias: UnsafePointer<Float>?, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        typealias V8 = SIMD8<Float>
        var b0 = V8()
        var b1 = V8()
        if let bias {
            b0 = UnsafeRawPointer(bias).loadUnaligned(as: V8.self)
            b1 = UnsafeRawPointer(bias + 8).loadUnaligned(as: V8.self)
        }
        var c00 = b0
        var c01 = b1
        var c10 = b0
        var c11 = b1
        var c20 = b0
        var c21 = b1
        var c30 = b0
        var c31 = b1
        var c40 = b0
        var c41 = b1
        var c50 = b0
        var c51 = b1
        let a0 = a
        let a1 = a + lda
        let a2 = a + 2 * lda
        let a3 = a + 3 * lda
        let a4 = a + 4 * lda
        let a5 = a + 5 * lda
        var p = w
        for j in 0..<k {
            let w0 = p.load(as: V8.self)
            let w1 = p.load(fromByteOffset: 32, as: V8.self)
            prefetch(next + j * 64)
            p += 64
            var x = V8(repeating: a0[j])
            c00.addProduct(x, w0)
            c01.addProduct(x, w1)
            if rows > 1 {
                x = V8(repeating: a1[j])
                c10.addProduct(x, w0)
                c11.addProduct(x, w1)
            }
            if rows > 2 {
                x = V8(repeating: a2[j])
                c20.addProduct(x, w0)
                c21.addProduct(x, w1)
            }
            if rows > 3 {
                x = V8(repeating: a3[j])
                c30.addProduct(x, w0)
                c31.addProduct(x, w1)
            }
            if rows > 4 {
                x = V8(repeating: a4[j])
                c40.addProduct(x, w0)
                c41.addProduct(x, w1)
            }
            if rows > 5 {
                x = V8(repeating: a5[j])
                c50.addProduct(x, w0)
                c51.addProduct(x, w1)
            }
        }
        @inline(__always) func store(_ r: Int, _ v0: V8, _ v1: V8) {
            let out = UnsafeMutableRawPointer(c + r * ldc)
            out.storeBytes(of: v0, as: V8.self)
            out.storeBytes(of: v1, toByteOffset: 32, as: V8.self)
        }
        store(0, c00, c01)
        if rows > 1 { store(1, c10, c11) }
        if rows > 2 { store(2, c20, c21) }
        if rows > 3 { store(3, c30, c31) }
        if rows > 4 { store(4, c40, c41) }
        if rows > 5 { store(5, c50, c51) }
    }
}
