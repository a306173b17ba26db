#!/usr/bin/env python3
"""Seeded synthetic clustered, normalized vectors as raw little-endian float32 (N x dim).

Usage: index_data.py --n 60000 --queries 2000 --dim 384 --out /work/bench-index/synth60k
writes <out>.base.f32 and <out>.queries.f32. Queries come from the same clusters, not the base.
Clusters have anisotropic spread (a few strong directions per cluster, like sentence embeddings).
"""
import argparse
import numpy as np

def make(rng, n, centers, axes, dim):
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        c = rng.integers(0, len(centers), m)
        coef = rng.standard_normal((m, axes.shape[1])).astype(np.float32)
        v = centers[c] + np.einsum("na,nad->nd", coef, axes[c]) + 0.03 * rng.standard_normal((m, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[s:s + m] = v
    return out

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--clusters", type=int, default=0, help="default n/100, at least 50")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    k = a.clusters or max(50, a.n // 100)
    centers = rng.standard_normal((k, a.dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    axes = (rng.standard_normal((k, 8, a.dim)).astype(np.float32) * 0.12)
    make(rng, a.n, centers, axes, a.dim).tofile(a.out + ".base.f32")
    make(rng, a.queries, centers, axes, a.dim).tofile(a.out + ".queries.f32")

if __name__ == "__main__":
    main()
