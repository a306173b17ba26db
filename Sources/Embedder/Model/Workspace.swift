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
    /// `[members, L, L]`: each team member's attention scores of one head of one sequence.
    private(set) var scoreBuffer = Buffer()
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

    /// Member `member`'s `[L, L]` score matrix.
    func scores(member: Int) -> UnsafeMutablePointer<Float> {
        scoreBuffer.pointer + member * sequenceCapacity * sequenceCapacity
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
            scoreBuffer.resize(to: memberCapacity * sequenceCapacity * sequenceCapacity)
        }
    }

    deinit {
        for buffer in [hidden, scratch, qkv, context, intermediate, scoreBuffer, pooled] { buffer.free() }
    }
}
