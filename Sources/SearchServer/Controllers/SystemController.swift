import Foundation
import Hummingbird
import NIOCore
import VectorMath

/// `GET /health`, `/ready`, `/metrics`, `/v1/info` and `/openapi.yaml`.
struct SystemController {
    let configuration: ServerConfiguration
    let service: EmbeddingService
    let metrics: ServerMetrics
    let modules: [any APIModule]

    struct Status: ResponseEncodable {
        let status: String
        /// Why the server is degraded (present only then).
        var warnings: [String]? = nil
    }

    struct Info: ResponseEncodable {
        struct Model: Encodable {
            let id: String
            let dimensions: Int?
            let maxSequenceLength: Int?
            let pooling: String?
            let normalized: Bool?
            let loaded: Bool
            let weightBytes: Int?
            /// The dense layers' arithmetic: `fp32`, `bf16` or `int8`.
            let precision: String
            enum CodingKeys: String, CodingKey {
                case id, dimensions, pooling, normalized, loaded, precision
                case maxSequenceLength = "max_sequence_length"
                case weightBytes = "weight_bytes"
            }
        }
        struct Batching: Encodable {
            let enabled: Bool
            let maxWaitMs: Double
            let tokenBudget: Int
            let maxBatchRequests: Int
            let workers: Int
            enum CodingKeys: String, CodingKey {
                case enabled, workers
                case maxWaitMs = "max_wait_ms"
                case tokenBudget = "token_budget"
                case maxBatchRequests = "max_batch_requests"
            }
        }
        struct Auth: Encodable {
            let enabled: Bool
        }
        struct KernelInfo: Encodable {
            /// `avx512` or `avx2`: what the encoder's packed GEMM runs on.
            let active: String
            /// The CPU's features Quiver knows of.
            let cpu: [String]
            /// How bf16 runs here (``BF16Kernel``): `vdpbf16ps` (AVX512_BF16), or `avx512` or `avx2` (the
            /// same sums, bf16 widened to fp32; `avx512` where `vdpbf16ps` is missing or slower than FMAs).
            let bf16: String
            /// How int8 runs here: `vpdpbusd` (AVX512_VNNI) or `avx2` (the same int32 sums with `vpmaddwd`).
            let int8: String
        }
        let name = "quiver"
        let version: String
        let model: Model
        let candidateModels: [OtherModel]
        let limits: ServerConfiguration.Limits
        let batching: Batching
        let auth: Auth
        let kernels: KernelInfo
        enum CodingKeys: String, CodingKey {
            case name, version, model, limits, batching, auth, kernels
            case candidateModels = "candidate_models"
        }
    }

    /// Routes that stay open even when API keys are configured.
    func addOpenRoutes(to router: Router<QuiverRequestContext>) {
        router.get("health") { _, _ in Status(status: "ok") }
        router.get("ready", use: ready)
    }

    /// Routes that need a key when keys are configured.
    func addRoutes(to group: RouterGroup<QuiverRequestContext>) {
        group.get("metrics", use: renderMetrics)
        group.get("v1/info", use: info)
        group.get("openapi.yaml", use: openAPI)
    }

    /// 200 when the model and every module are ready, else 503 with the reason. `/ready` is open
    /// even with API keys, so the reason's internal details (file paths, errors) go only to an
    /// admin key, or to anyone when keys are off; others get the reason without them.
    @Sendable func ready(_ request: Request, context: QuiverRequestContext) async throws -> Status {
        let keys = configuration.apiKeys
        let detailed = !keys.isEnabled || AuthMiddleware.bearer(request).flatMap { keys.role(of: $0) } == .admin
        if let reason = detailed ? service.unavailableReason : service.publicUnavailableReason { throw APIError.unavailable(reason) }
        for module in modules {
            if let reason = detailed ? await module.unavailableReason : await module.publicUnavailableReason {
                throw APIError.unavailable(reason)
            }
        }
        var warnings: [String] = []
        for module in modules { warnings += await module.warnings(public: !detailed) }
        return warnings.isEmpty ? Status(status: "ready") : Status(status: "degraded", warnings: warnings)
    }

    @Sendable func renderMetrics(_ request: Request, context: QuiverRequestContext) -> Response {
        let bytes = metrics.render()
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    @Sendable func info(_ request: Request, context: QuiverRequestContext) async -> Info {
        let embedder = try? service.embedder()
        let batching = configuration.batching
        let wait = Double(batching.maxWait.components.seconds) * 1000 + Double(batching.maxWait.components.attoseconds) * 1e-15
        return Info(
            version: configuration.version,
            model: .init(
                id: service.modelID, dimensions: embedder?.dimension,
                maxSequenceLength: embedder?.pooling.maxSequenceLength,
                pooling: embedder?.pooling.mode.rawValue, normalized: embedder?.pooling.normalize,
                loaded: embedder != nil, weightBytes: embedder?.weightBytes, precision: service.precision.rawValue),
            candidateModels: await otherModels(),
            limits: configuration.limits,
            batching: .init(
                enabled: batching.coalesce, maxWaitMs: batching.coalesce ? wait : 0, tokenBudget: batching.tokenBudget,
                maxBatchRequests: batching.coalesce ? batching.maxBatchRequests : 1, workers: batching.workers),
            auth: .init(enabled: configuration.apiKeys.isEnabled),
            kernels: .init(
                active: Kernels.active.rawValue, cpu: Kernels.cpuFeatures, bf16: Kernels.bf16.rawValue,
                int8: Precision.int8.isNative ? "vpdpbusd" : "avx2"))
    }

    private func otherModels() async -> [OtherModel] {
        var all: [OtherModel] = []
        for module in modules { all += await module.otherModels() }
        return all
    }

    @Sendable func openAPI(_ request: Request, context: QuiverRequestContext) throws -> Response {
        guard let text = OpenAPIDocument.text else { throw APIError.notFound("openapi.yaml is not bundled with this build") }
        var headers = HTTPFields()
        headers[.contentType] = "application/yaml; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The OpenAPI description of this server, bundled from the repository's `openapi.yaml`.
public enum OpenAPIDocument {
    /// The document's text, or `nil` if the resource is missing from the bundle.
    public static let text: String? = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else { return nil }
        return try? String(contentsOf: url, encoding: .utf8)
    }()
}
