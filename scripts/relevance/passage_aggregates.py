#!/usr/bin/env python3
"""How a document's score should come from its passages: an offline study on a chunked collection.

    quiver embed --input QUERIES.jsonl > /tmp/qv.jsonl          # {"text", "relevant"} lines
    python3 scripts/relevance/passage_aggregates.py DATA/collections/NAME/store.sqlite QUERIES.jsonl /tmp/qv.jsonl

Reads the current generation's passage vectors and pooled document vectors from the store, scores
every document for every query exactly (no HNSW) by: its best passage (what Quiver does), its first
passage, its pooled vector, the mean of its passages, and (1 − w)·best + w·first / pooled for a few
w; prints nDCG@10 of each and the difference to `best`. The embeddings file has one line per
query line, in order (`quiver embed` reads the "text" key). Needs numpy.
"""
import json
import math
import sqlite3
import sys

import numpy as np


def load(store):
    db = sqlite3.connect(store)
    generation = db.execute("SELECT generation FROM generations WHERE state = 'current'").fetchone()[0]
    rows = db.execute(
        "SELECT d.id, v.vector, v.chunk_vectors FROM documents d JOIN vectors v ON v.label = d.label AND v.generation = ? "
        "WHERE d.deleted = 0", (generation,)).fetchall()
    ids, pooled, passages, owner, first = [], [], [], [], []
    for index, (doc_id, vector, chunk_vectors) in enumerate(rows):
        ids.append(doc_id)
        pooled.append(np.frombuffer(vector, dtype="<f4"))
        rows_of = [pooled[-1]] if chunk_vectors is None else list(
            np.frombuffer(chunk_vectors, dtype="<f4").reshape(-1, len(pooled[-1])))
        first.append(len(passages))
        passages.extend(rows_of)
        owner.extend([index] * len(rows_of))

    def normalized(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    return ids, normalized(np.array(pooled)), normalized(np.array(passages)), np.array(owner), np.array(first)


def ndcg(ranked, relevant):
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal if ideal > 0 else 0.0


def main():
    store, query_file, vector_file = sys.argv[1:4]
    ids, pooled, passages, owner, first = load(store)
    queries = [json.loads(line) for line in open(query_file)]
    q = np.array([json.loads(line)["embedding"] for line in open(vector_file)], dtype="f4")
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    s = q @ passages.T
    bounds = np.searchsorted(owner, np.arange(len(ids) + 1))  # passages are stored by document
    best = np.maximum.reduceat(s, bounds[:-1], axis=1)
    mean = np.add.reduceat(s, bounds[:-1], axis=1) / np.diff(bounds)
    scores = {"best": best, "first": s[:, first], "pooled": q @ pooled.T, "mean": mean}
    for w in (0.05, 0.1, 0.2, 0.3):
        scores[f"best+{w}·first"] = (1 - w) * best + w * s[:, first]
        scores[f"best+{w}·pooled"] = (1 - w) * best + w * (q @ pooled.T)
    results = {}
    for name, a in scores.items():
        top = np.argsort(-a, axis=1)[:, :10]
        values = []
        for i, query in enumerate(queries):
            relevant = query["relevant"]
            relevant = {r: 1 for r in relevant} if isinstance(relevant, list) else relevant
            values.append(ndcg([ids[j] for j in top[i]], relevant))
        results[name] = np.array(values)
    for name, values in results.items():
        print(f"{name:18} nDCG@10 {values.mean():.3f}  vs best {np.mean(values - results['best']):+.4f}")


if __name__ == "__main__":
    main()
