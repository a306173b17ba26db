#!/usr/bin/env python3
"""How well does a query's score list tell "the answer is in the collection" from "it is not"?

For every judged query the server is asked for its vector-mode scores twice over: as they are
(answerable: a relevant document is in the collection) and with the relevant documents taken out
of the list (unanswerable: exactly the list the server would give if they had never been written,
since the search is exact on these collections or takes k + |relevant| candidates). Reports the
AUC of the plain top-1 score, of each verdict feature, and of the server's verdict confidence (its
calibration, read from the collection's info, never saw these queries), computed from both lists;
for the answerable lists the script checks its confidence against the server's own `verdict`.

    python3 scripts/relevance/verdict_study.py --url http://127.0.0.1:8080 --collection help-center \
        --queries data/help-center-queries.jsonl --docs data/help-center.jsonl

Needs a running quiver serve; --docs creates and loads the collection when it is missing (default
options: chunked). Uses the Python client from clients/python.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from quiver_client import Client  # noqa: E402

DEPTH = 10
NAMES = ["top1", "top1_minus_mean", "keyword_agreement"]


def auc(positives, negatives):
    """Mann–Whitney: the chance a random positive scores above a random negative (ties half)."""
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def features(vector, keyword):
    """The server's VerdictFeatures (Sources/SearchEngine/Verdict.swift) from (id, score) lists."""
    vector, keyword = vector[:DEPTH], keyword[:DEPTH]
    best_id, best = vector[0]
    rest = [s for _, s in vector[1:]]
    mean = sum(rest) / len(rest) if rest else best
    ids = [i for i, _ in keyword]
    agreement = 1 / (ids.index(best_id) + 1) if best_id in ids else 0.0
    return dict(zip(NAMES, [best, best - mean, agreement]))


def confidence(calibration, f):
    z = calibration["bias"] + sum(calibration["weights"][name] * f[name] for name in NAMES)
    return 1 / (1 + math.exp(-z))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--api-key")
    ap.add_argument("--docs", help="JSONL of {id,title,text}: create and load the collection first when it is missing")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--wait", type=float, default=120, help="seconds to wait for the server's calibration")
    ap.add_argument("--bootstrap", type=int, default=1000, help="paired bootstrap resamples of the AUC gain")
    args = ap.parse_args()
    client = Client(args.url, api_key=args.api_key, timeout=300)
    if args.docs and args.collection not in [c["name"] for c in client.list_collections()]:
        client.create_collection(args.collection)
        with open(args.docs) as f:
            docs = [json.loads(line) for line in f if line.strip()]
        client.upsert(args.collection, [{k: d[k] for k in ("id", "title", "text") if k in d} for d in docs])
    with open(args.queries) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if args.limit:
        lines = lines[: args.limit]
    # The first text query starts the calibration; wait for it.
    first = lines[0].get("text") or lines[0].get("query")
    deadline = time.time() + args.wait
    calibration = None
    while calibration is None:
        client.query(args.collection, first, k=1, mode="vector", with_payload=False)
        info = client.collection(args.collection)
        calibration = info.get("verdict")
        if calibration is None:
            if time.time() > deadline:
                sys.exit(f"no verdict calibration after {args.wait} s: {info.get('verdict_error')}")
            time.sleep(1)
    positives, negatives, mismatch = [], [], 0.0
    for line in lines:
        text = line.get("text") or line.get("query")
        relevant = line["relevant"]
        relevant = set(relevant if isinstance(relevant, list) else [i for i, g in relevant.items() if g > 0])
        depth = DEPTH + len(relevant)
        answer = client.query(args.collection, text, k=depth, mode="vector", with_payload=False)
        vector = [(h["id"], h["score"]) for h in answer["results"]]
        keyword = [(h["id"], h["score"]) for h in
                   client.query(args.collection, text, k=depth, mode="keyword", with_payload=False)["results"]]
        kept_vector = [h for h in vector if h[0] not in relevant]
        if len(vector) < 2 or not kept_vector:
            continue
        kept_keyword = [h for h in keyword if h[0] not in relevant]
        positives.append(features(vector, keyword))
        negatives.append(features(kept_vector, kept_keyword))
        if answer.get("verdict"):
            # The study's features and confidence are the server's: check on every answerable list.
            mismatch = max(mismatch, abs(answer["verdict"]["confidence"] - confidence(calibration, positives[-1])))
    report = {"collection": args.collection, "queries": len(positives),
              "calibration": {k: calibration[k] for k in ("samples", "training_auc")},
              "max_confidence_mismatch_vs_server": round(mismatch, 6)}
    for name in NAMES:
        report[f"auc_{name}"] = round(auc([p[name] for p in positives], [n[name] for n in negatives]), 4)
    conf_p = [confidence(calibration, p) for p in positives]
    conf_n = [confidence(calibration, n) for n in negatives]
    report["auc_verdict_confidence"] = round(auc(conf_p, conf_n), 4)
    # Paired bootstrap over queries (each query's answerable and unanswerable lists together):
    # the 95 % interval of AUC(confidence) − AUC(top1).
    import numpy as np

    top_p = np.array([p["top1"] for p in positives]); top_n = np.array([n["top1"] for n in negatives])
    cp, cn = np.array(conf_p), np.array(conf_n)

    def fast_auc(pos, neg):
        return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))

    rng = np.random.default_rng(1)
    deltas = []
    for _ in range(args.bootstrap):
        pick = rng.integers(0, len(cp), len(cp))
        deltas.append(fast_auc(cp[pick], cn[pick]) - fast_auc(top_p[pick], top_n[pick]))
    deltas.sort()
    report["auc_gain_over_top1"] = round(report["auc_verdict_confidence"] - report["auc_top1"], 4)
    report["auc_gain_95ci"] = [round(deltas[int(0.025 * len(deltas))], 4), round(deltas[int(0.975 * len(deltas)) - 1], 4)]
    report["bootstrap_gain_below_zero"] = round(sum(d <= 0 for d in deltas) / len(deltas), 4)
    threshold = 0.5
    report["at_threshold_0.5"] = {
        "answerable_called_answered": round(sum(c >= threshold for c in conf_p) / len(conf_p), 4),
        "unanswerable_called_unanswered": round(sum(c < threshold for c in conf_n) / len(conf_n), 4),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
