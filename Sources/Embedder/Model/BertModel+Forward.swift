import VectorMath

extension BertModel {
    /// Runs the encoder over a flat batch and pools each sequence into one vector.
    ///
    /// `ids` holds every sequence's token ids back to back (no padding: each token's work is
    /// independent except inside attention, which runs per sequence); `lengths` says where each
    /// ends. Writes `lengths.count × hiddenSize` floats to `output`. Token ids must be in the
    /// vocabulary and every length in `1...maxPositions` (the caller checks; see `Embedder`).
    ///
    /// `packed` picks the GEMM: the packed small-pass kernel (`VectorMath.matmulPacked`, for passes
    /// of a few hundred tokens) or OpenBLAS. Every member of `member`'s team calls this with the
    /// same arguments and computes its own share of each step; the workspace must already have
    /// room (``Workspace/reserve(tokens:longest:members:config:)``).
    func encode(
        ids: [Int32], lengths: [Int], pooling: PoolingConfig,
        workspace: Workspace, output: UnsafeMutablePointer<Float>, packed: Bool, member: ForwardTeam.Member = .solo
    ) {
        let h = config.hiddenSize
        let tokens = ids.count
        var hidden = workspace.hidden.pointer
        var scratch = workspace.scratch.pointer
        if member.index == 0 { embed(ids: ids, lengths: lengths, into: hidden) }
        member.barrier()
        let pass = Pass(tokens: tokens, lengths: lengths, workspace: workspace, packed: packed, member: member)
        for layer in layers {
            attention(layer, pass: pass, hidden: hidden, into: scratch)
            swap(&hidden, &scratch)
            feedForward(layer, pass: pass, hidden: hidden, into: scratch)
            swap(&hidden, &scratch)
        }
        guard member.index == 0 else { return }
        var start = 0
        for (s, length) in lengths.enumerated() {
            pool(hidden + start * h, length: length, mode: pooling.mode, into: output + s * h)
            if pooling.normalize { VectorMath.l2NormalizeInPlace(output + s * h, count: h) }
            start += length
        }
    }

    /// What every step of one forward pass needs to know.
    private struct Pass {
        let tokens: Int
        let lengths: [Int]
        let workspace: Workspace
        let packed: Bool
        let member: ForwardTeam.Member
    }

    /// word + position + token-type(0) embeddings, then LayerNorm (`BertEmbeddings.forward`).
    private func embed(ids: [Int32], lengths: [Int], into hidden: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        var t = 0
        for length in lengths {
            for position in 0..<length {
                let row = hidden + t * h
                row.update(from: embeddings.word.pointer + Int(ids[t]) * h, count: h)
                VectorMath.add(embeddings.position.pointer + position * h, into: row, count: h)
                VectorMath.add(embeddings.tokenType.pointer, into: row, count: h)
                t += 1
            }
        }
        VectorMath.layerNormInPlace(
            hidden, rows: t, width: h, gamma: embeddings.normWeight.pointer,
            beta: embeddings.normBias.pointer, eps: config.layerNormEps)
    }

    /// `output = input·Wᵀ + b (+ residual) (then GELU)` for this member's share of the output
    /// columns (whole panels of 16), then the barrier: on return every member's columns are done.
    private func linear(
        _ input: UnsafePointer<Float>, _ layer: Linear, into output: UnsafeMutablePointer<Float>, pass: Pass,
        residual: UnsafePointer<Float>? = nil, gelu: Bool = false
    ) {
        let m = pass.tokens
        let n = layer.outputs
        let k = layer.inputs
        let panels = pass.member.share(of: layer.panelCount)
        let columns =
            min(n, panels.lowerBound * PackedMatrix.panelWidth)..<min(n, panels.upperBound * PackedMatrix.panelWidth)
        if let int8 = layer.packedInt8 {
            // As below: the scratch (quantized rows) is at most ~256 KB.
            let done = VectorMath.matmulPackedInt8(
                input, lda: k, int8, into: output, ldc: n, m: m, panels: panels, bias: layer.bias.pointer)
            precondition(done, "out of memory for the int8 GEMM's quantized rows")
        } else if let bf16 = layer.packedBF16 {
            // The scratch is at most ~256 KB of rounded rows; failing to get it is running out of
            // memory, as failing to grow any array would be.
            let done = VectorMath.matmulPackedBF16(
                input, lda: k, bf16, into: output, ldc: n, m: m, panels: panels, bias: layer.bias.pointer)
            precondition(done, "out of memory for the bf16 GEMM's rounded rows")
        } else if pass.packed, let packed = layer.packed {
            VectorMath.matmulPacked(input, lda: k, packed, into: output, ldc: n, m: m, panels: panels, bias: layer.bias.pointer)
        } else if !columns.isEmpty {
            VectorMath.matmulTransposedB(
                input, layer.weight.pointer + columns.lowerBound * k, into: output + columns.lowerBound,
                m: m, n: columns.count, k: k, lda: k, ldb: k, ldc: n, bias: layer.bias.pointer + columns.lowerBound)
        }
        if residual != nil || gelu {
            // All columns: one contiguous run; a share: one run per row.
            let (rows, width, stride) = columns.count == n ? (1, m * n, 0) : (m, columns.count, n)
            for row in 0..<rows {
                let offset = row * stride + columns.lowerBound
                if let residual { VectorMath.add(residual + offset, into: output + offset, count: width) }
                if gelu { VectorMath.geluInPlace(output + offset, count: width) }
            }
        }
        pass.member.barrier()
    }

