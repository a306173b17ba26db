#!/usr/bin/env python3
"""Bulk vector queries: `quiver query --input --no-payload` against hnswlib and FAISS in-process.

    QUIVER_BIN=.build/release/quiver /work/venv/bin/python scripts/bench/bulk_queries.py \
        --texts /work/corpus/queries.jsonl,/work/corpus/sentences.jsonl,/work/corpus/docs.jsonl,/work/relevance/manpages-nogcloud/docs.jsonl \
        --count 30000 --work /tmp/bulk

1. Takes the first --count texts of the JSONL files given (a man-page or other long document is
   split into its paragraphs of 40+ characters), indexes them with `quiver index` (all-MiniLM-L6-v2,
   HNSW M 16, ef_construction 200) and exports the vectors (`quiver export --format f32`).
2. Makes --queries query vectors: stored vectors plus N(0, 0.01) noise (seeded), written as
   `{"vector": [...], "k": 10}` lines; the exact top 10 by cosine (numpy) is the ground truth.
3. For each ef: the wall time of `quiver query --input FILE --no-payload --ef EF` (process start,
   opening the collection, reading and parsing every line and writing every answer included) and
   its recall@10 (with --http also `query/batch` with `with_payload: false` on a `quiver serve`,
   --batch queries per request on two connections); hnswlib and FAISS (IndexHNSWFlat, inner product) built with the same M and
   ef_construction, searched in one batch call on 1 and 2 threads, same ef sweep.
Prints a table and writes --out JSON. Needs numpy, hnswlib, faiss (scripts/bench/make_venv.sh
--light). /proc/loadavg is recorded with every timing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

EFS = [16, 24, 32, 48, 64, 96, 128]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def texts_from(paths, count):
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                text = json.loads(line).get("text") or json.loads(line).get("query")
                if not text:
                    continue
                parts = [p.strip() for p in text.split("\n\n")] if len(text) > 1500 else [text]
                for part in parts:
                    if len(part) >= 40 or len(parts) == 1:
                        out.append(part)
                        if len(out) == count:
                            return out
    return out


def recall(found, truth):
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
    return hits / (len(truth) * 10)


def http_batches(quiver, data, queries, row_of, truth, efs, batch):
    """`POST /v1/collections/bulk/query/batch` with `with_payload: false`: a `quiver serve` on the
    same data folder, bodies of `batch` queries encoded before the clock starts, sent on two
    keep-alive connections at once; the time runs from the first request to the last response."""
    import http.client
    import socket
    import threading

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([quiver, "serve", "--data", data, "--no-sample", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/ready")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("[bulk] quiver serve did not become ready")
        out = []
        for ef in efs:
            bodies = []
            for start in range(0, len(queries), batch):
                body = {"queries": [{"vector": [float(x) for x in q], "k": 10, "ef": ef, "with_payload": False}
                                    for q in queries[start:start + batch]]}
                bodies.append(json.dumps(body).encode())
            answers = [None] * len(bodies)

            def send(worker):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                for index in range(worker, len(bodies), 2):
                    connection.request("POST", "/v1/collections/bulk/query/batch", body=bodies[index],
                                       headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answers[index] = (response.status, response.read())

            # One warm-up request (the first loads the index), then the timed run.
            send_one = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            send_one.request("POST", "/v1/collections/bulk/query/batch", body=bodies[0],
                             headers={"Content-Type": "application/json"})
            send_one.getresponse().read()
            load = loadavg()
            started = time.perf_counter()
            threads = [threading.Thread(target=send, args=(w,)) for w in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
            found = []
            for status, payload in answers:
                if status != 200:
                    raise SystemExit(f"[bulk] query/batch answered {status}: {payload[:200]!r}")
                found.extend([[row_of.get(hit["id"], -1) for hit in result["results"]]
                              for result in json.loads(payload)["results"]])
            out.append({"ef": ef, "qps": len(queries) / seconds, "recall": recall(found, truth), "seconds": seconds,
                        "batch": batch, "loadavg": load})
        return out
    finally:
        server.terminate()
        server.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--texts", required=True, help="comma-separated JSONL files with a text (or query) key")
    p.add_argument("--count", type=int, default=30000)
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--work", default="/tmp/bulk")
    p.add_argument("--out")
    p.add_argument("--efs", default=",".join(map(str, EFS)))
    p.add_argument("--http", action="store_true", help="also time query/batch over HTTP (a quiver serve it starts)")
    p.add_argument("--batch", type=int, default=256, help="queries per query/batch request (--http)")
    args = p.parse_args()
    quiver = os.environ.get("QUIVER_BIN", ".build/release/quiver")
    efs = [int(e) for e in args.efs.split(",")]
    os.makedirs(args.work, exist_ok=True)
    data = os.path.join(args.work, "data")
    base_path = os.path.join(args.work, "base.f32")
    ids_path = os.path.join(args.work, "ids.txt")

    if not os.path.exists(base_path):
        texts = texts_from(args.texts.split(","), args.count)
        docs = os.path.join(args.work, "docs.jsonl")
        with open(docs, "w", encoding="utf-8") as f:
            for i, text in enumerate(texts):
                f.write(json.dumps({"id": f"t{i}", "text": text}, ensure_ascii=False) + "\n")
        started = time.time()
        subprocess.run([quiver, "index", docs, "--collection", "bulk", "--data", data], check=True)
        print(f"[bulk] indexed {len(texts)} texts in {time.time() - started:.1f} s", file=sys.stderr)
        subprocess.run([quiver, "export", "--collection", "bulk", "--data", data, "--format", "f32", "--ids", ids_path],
                       check=True, stdout=open(base_path, "wb"))
    base = np.fromfile(base_path, dtype="<f4").reshape(-1, 384)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ids = open(ids_path).read().split()
    row_of = {identifier: row for row, identifier in enumerate(ids)}
    rng = np.random.default_rng(2026)
    picks = rng.choice(len(base), size=args.queries, replace=False)
    queries = base[picks] + rng.normal(0, 0.01, size=(args.queries, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    query_file = os.path.join(args.work, "vq.jsonl")
    with open(query_file, "w") as f:
        for q in queries:
            f.write(json.dumps({"vector": [float(x) for x in q], "k": 10}) + "\n")
    truth = []
    for s in range(0, len(queries), 512):
        sims = queries[s:s + 512] @ base.T
        truth.extend(np.argsort(-sims, axis=1)[:, :10].tolist())
    print(f"[bulk] {len(base)} vectors, {len(queries)} queries; loadavg {loadavg()}", file=sys.stderr)

    results = {"vectors": len(base), "queries": len(queries), "quiver": [], "hnswlib": [], "faiss": []}
    for ef in efs:
        load = loadavg()
        started = time.time()
        run = subprocess.run([quiver, "query", "-c", "bulk", "--data", data, "--input", query_file, "--no-payload",
                              "--ef", str(ef)], check=True, capture_output=True, text=True)
        wall = time.time() - started
        found = [[row_of.get(hit["id"], -1) for hit in json.loads(line)["results"]] for line in run.stdout.splitlines()]
        results["quiver"].append({"ef": ef, "qps_wall": len(queries) / wall, "recall": recall(found, truth),
                                  "seconds": wall, "loadavg": load, "summary": run.stderr.strip().splitlines()[-1]})

    if args.http:
        results["http"] = http_batches(quiver, data, queries, row_of, truth, efs, args.batch)

    import hnswlib
    index = hnswlib.Index(space="ip", dim=384)
    index.init_index(max_elements=len(base), M=16, ef_construction=200)
    index.add_items(base, np.arange(len(base)), num_threads=2)
    import faiss
    flat = faiss.IndexHNSWFlat(384, 16, faiss.METRIC_INNER_PRODUCT)
    flat.hnsw.efConstruction = 200
    faiss.omp_set_num_threads(2)
    flat.add(base)
    for ef in efs:
        for threads in (1, 2):
            index.set_ef(max(ef, 10))
            load = loadavg()
            started = time.perf_counter()
            labels, _ = index.knn_query(queries, k=10, num_threads=threads)
            seconds = time.perf_counter() - started
            results["hnswlib"].append({"ef": ef, "threads": threads, "qps": len(queries) / seconds,
                                       "recall": recall(labels.tolist(), truth), "loadavg": load})
            faiss.omp_set_num_threads(threads)
            flat.hnsw.efSearch = max(ef, 10)
            load = loadavg()
            started = time.perf_counter()
            _, labels = flat.search(queries, 10)
            seconds = time.perf_counter() - started
            results["faiss"].append({"ef": ef, "threads": threads, "qps": len(queries) / seconds,
                                     "recall": recall(labels.tolist(), truth), "loadavg": load})

    print("| ef | quiver query --input --no-payload: q/s wall (recall) | hnswlib 1 / 2 threads q/s (recall) | FAISS 1 / 2 threads q/s (recall) |")
    print("|---:|---|---|---|")
    for ef in efs:
        q = next(r for r in results["quiver"] if r["ef"] == ef)
        h = [r for r in results["hnswlib"] if r["ef"] == ef]
        f = [r for r in results["faiss"] if r["ef"] == ef]
        print(f"| {ef} | {q['qps_wall']:,.0f} ({q['recall']:.3f}) | {h[0]['qps']:,.0f} / {h[1]['qps']:,.0f} ({h[1]['recall']:.3f})"
              f" | {f[0]['qps']:,.0f} / {f[1]['qps']:,.0f} ({f[1]['recall']:.3f}) |")
    if args.http:
        print("| ef | query/batch with_payload false: q/s (recall) |")
        print("|---:|---|")
        for r in results["http"]:
            print(f"| {r['ef']} | {r['qps']:,.0f} ({r['recall']:.3f}) |")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
