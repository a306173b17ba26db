#!/usr/bin/env python3
"""How far can a verdict built from a query's candidate lists go? A study of candidate features.

For every judged query (answerable: as it is; unanswerable: with its relevant documents taken
out of the lists, as verdict_study.py does) and for pseudo-queries cut from the collection's own
documents (as the server's calibration does: 4–8 consecutive words of a title or of a sentence;
unanswerable = the source document taken out), computes a set of candidate features from the
vector list (DEEP documents) and the keyword list (20), then reports:

  - each feature's AUC alone on the judged queries;
  - for feature sets: the AUC on the judged queries of a logistic model fitted on the
    pseudo-queries (what the server can do: it has no judged queries), and of one fitted on the
    judged queries themselves by 5-fold cross-validation (folds by query) — an upper bound for
    that feature set, since the model sees the real distribution.

    python3 scripts/relevance/verdict_features.py --url http://127.0.0.1:18780 --collection man \
        --docs /work/relevance/manpages-nogcloud/docs.jsonl --queries /work/relevance/manpages-nogcloud/queries.jsonl

Needs a running quiver serve with the collection loaded (verdict_study.py --docs loads one), and
numpy. Standard library otherwise; loopback only.
"""

import argparse
import json
import os
import random
import re
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from quiver_client import Client  # noqa: E402

SETS = [
    ["top1"],
    ["top1", "gap10", "agree"],  # the server's features (Sources/SearchEngine/Verdict.swift)
    ["top1", "gap_deep", "agree"],
    ["top1", "gap10", "agree2"],
    ["top1", "gap_deep", "agree2"],
    ["top1", "gap_deep", "agree2", "overlap10"],
    ["top1", "gap10", "gap_deep", "z_deep", "gap2", "agree", "agree2", "overlap10", "kgap_rel", "mean_deep"],
]


def features(vector, keyword, deep):
    """Candidate features of one query's lists: (id, score) pairs, best first."""
    scores = [s for _, s in vector]
    best_id, best = vector[0]
    next9 = scores[1:10]
    rest = scores[1:deep]
    mean_deep = sum(rest) / len(rest)
    spread = statistics.pstdev(rest) or 1e-6
    keyword_ids = [i for i, _ in keyword[:10]]
    vector_ids = [i for i, _ in vector[:10]]
    agree = 1 / (keyword_ids.index(best_id) + 1) if best_id in keyword_ids else 0.0
    reverse = 1 / (vector_ids.index(keyword_ids[0]) + 1) if keyword_ids and keyword_ids[0] in vector_ids else 0.0
    kscores = [s for _, s in keyword[:10]]
    kgap = (kscores[0] - sum(kscores[1:]) / (len(kscores) - 1)) / kscores[0] if len(kscores) > 1 and kscores[0] > 0 else 0.0
    return {
        "top1": best,
        "gap10": best - sum(next9) / len(next9),  # the server's top1_minus_mean
        "gap_deep": best - mean_deep,
        "z_deep": (best - mean_deep) / spread,
        "gap2": best - scores[1],
        "mean_deep": mean_deep,
        "agree": agree,  # the server's keyword_agreement
        "agree2": agree + reverse,  # and the keyword list's best in the vector list
        "overlap10": len(set(keyword_ids) & set(vector_ids)) / 10,
        "kgap_rel": kgap,
    }


def lists(client, collection, text, deep, extra):
    vector = client.query(collection, text, k=deep + extra, mode="vector", with_payload=False)["results"]
    keyword = client.query(collection, text, k=20 + extra, mode="keyword", with_payload=False)["results"]
    return [(h["id"], h["score"]) for h in vector], [(h["id"], h["score"]) for h in keyword]


def pseudo_query(document, rng):
    """Like the server's PseudoQuery: 4–8 consecutive words of the title or of a 5–30-word sentence."""
    candidates = []
    title = (document.get("title") or "").split()
    if len(title) >= 3:
        candidates.append(title)
    for sentence in re.split(r"[.!?\n]", (document.get("text") or "")[:4000]):
        words = sentence.split()
        if 5 <= len(words) <= 30:
            candidates.append(words)
    if not candidates:
        return None
    words = rng.choice(candidates)
    length = 4 + rng.randrange(5)
    if len(words) > length:
        start = rng.randrange(len(words) - length + 1)
        words = words[start:start + length]
    return " ".join(words)


