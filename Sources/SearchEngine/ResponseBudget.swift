import DocumentStore
import Synchronization

/// How many bytes one request's answer may take, shared by every query of a batch.
///
/// A request is checked twice against `limit`: before any work, with ``estimate(hits:perHit:)``
/// (so a 16 KB batch asking for 256,000 hits with their vectors is refused before it embeds or
/// searches anything), and while its hits are fetched, with the bytes actually read (so texts
/// longer than the estimate assumed cannot grow the answer past the limit either). Over the limit
/// is `limitExceeded("max_response_bytes")`: a 413 over HTTP.
public final class ResponseBudget: Sendable {
    /// Bytes the answer may take.
    public let limit: Int
    private let used = Atomic<Int>(0)

    /// A budget of `limit` bytes; `Int.max` for none.
    public init(limit: Int) { self.limit = max(limit, 0) }

    /// No limit (the CLI, which writes each answer as it goes).
    public static var unlimited: ResponseBudget { ResponseBudget(limit: .max) }

    /// Bytes charged so far.
    public var charged: Int { used.load(ordering: .relaxed) }

    /// Adds `bytes` to the answer's size.
    ///
    /// - Throws: `limitExceeded("max_response_bytes")` once the total passes the limit.
    public func charge(_ bytes: Int) throws(SearchEngineError) {
        guard limit != .max else { return }
        let total = used.wrappingAdd(max(bytes, 0), ordering: .relaxed).newValue
        // wrappingAdd of non-negative values can only wrap past Int.max, far beyond any limit.
        if total > limit || total < 0 {
            throw .limitExceeded(limit: "max_response_bytes", value: total < 0 ? .max : total, allowed: limit)
        }
    }

    /// Throws when an answer estimated at `hits` × `perHit` bytes would exceed the limit.
    public func check(hits: Int, perHit: Int) throws(SearchEngineError) {
        let estimate = Self.estimate(hits: hits, perHit: perHit)
        if estimate > limit {
            throw .limitExceeded(limit: "max_response_bytes (estimated)", value: estimate, allowed: limit)
        }
    }

    /// `hits` × `perHit`, saturating at `Int.max`.
    public static func estimate(hits: Int, perHit: Int) -> Int {
        let (product, overflow) = max(hits, 0).multipliedReportingOverflow(by: max(perHit, 0))
        return overflow ? .max : product
    }

    // MARK: Costs
    //
    // Bytes of the JSON answer, measured on the wire format: a float is at most 15 characters
    // ("-1.2345679e-05,"; Swift prints the shortest form that reads back exactly); a hit's id and
    // score are ~40 bytes plus the id; its title, metadata and freshness (two timestamps, the
    // model's id and 64-hex fingerprint) ~350 bytes plus the title and metadata.

    /// Bytes of a keyword or hybrid hit's `scores` object (three floats, two ranks, the keys).
    public static let scoresBytes = 130
    /// Bytes of one number in a JSON array of floats.
    public static let floatBytes = 15
    /// Bytes of a hit with no payload (id, score), besides the id itself.
    public static let bareHitBytes = 48
    /// Bytes of a hit's payload (title, metadata, freshness), besides the title and metadata.
    public static let payloadBytes = 352
    /// What the estimate before a query assumes a hit's id, title, metadata and (when included)
    /// text take. Hits whose stored fields are longer are charged what they are as they are read.
    public static let assumedIDBytes = 32
    /// See ``assumedIDBytes``.
    public static let assumedPayloadFieldBytes = 256
    /// See ``assumedIDBytes``.
    public static let assumedTextBytes = 1024

    /// The estimate of one hit before the query runs.
    public static func estimatedHitBytes(dimensions: Int, include: Set<IncludeField>, withPayload: Bool) -> Int {
        var bytes = bareHitBytes + assumedIDBytes
        guard withPayload else { return bytes }
        bytes += payloadBytes + assumedPayloadFieldBytes
        if include.contains(.text) { bytes += assumedTextBytes }
        if include.contains(.vector) { bytes += vectorBytes(dimensions) }
        return bytes
    }

    /// The bytes of a fetched hit: its stored fields as they are.
    static func hitBytes(_ document: StoredDocument, include: Set<IncludeField>) -> Int {
        var bytes = bareHitBytes + payloadBytes + document.id.utf8.count
        bytes += document.title?.utf8.count ?? 0
        bytes += document.metadata?.utf8.count ?? 0
        if include.contains(.text) { bytes += document.text?.utf8.count ?? 0 }
        if include.contains(.vector) { bytes += vectorBytes(document.vector?.count ?? 0) }
        return bytes
    }

    /// Bytes of a hit's passage (its text, offsets and score) and `chunks` matching passages as JSON.
    static func passageBytes(_ passage: Passage?, chunks: Int) -> Int {
        (passage.map { 96 + $0.text.utf8.count * 2 } ?? 0) + chunks * 64
    }

    /// Bytes of a vector of `dimensions` floats as JSON.
    public static func vectorBytes(_ dimensions: Int) -> Int {
        estimate(hits: dimensions, perHit: floatBytes)
    }
}
