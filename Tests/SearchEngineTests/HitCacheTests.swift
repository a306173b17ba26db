import DocumentStore
import Foundation
import Testing

@testable import SearchEngine

@Suite("Hit document cache")
struct HitCacheTests {
    func document(_ label: Int64, seq: Int64, title: String = "t") -> StoredDocument {
        StoredDocument(
            label: label, id: "d\(label)", title: title, text: nil, metadata: #"{"a":1}"#, updatedAt: 1, seq: seq, embeddedAt: 2,
            vector: nil)
    }

    @Test("lookups return what was inserted for the generation; passages are kept per index; misses are listed")
    func lookup() {
        let cache = HitCache(capacityBytes: 1 << 20)
        let epoch = cache.epoch
        cache.insert([1: document(1, seq: 5), 2: document(2, seq: 6)], passages: [1: 0], texts: [1: "first"], generation: 3, epoch: epoch)
        let hit = cache.lookup(labels: [1, 2, 9], passages: [1: 0], generation: 3)
        #expect(hit.documents.keys.sorted() == [1, 2] && hit.passages == [1: "first"] && hit.missing == [9])
        // Another passage of a cached document is a miss until read; another generation misses all.
        #expect(cache.lookup(labels: [1], passages: [1: 1], generation: 3).missing == [1])
        #expect(cache.lookup(labels: [1, 2], passages: [:], generation: 4).missing == [1, 2])
        cache.insert([1: document(1, seq: 5)], passages: [1: 1], texts: [1: "second"], generation: 3, epoch: cache.epoch)
        #expect(cache.lookup(labels: [1], passages: [1: 0], generation: 3).passages == [1: "first"])
        #expect(cache.lookup(labels: [1], passages: [1: 1], generation: 3).passages == [1: "second"])
    }

    @Test("an invalidation drops its labels, and a read begun before it is never inserted after it")
    func invalidation() {
        let cache = HitCache(capacityBytes: 1 << 20)
        cache.insert([1: document(1, seq: 5), 2: document(2, seq: 6)], passages: [:], texts: [:], generation: 1, epoch: cache.epoch)
        let before = cache.epoch  // a query reads the store now…
        cache.invalidate([1])  // …the follower applies a change to 1 meanwhile…
        cache.insert([1: document(1, seq: 5, title: "old")], passages: [:], texts: [:], generation: 1, epoch: before)
        // …so the version that query read is not inserted.
        #expect(cache.lookup(labels: [1], passages: [:], generation: 1).missing == [1])
        #expect(cache.lookup(labels: [2], passages: [:], generation: 1).missing.isEmpty)
        cache.clear()
        #expect(cache.lookup(labels: [2], passages: [:], generation: 1).missing == [2])
        // Disabled: nothing is kept.
        let off = HitCache(capacityBytes: 0)
        off.insert([1: document(1, seq: 5)], passages: [:], texts: [:], generation: 1, epoch: off.epoch)
        #expect(!off.isEnabled && off.lookup(labels: [1], passages: [:], generation: 1).missing == [1])
    }

    @Test("the byte budget evicts the oldest entries first")
    func eviction() {
        let cache = HitCache(capacityBytes: 4_000)
        for label in Int64(1)...100 {
            cache.insert(
                [label: document(label, seq: label, title: String(repeating: "x", count: 100))], passages: [:], texts: [:],
                generation: 1, epoch: cache.epoch)
        }
        let held = cache.lookup(labels: Array(1...100), passages: [:], generation: 1)
        #expect(held.documents.count > 5 && held.documents.count < 20, "\(held.documents.count) held")
        #expect(held.documents[100] != nil && held.documents[1] == nil)
    }
}