def auc(positives, negatives):
    p = np.asarray(positives)[:, None]
    n = np.asarray(negatives)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def fit(x, y, iterations=3000, rate=0.5, l2=1e-3):
    """Logistic regression on standardized features (plain gradient descent, as the server's)."""
    mean, spread = x.mean(0), x.std(0)
    spread[spread < 1e-12] = 1
    z = (x - mean) / spread
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(iterations):
        error = 1 / (1 + np.exp(-(z @ w + b))) - y
        w -= rate * (z.T @ error / len(y) + l2 * w)
        b -= rate * error.mean()
    return lambda q: ((q - mean) / spread) @ w + b


def matrix(rows, names):
    return np.array([[r[n] for n in names] for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--docs", required=True, help="the collection's JSONL (pseudo-queries are cut from it)")
    ap.add_argument("--queries", required=True)
    ap.add_argument("--api-key")
    ap.add_argument("--deep", type=int, default=100, help="vector list depth for the *_deep features")
    ap.add_argument("--pseudo", type=int, default=512, help="pseudo-queries (the server's calibration uses 512)")
    args = ap.parse_args()
    client = Client(args.url, api_key=args.api_key, timeout=300)

    real_p, real_n = [], []
    for line in open(args.queries):
        if not line.strip():
            continue
        q = json.loads(line)
        relevant = q["relevant"]
        relevant = set(relevant if isinstance(relevant, list) else [i for i, g in relevant.items() if g > 0])
        vector, keyword = lists(client, args.collection, q.get("text") or q.get("query"), args.deep, len(relevant))
        kept_vector = [h for h in vector if h[0] not in relevant]
        if len(vector) < 12 or len(kept_vector) < 11:
            continue
        real_p.append(features(vector[: args.deep], keyword[:20], args.deep))
        real_n.append(features(kept_vector[: args.deep], [h for h in keyword if h[0] not in relevant][:20], args.deep))

    documents = [json.loads(line) for line in open(args.docs) if line.strip()]
    rng = random.Random(7)
    rng.shuffle(documents)
    pseudo_p, pseudo_n = [], []
    for document in documents[: args.pseudo]:
        text = pseudo_query(document, rng)
        if not text:
            continue
        vector, keyword = lists(client, args.collection, text, args.deep, 1)
        kept_vector = [h for h in vector if h[0] != document["id"]]
        if len(vector) < 12 or len(kept_vector) < 11:
            continue
        pseudo_p.append(features(vector[: args.deep], keyword[:20], args.deep))
        pseudo_n.append(features(kept_vector[: args.deep], [h for h in keyword if h[0] != document["id"]][:20], args.deep))

    report = {"collection": args.collection, "queries": len(real_p), "pseudo_queries": len(pseudo_p), "deep": args.deep}
    report["auc_alone"] = {name: round(auc([p[name] for p in real_p], [n[name] for n in real_n]), 4) for name in real_p[0]}
    y_real = np.array([1.0] * len(real_p) + [0.0] * len(real_n))
    y_pseudo = np.array([1.0] * len(pseudo_p) + [0.0] * len(pseudo_n))
    query_of = np.array(list(range(len(real_p))) * 2)
    folds = np.random.default_rng(1).permutation(len(real_p)) % 5
    report["sets"] = []
    for names in SETS:
        x_real = np.vstack([matrix(real_p, names), matrix(real_n, names)])
        x_pseudo = np.vstack([matrix(pseudo_p, names), matrix(pseudo_n, names)])
        on_pseudo = fit(x_pseudo, y_pseudo)(x_real)
        cross = np.zeros(len(y_real))
        for fold in range(5):
            test = folds[query_of] == fold
            cross[test] = fit(x_real[~test], y_real[~test])(x_real[test])
        report["sets"].append({
            "features": names,
            "auc_fitted_on_pseudo": round(auc(on_pseudo[y_real == 1], on_pseudo[y_real == 0]), 4),
            "auc_fitted_on_judged_cv5": round(auc(cross[y_real == 1], cross[y_real == 0]), 4),
        })
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
