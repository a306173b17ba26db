// IndexCompare: the Quiver side of scripts/bench/index_bench.py. Reads the same raw float32 base
// and query files and the cached ground truth, and prints one JSON object with the same metrics:
// build time on 2 threads, single-thread q/s and recall@10 over an ef sweep, memory per vector,
// save and open time, with /proc/loadavg next to every timing.
//
//   IndexCompare --base B.f32 --queries Q.f32 --gt Q.f32.gt10.i32 [--dim 384] [--m 16]
//                [--ef-construction 200] [--threads 2] [--tmp DIR]
//                [--efs 10,32,96] [--metric cosine|dot] [--half 1|0] [--index FILE [--owned]]
// --half 0 turns off the half-precision graph walk (cosine only; on by default).
// --index skips the build and sweeps that saved file, mapped; with --owned the mapping is first
// copied into owned memory (what the first change to an opened index does), as after a build.
//
// Each sweep row has `qps` (wall clock) and `cpu_qps` (this thread's CPU time): on a loaded machine
// the second is the steadier measure of per-search cost.
import Foundation
import VectorIndex

func arg(_ name: String, _ fallback: String? = nil) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    if let fallback { return fallback }
    FileHandle.standardError.write("missing \(name)\n".data(using: .utf8) ?? Data())
    exit(2)
}

func readFloats(_ path: String) -> [Float] {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write("cannot read \(path)\n".data(using: .utf8) ?? Data())
        exit(2)
    }
    return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

func loadavg() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

func rss() -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
    }
    return 0
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func threadCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let dim = Int(arg("--dim", "384")) ?? 384
let m = Int(arg("--m", "16")) ?? 16
let efc = Int(arg("--ef-construction", "200")) ?? 200
let threads = Int(arg("--threads", "2")) ?? 2
let tmp = arg("--tmp", NSTemporaryDirectory())
let efs = arg("--efs", "10,16,24,32,48,64,96,128,192,256,384,512").split(separator: ",").compactMap { Int($0) }
let prebuilt = arg("--index", "")
let base = readFloats(arg("--base"))
let queryFloats = readFloats(arg("--queries"))
let gtData = FileManager.default.contents(atPath: arg("--gt")) ?? Data()
let gt: [Int32] = gtData.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
let n = base.count / dim
let nq = queryFloats.count / dim
let queries = (0..<nq).map { Array(queryFloats[$0 * dim..<($0 + 1) * dim]) }
let k = 10

func recall(_ found: [[UInt64]]) -> Double {
    var hits = 0
    for (q, labels) in found.enumerated() {
        let truth = Set(gt[q * k..<(q + 1) * k].map { UInt64($0) })
        hits += labels.prefix(k).filter { truth.contains($0) }.count
    }
    return Double(hits) / Double(nq * k)
}

func sweep(_ index: HNSWIndex) throws -> [[String: Any]] {
    var rows: [[String: Any]] = []
    for ef in efs {
        var found: [[UInt64]] = []
        found.reserveCapacity(nq)
        let t = now()
        let c = threadCPU()
        for q in queries { found.append(try index.search(q, k: k, ef: ef).map(\.label)) }
        let dt = now() - t
        let dc = threadCPU() - c
        let r = recall(found)
        rows.append([
            "ef": ef, "recall": (r * 10000).rounded() / 10000, "qps": (Double(nq) / dt * 10).rounded() / 10,
            "cpu_qps": (Double(nq) / dc * 10).rounded() / 10, "load": loadavg(),
        ])
        if r >= 0.995 { break }
    }
    return rows
}

do {
    if !prebuilt.isEmpty {
        let t = now()
        let opened = try HNSWIndex.open(at: prebuilt)
        let open = now() - t
        if CommandLine.arguments.contains("--owned") {
            // Removing an absent label changes nothing but still makes the index own its memory.
            _ = try? opened.remove(UInt64.max)
        }
        let result: [String: Any] = ["open_s": open, "sweep_mapped": try sweep(opened)]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        exit(0)
    }
    let rss0 = rss()
    // The vectors are normalized, so cosine (the collections' default) ranks as the peers' inner product.
    let metric: DistanceMetric = arg("--metric", "cosine") == "dot" ? .dot : .cosine
    let config = HNSWConfiguration(
        dimension: dim, metric: metric, m: m, efConstruction: efc,
        halfPrecisionWalk: arg("--half", "1") != "0")
    let index = try HNSWIndex(configuration: config, capacity: n)
    let buildLoad = loadavg()
    let t0 = now()
    try index.add(contentsOf: base, labels: (0..<n).map { UInt64($0) }, threads: threads)
    let build = now() - t0
    let memory = Double(rss() - rss0) / Double(n)
    let rows = try sweep(index)
    let path = tmp + "/quiver.hnsw"
    let t1 = now()
    try index.save(to: path)
    let save = now() - t1
    let t2 = now()
    let opened = try HNSWIndex.open(at: path)
    let open = now() - t2
    let mappedRows = try sweep(opened)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    let result: [String: Any] = [
        "build_s": build, "build_load": buildLoad, "bytes_per_vector": memory, "file_bytes": size,
        "save_s": save, "open_s": open, "sweep": rows, "sweep_mapped": mappedRows,
    ]
    let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
} catch {
    FileHandle.standardError.write("IndexCompare: \(error)\n".data(using: .utf8) ?? Data())
    exit(1)
}
