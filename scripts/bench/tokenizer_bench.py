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

It also writes reference dumps for the opt-in differential tests (TokenizerUnicodeScanTests):
  --scan FILE    ids (no [CLS]/[SEP]) of every Unicode scalar c as "c", "x"+c+"x", "E"+c+U+0301+"a"
  --random FILE  20,000 seeded random mixtures (marks, Hangul, CJK, specials, any plane) with ids
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


def write_scan(tokenizer, path):
    scalars = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, len(scalars), 10000):
            chunk = scalars[start:start + 10000]
            texts = []
            for cp in chunk:
                c = chr(cp)
                texts += [c, "x" + c + "x", "E" + c + "\u0301a"]
            for k, encoding in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
                out.write(f"{chunk[k // 3]:X}\t{k % 3}\t{' '.join(map(str, encoding.ids))}\n")


def write_random(tokenizer, path, count=20000, seed=7):
    import random
    rng = random.Random(seed)
    pools = [range(0x20, 0x7F), range(0x300, 0x370), range(0xC0, 0x250), range(0xAC00, 0xAC40),
             range(0x4E00, 0x4E20), range(0xF900, 0xF920), range(0x1F300, 0x1F320), range(0x900, 0x980),
             range(0x1100, 0x1200), [0x130, 0x3A3, 0x1E9E, 0x2126, 0x212A, 0xFB01, 0x1FEF, 0x37E, 0x2000, 0x85,
                                     0xA0, 0x200B, 0xFEFF, 0x1D165, 0x1D16D, 0xF71, 0xF72, 0xF80, 0x5B, 0x5D]]
    specials = ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", "[cls]", "[CLS", "[[SEP]]"]
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(count):
            parts = []
            for _ in range(rng.randint(0, 60)):
                r = rng.random()
                if r < 0.05:
                    parts.append(rng.choice(specials))
                elif r < 0.15:
                    parts.append(" ")
                elif r < 0.22:
                    cp = rng.randint(0x80, 0x10FFFF)
                    parts.append("" if 0xD800 <= cp <= 0xDFFF else chr(cp))
                else:
                    parts.append(chr(rng.choice(rng.choice(pools))))
            text = "".join(parts)
            out.write(json.dumps({"text": text, "ids": tokenizer.encode(text).ids}) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    default_texts = "/work/corpus/docs.jsonl"
    if not os.path.exists(default_texts):
        default_texts = os.path.join(ROOT, "Tests", "EmbedderTests", "Fixtures", "minilm-tokens.jsonl")
    parser.add_argument("--texts", default=default_texts)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scan", metavar="FILE", help="write the every-scalar reference dump and exit")
    parser.add_argument("--random", metavar="FILE", help="write the random-mixture reference dump and exit")
    args = parser.parse_args()
    if args.scan or args.random:
        tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        if args.scan:
            write_scan(tokenizer, args.scan)
        if args.random:
            write_random(tokenizer, args.random)
        return 0

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
