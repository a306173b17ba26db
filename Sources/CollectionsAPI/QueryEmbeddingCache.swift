import Synchronization

/// A bounded least-recently-used map from query text to its vector, so a repeated text query skips
/// the model. Keys include the model fingerprint, so a vector is never reused for another model.
/// `capacity` 0 disables it.
final class QueryEmbeddingCache: Sendable {
    private struct Entry {
        var key: String
        var vector: [Float]
        var previous: Int  // towards the most recently used; -1 at the head
        var next: Int  // towards the least recently used; -1 at the tail
    }

    private struct Storage {
        var slots: [String: Int] = [:]
        var entries: [Entry] = []
        var head = -1
        var tail = -1

        mutating func unlink(_ index: Int) {
            let entry = entries[index]
            if entry.previous >= 0 { entries[entry.previous].next = entry.next } else { head = entry.next }
            if entry.next >= 0 { entries[entry.next].previous = entry.previous } else { tail = entry.previous }
            entries[index].previous = -1
            entries[index].next = -1
        }

        mutating func pushFront(_ index: Int) {
            entries[index].previous = -1
            entries[index].next = head
            if head >= 0 { entries[head].previous = index }
            head = index
            if tail < 0 { tail = index }
        }
    }

    let capacity: Int
    private let storage = Mutex(Storage())

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    static func key(fingerprint: String, text: String) -> String { fingerprint + "\u{0}" + text }

    /// The cached vector, marking it most recently used.
    func get(_ key: String) -> [Float]? {
        guard capacity > 0 else { return nil }
        return storage.withLock { storage in
            guard let index = storage.slots[key] else { return nil }
            storage.unlink(index)
            storage.pushFront(index)
            return storage.entries[index].vector
        }
    }

    /// Stores a vector, evicting the least recently used entry when full.
    func put(_ key: String, _ vector: [Float]) {
        guard capacity > 0 else { return }
        storage.withLock { storage in
            if let index = storage.slots[key] {
                storage.entries[index].vector = vector
                storage.unlink(index)
                storage.pushFront(index)
                return
            }
            let index: Int
            if storage.entries.count < capacity {
                index = storage.entries.count
                storage.entries.append(Entry(key: key, vector: vector, previous: -1, next: -1))
            } else {
                index = storage.tail
                storage.unlink(index)
                storage.slots[storage.entries[index].key] = nil
                storage.entries[index] = Entry(key: key, vector: vector, previous: -1, next: -1)
            }
            storage.slots[key] = index
            storage.pushFront(index)
        }
    }

    var count: Int { storage.withLock { $0.slots.count } }
}
