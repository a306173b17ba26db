import Foundation
import Logging
import SearchEngine
import SearchServer

/// Indexes the sample corpus into its collection on first start, in the background.
///
/// Interrupted imports resume: a marker file (`sample-import.pending`) in the collection's folder
/// is written before the collection is created and removed when the last line is indexed; a
/// collection with the marker is imported again on the next start, writing only the documents the
/// collection never stored (what the user edited or deleted meanwhile stays as the user left it). Lines that do not parse or validate are logged and skipped. The caller
/// clears the module's busy reason when `run()` returns.
struct SampleImport {
    let module: CollectionsModule
    let engine: SearchEngine
    let sample: CollectionsModule.SampleCorpus
    let metrics: CollectionMetrics

    static let markerName = "sample-import.pending"

    var logger: Logger { module.logger }

    func run() async {
        let name = sample.collection
        let path = sample.file.path
        guard FileManager.default.fileExists(atPath: path) else {
            logger.info("no sample corpus file; skipping the sample import", metadata: ["file": "\(path)"])
            return
        }
        let folder: URL
        do { folder = try engine.files(of: name).directory } catch {
            logger.error("not importing the sample corpus", metadata: ["collection": "\(name)", "error": "\(error)"])
            return
        }
        let marker = folder.appendingPathComponent(Self.markerName)
        let exists = engine.hasCollection(name)
        if exists, !FileManager.default.fileExists(atPath: marker.path) {
            logger.info("sample collection exists; not importing the sample again", metadata: ["collection": "\(name)"])
            return
        }
        module.setBusy("indexing the sample corpus into \"\(name)\"")
        let start = ContinuousClock.now
        do {
            let parsed = try await module.runner.read { () throws(SearchEngineError) in try load() }
            if !exists {
                try await module.runner.write { () throws(SearchEngineError) in
                    do {
                        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                        try Data().write(to: marker)
                    } catch { throw .io(path: marker.path, reason: "\(error)") }
                    try engine.createCollection(CollectionOptions(name: name))
                }
            }
            let documents = try await module.runner.read { () throws(SearchEngineError) in
                let validator = try engine.validator(collection: name)
                var valid: [DocumentInput] = []
                for (index, document) in parsed.enumerated() {
                    do { try validator.validate(document, index: index) } catch {
                        logger.warning("skipping an invalid sample document", metadata: ["error": "\(error)"])
                        continue
                    }
                    valid.append(document)
                }
                // Only documents the collection never had: a resumed import neither overwrites
                // what the user edited since nor brings back what the user deleted.
                let stored = try engine.collection(name).storedIDs(among: valid.map(\.id))
                if !stored.isEmpty {
                    logger.info("sample documents already stored are left as they are", metadata: ["count": "\(stored.count)"])
                }
                return valid.filter { !stored.contains($0.id) }
            }
            logger.info(
                "indexing the sample corpus",
                metadata: [
                    "collection": "\(name)", "file": "\(path)", "documents": "\(documents.count)",
                ])
            var total = UpsertResult()
            var done = 0
            var lastLogged = 0
            while done < documents.count {
                if Task.isCancelled {
                    logger.info("sample import stopped; it resumes on the next start", metadata: ["done": "\(done)"])
                    return
                }
                let chunk = Array(documents[done..<min(documents.count, done + sample.batchSize)])
                let result = try await module.runner.write { () throws(SearchEngineError) in
                    try engine.upsert(collection: name, documents: chunk)
                }
                metrics.wrote(name, result)
                total.add(result)
                done += chunk.count
                module.setBusy("indexing the sample corpus into \"\(name)\": \(done) of \(documents.count) documents")
                if done - lastLogged >= max(sample.batchSize, documents.count / 10) || done == documents.count {
                    lastLogged = done
                    logger.info(
                        "sample import progress",
                        metadata: [
                            "collection": "\(name)", "done": "\(done)", "total": "\(documents.count)",
                        ])
                }
            }
            let info = try await module.runner.write { () throws(SearchEngineError) in
                let info = try engine.collectionInfo(name)
                try engine.checkpoint(collection: name)
                do { try FileManager.default.removeItem(at: marker) } catch { throw .io(path: marker.path, reason: "\(error)") }
                return info
            }
            metrics.update(info)
            logger.info(
                "sample corpus indexed",
                metadata: [
                    "collection": "\(name)", "documents": "\(info.documents)", "inserted": "\(total.inserted)",
                    "updated": "\(total.updated)", "unchanged": "\(total.unchanged)",
                    "seconds": "\((ContinuousClock.now - start).components.seconds)",
                ])
        } catch {
            logger.error("sample import failed", metadata: ["collection": "\(name)", "error": "\(error.message)"])
        }
    }

    /// The file's documents; bad lines are logged and skipped.
    func load() throws(SearchEngineError) -> [DocumentInput] {
        let data: Data
        do { data = try Data(contentsOf: sample.file) } catch { throw .io(path: sample.file.path, reason: "\(error)") }
        let decoder = JSONDecoder()
        var documents: [DocumentInput] = []
        var skipped = 0
        for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
            do {
                let document = try decoder.decode(DocumentInput.self, from: Data(line))
                guard !document.id.isEmpty, document.text?.isEmpty == false || document.vector != nil else {
                    throw SearchEngineError.invalidDocument(index: number, id: document.id, reason: "needs an id and a text")
                }
                documents.append(document)
            } catch {
                skipped += 1
                if skipped <= 10 {
                    logger.warning(
                        "skipping a sample line",
                        metadata: [
                            "file": "\(sample.file.path)", "line": "\(number + 1)", "error": "\(error)",
                        ])
                }
            }
        }
        if skipped > 0 { logger.warning("sample lines skipped", metadata: ["count": "\(skipped)"]) }
        return documents
    }
}
