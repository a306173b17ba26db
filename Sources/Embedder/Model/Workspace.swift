import VectorMath

/// Scratch memory for one forward pass, reused across calls so that steady-state encoding does
/// not allocate. A workspace is used by one forward pass at a time (the embedder's pool hands it
/// out exclusively); it grows when a batch needs more tokens than it has room for.
final class Workspace: @unchecked Sendable {
    private(set) var tokenCapacity = 0
    private(set) var sequenceCapacity = 0
    private(set) var memberCapacity = 0
    /// `[tokens, H]` activations; `hidden` and `scratch` take turns as a sub-layer's input and
    /// output (the forward pass swaps its own pointers to them).
    private(set) var hidden = Buffer()
    /// `[tokens, H]` see `hidden`.
    private(set) var scratch = Buffer()
    /// `[tokens, 3H]` fused query | key | value projections.
    private(set) var qkv = Buffer()
    /// `[tokens, H]` attention context (all heads side by side).
    private(set) var context = Buffer()
    /// `[tokens, I]` feed-forward activations.
    private(set) var intermediate = Buffer()
    /// Per team member: the attention scores of one head of one sequence (`[L, L]`), or the fused
    /// attention kernel's scratch (`VectorMath.attentionScratchCount`), whichever is larger;
    /// `scoreStride` floats apart (a multiple of 16, so each member's part stays 64-byte aligned).
    private(set) var scoreBuffer = Buffer()
    private(set) var scoreStride = 0
    /// `[batch, H]` pooled sentence vectors of one forward pass.
    private(set) var pooled = Buffer()

    /// Room for `rows` pooled vectors of `width` floats.
    func pooledOutput(rows: Int, width: Int) -> UnsafeMutablePointer<Float> {
        pooled.resize(to: max(1, rows * width))
        return pooled.pointer
    }

    /// A 64-byte aligned float buffer.
    struct Buffer {
        var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var count = 0

        mutating func resize(to newCount: Int) {
            guard newCount > count else { return }
            pointer.deallocate()
            let raw = UnsafeMutableRawPointer.allocate(byteCount: newCount * 4, alignment: 64)
            pointer = raw.bindMemory(to: Float.self, capacity: newCount)
            count = newCount
        }

        func free() { pointer.deallocate() }
    }

    /// Member `member`'s `[L, L]` score matrix (or fused-attention scratch).
    func scores(member: Int) -> UnsafeMutablePointer<Float> {
        scoreBuffer.pointer + member * scoreStride
    }

    /// Makes room for `tokens` tokens in sequences of at most `longest` tokens, for a pass run by
    /// `members` team members.
    func reserve(tokens: Int, longest: Int, members: Int = 1, config: BertConfig) {
        let h = config.hiddenSize
        if tokens > tokenCapacity {
            tokenCapacity = tokens
            hidden.resize(to: tokens * h)
            scratch.resize(to: tokens * h)
            context.resize(to: tokens * h)
            qkv.resize(to: tokens * 3 * h)
            intermediate.resize(to: tokens * config.intermediateSize)
        }
        if longest > sequenceCapacity || members > memberCapacity {
            sequenceCapacity = max(longest, sequenceCapacity)
            memberCapacity = max(members, memberCapacity)
            let fused = VectorMath.attentionScratchCount(length: sequenceCapacity, headSize: config.headSize)
            scoreStride = (max(sequenceCapacity * sequenceCapacity, fused) + 15) / 16 * 16
            scoreBuffer.resize(to: memberCapacity * scoreStride)
        }
    }

    deinit {
        for buffer in [hidden, scratch, qkv, context, intermediate, scoreBuffer, pooled] { buffer.free() }
    }
}
