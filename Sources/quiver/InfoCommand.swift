import ArgumentParser
import CollectionsAPI
import Foundation
import SearchEngine
import VectorMath

/// `quiver info`: collections, counts, models, generations and freshness.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Describe the collections of a data directory.")

    @OptionGroup var data: DataOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let engine = try data.engine(model: nil)
        let collections = try cli { () throws(SearchEngineError) in try engine.listCollections() }
        if json {
            print(
                try jsonLine(
                    [
                        "data_directory": .string(engine.dataDirectory.path),
                        "store": .string(StoreChoice.describe(data.store)), "collections": try Self.json(collections),
                        "kernels": .object([
                            "active": .string(Kernels.active.rawValue), "cpu": .array(Kernels.cpuFeatures.map { .string($0) }),
                            "bf16": .string(Kernels.bf16.rawValue),
                            "int8": .string(Precision.int8.isNative ? "vpdpbusd" : "avx2"),
                        ]),
                    ] as [String: JSONValue]
                ))
            return
        }
        print("data directory: \(engine.dataDirectory.path)")
        print("store: \(StoreChoice.describe(data.store))")
        print(
            "kernels: \(Kernels.active.rawValue) (cpu: \(Kernels.cpuFeatures.joined(separator: ", "))); "
                + "bf16 on \(Kernels.bf16.rawValue) (vdpbf16ps, or bf16 widened to fp32 on avx512 or avx2); "
                + "int8 on \(Precision.int8.isNative ? "vpdpbusd" : "the avx2 twin")")
        if collections.isEmpty { print("no collections") }
        for c in collections {
            print(
                """
                \(c.name): \(c.documents) documents (\(c.tombstones) tombstones), \(c.dimensions) dims, \(c.distance), \
                m \(c.hnsw.m) ef_construction \(c.hnsw.efConstruction)
                  model \(c.model.id) (\(c.model.fingerprint.prefix(16))), generation \(c.index.generation), \
                indexed seq \(c.index.indexedSeq) of \(c.index.storeSeq), last sync \(c.index.lastSyncAt?.description ?? "never")
                """)
            for g in c.generations where g.state != "current" || g.pending != nil {
                print(
                    "  generation \(g.generation) (\(g.candidate == true ? "candidate" : g.state)): model \(g.model.id) (\(g.model.fingerprint.prefix(16)))"
                        + (g.pending.map { ", \($0) documents to embed" } ?? ""))
            }
        }
    }

    static func json(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
