#!/usr/bin/env bash
# Indexes a judged corpus into a scratch data folder and runs `quiver eval` in every search mode.
#
#   scripts/relevance/eval_modes.sh DOCS.jsonl QUERIES.jsonl [MODES] [extra quiver eval flags]
#
# DOCS: {"id","title","text"} lines; QUERIES: {"text","relevant"} lines (see `quiver eval --help`).
# MODES defaults to "vector,keyword,hybrid,hybrid:weighted:0.5". The data folder is
# ${EVAL_DATA:-/tmp/quiver-eval-<name of DOCS>}; it is reused when it exists (delete it to re-index).
# The binary is $QUIVER_BIN (default .build/release/quiver). Output: the table, then the JSON report
# in $EVAL_OUT (default /tmp/quiver-eval-<name>.json). $INDEX_FLAGS is passed to `quiver index`
# (e.g. INDEX_FLAGS="--chunk-tokens 0" for one vector per document; use another EVAL_DATA).
set -euo pipefail
docs="${1:?usage: $0 DOCS.jsonl QUERIES.jsonl [MODES] [flags]}"
queries="${2:?usage: $0 DOCS.jsonl QUERIES.jsonl [MODES] [flags]}"
modes="${3:-vector,keyword,hybrid,hybrid:weighted:0.5}"
shift $(( $# >= 3 ? 3 : $# ))
bin="${QUIVER_BIN:-.build/release/quiver}"
name="$(basename "$(dirname "$docs")")-$(basename "$docs" .jsonl)"
data="${EVAL_DATA:-/tmp/quiver-eval-$name}"
out="${EVAL_OUT:-/tmp/quiver-eval-$name.json}"
if [ ! -d "$data" ]; then
    # shellcheck disable=SC2086
    "$bin" index "$docs" --collection eval --data "$data" ${INDEX_FLAGS:-}
fi
"$bin" eval --collection eval --data "$data" --queries "$queries" --mode "$modes" --json "$@" > "$out"
python3 - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
k = report["k"]
print(f"{report['collection']}: {report['query_count']} queries, k {k}")
print(f"  {'mode':30} nDCG@10  recall@{k}  MRR@10    P@1   p50 ms   p99 ms")
for c in report["configurations"]:
    m, l = c["metrics"], c["latency_ms"]
    print(f"  {c['label']:30} {m['ndcg@10']:7.3f}  {m[f'recall@{k}']:9.3f}  {m['mrr@10']:6.3f}  {m['precision@1']:5.3f}"
          f"  {l['p50']:7.2f}  {l['p99']:7.2f}")
for c in report["comparisons"]:
    print(f"  {c['b']} vs {c['a']}: nDCG@10 {c['mean_difference']:+.3f} (p = {c['p_value']:.4f}),"
          f" better {c['better']}, worse {c['worse']}, same {c['same']}")
PY
echo "JSON report: $out" >&2
