#!/usr/bin/env python3
"""Keyword-search reference study: SQLite FTS5 + bm25 on judged sets, per tokenizer and column weights.

    python3 scripts/relevance/fts_study.py --json /work/relevance/fts_study.json
    python3 scripts/relevance/fts_study.py --set help-center data/help-center.jsonl data/help-center-queries.jsonl \\
        --set manpages /work/relevance/manpages/docs.jsonl /work/relevance/manpages/queries.jsonl

Each set is indexed in an in-memory `fts5(title, text, tokenize=...)` table per tokenizer and ranked
with `ORDER BY bm25(table, title_weight, text_weight)` (ascending = best first), for every
(title_weight, text_weight) pair. The query is built the way Quiver's KeywordIndex builds it: the
maximal runs of Unicode letters/digits of the text, lowercased, de-duplicated in order, at most 64,
each double-quoted, joined with ` OR `; no tokens means no results.

Reports nDCG@10, recall@10, MRR@10 and precision@1 with binary relevance (gain 1 per relevant
document, ideal DCG from min(#relevant, 10), discount log2(rank + 1)), the number of queries with no
keyword hit at all, the mean time per query (execute + fetch of the top 10, from Python) and the
index build time. Docs are JSONL `{"id", "title", "text"}`; queries are JSONL with the text under
`query` or `text` and `relevant`: a list of ids (or an object id -> grade; grade > 0 is relevant).
Standard library only.
"""
import argparse
import json
import math
import os
import re
import sqlite3
import statistics
import sys
import time

TOKENIZERS = ("unicode61 remove_diacritics 2", "porter unicode61 remove_diacritics 2", "trigram")
WEIGHTS = ((1, 1), (2, 1), (3, 1), (5, 1), (10, 1))
DEFAULT = ("porter unicode61 remove_diacritics 2", (2, 1))  # Sources/KeywordIndex/KeywordIndex.swift
MAX_TERMS = 64
K = 10
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")
DEFAULT_SETS = (
    ("help-center", os.path.join(DATA, "help-center.jsonl"), os.path.join(DATA, "help-center-queries.jsonl")),
    ("manpages", "/work/relevance/manpages/docs.jsonl", "/work/relevance/manpages/queries.jsonl"),
)


def match_expression(text):
    """The FTS5 query for `text`, or None when it has no letters or digits."""
    terms = []
    for token in re.findall(r"[^\W_]+", text):
        token = token.lower()
        if token not in terms:
            terms.append(token)
        if len(terms) == MAX_TERMS:
            break
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_queries(path):
    """[(text, {relevant ids})] from lines with `query` or `text` and `relevant`."""
    queries = []
    for row in read_jsonl(path):
        text = row["query"] if "query" in row else row["text"]
        relevant = row["relevant"]
        if isinstance(relevant, dict):
            relevant = [doc for doc, grade in relevant.items() if grade > 0]
        queries.append((text, set(relevant)))
    return queries


def build_index(docs, tokenizer):
    """An in-memory FTS5 table of `docs` (rowid = position) and the seconds it took."""
    started = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(title, text, tokenize = '{tokenizer}')")
    with db:
        db.executemany("INSERT INTO docs(rowid, title, text) VALUES (?, ?, ?)",
                       ((n, d.get("title") or "", d.get("text") or "") for n, d in enumerate(docs)))
    return db, time.perf_counter() - started


def scores(ranked, relevant):
    """nDCG@K, recall@K, reciprocal rank@K and precision@1 of one ranked list (binary relevance)."""
    hits = [doc in relevant for doc in ranked[:K]]
    dcg = sum(1 / math.log2(rank + 1) for rank, hit in enumerate(hits, 1) if hit)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), K) + 1))
    first = next((rank for rank, hit in enumerate(hits, 1) if hit), None)
    return {"ndcg@10": dcg / ideal if ideal else 0.0,
            "recall@10": sum(hits) / len(relevant) if relevant else 0.0,
            "mrr@10": 1 / first if first else 0.0,
            "p@1": 1.0 if hits and hits[0] else 0.0}


