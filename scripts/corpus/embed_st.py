#!/usr/bin/env python3
"""Embed the texts of a JSONL file with sentence-transformers into a raw float32 matrix.

Output: OUT (e.g. sentences.f32) holds N×dim little-endian float32 values, row-major, row i being
the L2-normalized embedding of the i-th selected line of the input; OUT's sidecar (same name with
.json instead of .f32) says {"count","dim","model","source",...}. These are the reference vectors
for the vector-index benchmarks.

Runs offline on the CPU with a model folder (default: the project's all-MiniLM-L6-v2).
Example:
  nice -n 10 python scripts/corpus/embed_st.py /work/corpus/sentences.jsonl /work/corpus/sentences.f32
  nice -n 10 python scripts/corpus/embed_st.py /work/corpus/queries.jsonl \\
      /work/corpus/queries-10k.f32 --limit 10000
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "/work/main/models/all-MiniLM-L6-v2"


def read_texts(path: str, field: str, limit: int) -> list[str]:
    texts: list[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if field not in row or not isinstance(row[field], str):
                sys.exit(f"{path}:{lineno}: no string field {field!r}")
            texts.append(row[field])
            if limit and len(texts) >= limit:
                break
    return texts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="JSONL file, one object per line")
    ap.add_argument("output", help="output .f32 file (sidecar .json is written beside it)")
    ap.add_argument("--field", default="text", help="field holding the text (default: text)")
    ap.add_argument("--limit", type=int, default=0, help="embed only the first N lines (0 = all)")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="sentence-transformers model folder")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=4096, help="texts per progress step")
    args = ap.parse_args()

    import numpy as np
    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    texts = read_texts(args.input, args.field, args.limit)
    if not texts:
        sys.exit(f"{args.input}: no texts")
    model = SentenceTransformer(args.model, device="cpu", local_files_only=True)
    dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = dim_of()

    out_tmp = args.output + ".tmp"
    t0 = time.time()
    with open(out_tmp, "wb") as f:
        for start in range(0, len(texts), args.chunk):
            chunk = texts[start:start + args.chunk]
            emb = model.encode(chunk, batch_size=args.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
            emb = np.ascontiguousarray(emb, dtype="<f4")
            assert emb.shape == (len(chunk), dim)
            f.write(emb.tobytes())
            done = start + len(chunk)
            rate = done / (time.time() - t0)
            print(f"[embed] {done}/{len(texts)}  {rate:.0f} texts/s  "
                  f"eta {(len(texts) - done) / rate:.0f}s", file=sys.stderr, flush=True)
        f.flush()
        os.fsync(f.fileno())
    elapsed = time.time() - t0
    os.replace(out_tmp, args.output)

    h = hashlib.sha256()
    with open(args.output, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    sidecar = {
        "count": len(texts), "dim": dim, "model": os.path.abspath(args.model),
        "source": os.path.abspath(args.input), "field": args.field, "limit": args.limit,
        "dtype": "float32", "byte_order": "little", "layout": "row-major", "normalized": True,
        "sha256": h.hexdigest(), "seconds": round(elapsed, 1), "threads": args.threads,
        "batch_size": args.batch_size, "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }
    side_path = os.path.splitext(args.output)[0] + ".json"
    with open(side_path, "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print(json.dumps(sidecar))
    return 0


if __name__ == "__main__":
    sys.exit(main())
