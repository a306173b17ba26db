import Embedder
import Foundation
import Hummingbird
import SearchEngine
import SearchServer
import Synchronization

/// `POST /v1/collections/{c}/generations {"model"?, "candidate"?, "chunk_tokens"?, "chunk_overlap"?}`:
/// starts a new generation.
struct GenerationBody: Decodable {
    /// The model's id or fingerprint (the server's own, or a `--candidate-model` folder's);
    /// default: the server's model.
    let model: String?
    /// Held for evaluation and switched in only by a promote (default true); false: switched in
    /// as soon as it is filled (a plain model change).
    let candidate: Bool?
    /// The new generation's passage size (0 = off); default: the current generation's.
    let chunkTokens: Int?
    /// Its overlap; default: the current one's (or the default for a new size).
    let chunkOverlap: Int?

    enum CodingKeys: String, CodingKey {
        case model, candidate
        case chunkTokens = "chunk_tokens"
        case chunkOverlap = "chunk_overlap"
    }
}

/// The generations the server builds in the background, one at a time per collection, and the
/// outcome of the last one (reported as `build` in the collection's info); and which collections
/// have a generation operation in progress (starting or filling a build, a promote, a discard),
/// so that two never overlap on one collection.
final class GenerationBuilds: Sendable {
    private let builds = Mutex<[String: GenerationBuild]>([:])
    private let operations = Mutex<[String: String]>([:])

    /// Claims `collection` for `operation` ("a build", "a promote", "a discard"); the operation in
    /// progress when it is taken.
    func claim(_ collection: String, for operation: String) -> String? {
        operations.withLock { all in
            if let running = all[collection] { return running }
            all[collection] = operation
            return nil
        }
    }

    /// Ends the operation on `collection`.
    func release(_ collection: String) {
        _ = operations.withLock { $0.removeValue(forKey: collection) }
    }

    /// The operation in progress on `collection`, if any.
    func operation(on collection: String) -> String? { operations.withLock { $0[collection] } }

    /// The running or last build of `collection`.
    func build(of collection: String) -> GenerationBuild? { builds.withLock { $0[collection] } }

    /// Records `build` for `collection` (its operation claimed by the caller).
    func record(_ build: GenerationBuild, for collection: String) {
        builds.withLock { $0[collection] = build }
    }

    /// Forgets `collection` (deleted): its build record and any operation claim.
    func forget(_ collection: String) {
        _ = builds.withLock { $0.removeValue(forKey: collection) }
    }

    /// Changes the record of `collection`'s build.
    func update(_ collection: String, _ change: (inout GenerationBuild) -> Void) {
        builds.withLock { all in
            if var build = all[collection] {
                change(&build)
                all[collection] = build
            }
        }
    }

}

extension CollectionsController {
    func addGenerationRoutes(to routes: APIRoutes) {
        routes.admin.post("v1/collections/{collection}/generations", use: createGeneration)
        routes.admin.post("v1/collections/{collection}/generations/promote", use: promoteGeneration)
        routes.admin.post("v1/collections/{collection}/generations/discard", use: discardGeneration)
    }

    /// Starts a generation of another model (or the server's, for a collection on another one)
    /// and fills it on a thread of its own; answers 202 with the generation at once. Progress and
    /// the outcome are the collection info's `build`.
    @Sendable func createGeneration(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let body = try await JSONBody.decode(GenerationBody.self, from: request, limit: limits.maxBodyBytes)
        let candidate = body.candidate ?? true
        let handle = try await collection(engine, name)
        let builds = module.builds
        if let running = builds.claim(name, for: "a build") { throw GenerationRoutes.busy(name, running, builds) }
        // Starting it is one store transaction, and loading the model the first time (seconds):
        // on a thread of its own, so neither the write pool nor the read pool waits for it.
        let begun: GenerationInfo?
        do {
            begun = try await onOwnThread("quiver-generation") { () throws(SearchEngineError) in
                try handle.keepingOpen { () throws(SearchEngineError) in
                    try handle.beginModelChange(
                        candidate: candidate, modelID: body.model, chunkTokens: body.chunkTokens, chunkOverlap: body.chunkOverlap)
                }
            }
        } catch {
            builds.release(name)
            throw error
        }
        guard let begun else {
            builds.release(name)
            throw APIError.conflict("collection \"\(name)\" already uses model \(body.model ?? "this server serves")")
        }
        let build = GenerationBuild(
            generation: begun.generation, model: begun.model.id, candidate: candidate, state: "running", total: begun.pending ?? 0,
            startedAt: .now())
        builds.record(build, for: name)
        let logger = module.logger
        let thread = Thread {
            ThreadControl.nameCurrentThread("quiver-generation")
            defer { builds.release(name) }
            do {
                try handle.keepingOpen { () throws(SearchEngineError) in
                    // completeModelChange leaves a candidate whose model this process lacks as it
                    // is: that is a failed build here, not a finished one.
                    guard engine.model(fingerprint: begun.model.fingerprint)?.embedder != nil else {
                        throw SearchEngineError.modelUnavailable(collection: name, fingerprint: begun.model.fingerprint)
                    }
                    // A candidate is filled and left for evaluation; a plain change switches in.
                    let switched = try handle.completeModelChange(promote: false) { step in
                        builds.update(name) {
                            $0.done = step.done
                            $0.total = max($0.total, step.total)
                        }
                    }
                    if candidate {
                        // (Writes during the build leave it a few stale documents: candidates take
                        // no writes, and an evaluation or the promote embeds them.)
                        guard let held = try handle.candidate(), held.generation == begun.generation else {
                            throw SearchEngineError.conflict("the candidate generation was replaced or dropped during the build")
                        }
                    } else if switched != begun.generation {
                        throw SearchEngineError.conflict("generation \(begun.generation) was not switched in (another change replaced it)")
                    }
                }
                builds.update(name) {
                    $0.state = "finished"
                    $0.finishedAt = .now()
                }
                logger.info("generation built", metadata: ["collection": "\(name)", "generation": "\(begun.generation)"])
            } catch {
                builds.update(name) {
                    $0.state = "failed"
                    $0.error = "\(error)"
                    $0.finishedAt = .now()
                }
                logger.error(
                    "generation build failed",
                    metadata: ["collection": "\(name)", "generation": "\(begun.generation)", "error": "\(error)"])
            }
        }
        thread.start()
        return try JSONResponse.make(GenerationStarted(generation: begun, build: build), status: .accepted)
    }
}

