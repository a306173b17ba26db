import Embedder
import Foundation
import Hummingbird
import SearchEngine
import SearchServer
import Synchronization

/// `POST /v1/collections/{c}/generations {"model"?, "candidate"?}`: starts a new generation.
struct GenerationBody: Decodable {
    /// The model's id or fingerprint (the server's own, or a `--candidate-model` folder's);
    /// default: the server's model.
    let model: String?
    /// Held for evaluation and switched in only by a promote (default true); false: switched in
    /// as soon as it is filled (a plain model change).
    let candidate: Bool?
}

/// The generations the server builds in the background, one at a time per collection, and the
/// outcome of the last one (reported as `build` in the collection's info).
final class GenerationBuilds: Sendable {
    private let builds = Mutex<[String: GenerationBuild]>([:])

    /// The running or last build of `collection`.
    func build(of collection: String) -> GenerationBuild? { builds.withLock { $0[collection] } }

    /// Records `build` as running for `collection`; false when one is running already.
    func start(_ build: GenerationBuild, for collection: String) -> Bool {
        builds.withLock { all in
            if all[collection]?.state == "running" { return false }
            all[collection] = build
            return true
        }
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

    /// Whether a build of `collection` is running.
    func isRunning(_ collection: String) -> Bool { build(of: collection)?.state == "running" }
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
        if let running = builds.build(of: name), running.state == "running" {
            throw APIError.conflict(
                "generation \(running.generation) of \"\(name)\" is being built (\(running.done) of \(running.total) embedded); "
                    + "wait for it (GET /v1/collections/\(name), field build)")
        }
        // Starting it is one store transaction (and loading the model, the first time).
        let begun = try await runner.write { () throws(SearchEngineError) in
            try handle.beginModelChange(candidate: candidate, modelID: body.model)
        }
        guard let begun else {
            throw APIError.conflict("collection \"\(name)\" already uses model \(body.model ?? "this server serves")")
        }
        let build = GenerationBuild(
            generation: begun.generation, model: begun.model.id, candidate: candidate, state: "running", total: begun.pending ?? 0,
            startedAt: .now())
        guard builds.start(build, for: name) else {
            throw APIError.conflict("a generation of \"\(name)\" is being built; wait for it")
        }
        let logger = module.logger
        let thread = Thread {
            ThreadControl.nameCurrentThread("quiver-generation")
            do {
                // A candidate is filled and left for evaluation; a plain change switches in.
                _ = try handle.completeModelChange(promote: false) { step in
                    builds.update(name) {
                        $0.done = step.done
                        $0.total = max($0.total, step.total)
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
        if module.builds.isRunning(name) {
            throw APIError.conflict("a generation of \"\(name)\" is being built; wait for it (GET /v1/collections/\(name), field build)")
        }
        // Minutes for a large collection (an index is built): on a thread of its own, so the
        // write pool keeps taking writes.
        try await onOwnThread("quiver-promote") { () throws(SearchEngineError) in
            if promote { _ = try handle.promoteCandidate() } else { _ = try handle.discardCandidate() }
        }
        var info = try await runner.read { () throws(SearchEngineError) in
            engine.releaseUnusedModels()
            return try engine.collectionInfo(name)
        }
        info.build = module.builds.build(of: name)
        metrics.update(info)
        return try JSONResponse.make(info)
    }

    /// Runs `body` on a new thread and waits for it.
    func onOwnThread<T: Sendable>(_ threadName: String, _ body: @escaping @Sendable () throws(SearchEngineError) -> T)
        async throws(APIError)
        -> T
    {
        let result: Result<T, SearchEngineError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                ThreadControl.nameCurrentThread(threadName)
                continuation.resume(returning: Result { () throws(SearchEngineError) in try body() })
            }
            thread.start()
        }
        do { return try result.get() } catch { throw EngineErrors.apiError(error, logger: module.logger) }
    }
}

/// The answer to `POST …/generations`: the generation started and its build.
struct GenerationStarted: Encodable {
    let generation: GenerationInfo
    let build: GenerationBuild
}
