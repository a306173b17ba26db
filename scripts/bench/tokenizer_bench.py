#!/usr/bin/env python3
"""Throughput of Hugging Face `tokenizers` on the texts Quiver's tokenizer benchmark uses.

The Swift side is `cd Benchmarks && swift package benchmark --target EmbedderBenchmarks`
(benchmarks named "Tokenizer ..."). Both sides encode the same texts, one thread:

  python scripts/bench/tokenizer_bench.py [--model models/all-MiniLM-L6-v2] [--texts FILE.jsonl]

--texts defaults to /work/corpus/docs.jsonl when it exists, else the golden fixture texts
(Tests/EmbedderTests/Fixtures/minilm-tokens.jsonl); lines are JSON objects with a "text" field.
Reported: texts/s and MB/s (UTF-8 input bytes) for
  1. a loop over texts with `encode` (no truncation: the whole text is tokenized),
  2. the same with truncation at 256 (what sentence-transformers asks for),
  3. `encode_batch` over all texts with RAYON_NUM_THREADS=1 (set before import).
"""
import argparse
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def best_of(fn, repeats):
    """Best wall-clock and best CPU seconds of `repeats` runs (CPU time is steadier on a busy machine)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    default_texts = "/work/corpus/docs.jsonl"
    if not os.path.exists(default_texts):
        default_texts = os.path.join(ROOT, "Tests", "EmbedderTests", "Fixtures", "minilm-tokens.jsonl")
    parser.add_argument("--texts", default=default_texts)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    texts = load_texts(args.texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def loop():
        for text in texts:
            tokenizer.encode(text)

    def batch():
        tokenizer.encode_batch(texts)

    loop()  # warm up
    results = [("encode loop, full", best_of(loop, args.repeats))]
    tokenizer.enable_truncation(256)
    results.append(("encode loop, truncate 256", best_of(loop, args.repeats)))
    tokenizer.no_truncation()
    results.append(("encode_batch, RAYON_NUM_THREADS=1", best_of(batch, args.repeats)))

    import tokenizers
    print(f"tokenizers {tokenizers.__version__}; {len(texts)} texts, {n_bytes / 1e6:.3f} MB from {args.texts}")
    for name, (wall, cpu) in results:
        print(f"  {name:36s} wall {len(texts) / wall:8.0f} texts/s {n_bytes / wall / 1e6:6.2f} MB/s"
              f" ({wall * 1e3:.0f} ms/pass) | cpu {len(texts) / cpu:8.0f} texts/s {n_bytes / cpu / 1e6:6.2f} MB/s"
              f" ({cpu * 1e3:.0f} ms/pass)")
    with open("/proc/loadavg") as f:
        print("loadavg:", f.read().strip())


if __name__ == "__main__":
    sys.exit(main())
