// Query answers written with JSONWriter (see JSONWritable): one of these goes out per query.
import Foundation
import SearchEngine
import SearchServer

extension QueryResponse: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("results")
        json.beginArray()
        for hit in results { hit.write(to: &json) }
        json.endArray()
        json.key("index")
        index.write(to: &json)
        json.key("model")
        model.write(to: &json)
        json.key("timings")
        timings.write(to: &json)
        if let verdict {
            json.key("verdict")
            json.beginObject()
            json.key("answered")
            json.bool(verdict.answered)
            json.key("confidence")
            json.number(verdict.confidence)
            json.key("threshold")
            json.number(verdict.threshold)
            json.endObject()
        }
        if let queryID {
            json.key("query_id")
            json.string(queryID)
        }
        json.endObject()
    }
}

extension BatchQueryResponse: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("results")
        json.beginArray()
        for response in results { response.write(to: &json) }
        json.endArray()
        json.endObject()
    }
}

extension QueryHit: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.string(id)
        json.key("score")
        json.number(score)
        if let title {
            json.key("title")
            json.string(title)
        }
        if let text {
            json.key("text")
            json.string(text)
        }
        if let metadata {
            json.key("metadata")
            metadata.write(to: &json)
        }
        if let vector {
            json.key("vector")
            json.numbers(vector)
        }
        if let freshness {
            json.key("freshness")
            freshness.write(to: &json)
        }
        if let scores {
            json.key("scores")
            scores.write(to: &json)
        }
        if let passage {
            json.key("passage")
            json.beginObject()
            json.key("text")
            json.string(passage.text)
            Self.writeSpan(passage.start, passage.end, passage.score, to: &json)
            json.endObject()
        }
        if let chunks {
            json.key("chunks")
            json.beginArray()
            for chunk in chunks {
                json.beginObject()
                Self.writeSpan(chunk.start, chunk.end, chunk.score, to: &json)
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
    }
}

extension QueryHit {
    /// A passage's `start`, `end` and `score` keys.
    static func writeSpan(_ start: Int, _ end: Int, _ score: Float, to json: inout JSONWriter) {
        json.key("start")
        json.integer(Int64(start))
        json.key("end")
        json.integer(Int64(end))
        json.key("score")
        json.number(score)
    }
}

extension HitScores: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        for (key, value) in [("vector", vector), ("keyword", keyword), ("fused", fused)] {
            guard let value else { continue }
            json.key(key)
            json.number(value)
        }
        for (key, value) in [("vector_rank", vectorRank), ("keyword_rank", keywordRank)] {
            guard let value else { continue }
            json.key(key)
            json.integer(Int64(value))
        }
        json.endObject()
    }
}

extension Freshness: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("updated_at")
        updatedAt.write(to: &json)
        if let embeddedAt {
            json.key("embedded_at")
            embeddedAt.write(to: &json)
        }
        if let indexedAt {
            json.key("indexed_at")
            indexedAt.write(to: &json)
        }
        json.key("model")
        model.write(to: &json)
        json.key("age_seconds")
        json.number(ageSeconds)
        json.endObject()
    }
}

extension ModelInfo: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.string(id)
        json.key("fingerprint")
        json.string(fingerprint)
        json.endObject()
    }
}

extension IndexState: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("generation")
        json.integer(generation)
        json.key("indexed_seq")
        json.integer(indexedSeq)
        json.key("store_seq")
        json.integer(storeSeq)
        json.key("pending")
        json.integer(pending)
        if let lagSeconds {
            json.key("lag_seconds")
            json.number(lagSeconds)
        }
        if let lastSyncAt {
            json.key("last_sync_at")
            lastSyncAt.write(to: &json)
        }
        json.key("vectors")
        json.integer(vectors)
        if let keywordIndexedSeq {
            json.key("keyword_indexed_seq")
            json.integer(keywordIndexedSeq)
        }
        if let keywordError {
            json.key("keyword_error")
            json.string(keywordError)
        }
        json.endObject()
    }
}

extension QueryTimings: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("embed_ms")
        json.number(embedMs)
        json.key("search_ms")
        json.number(searchMs)
        json.key("fetch_ms")
        json.number(fetchMs)
        json.endObject()
    }
}

extension JSONValue: JSONWritable {
    public func write(to json: inout JSONWriter) {
        switch self {
        case .null: json.null()
        case .bool(let value): json.bool(value)
        case .number(let value): json.number(value)
        case .string(let value): json.string(value)
        case .array(let values):
            json.beginArray()
            for value in values { value.write(to: &json) }
            json.endArray()
        case .object(let members):
            json.beginObject()
            for (name, value) in members {
                json.key(name)
                value.write(to: &json)
            }
            json.endObject()
        }
    }
}

extension Timestamp: JSONWritable {
    /// The same text as `description` (`2026-11-24T21:02:12.123Z`), written without building strings.
    public func write(to json: inout JSONWriter) {
        guard let parts = utcParts, (0...9999).contains(parts.year) else {
            json.string(description)
            return
        }
        // "YYYY-MM-DDTHH:MM:SS.mmmZ", quoted
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 26) { text in
            var offset = 0
            func put(_ character: Unicode.Scalar) {
                text[offset] = UInt8(ascii: character)
                offset += 1
            }
            func put(_ value: Int, width: Int) {
                var value = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    text[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                offset += width
            }
            put("\"")
            put(parts.year, width: 4)
            put("-")
            put(parts.month, width: 2)
            put("-")
            put(parts.day, width: 2)
            put("T")
            put(parts.hour, width: 2)
            put(":")
            put(parts.minute, width: 2)
            put(":")
            put(parts.second, width: 2)
            put(".")
            put(parts.millisecond, width: 3)
            put("Z")
            put("\"")
            json.rawValue(UnsafeBufferPointer(text))
        }
    }
}