    /// LayerNorm of this member's share of the rows, in place, then the barrier.
    private func layerNorm(_ x: UnsafeMutablePointer<Float>, weight: Tensor, bias: Tensor, pass: Pass) {
        let h = config.hiddenSize
        let rows = pass.member.share(of: pass.tokens)
        VectorMath.layerNormInPlace(
            x + rows.lowerBound * h, rows: rows.count, width: h, gamma: weight.pointer, beta: bias.pointer,
            eps: config.layerNormEps)
        pass.member.barrier()
    }

    /// Self-attention, output projection, residual and LayerNorm (`BertAttention.forward`):
    /// `output = LayerNorm(hidden + Attention(hidden)·Woᵀ + bo)`. Members split the heads.
    private func attention(_ layer: Layer, pass: Pass, hidden: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        let heads = config.headCount
        let d = config.headSize
        let workspace = pass.workspace
        let member = pass.member
        let qkv = workspace.qkv.pointer
        let context = workspace.context.pointer
        let scores = workspace.scores(member: member.index)
        linear(hidden, layer.qkv, into: qkv, pass: pass)
        let scale = 1 / Float(d).squareRoot()
        let fused = VectorMath.fusedAttentionSupported(headSize: d)
        var start = 0
        for n in pass.lengths {
            let rows = qkv + start * 3 * h
            for head in stride(from: member.index, to: heads, by: member.count) {
                let q = rows + head * d
                let k = rows + h + head * d
                let v = rows + 2 * h + head * d
                if fused {
                    VectorMath.attentionHead(
                        q: q, k: k, v: v, ld: 3 * h, length: n, headSize: d, scale: scale,
                        into: context + start * h + head * d, ldc: h, scratch: scores)
                    continue
                }
                // scores = Q Kᵀ / √d, softmax over keys, context = P V.
                VectorMath.matmulTransposedB(q, k, into: scores, m: n, n: n, k: d, lda: 3 * h, ldb: 3 * h, alpha: scale)
                for row in 0..<n { VectorMath.softmaxInPlace(scores + row * n, count: n) }
                VectorMath.matmul(scores, v, into: context + start * h + head * d, m: n, n: d, k: n, ldb: 3 * h, ldc: h)
            }
            start += n
        }
        member.barrier()
        linear(context, layer.attentionOut, into: output, pass: pass, residual: hidden)
        layerNorm(output, weight: layer.attentionNormWeight, bias: layer.attentionNormBias, pass: pass)
    }

    /// GELU feed-forward, residual and LayerNorm (`BertIntermediate` + `BertOutput`):
    /// `output = LayerNorm(hidden + GELU(hidden·W1ᵀ + b1)·W2ᵀ + b2)`.
    private func feedForward(_ layer: Layer, pass: Pass, hidden: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let inner = pass.workspace.intermediate.pointer
        linear(hidden, layer.intermediate, into: inner, pass: pass, gelu: true)
        linear(inner, layer.output, into: output, pass: pass, residual: hidden)
        layerNorm(output, weight: layer.outputNormWeight, bias: layer.outputNormBias, pass: pass)
    }

    /// sentence-transformers' `Pooling` over one sequence's token vectors (all unmasked).
    private func pool(
        _ rows: UnsafePointer<Float>, length: Int, mode: PoolingConfig.Mode, into out: UnsafeMutablePointer<Float>
    ) {
        let h = config.hiddenSize
        switch mode {
        case .cls:
            out.update(from: rows, count: h)
        case .max:
            out.update(from: rows, count: h)
            for t in 1..<max(1, length) {
                for j in 0..<h { out[j] = max(out[j], rows[t * h + j]) }
            }
        case .mean, .meanSqrtLength:
            out.initialize(repeating: 0, count: h)
            for t in 0..<length { VectorMath.add(rows + t * h, into: out, count: h) }
            let divisor = mode == .mean ? Float(length) : Float(length).squareRoot()
            VectorMath.scale(out, count: h, by: 1 / max(divisor, 1e-9))
        }
    }
}
