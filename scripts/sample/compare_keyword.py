#!/usr/bin/env python3
"""Semantic search (Quiver over HTTP) next to keyword search (BM25) on the sample help center.

    make run                                  # in another terminal: serves and indexes data/help-center.jsonl
    python3 scripts/sample/compare_keyword.py # --base-url http://127.0.0.1:8080 --collection help-center

Reads the articles (data/help-center.jsonl) and the evaluation queries (data/help-center-queries.jsonl:
`{"query", "relevant": [ids]}`, written the way users type: their own words, not the articles'),
ranks every article for every query with Okapi BM25 (k1 = 1.2, b = 0.75, over title + text, lower-case
word tokens, English stop words removed) and asks Quiver for the same query. Prints hit@1, hit@5
and MRR@10 for both, and the queries where they disagree most. Python standard library only.
"""
import argparse
import collections
import json
import math
import re
import sys
import urllib.request

STOP = set("""a an and are as at be but by can do does for from has have how i if in into is it its me my
no not of on or our so that the their them then there these they this to was we what when where which who
why will with you your yours i'm it's don't can't""".split())


def tokens(text):
    return [w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower()) if w not in STOP]


class BM25:
    def __init__(self, documents, k1=1.2, b=0.75):
        self.ids = [d["id"] for d in documents]
        self.k1, self.b = k1, b
        self.terms = [collections.Counter(tokens(f"{d.get('title', '')} {d.get('text', '')}")) for d in documents]
        self.lengths = [sum(t.values()) for t in self.terms]
        self.average = sum(self.lengths) / max(1, len(self.lengths))
        frequency = collections.Counter(term for t in self.terms for term in t)
        n = len(documents)
        self.idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}

    def rank(self, query, k):
        words = tokens(query)
        scores = []
        for index, terms in enumerate(self.terms):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.average)
            for word in words:
                tf = terms.get(word, 0)
                if tf:
                    score += self.idf[word] * tf * (self.k1 + 1) / (tf + norm)
            if score > 0:
                scores.append((score, self.ids[index]))
        scores.sort(reverse=True)
        return [doc for _, doc in scores[:k]]


def quiver(base_url, collection, query, k, api_key):
    body = json.dumps({"text": query, "k": k}).encode()
    request = urllib.request.Request(f"{base_url}/v1/collections/{collection}/query", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return [hit["id"] for hit in json.load(response)["results"]]


def metrics(rankings, relevant):
    hit1 = sum(1 for r, rel in zip(rankings, relevant) if r[:1] and r[0] in rel)
    hit5 = sum(1 for r, rel in zip(rankings, relevant) if set(r[:5]) & rel)
    mrr = sum(next((1 / (i + 1) for i, d in enumerate(r[:10]) if d in rel), 0) for r, rel in zip(rankings, relevant))
    n = len(relevant)
    return {"hit@1": round(hit1 / n, 3), "hit@5": round(hit5 / n, 3), "mrr@10": round(mrr / n, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--collection", default="help-center")
    parser.add_argument("--articles", default="data/help-center.jsonl")
    parser.add_argument("--queries", default="data/help-center-queries.jsonl")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--show", type=int, default=8, help="examples to print where the two disagree")
    args = parser.parse_args()

    with open(args.articles) as f:
        articles = [json.loads(line) for line in f if line.strip()]
    with open(args.queries) as f:
        queries = [json.loads(line) for line in f if line.strip()]
    titles = {a["id"]: a.get("title", "") for a in articles}
    bm25 = BM25(articles)
    relevant = [set(q["relevant"]) for q in queries]
    keyword = [bm25.rank(q["query"], 10) for q in queries]
    try:
        semantic = [quiver(args.base_url, args.collection, q["query"], 10, args.api_key) for q in queries]
    except OSError as error:
        sys.exit(f"could not query Quiver at {args.base_url}: {error} (is `make run` serving?)")
    result = {"queries": len(queries), "articles": len(articles),
              "bm25": metrics(keyword, relevant), "quiver": metrics(semantic, relevant)}
    print(json.dumps(result, indent=2))
    shown = 0
    for q, rel, kw, sem in zip(queries, relevant, keyword, semantic):
        if shown >= args.show:
            break
        if sem[:1] and sem[0] in rel and not (kw[:1] and kw[0] in rel):
            shown += 1
            print(f"\nquery: {q['query']!r}\n  quiver #1: {titles.get(sem[0], sem[0])}\n"
                  f"  bm25   #1: {titles.get(kw[0], kw[0]) if kw else '(no keyword match)'}")


if __name__ == "__main__":
    main()