/// Helpers of the generation routes.
enum GenerationRoutes {
    /// 409 naming the generation operation in progress on `name`.
    static func busy(_ name: String, _ operation: String, _ builds: GenerationBuilds) -> APIError {
        if let build = builds.build(of: name), build.state == "running" {
            return .conflict(
                "generation \(build.generation) of \"\(name)\" is being built (\(build.done) of \(build.total) embedded); "
                    + "wait for it (GET /v1/collections/\(name), field build)")
        }
        return .conflict("\(operation) of a generation of \"\(name)\" is in progress; try again when it has finished")
    }
}

extension CollectionsController {
    /// Switches the candidate in (documents changed since it was filled are embedded first, its
    /// index built), then answers the collection's info.
    @Sendable func promoteGeneration(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        try await finishCandidate(context, promote: true)
    }

    /// Drops the candidate and its vectors, then answers the collection's info.
    @Sendable func discardGeneration(_ request: Request, context: QuiverRequestContext) async throws -> Response {
        try await finishCandidate(context, promote: false)
    }

    private func finishCandidate(_ context: QuiverRequestContext, promote: Bool) async throws -> Response {
        let (engine, _) = try module.engine()
        let name = collectionName(context)
        let handle = try await collection(engine, name)
        let builds = module.builds
        if let running = builds.claim(name, for: promote ? "a promote" : "a discard") { throw GenerationRoutes.busy(name, running, builds) }
        defer { builds.release(name) }
        // Minutes for a large collection (an index is built): on a thread of its own, so the
        // write pool keeps taking writes; the collection stays open meanwhile.
        try await onOwnThread("quiver-promote") { () throws(SearchEngineError) in
            try handle.keepingOpen { () throws(SearchEngineError) in
                if promote {
                    // A server that cannot embed with the candidate's model would be left serving a
                    // collection whose text queries and writes it must refuse.
                    if let candidate = try handle.candidate(), engine.model(fingerprint: candidate.model.fingerprint)?.embedder == nil {
                        throw SearchEngineError.conflict(
                            "this server cannot embed with the candidate's model \(candidate.model.id) (\(candidate.model.fingerprint.prefix(12))): "
                                + "start it with --candidate-model pointing at that model's folder, or promote with quiver promote")
                    }
                    _ = try handle.promoteCandidate()
                } else {
                    _ = try handle.discardCandidate()
                }
            }
        }
        var info = try await runner.read { () throws(SearchEngineError) in
            engine.releaseUnusedModels()
            return try engine.collectionInfo(name)
        }
        info.build = module.builds.build(of: name)
        metrics.update(info)
        return try JSONResponse.make(info)
    }

    /// Runs `body` on a new thread and waits for it (engine errors mapped to the API's).
    func onOwnThread<T: Sendable>(_ threadName: String, _ body: @escaping @Sendable () throws(SearchEngineError) -> T)
        async throws(APIError) -> T
    {
        do throws(SearchEngineError) { return try await SearchEngine.onOwnThread(threadName, body) } catch {
            throw EngineErrors.apiError(error, logger: module.logger)
        }
    }
}

/// The answer to `POST …/generations`: the generation started and its build.
struct GenerationStarted: Encodable {
    let generation: GenerationInfo
    let build: GenerationBuild
}
