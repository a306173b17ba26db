import CoreMetrics
import Embedder
import Prometheus
import Synchronization
import VectorMath

/// The server's metrics, kept in one Prometheus registry per application and written out by
/// `GET /metrics`. Instruments are created through swift-metrics with this registry's factory, so
/// a second application (as in tests) never shares or double-registers them.
public final class ServerMetrics: Sendable {
    /// The registry `GET /metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory over ``registry``, for layers that add their own metrics.
    public let factory: PrometheusMetricsFactory
    let queueRequests: CoreMetrics.Gauge
    let queueTokens: CoreMetrics.Gauge
    let rejected: CoreMetrics.Counter
    let batchRequests: CoreMetrics.Recorder
    let batchTokens: CoreMetrics.Recorder
    let batchDuration: CoreMetrics.Timer

    /// A fresh registry with the server's histogram buckets.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets = [
            "quiver_embed_batch_requests": [1, 2, 4, 8, 16, 32, 64, 128, 256],
            "quiver_embed_batch_tokens": [16, 64, 256, 1024, 4096, 16384, 65536],
        ]
        self.registry = registry
        self.factory = factory
        queueRequests = CoreMetrics.Gauge(label: "quiver_embed_queue_requests", factory: factory)
        queueTokens = CoreMetrics.Gauge(label: "quiver_embed_queue_tokens", factory: factory)
        rejected = CoreMetrics.Counter(label: "quiver_embed_rejected_total", factory: factory)
        batchRequests = CoreMetrics.Recorder(label: "quiver_embed_batch_requests", factory: factory)
        batchTokens = CoreMetrics.Recorder(label: "quiver_embed_batch_tokens", factory: factory)
        batchDuration = CoreMetrics.Timer(label: "quiver_embed_batch_duration_seconds", factory: factory)
        // Which instruction set the encoder's and the index's kernels run on, as a label.
        CoreMetrics.Gauge(label: "quiver_kernels_info", dimensions: [("kernels", Kernels.active.rawValue)], factory: factory)
            .record(1)
    }

    /// `quiver_model_info{model, precision} 1`: the served model and the arithmetic its vectors
    /// are made with.
    func recordModel(id: String, precision: String) {
        CoreMetrics.Gauge(label: "quiver_model_info", dimensions: [("model", id), ("precision", precision)], factory: factory)
            .record(1)
    }

    /// Counts one finished HTTP request and records its latency, by route, method and status.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let dimensions = [("route", route), ("method", method), ("status", String(status))]
        CoreMetrics.Counter(label: "quiver_http_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(
            label: "quiver_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory
        )
        .recordInterval(duration)
    }

    /// Batcher callbacks feeding the embedding metrics.
    var batcherObserver: DynamicBatcher.Observer {
        DynamicBatcher.Observer(
            batchCompleted: { [self] requests, _, tokens, duration in
                batchRequests.record(requests)
                batchTokens.record(tokens)
                batchDuration.recordInterval(duration)
            },
            queueChanged: { [self] requests, tokens in
                queueRequests.record(requests)
                queueTokens.record(tokens)
            },
            rejected: { [self] in rejected.increment() }
        )
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        for refresh in refreshes.withLock({ $0 }) { refresh() }
        return registry.emitToBuffer()
    }

    /// Work run before each render: gauges of state that changes without this process doing
    /// anything (a replica's lag behind a store other processes write).
    private let refreshes = Mutex<[@Sendable () -> Void]>([])

    /// Runs `refresh` before every render of `GET /metrics`.
    public func beforeRender(_ refresh: @escaping @Sendable () -> Void) {
        refreshes.withLock { $0.append(refresh) }
    }
}

extension CoreMetrics.Timer {
    func recordInterval(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        recordNanoseconds(nanoseconds.overflow ? Int64.max : nanoseconds.partialValue &+ attoseconds / 1_000_000_000)
    }
}
