#!/usr/bin/env bash
# Load numbers for POST /v1/embeddings on loopback (see BENCHMARKS.md, "HTTP server").
#
#   scripts/load/run.sh                      # batching on and off, c = 1 4 16 64, 10 s each
#   DURATION=5s CONCURRENCY="4 64" MODES=on scripts/load/run.sh
#   ROUTE=/v1/collections/bench/query SERVE_ARGS="--data /work/bench-collection" scripts/load/run.sh
#
# Starts `quiver serve` on 127.0.0.1:$PORT itself (needs `swift build -c release --product quiver`),
# drives it with wrk and scripts/load/embeddings.lua (distinct short queries from $QUERIES), then
# measures the embedder alone on the same queries with `quiver embed` (batched and one at a time).
# Every row records /proc/loadavg before the run: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PORT:-18181}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-"1 4 16 64"}
MODES=${MODES:-"on off"}
QUERIES=${QUERIES:-/work/corpus/queries.jsonl}
BASELINE_QUERIES=${BASELINE_QUERIES:-4000}
BIN=${BIN:-./.build/release/quiver}
export QUERIES

[ -x "$BIN" ] || { echo "build first: swift build -c release --product quiver" >&2; exit 1; }
[ -f "$QUERIES" ] || { echo "no query file $QUERIES" >&2; exit 1; }
source scripts/load/common.sh
trap stop_server EXIT

echo "| batching | concurrency | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | loadavg before |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for mode in $MODES; do
    # SERVE_ARGS: more `quiver serve` flags, e.g. "--data /path/with/a/collection --sample none".
    # The query cache is off unless QUERY_CACHE says otherwise: every wrk run starts at the top of
    # $QUERIES, so a cache would answer the warm-up's and earlier rows' queries without the embedder.
    # shellcheck disable=SC2206
    flags=(--host 127.0.0.1 --port "$PORT" --log-level warning --query-cache "${QUERY_CACHE:-0}" ${SERVE_ARGS:-})
    [ "$mode" = off ] && flags+=(--no-batching)
    "$BIN" serve "${flags[@]}" >"/tmp/quiver-load-$mode.log" 2>&1 &
    server_pid=$!
    wait_ready "http://127.0.0.1:$PORT/ready"
    QUERIES="$QUERIES" wrk -t 2 -c 8 -d 2s -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" >/dev/null  # warm-up
    for c in $CONCURRENCY; do
        threads=$(( c < 2 ? 1 : 2 ))
        before=$(load)
        line=$(wrk -t "$threads" -c "$c" -d "$DURATION" --timeout 10s -s scripts/load/embeddings.lua \
            "http://127.0.0.1:$PORT" | grep '^RESULT')
        parse_result "$line"
        echo "| $mode | $c | ${result[requests]} | ${result[rps]} | ${result[p50_ms]} | ${result[p90_ms]} | ${result[p99_ms]} |" \
            "${result[max_ms]} | ${result[non2xx]} | $before |"
    done
    stop_server
done

# The embedder alone on the same queries, in-process (no HTTP, no JSON): Benchmarks' EmbedCompare
# (build once: cd Benchmarks && swift build -c release --product EmbedCompare). It reports the best
# of 3 batched runs over $BASELINE_QUERIES queries at the server's token budget (8192) and at ~64
# queries per forward pass (budget 832, what c=64 can at most give), and one-at-a-time latency.
EMBED_COMPARE=${EMBED_COMPARE:-Benchmarks/.build/release/EmbedCompare}
if [ -x "$EMBED_COMPARE" ]; then
    tmp=$(mktemp -d); trap 'stop_server; rm -rf "$tmp"' EXIT
    head -n "$BASELINE_QUERIES" "$QUERIES" >"$tmp/batch.jsonl"
    head -n 300 "$QUERIES" >"$tmp/single.jsonl"
    before=$(load)
    "$EMBED_COMPARE" --model models/all-MiniLM-L6-v2 --docs "$tmp/batch.jsonl" --queries "$tmp/single.jsonl" \
        --token-budgets 832,8192 --repeats 3 >"$tmp/report.json"
    python3 - "$tmp/report.json" "$before" "$(load)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print()
print("| embedder alone (EmbedCompare, same queries) | queries/s | loadavg before / after |")
print("|---|---:|---|")
print(f"| batched, token budget 8192 | {r['docs_per_s_budget_8192']:.1f} | {sys.argv[2]} / {sys.argv[3]} |")
print(f"| batched, token budget 832 (~64 queries per pass) | {r['docs_per_s_budget_832']:.1f} | |")
print(f"| one at a time (median {r['query_ms_median']:.2f} ms, p99 {r['query_ms_p99']:.2f} ms) | {1000 / r['query_ms_mean']:.1f} | |")
print(f"mean tokens per query: {r['mean_tokens_per_doc']:.1f}")
PY
else
    echo "(no $EMBED_COMPARE: embedder-alone numbers skipped)"
fi
