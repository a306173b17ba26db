#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension HNSWIndex {
    /// Writes the index to `path` atomically: a temporary file in the same folder is written and
    /// fsynced, renamed over `path`, and the folder fsynced. A crash leaves the old file or the new
    /// one, never a mix. Searches continue meanwhile; changes wait until the file is written.
    ///
    /// The format is described in `IndexFileFormat` and docs/VECTOR-INDEX.md.
    /// - Throws: `VectorIndexError.io` naming the failed operation.
    public func save(to path: String) throws(VectorIndexError) {
        try writeGate.withWriteLock { () throws(VectorIndexError) in
            try storageLock.withReadLock { () throws(VectorIndexError) in try writeFile(path) }
        }
    }

    /// Opens a saved index by mapping the file: only the header and the small sections are read
    /// (see `IndexFileVerification`), so opening is fast however many vectors the file holds. The
    /// index searches the mapping in place and copies it to memory on the first change.
    ///
    /// - Throws: `notAnIndexFile`, `unsupportedVersion`, `truncated`, `checksumMismatch`,
    ///   `corrupted` or `io` — before any pointer into the file is used.
    public static func open(at path: String, verification: IndexFileVerification = .structure) throws(VectorIndexError) -> HNSWIndex {
        let file = try MappedFile(path: path)
        let layout = try IndexFileFormat.read(file, verification: verification)
        let h = layout.header
        let configuration = IndexFileFormat.configuration(h)
        let storage = GraphStorage(
            dimension: h.dimension, m: h.m, mapping: file, layout: layout,
            keepsHalves: configuration.keepsHalves)
        let entry = h.entryLevelPlusOne == 0 ? 0 : UInt64(h.entryLevelPlusOne) << 32 | UInt64(h.entryNode)
        return HNSWIndex(
            configuration: configuration, storage: storage, nodes: h.nodeCount, live: h.liveCount,
            entry: entry, upperWords: h.upperWords, coveredSeq: h.coveredSeq)
    }

    /// Writes the snapshot. Caller holds `writeGate` exclusive and `storageLock` shared.
    private func writeFile(_ path: String) throws(VectorIndexError) {
        let nodes = slotCount.load(ordering: .acquiring)
        let (entryNode, entryLevel) = Self.unpackEntry(entry.load(ordering: .acquiring))
        let upperWords = writer.withLock { $0.upperWordsUsed }
        let header = IndexFileFormat.Header(
            dimension: configuration.dimension, metric: configuration.metric, m: configuration.m,
            efConstruction: configuration.efConstruction, defaultEf: configuration.defaultEf,
            entryLevelPlusOne: nodes == 0 ? 0 : entryLevel + 1, entryNode: nodes == 0 ? 0xFFFF_FFFF : entryNode,
            nodeCount: nodes, liveCount: liveCount.load(ordering: .acquiring), upperWords: upperWords,
            coveredSeq: coveredSeq, seed: configuration.seed)
        let sources: [UnsafeRawPointer] = [
            UnsafeRawPointer(storage.vectors), UnsafeRawPointer(storage.links0), UnsafeRawPointer(storage.labels),
            UnsafeRawPointer(storage.levels), UnsafeRawPointer(storage.flags), UnsafeRawPointer(storage.upperOffsets),
            UnsafeRawPointer(storage.upper),
        ]
        var sections = IndexFileFormat.plan(header)
        for i in sections.indices {
            sections[i].checksum = XXHash64.hash(sources[i], count: sections[i].length)
        }
        let head = IndexFileFormat.encode(header, sections: sections)

        let directory = Self.directory(of: path)
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(operation: "create", path: temporary, errno: errno) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do throws(VectorIndexError) {
            var position = 0
            try head.withUnsafeBytes { raw in
                Result { () throws(VectorIndexError) in try Self.writeAll(fd, raw, path: temporary) }
            }.get()
            position = head.count
            let zeros = [UInt8](repeating: 0, count: IndexFileFormat.alignment)
            for (i, section) in sections.enumerated() {
                if section.offset > position {
                    let gap = section.offset - position
                    try zeros.withUnsafeBytes { raw in
                        Result { () throws(VectorIndexError) in
                            try Self.writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[0..<gap]), path: temporary)
                        }
                    }.get()
                }
                try Self.writeAll(fd, UnsafeRawBufferPointer(start: sources[i], count: section.length), path: temporary)
                position = section.offset + section.length
            }
            guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: temporary, errno: errno) }
            closed = true
            guard close(fd) == 0 else { throw .io(operation: "close", path: temporary, errno: errno) }
            guard rename(temporary, path) == 0 else { throw .io(operation: "rename", path: path, errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        let dirfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw .io(operation: "open directory", path: directory, errno: errno) }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw .io(operation: "fsync directory", path: directory, errno: errno) }
    }

    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(VectorIndexError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = write(fd, base + done, min(buffer.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// A new index holding only the live vectors, rebuilt on `threads` threads: removed and
    /// replaced nodes are reclaimed. The caller swaps it in; this index is unchanged.
    public func compacted(threads: Int = 2) throws(VectorIndexError) -> HNSWIndex {
        let (labels, vectors) = writeGate.withWriteLock {
            storageLock.withReadLock { () -> ([UInt64], [Float]) in
                let nodes = slotCount.load(ordering: .acquiring)
                let live = AcceptLive(flags: storage.flags)
                var labels: [UInt64] = []
                var vectors: [Float] = []
                labels.reserveCapacity(liveCount.load(ordering: .relaxed))
                vectors.reserveCapacity(labels.capacity * configuration.dimension)
                for node in 0..<nodes where live.accepts(node) {
                    labels.append(storage.labels[node])
                    vectors.append(contentsOf: UnsafeBufferPointer(start: storage.vector(node), count: configuration.dimension))
                }
                return (labels, vectors)
            }
        }
        let index = try HNSWIndex(configuration: configuration, capacity: labels.count)
        try index.add(contentsOf: vectors, labels: labels, threads: threads)
        index.coveredSeq = coveredSeq
        return index
    }
}
