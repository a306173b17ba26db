#!/usr/bin/env python3
"""sentence-transformers on the same short queries as scripts/load/run.sh, for BENCHMARKS-server.md.

Usage: python scripts/load/st_queries.py [--queries /work/corpus/queries.jsonl] [--n 4000]
Needs torch and sentence-transformers (e.g. /work/venv). Runs on the CPU with 2 threads, like Quiver.
Prints batched queries/s per batch size (best of 2) and one-at-a-time latency.
"""
import argparse
import json
import os
import statistics
import time

import torch
from sentence_transformers import SentenceTransformer

parser = argparse.ArgumentParser()
parser.add_argument("--queries", default="/work/corpus/queries.jsonl")
parser.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "../../models/all-MiniLM-L6-v2"))
parser.add_argument("--n", type=int, default=2000)
parser.add_argument("--single", type=int, default=200)
args = parser.parse_args()

torch.set_num_threads(2)
texts = [json.loads(line)["text"] for line in open(args.queries)][: args.n]
model = SentenceTransformer(args.model, device="cpu")
model.encode(texts[:64], batch_size=32)
report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "n": len(texts), "load": open("/proc/loadavg").read().split()[:3]}
for batch in (32, 64):
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        model.encode(texts, batch_size=batch)
        best = min(best, time.perf_counter() - start)
    report[f"batched_qps_batch_{batch}"] = round(len(texts) / best, 1)
latencies = []
for text in texts[: args.single]:
    start = time.perf_counter()
    model.encode([text], batch_size=1)
    latencies.append((time.perf_counter() - start) * 1000)
report["single_ms_median"] = round(statistics.median(latencies), 2)
report["single_ms_p99"] = round(sorted(latencies)[int(len(latencies) * 0.99) - 1], 2)
report["single_qps"] = round(1000 / statistics.mean(latencies), 1)
report["load_after"] = open("/proc/loadavg").read().split()[:3]
print(json.dumps(report, indent=1))