def evaluate(db, ids, queries, weights):
    """Mean metrics, zero-hit count and mean query time of one (index, weights) configuration."""
    sql = f"SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, {weights[0]}, {weights[1]}) LIMIT {K}"
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0, "p@1": 0.0}
    zero, times = 0, []
    for text, relevant in queries:
        expression = match_expression(text)
        started = time.perf_counter()
        rows = db.execute(sql, (expression,)).fetchall() if expression else []
        times.append(time.perf_counter() - started)
        zero += not rows
        for metric, value in scores([ids[rowid] for (rowid,) in rows], relevant).items():
            totals[metric] += value
    n = max(1, len(queries))
    result = {metric: total / n for metric, total in totals.items()}
    result.update(zero_hits=zero, mean_ms=1000 * statistics.fmean(times) if times else 0.0)
    return result


def study(name, docs_path, queries_path, tokenizers, weights):
    docs = read_jsonl(docs_path)
    ids = [d["id"] for d in docs]
    queries = load_queries(queries_path)
    known = set(ids)
    missing = sum(1 for _, relevant in queries for doc in relevant if doc not in known)
    if missing:
        print(f"{name}: {missing} relevant ids are not in the corpus (they count as misses)", file=sys.stderr)
    rows = []
    for tokenizer in tokenizers:
        db, build_s = build_index(docs, tokenizer)
        for weight in weights:
            rows.append(dict(tokenizer=tokenizer, title_weight=weight[0], text_weight=weight[1],
                             index_s=build_s, **evaluate(db, ids, queries, weight)))
        db.close()
    best = max(rows, key=lambda r: (r["ndcg@10"], r["mrr@10"]))
    default = next((r for r in rows if (r["tokenizer"], (r["title_weight"], r["text_weight"])) == DEFAULT), None)
    return {"name": name, "docs": docs_path, "queries": queries_path, "doc_count": len(docs),
            "query_count": len(queries), "missing_relevant": missing, "results": rows,
            "best": best, "default": default}


def print_table(result):
    print(f"\n## {result['name']}: {result['doc_count']} docs, {result['query_count']} queries "
          f"({result['docs']})")
    header = f"{'tokenizer':<38} {'w(t,x)':>7} {'nDCG@10':>8} {'R@10':>6} {'MRR@10':>7} {'P@1':>6} {'zero':>5} {'ms/q':>7} {'index s':>8}"
    print(header)
    print("-" * len(header))
    for row in result["results"]:
        weights = f"{row['title_weight']},{row['text_weight']}"
        print(f"{row['tokenizer']:<38} {weights:>7} {row['ndcg@10']:>8.4f} {row['recall@10']:>6.3f} "
              f"{row['mrr@10']:>7.4f} {row['p@1']:>6.3f} {row['zero_hits']:>5} {row['mean_ms']:>7.2f} "
              f"{row['index_s']:>8.2f}")
    for label, row in (("best", result["best"]), ("Quiver default", result["default"])):
        if row:
            print(f"{label}: {row['tokenizer']} w=({row['title_weight']},{row['text_weight']}): "
                  f"nDCG@10 {row['ndcg@10']:.4f}, {row['zero_hits']} of {result['query_count']} queries "
                  f"with zero keyword hits")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--set", nargs=3, action="append", metavar=("NAME", "DOCS", "QUERIES"),
                        help="a judged set (repeatable); default: the sample help center and the man pages")
    parser.add_argument("--tokenizer", action="append", choices=TOKENIZERS,
                        help="tokenizer to study (repeatable); default: all three")
    parser.add_argument("--json", help="write every result to this JSON file")
    args = parser.parse_args()
    tokenizers = args.tokenizer or list(TOKENIZERS)

    results = []
    for name, docs_path, queries_path in args.set or DEFAULT_SETS:
        result = study(name, docs_path, queries_path, tokenizers, WEIGHTS)
        print_table(result)
        results.append(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"sqlite": sqlite3.sqlite_version, "python": sys.version.split()[0], "k": K,
                       "default": {"tokenizer": DEFAULT[0], "title_weight": DEFAULT[1][0],
                                   "text_weight": DEFAULT[1][1]},
                       "sets": results}, f, ensure_ascii=False, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
