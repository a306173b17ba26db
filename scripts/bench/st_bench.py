#!/usr/bin/env python3
"""sentence-transformers side of Quiver's encoder benchmark: documents/s and per-query latency.

Selection (deterministic, so the Swift side can embed exactly the same texts):
  * documents: the lines of --docs whose length, measured by the model's tokenizer with [CLS] and
    [SEP], is within --doc-tokens (default 50..250); of those, every k-th from the first, where
    k = eligible // n-docs;
  * queries: likewise from --queries with --query-tokens (default 5..20).
  --dump-selection / --dump-queries write the chosen lines (unchanged JSON objects) to JSONL files.

Measurement: a warm-up, then for each batch size the time of encode(docs, batch_size=b,
normalize_embeddings=True) over all selected documents (best and median of --repeats runs), then
every query encoded alone, one call each (median, p99, mean in ms). One JSON object is printed.

Timing runs should not be niced; the load average before and after is recorded in the output
because a shared machine skews the numbers.

  python scripts/bench/st_bench.py --docs /work/corpus/docs.jsonl \\
      --queries /work/corpus/queries.jsonl \\
      --dump-selection /work/corpus/bench-docs-800.jsonl \\
      --dump-queries /work/corpus/bench-queries-200.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "/work/main/models/all-MiniLM-L6-v2"


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: str, rows: list[dict]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def parse_range(s: str) -> tuple[int, int]:
    lo, hi = s.split("..")
    return int(lo), int(hi)


def token_lengths(tokenizer, texts: list[str]) -> list[int]:
    out: list[int] = []
    for i in range(0, len(texts), 2048):
        enc = tokenizer(texts[i:i + 2048], add_special_tokens=True, truncation=False,
                        padding=False, return_attention_mask=False, return_token_type_ids=False,
                        verbose=False)
        out.extend(len(ids) for ids in enc["input_ids"])
    return out


def select_every_kth(rows: list[dict], lengths: list[int], lo: int, hi: int, n: int, what: str):
    eligible = [(r, k) for r, k in zip(rows, lengths) if lo <= k <= hi]
    if len(eligible) < n:
        sys.exit(f"only {len(eligible)} {what} of {lo}..{hi} tokens, need {n}")
    step = len(eligible) // n
    chosen = eligible[::step][:n]
    return [r for r, _ in chosen], [k for _, k in chosen], len(eligible)


def loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def percentile(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    import math
    rank = max(1, math.ceil(q / 100 * len(sorted_vals)))
    return sorted_vals[rank - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", required=True, help="JSONL with a 'text' field per line")
    ap.add_argument("--queries", required=True, help="JSONL with a 'text' field per line")
    ap.add_argument("--n-docs", type=int, default=800)
    ap.add_argument("--n-queries", type=int, default=200)
    ap.add_argument("--doc-tokens", type=parse_range, default=(50, 250), metavar="LO..HI")
    ap.add_argument("--query-tokens", type=parse_range, default=(5, 20), metavar="LO..HI")
    ap.add_argument("--batch-sizes", default="16,32,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per batch size (best wins)")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--dump-selection", metavar="PATH", help="write the selected documents here")
    ap.add_argument("--dump-queries", metavar="PATH", help="write the selected queries here")
    args = ap.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]

    import numpy as np
    import torch
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.model, device="cpu", local_files_only=True)
    model.eval()

    doc_rows = read_jsonl(args.docs)
    q_rows = read_jsonl(args.queries)
    docs, doc_lens, doc_eligible = select_every_kth(
        doc_rows, token_lengths(model.tokenizer, [r["text"] for r in doc_rows]),
        *args.doc_tokens, args.n_docs, "documents")
    queries, q_lens, q_eligible = select_every_kth(
        q_rows, token_lengths(model.tokenizer, [r["text"] for r in q_rows]),
        *args.query_tokens, args.n_queries, "queries")
    if args.dump_selection:
        write_jsonl(args.dump_selection, docs)
    if args.dump_queries:
        write_jsonl(args.dump_queries, queries)
    doc_texts = [r["text"] for r in docs]
    q_texts = [r["text"] for r in queries]

    def encode(texts, b):
        return model.encode(texts, batch_size=b, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)

    load_before = loadavg()
    with torch.inference_mode():
        encode(doc_texts[:96], 32)  # warm-up: thread pool, allocator, kernels for several shapes
        for q in q_texts[:20]:
            encode([q], 1)

        throughput = {}
        reference = None
        for b in batch_sizes:
            runs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                emb = encode(doc_texts, b)
                runs.append(time.perf_counter() - t0)
            if reference is None:
                reference = emb
            best = min(runs)
            throughput[str(b)] = {
                "docs_per_s": round(len(doc_texts) / best, 2),
                "docs_per_s_median": round(len(doc_texts) / statistics.median(runs), 2),
                "tokens_per_s": round(sum(doc_lens) / best, 1),
                "seconds": [round(r, 3) for r in runs],
                "min_cosine_vs_first_batch_size": float(np.min(np.sum(emb * reference, axis=1))),
            }

        lat_ms = []
        for q in q_texts:
            t0 = time.perf_counter()
            encode([q], 1)
            lat_ms.append((time.perf_counter() - t0) * 1000)
    load_after = loadavg()
    lat_sorted = sorted(lat_ms)

    result = {
        "peer": "sentence-transformers",
        "model": os.path.abspath(args.model),
        "versions": {"sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__, "transformers": transformers.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "docs": {"file": os.path.abspath(args.docs), "n": len(doc_texts), "eligible": doc_eligible,
                 "token_range": list(args.doc_tokens),
                 "mean_tokens": round(statistics.fmean(doc_lens), 2),
                 "median_tokens": statistics.median(doc_lens), "total_tokens": sum(doc_lens)},
        "queries": {"file": os.path.abspath(args.queries), "n": len(q_texts),
                    "eligible": q_eligible, "token_range": list(args.query_tokens),
                    "mean_tokens": round(statistics.fmean(q_lens), 2)},
        "repeats": args.repeats,
        "throughput": throughput,
        "query_latency_ms": {"median": round(statistics.median(lat_ms), 3),
                             "p99": round(percentile(lat_sorted, 99), 3),
                             "mean": round(statistics.fmean(lat_ms), 3),
                             "min": round(lat_sorted[0], 3), "max": round(lat_sorted[-1], 3)},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
