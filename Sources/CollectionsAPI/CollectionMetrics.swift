import CoreMetrics
import Prometheus
import SearchEngine
import SearchServer
import Synchronization

/// The collection metrics, in the server's registry: documents, vectors and index lag per
/// collection (gauges), write outcomes per collection (counters), and the query-embedding cache.
final class CollectionMetrics: Sendable {
    let metrics: ServerMetrics
    let cacheHits: CoreMetrics.Counter
    let cacheMisses: CoreMetrics.Counter
    let cacheEntries: CoreMetrics.Gauge

    init(metrics: ServerMetrics) {
        self.metrics = metrics
        cacheHits = CoreMetrics.Counter(label: "quiver_query_cache_hits_total", factory: metrics.factory)
        cacheMisses = CoreMetrics.Counter(label: "quiver_query_cache_misses_total", factory: metrics.factory)
        cacheEntries = CoreMetrics.Gauge(label: "quiver_query_cache_entries", factory: metrics.factory)
    }

    private func gauge(_ label: String, _ collection: String) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: label, dimensions: [("collection", collection)], factory: metrics.factory)
    }

    /// Live documents per collection as last counted, plus this process's writes since.
    private let documents = Mutex<[String: Int]>([:])

    /// Records a collection's counts and index lag (`store_seq − indexed_seq`).
    func update(_ info: CollectionInfo) {
        documents.withLock { $0[info.name] = info.documents }
        gauge("quiver_collection_documents", info.name).record(info.documents)
        update(info.name, index: info.index)
    }

    /// Records a collection's vectors and index lag after a write, and its document count moved by
    /// the write's inserts and deletes (no count scan per write; `update(_:)` recounts).
    func update(_ name: String, index: IndexState, written result: UpsertResult? = nil) {
        if let result {
            let count = documents.withLock { counts -> Int? in
                guard let known = counts[name] else { return nil }
                counts[name] = max(0, known + result.inserted - result.deleted)
                return counts[name]
            }
            if let count { gauge("quiver_collection_documents", name).record(count) }
        }
        gauge("quiver_collection_vectors", name).record(index.vectors)
        gauge("quiver_collection_index_lag", name).record(index.pending)
        if let lag = index.lagSeconds { gauge("quiver_collection_index_lag_seconds", name).record(lag) }
    }

    /// Records every open collection's index state (vectors, lag in changes and in seconds) as its
    /// follower knows it — no store read, so `/metrics` answers at once while the store is
    /// unreachable (and the lag in seconds grows): before each `GET /metrics`, so a replica's lag
    /// behind writes other processes make shows without a write or a query here.
    func refresh(_ engine: SearchEngine) {
        for name in engine.openCollectionNames {
            guard let index = engine.openCollection(name)?.localIndexState() else { continue }
            update(name, index: index)
        }
    }

    /// Per-collection series.
    static let gauges = [
        "quiver_collection_documents", "quiver_collection_vectors", "quiver_collection_index_lag",
        "quiver_collection_index_lag_seconds", "quiver_index_checkpoint_failing",
    ]
    /// Outcomes of `quiver_collection_documents_written_total`.
    static let outcomes = ["inserted", "updated", "unchanged", "deleted", "embedded", "pending"]

    /// A deleted collection's series are removed from `/metrics` (not left at their last value).
    func removed(_ name: String) {
        documents.withLock { _ = $0.removeValue(forKey: name) }
        failing.withLock { _ = $0.remove(name) }
        for label in Self.gauges { gauge(label, name).destroy() }
        for outcome in Self.outcomes { written(name, outcome).destroy() }
        CoreMetrics.Counter(label: "quiver_shadow_queries_total", dimensions: [("collection", name)], factory: metrics.factory).destroy()
        for flag in ["true", "false"] {
            counter("quiver_query_feedback_total", name, "helpful", flag).destroy()
            counter("quiver_query_verdicts_total", name, "answered", flag).destroy()
        }
    }

    /// Counts a shadow comparison recorded (`quiver_shadow_queries_total{collection}`).
    func shadowed(_ collection: String) {
        CoreMetrics.Counter(label: "quiver_shadow_queries_total", dimensions: [("collection", collection)], factory: metrics.factory)
            .increment()
    }

    /// Counts a judgment (`quiver_query_feedback_total{collection, helpful}`).
    func feedback(_ collection: String, helpful: Bool) {
        counter("quiver_query_feedback_total", collection, "helpful", String(helpful)).increment()
    }

    /// Counts the verdicts of answers (`quiver_query_verdicts_total{collection, answered}`): the
    /// share of questions without a good answer, over time.
    func verdicts(_ collection: String, _ responses: [QueryResponse]) {
        var answered = 0
        var unanswered = 0
        for verdict in responses.compactMap(\.verdict) {
            if verdict.answered { answered += 1 } else { unanswered += 1 }
        }
        if answered > 0 { counter("quiver_query_verdicts_total", collection, "answered", "true").increment(by: answered) }
        if unanswered > 0 { counter("quiver_query_verdicts_total", collection, "answered", "false").increment(by: unanswered) }
    }

    private func counter(_ label: String, _ collection: String, _ dimension: String, _ value: String) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: label, dimensions: [("collection", collection), (dimension, value)], factory: metrics.factory)
    }

    private func written(_ collection: String, _ outcome: String) -> CoreMetrics.Counter {
        CoreMetrics.Counter(
            label: "quiver_collection_documents_written_total",
            dimensions: [("collection", collection), ("outcome", outcome)], factory: metrics.factory)
    }

    /// Collections with a failing checkpoint report 1, the others they reported before 0.
    func checkpointFailing(_ failures: [String: String]) {
        let previously = failing.withLock { known in
            defer { known = Set(failures.keys) }
            return known
        }
        for name in previously.union(failures.keys) {
            gauge("quiver_index_checkpoint_failing", name).record(failures[name] == nil ? 0 : 1)
        }
    }

    private let failing = Mutex<Set<String>>([])

    /// Counts a write's outcomes.
    func wrote(_ collection: String, _ result: UpsertResult) {
        let outcomes = [
            ("inserted", result.inserted), ("updated", result.updated), ("unchanged", result.unchanged),
            ("deleted", result.deleted), ("embedded", result.embedded), ("pending", result.pending),
        ]
        for (outcome, count) in outcomes where count > 0 {
            written(collection, outcome).increment(by: count)
        }
    }
}
