#!/usr/bin/env python3
"""Side-by-side HNSW benchmark: hnswlib, FAISS IndexHNSWFlat, USearch (and Quiver via IndexCompare).

Usage:
  index_bench.py --base B.f32 --queries Q.f32 [--dim 384] [--m 16] [--ef-construction 200]
                 [--libs hnswlib,faiss,usearch] [--swift PATH/TO/IndexCompare] [--out results.json]

Vectors are raw little-endian float32, row-major, normalized (metric: inner product).
Ground truth (exact top-10 by numpy) is cached next to the query file as <queries>.gt10.i32.
Per library: build time on 2 threads, single-thread batch search q/s for an ef sweep, the smallest
swept ef reaching recall@10 0.95 and 0.99 and its q/s, memory per vector (RSS growth during build /
n) and save/open time. /proc/loadavg is recorded with every timing.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
import numpy as np

EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
K = 10

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])

def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

def ground_truth(base, queries, path):
    if os.path.exists(path):
        gt = np.fromfile(path, dtype=np.int32).reshape(-1, K)
        if len(gt) == len(queries):
            return gt
    gt = np.empty((len(queries), K), dtype=np.int32)
    for s in range(0, len(queries), 256):
        sims = queries[s:s + 256] @ base.T
        part = np.argpartition(-sims, K, axis=1)[:, :K]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        gt[s:s + 256] = np.take_along_axis(part, order, axis=1)
    gt.tofile(path)
    return gt

def recall(found, gt):
    hits = sum(len(set(map(int, f[:K])) & set(map(int, g))) for f, g in zip(found, gt))
    return hits / (len(gt) * K)

def summarize(sweep):
    out = {}
    for target in (0.95, 0.99):
        ok = [r for r in sweep if r["recall"] >= target]
        out[str(target)] = min(ok, key=lambda r: r["ef"]) if ok else None
    return out

def sweep_search(search, queries, gt):
    rows = []
    for ef in EFS:
        t = time.perf_counter(); c = time.thread_time()
        labels = search(ef)
        dt = time.perf_counter() - t; dc = time.thread_time() - c
        r = recall(labels, gt)
        # cpu_qps: queries per second of this thread's CPU time; far less sensitive to other load
        # on the machine than the wall-clock qps (the searches are single-threaded).
        rows.append({"ef": ef, "recall": round(r, 4), "qps": round(len(queries) / dt, 1),
                     "cpu_qps": round(len(queries) / dc, 1), "load": loadavg()})
        if r >= 0.995:
            break
    return rows

def bench_hnswlib(base, queries, gt, a, tmp):
    import hnswlib
    rss0 = rss_bytes()
    idx = hnswlib.Index(space="ip", dim=a.dim)
    idx.init_index(max_elements=len(base), M=a.m, ef_construction=a.ef_construction, random_seed=42)
    idx.set_num_threads(2)
    load = loadavg(); t = time.perf_counter()
    idx.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    mem = (rss_bytes() - rss0) / len(base)
    idx.set_num_threads(1)
    def search(ef):
        idx.set_ef(ef)
        return idx.knn_query(queries, k=K)[0]
    rows = sweep_search(search, queries, gt)
    path = os.path.join(tmp, "h.bin")
    t = time.perf_counter(); idx.save_index(path); save = time.perf_counter() - t
    t = time.perf_counter(); i2 = hnswlib.Index(space="ip", dim=a.dim); i2.load_index(path); opened = time.perf_counter() - t
    return dict(build_s=build, build_load=load, bytes_per_vector=mem, file_bytes=os.path.getsize(path),
                save_s=save, open_s=opened, sweep=rows)

def bench_faiss(base, queries, gt, a, tmp):
    import faiss
    rss0 = rss_bytes()
    idx = faiss.IndexHNSWFlat(a.dim, a.m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = a.ef_construction
    faiss.omp_set_num_threads(2)
    load = loadavg(); t = time.perf_counter()
    idx.add(base)
    build = time.perf_counter() - t
    mem = (rss_bytes() - rss0) / len(base)
    faiss.omp_set_num_threads(1)
    def search(ef):
        idx.hnsw.efSearch = ef
        return idx.search(queries, K)[1]
    rows = sweep_search(search, queries, gt)
    path = os.path.join(tmp, "f.bin")
    t = time.perf_counter(); faiss.write_index(idx, path); save = time.perf_counter() - t
    t = time.perf_counter(); faiss.read_index(path, faiss.IO_FLAG_MMAP); opened = time.perf_counter() - t
    return dict(build_s=build, build_load=load, bytes_per_vector=mem, file_bytes=os.path.getsize(path),
                save_s=save, open_s=opened, sweep=rows)

def bench_usearch(base, queries, gt, a, tmp):
    from usearch.index import Index
    rss0 = rss_bytes()
    idx = Index(ndim=a.dim, metric="ip", dtype="f32", connectivity=a.m, expansion_add=a.ef_construction)
    load = loadavg(); t = time.perf_counter()
    idx.add(np.arange(len(base)), base, threads=2)
    build = time.perf_counter() - t
    mem = (rss_bytes() - rss0) / len(base)
    def search(ef):
        idx.expansion_search = ef
        return idx.search(queries, K, threads=1).keys
    rows = sweep_search(search, queries, gt)
    path = os.path.join(tmp, "u.usearch")
    t = time.perf_counter(); idx.save(path); save = time.perf_counter() - t
    t = time.perf_counter(); Index.restore(path, view=True); opened = time.perf_counter() - t
    return dict(build_s=build, build_load=load, bytes_per_vector=mem, file_bytes=os.path.getsize(path),
                save_s=save, open_s=opened, sweep=rows)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--libs", default="hnswlib,faiss,usearch")
    p.add_argument("--swift", help="path to the IndexCompare executable")
    p.add_argument("--out")
    p.add_argument("--no-float-walk", action="store_true",
                   help="run Quiver once (its default), without the float-walk comparison build")
    a = p.parse_args()
    base = np.fromfile(a.base, dtype=np.float32).reshape(-1, a.dim)
    queries = np.fromfile(a.queries, dtype=np.float32).reshape(-1, a.dim)
    gt_path = a.queries + f".gt{K}.i32"
    gt = ground_truth(base, queries, gt_path)
    results = {"base": a.base, "n": len(base), "queries": len(queries), "m": a.m,
               "ef_construction": a.ef_construction, "libs": {}}
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(a.base))) as tmp:
        for lib in filter(None, a.libs.split(",")):
            r = globals()["bench_" + lib](base, queries, gt, a, tmp)
            r["at"] = summarize(r["sweep"])
            results["libs"][lib] = r
            print(json.dumps({lib: r}), flush=True)
        if a.swift:
            # Quiver's default (graph walk on half-precision copies, re-ranked on the float
            # vectors), then the same build walking the float vectors only.
            variants = (("quiver", "1"),) if a.no_float_walk else (("quiver", "1"), ("quiver-float-walk", "0"))
            for name, half in variants:
                cmd = [a.swift, "--base", a.base, "--queries", a.queries, "--gt", gt_path, "--dim", str(a.dim),
                       "--m", str(a.m), "--ef-construction", str(a.ef_construction), "--tmp", tmp,
                       "--half", half]
                r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                r["at"] = summarize(r["sweep"])
                results["libs"][name] = r
                print(json.dumps({name: r}), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)

if __name__ == "__main__":
    main()
