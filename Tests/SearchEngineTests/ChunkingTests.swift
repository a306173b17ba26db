import DocumentStore
import Foundation
import Testing

@testable import SearchEngine

/// Passages: the chunker's boundaries and offsets, and chunked collections end to end (passage
/// hits, shrinking documents, rebuilds, limits, export, a chunking change).
@Suite("Chunking")
struct ChunkingTests {
    /// Word pieces as the tiny model's tokenizer counts them: every word and every punctuation
    /// mark is one (its vocabulary has whole words only).
    static func count(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                inWord = false
            } else if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                if !inWord { count += 1 }
                inWord = true
            } else {
                count += 1
                inWord = false
            }
        }
        return count
    }

    /// The text of `span` in `text` (Unicode scalar offsets).
    static func slice(_ text: String, _ span: ChunkSpan) -> String {
        String(String.UnicodeScalarView(Array(text.unicodeScalars)[span.start..<span.end]))
    }

    /// `sentences` sentences of five tiny-model words each, chosen by their number.
    static func sentences(_ range: Range<Int>, paragraphEvery: Int = 0) -> String {
        var text = ""
        for n in range {
            if !text.isEmpty { text += paragraphEvery > 0 && n % paragraphEvery == 0 ? "\n\n" : " " }
            text += TinyModel.text(n * 7 + 3, words: 5) + "."
        }
        return text
    }

    @Test("a text that fits is one passage whose input is the unchunked input")
    func shortText() {
        let chunker = Chunker(tokens: 32, overlap: 4, count: Self.count)
        let passages = chunker.passages(title: "alpha beta", text: "gamma delta. epsilon")
        #expect(passages == [Chunker.Passage(span: ChunkSpan(start: 0, end: 20), input: "alpha beta\ngamma delta. epsilon")])
        #expect(chunker.passages(title: nil, text: "").count == 1)
    }

    @Test("passages fit the window, cover the text, overlap, and their offsets are exact")
    func longText() {
        let text = Self.sentences(0..<40, paragraphEvery: 5)
        let chunker = Chunker(tokens: 24, overlap: 6, count: Self.count)
        let passages = chunker.passages(title: "title", text: text)
        #expect(passages.count > 5)
        var covered = Set<Int>()
        for (index, passage) in passages.enumerated() {
            let body = Self.slice(text, passage.span)
            #expect(passage.input == "title\n" + body)
            #expect(2 + Self.count(passage.input) <= 24, "passage \(index) overflows: \(passage.input)")
            #expect(body.first?.isWhitespace == false && body.last?.isWhitespace == false)
            covered.formUnion(passage.span.start..<passage.span.end)
            if index > 0 {
                let previous = passages[index - 1].span
                #expect(passage.span.start > previous.start, "passages advance")
                #expect(passage.span.start < previous.end, "passage \(index) repeats the end of the one before")
            }
        }
        let scalars = Array(text.unicodeScalars)
        for (offset, scalar) in scalars.enumerated() where !scalar.properties.isWhitespace {
            #expect(covered.contains(offset), "character \(offset) is in no passage")
        }
        // Balanced: no scrap at the end.
        let sizes = passages.map { Self.count($0.input) }
        #expect((sizes.min() ?? 0) * 2 >= sizes.max() ?? 0, "\(sizes)")
        // Without overlap, passages are disjoint.
        let plain = Chunker(tokens: 24, overlap: 0, count: Self.count).passages(title: nil, text: text)
        for (a, b) in zip(plain, plain.dropFirst()) { #expect(a.span.end <= b.span.start) }
    }

    @Test("a cut prefers a paragraph start")
    func paragraphs() {
        // Paragraphs of three 6-piece sentences: 18 pieces each, a window of 30 (28 for text).
        let text = Self.sentences(0..<12, paragraphEvery: 3)
        let passages = Chunker(tokens: 30, overlap: 0, count: Self.count).passages(title: nil, text: text)
        let scalars = Array(text.unicodeScalars)
        for passage in passages.dropFirst() {
            // Every passage starts a paragraph: right after a blank line.
            #expect(passage.span.start >= 2 && scalars[passage.span.start - 1] == "\n" && scalars[passage.span.start - 2] == "\n")
        }
    }

    @Test("offsets count Unicode scalars, also in multi-byte text")
    func multiByte() {
        let text = "alpha 😀 béta. gamma 中文字 delta. épsilon 🇫🇷 zeta. eta theta iota. kappa lambda mu. nu xi omicron."
        let passages = Chunker(tokens: 10, overlap: 0, count: Self.count).passages(title: nil, text: text)
        #expect(passages.count > 2)
        for passage in passages {
            #expect(passage.input == Self.slice(text, passage.span))
            #expect(2 + Self.count(passage.input) <= 10)
        }
        let joined = passages.map(\.input).joined(separator: " ")
        #expect(joined.replacingOccurrences(of: " ", with: "") == text.replacingOccurrences(of: " ", with: ""))
    }

    @Test("hostile texts: one endless word, a run without spaces, only whitespace")
    func hostile() {
        let chunker = Chunker(tokens: 16, overlap: 4, count: Self.count)
        // Punctuation without whitespace: every mark is a piece, so it must be cut anywhere.
        let marks = String(repeating: "-", count: 500)
        let passages = chunker.passages(title: nil, text: marks)
        #expect(passages.count >= 500 / 14)
        #expect(passages.allSatisfy { 2 + Self.count($0.input) <= 16 })
        #expect(passages.map(\.input).joined() == marks)
        let blank = chunker.passages(title: "t", text: String(repeating: " \n", count: 1000))
        #expect(blank.count == 1)
        let word = String(repeating: "a", count: 100_000)
        #expect(chunker.passages(title: nil, text: word).count == 1)
    }

    // MARK: - Collections

    static func makeEngine(_ directory: TemporaryDirectory, model: EmbeddingModel? = nil, limits: DocumentLimits = DocumentLimits())
        throws -> (SearchEngine, EmbeddingModel)
    {
        let model = try model ?? TinyModel.make(seed: 5, in: directory.url)
        let engine = try SearchEngine(
            dataDirectory: directory.url.appendingPathComponent("data"), models: [model], documentLimits: limits)
        return (engine, model)
    }

    @Test("a query finds the passage deep in a document, with its exact offsets")
    func passageHits() throws {
        let directory = try TemporaryDirectory()
        let (engine, model) = try Self.makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c", chunkTokens: 16, chunkOverlap: 0))
        let long = "😀 " + Self.sentences(0..<30)
        let result = try engine.upsert(
            collection: "c",
            documents: [DocumentInput(id: "long", text: long), DocumentInput(id: "short", text: "pi rho sigma tau.")])
        #expect(result.inserted == 2 && result.rejected.isEmpty)
        let stored = try engine.collection("c").vectors(ids: ["long"], chunks: true)
        let chunks = try #require(stored.vectors.first?.chunks)
        #expect(chunks.count > 8)
        // The embedded passages are what a direct embedding of each passage's text gives.
        let embedder = try #require(model.embedder)
        for chunk in chunks.prefix(3) {
            let direct = try embedder.embed(Self.slice(long, ChunkSpan(start: chunk.start, end: chunk.end)))
            #expect(zip(direct, chunk.vector).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // The document's vector is the passages' mean, scaled to their mean length.
        let pooled = try #require(stored.vectors.first?.vector)
        func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let meanNorm = chunks.map { norm($0.vector) }.reduce(0, +) / Float(chunks.count)
        #expect(abs(norm(pooled) - meanNorm) < 1e-3)
        var sum = [Float](repeating: 0, count: pooled.count)
        for chunk in chunks { for i in sum.indices { sum[i] += chunk.vector[i] } }
        #expect(zip(sum, pooled).allSatisfy { abs($0 * meanNorm / norm(sum) - $1) < 1e-4 })

        let target = chunks[6]
        let passageText = Self.slice(long, ChunkSpan(start: target.start, end: target.end))
        let answer = try engine.query(
            collection: "c", QueryRequest(text: passageText, k: 2, include: [.chunks], mode: .vector))
        let hit = try #require(answer.results.first)
        #expect(hit.id == "long")
        let passage = try #require(hit.passage)
        #expect(passage.start == target.start && passage.end == target.end && passage.text == passageText)
        #expect(abs(passage.score - 1) < 1e-4 && abs(hit.score - passage.score) < 1e-6)
        #expect((hit.chunks?.count ?? 0) >= 1 && hit.chunks?.first?.start == target.start)
        // k counts documents: two hits, each once.
        #expect(answer.results.map(\.id).sorted() == ["long", "short"])
        // With the whole text asked for, the same passage.
        let withText = try engine.query(collection: "c", QueryRequest(text: passageText, k: 1, include: [.text], mode: .vector))
        #expect(withText.results.first?.passage == passage && withText.results.first?.text == long)
        // Hybrid answers with the passage too.
        let hybrid = try engine.query(collection: "c", QueryRequest(text: passageText, k: 2, mode: .hybrid))
        #expect(hybrid.results.first?.passage?.start == target.start)
    }

    @Test("a document shrinking from many passages to one leaves none of the old ones searchable, also after a reload")
    func shrinking() throws {
        let directory = try TemporaryDirectory()
        let long = Self.sentences(0..<12)
        let oldPassage: String
        let model = try TinyModel.make(seed: 5, in: directory.url)
        do {
            let (engine, _) = try Self.makeEngine(directory, model: model)
            try engine.createCollection(CollectionOptions(name: "c", chunkTokens: 16, chunkOverlap: 0))
            _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d", text: long), DocumentInput(id: "e", text: "mu nu.")])
            let chunks = try #require(try engine.collection("c").vectors(ids: ["d"], chunks: true).vectors.first?.chunks)
            #expect(chunks.count >= 5)
            oldPassage = Self.slice(long, ChunkSpan(start: chunks[4].start, end: chunks[4].end))
            #expect(try engine.collectionInfo("c").index.vectors == chunks.count + 1)
            _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d", text: "alpha beta.")])
            #expect(try engine.collectionInfo("c").index.vectors == 2)
            let hits = try engine.query(collection: "c", QueryRequest(text: oldPassage, k: 5, include: [.chunks], mode: .vector))
            let d = try #require(hits.results.first { $0.id == "d" })
            #expect(d.passage?.text == "alpha beta." && d.chunks?.count == 1)
            try engine.checkpoint(collection: "c")
        }
        // Reopened from the checkpoint, and rebuilt from the store: the same single passage.
        let (engine, _) = try Self.makeEngine(directory, model: model)
        #expect(try engine.collectionInfo("c").index.vectors == 2)
        let files = try engine.files(of: "c")
        let generation = try engine.collectionInfo("c").index.generation
        #expect(FileManager.default.fileExists(atPath: files.indexPath(generation)))
        try FileManager.default.removeItem(atPath: files.indexPath(generation))
        let (rebuilt, _) = try Self.makeEngine(directory, model: model)
        let hits = try rebuilt.query(collection: "c", QueryRequest(text: oldPassage, k: 5, include: [.chunks], mode: .vector))
        #expect(hits.results.first { $0.id == "d" }?.chunks?.count == 1)
        #expect(try rebuilt.collectionInfo("c").index.vectors == 2)
    }

    @Test("the passage budget starts at k while every document has one passage: a long document turns that off, loads see it")
    func multiPassageFlag() throws {
        let directory = try TemporaryDirectory()
        let model = try TinyModel.make(seed: 6, in: directory.url)
        let long = Self.sentences(0..<12)
        do {
            let (engine, _) = try Self.makeEngine(directory, model: model)
            try engine.createCollection(CollectionOptions(name: "c", chunkTokens: 16, chunkOverlap: 0))
            _ = try engine.upsert(
                collection: "c", documents: [DocumentInput(id: "a", text: "mu nu."), DocumentInput(id: "b", text: "xi pi.")])
            let handle = try engine.collection("c")
            _ = try engine.query(collection: "c", QueryRequest(text: "mu", k: 2, mode: .vector))
            #expect(handle.follower.loaded?.hasMultiPassageDocuments == false)
            _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d", text: long)])
            #expect(handle.follower.loaded?.hasMultiPassageDocuments == true)
            // Every document is found with k = 3 although d's passages outnumber the others.
            let hits = try engine.query(collection: "c", QueryRequest(text: Self.sentences(10..<11), k: 3, mode: .vector))
            #expect(Set(hits.results.map(\.id)) == ["a", "b", "d"])
            try engine.checkpoint(collection: "c")
        }
        do {
            // Loaded from the checkpoint: found by the scan of its labels.
            let (engine, _) = try Self.makeEngine(directory, model: model)
            _ = try engine.query(collection: "c", QueryRequest(text: "mu", k: 2, mode: .vector))
            #expect(try engine.collection("c").follower.loaded?.hasMultiPassageDocuments == true)
            _ = try engine.delete(collection: "c", ids: ["d"])
            try engine.checkpoint(collection: "c")
        }
        // d deleted: the next load finds only single-passage documents again.
        let (engine, _) = try Self.makeEngine(directory, model: model)
        let hits = try engine.query(collection: "c", QueryRequest(text: "mu", k: 2, mode: .vector))
        #expect(hits.results.count == 2)
        #expect(try engine.collection("c").follower.loaded?.hasMultiPassageDocuments == false)
    }

    @Test("a list that needs only `enough` documents stops searching passages there; it is a prefix of the full list")
    func enoughDocuments() throws {
        let directory = try TemporaryDirectory()
        let model = try TinyModel.make(seed: 6, in: directory.url)
        let (engine, _) = try Self.makeEngine(directory, model: model)
        try engine.createCollection(CollectionOptions(name: "c", chunkTokens: 16, chunkOverlap: 0))
        _ = try engine.upsert(
            collection: "c",
            documents: [DocumentInput(id: "d", text: Self.sentences(0..<300))]
                + (0..<30).map { DocumentInput(id: "s\($0)", text: Self.sentences($0..<$0 + 1)) })
        let handle = try engine.collection("c")
        _ = try engine.query(collection: "c", QueryRequest(text: "mu", k: 2, mode: .vector))
        let serving = try #require(handle.follower.loaded)
        // A passage of the long document as the query: its own passages crowd the top.
        let query = try #require(handle.vectors(ids: ["d"], chunks: true).vectors.first?.chunks?[3].vector)
        let full = try handle.vectorSearch(serving, query, k: 12, ef: nil, accepts: nil)
        let enough = try handle.vectorSearch(serving, query, k: 12, ef: nil, accepts: nil, enough: 2)
        #expect(full.count == 12)
        #expect(enough.count >= 2 && enough.count < full.count)
        #expect(enough.map(\.label) == Array(full.map(\.label).prefix(enough.count)))
        #expect(enough.map(\.score) == Array(full.map(\.score).prefix(enough.count)))
        // Hybrid's list: the documents of the best k passages (12, most of them the long
        // document's), more only while fewer than `enough`; with `enough` k, the full list again.
        let shallow = try handle.vectorSearch(serving, query, k: 12, ef: nil, accepts: nil, enough: 2, passagesPerDocument: 1)
        #expect(shallow.count >= 2 && shallow.count < enough.count)
        #expect(shallow.map(\.label) == Array(full.map(\.label).prefix(shallow.count)))
        let doubled = try handle.vectorSearch(serving, query, k: 12, ef: nil, accepts: nil, passagesPerDocument: 1)
        #expect(doubled.map(\.label) == full.map(\.label) && doubled.map(\.score) == full.map(\.score))
    }

    @Test("documents over max_document_bytes or max_passages are refused one by one; the rest is written")
    func limits() throws {
        let directory = try TemporaryDirectory()
        let (engine, _) = try Self.makeEngine(directory, limits: DocumentLimits(maxDocumentBytes: 2000, maxPassages: 3))
        try engine.createCollection(CollectionOptions(name: "c", chunkTokens: 16, chunkOverlap: 0))
        let result = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "ok", text: "alpha beta."),
                DocumentInput(id: "many", text: Self.sentences(0..<20)),
                DocumentInput(id: "big", text: String(repeating: "alpha ", count: 400)),
                DocumentInput(id: "ok2", text: Self.sentences(0..<4)),
            ])
        #expect(result.inserted == 2 && result.failed == 2)
        #expect(result.rejected.map(\.index) == [1, 2] && result.rejected.map(\.id) == ["many", "big"])
        #expect(result.rejected[0].reason.contains("max_passages") && result.rejected[1].reason.contains("max_document_bytes"))
        #expect(try engine.collection("c").vectors(ids: ["ok", "many", "big", "ok2"]).missing == ["many", "big"])
        // A deferred write refuses the same documents, for the same reasons, without embedding any.
        let deferred = try engine.upsert(
            collection: "c",
            documents: [
                DocumentInput(id: "many2", text: Self.sentences(0..<20)),
                DocumentInput(id: "ok3", text: Self.sentences(1..<5)),
                DocumentInput(id: "big2", text: String(repeating: "alpha ", count: 400)),
            ], deferEmbedding: true)
        #expect(deferred.inserted == 1 && deferred.pending == 1 && deferred.embedded == 0 && deferred.failed == 2)
        #expect(deferred.rejected.map(\.id) == ["many2", "big2"] && deferred.rejected[0].reason == result.rejected[0].reason)
        #expect(try engine.collection("c").embedPending().embedded == 1)
        #expect(try engine.collection("c").vectors(ids: ["ok3", "many2"]).missing == ["many2"])
    }

    @Test("changing the chunking re-embeds into a new generation; bad settings are refused")
    func chunkingChange() throws {
        let directory = try TemporaryDirectory()
        let (engine, _) = try Self.makeEngine(directory)
        try engine.createCollection(CollectionOptions(name: "c"))
        let info = try engine.collectionInfo("c")
        #expect(info.generations.first?.chunking == ChunkingInfo(Chunking(tokens: 32, overlap: 0)))  // the window; no overlap
        _ = try engine.upsert(collection: "c", documents: [DocumentInput(id: "d", text: Self.sentences(0..<12))])
        #expect(try engine.beginModelChange(collection: "c") == nil)  // same model, same chunking
        let building = try #require(try engine.beginModelChange(collection: "c", chunkTokens: 0))
        #expect(building.chunking.chunkTokens == 0 && building.pending == 1)
        try engine.completeModelChange(collection: "c")
        let current = try #require(try engine.collectionInfo("c").generations.first { $0.state == "current" })
        #expect(current.chunking.chunkTokens == 0)
        let hit = try #require(try engine.query(collection: "c", QueryRequest(text: "alpha", k: 1, mode: .vector)).results.first)
        #expect(hit.passage == nil && hit.id == "d")
        for (tokens, overlap) in [(8, 0), (33, 0), (16, 9), (-1, 0)] {
            #expect(throws: SearchEngineError.self) {
                try engine.createCollection(CollectionOptions(name: "x\(tokens)-\(overlap)", chunkTokens: tokens, chunkOverlap: overlap))
            }
        }
        #expect(throws: SearchEngineError.self) {
            try engine.createCollection(CollectionOptions(name: "own", model: "external", dimensions: 4, chunkTokens: 16))
        }
    }
}
