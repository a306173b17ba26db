import VectorMath

extension BertModel {
    /// Runs the encoder over a flat batch and pools each sequence into one vector.
    ///
    /// `ids` holds every sequence's token ids back to back (no padding: each token's work is
    /// independent except inside attention, which runs per sequence); `lengths` says where each
    /// ends. Writes `lengths.count × hiddenSize` floats to `output`. Token ids must be in the
    /// vocabulary and every length in `1...maxPositions` (the caller checks; see `Embedder`).
    ///
    /// `gemmParts > 1` splits each linear layer's output columns over that many threads (for a
    /// lone short input, where nothing else keeps the other cores busy).
    func encode(
        ids: [Int32], lengths: [Int], pooling: PoolingConfig,
        workspace: Workspace, output: UnsafeMutablePointer<Float>, gemmParts: Int = 1
    ) {
        let h = config.hiddenSize
        let tokens = ids.count
        workspace.reserve(tokens: tokens, longest: lengths.max() ?? 1, config: config)
        embed(ids: ids, lengths: lengths, into: workspace.hidden.pointer)
        for layer in layers {
            attention(layer, lengths: lengths, tokens: tokens, workspace: workspace, parts: gemmParts)
            feedForward(layer, tokens: tokens, workspace: workspace, parts: gemmParts)
        }
        var start = 0
        for (s, length) in lengths.enumerated() {
            pool(workspace.hidden.pointer + start * h, length: length, mode: pooling.mode, into: output + s * h)
            if pooling.normalize { VectorMath.l2NormalizeInPlace(output + s * h, count: h) }
            start += length
        }
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

    /// Self-attention, output projection, residual and LayerNorm (`BertAttention.forward`).
    private func attention(_ layer: Layer, lengths: [Int], tokens: Int, workspace: Workspace, parts: Int) {
        let h = config.hiddenSize, heads = config.headCount, d = config.headSize
        let hidden = workspace.hidden.pointer, qkv = workspace.qkv.pointer
        let context = workspace.context.pointer, scores = workspace.scores.pointer
        VectorMath.matmulTransposedB(
            hidden, layer.qkvWeight.pointer, into: qkv, m: tokens, n: 3 * h, k: h, bias: layer.qkvBias.pointer,
            parts: parts)
        let scale = 1 / Float(d).squareRoot()
        var start = 0
        for n in lengths {
            let rows = qkv + start * 3 * h
            for head in 0..<heads {
                let q = rows + head * d, k = rows + h + head * d, v = rows + 2 * h + head * d
                // scores = Q Kᵀ / √d, softmax over keys, context = P V.
                VectorMath.matmulTransposedB(q, k, into: scores, m: n, n: n, k: d, lda: 3 * h, ldb: 3 * h, alpha: scale)
                for row in 0..<n { VectorMath.softmaxInPlace(scores + row * n, count: n) }
                VectorMath.matmul(scores, v, into: context + start * h + head * d, m: n, n: d, k: n, ldb: 3 * h, ldc: h)
            }
            start += n
        }
        let out = workspace.scratch.pointer
        VectorMath.matmulTransposedB(
            context, layer.attentionOutWeight.pointer, into: out, m: tokens, n: h, k: h,
            bias: layer.attentionOutBias.pointer, parts: parts)
        VectorMath.add(hidden, into: out, count: tokens * h)
        VectorMath.layerNormInPlace(
            out, rows: tokens, width: h, gamma: layer.attentionNormWeight.pointer,
            beta: layer.attentionNormBias.pointer, eps: config.layerNormEps)
        workspace.swapHiddenAndScratch()
    }

    /// GELU feed-forward, residual and LayerNorm (`BertIntermediate` + `BertOutput`).
    private func feedForward(_ layer: Layer, tokens: Int, workspace: Workspace, parts: Int) {
        let h = config.hiddenSize, i = config.intermediateSize
        let hidden = workspace.hidden.pointer, inner = workspace.intermediate.pointer
        VectorMath.matmulTransposedB(
            hidden, layer.intermediateWeight.pointer, into: inner, m: tokens, n: i, k: h,
            bias: layer.intermediateBias.pointer, parts: parts)
        VectorMath.geluInPlace(inner, count: tokens * i)
        let out = workspace.scratch.pointer
        VectorMath.matmulTransposedB(
            inner, layer.outputWeight.pointer, into: out, m: tokens, n: h, k: i, bias: layer.outputBias.pointer,
            parts: parts)
        VectorMath.add(hidden, into: out, count: tokens * h)
        VectorMath.layerNormInPlace(
            out, rows: tokens, width: h, gamma: layer.outputNormWeight.pointer,
            beta: layer.outputNormBias.pointer, eps: config.layerNormEps)
        workspace.swapHiddenAndScratch()
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
