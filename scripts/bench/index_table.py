#!/usr/bin/env python3
"""Render index_bench.py JSON results (one or more files) as the markdown table of BENCHMARKS-index.md."""
import json, sys

def row(name, r):
    def at(t):
        x = r["at"].get(t)
        return f'{x["qps"]:,.0f} (ef {x["ef"]}, r {x["recall"]:.3f})' if x else "—"
    return (f'| {name} | {r["build_s"]:.1f} (load {r["build_load"]}) | {at("0.95")} | {at("0.99")} | '
            f'{r["bytes_per_vector"]:,.0f} / {r["file_bytes"] / max(1, n):,.0f} | {r["save_s"]:.3f} | {r["open_s"]:.4f} |')

for path in sys.argv[1:]:
    res = json.load(open(path))
    n = res["n"]
    print(f'\n**{res["base"]}** — {n:,} vectors, {res["queries"]:,} queries, m={res["m"]}, efConstruction={res["ef_construction"]}\n')
    print("| library | build s, 2 threads | q/s @ recall@10 ≥ 0.95 | q/s @ ≥ 0.99 | bytes/vector RSS / file | save s | open s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in res["libs"].items():
        print(row(name, r))
