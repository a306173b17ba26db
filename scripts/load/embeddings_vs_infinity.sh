#!/usr/bin/env bash
# POST /v1/embeddings side by side: Quiver vs Infinity (infinity-emb from PyPI: an OpenAI-compatible
# embeddings server over sentence-transformers/PyTorch with its own dynamic batching), same model
# folder, same machine, same wrk client and queries (see BENCHMARKS.md, "/v1/embeddings").
#
#   python3 -m venv /work/venv-infinity && /work/venv-infinity/bin/pip install "infinity-emb[server,torch]"
#   swift build -c release --product quiver
#   scripts/load/embeddings_vs_infinity.sh                 # c = 1 4 16 64, 10 s each
#   CONCURRENCY="4 64" DURATION=5s scripts/load/embeddings_vs_infinity.sh
#
# Each server runs alone (the other is stopped) and gets a 2 s warm-up. Queries: one distinct
# short query per request from $QUERIES (scripts/load/embeddings.lua). Both answer float vectors
# as JSON. Infinity runs with its defaults (batch size 32, torch engine, all cores).
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PORT:-18182}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-"1 4 16 64"}
QUERIES=${QUERIES:-/work/corpus/queries.jsonl}
BIN=${BIN:-./.build/release/quiver}
INFINITY=${INFINITY:-/work/venv-infinity/bin/infinity_emb}
MODEL=${MODEL:-$PWD/models/all-MiniLM-L6-v2}
export QUERIES

[ -x "$BIN" ] || { echo "build first: swift build -c release --product quiver" >&2; exit 1; }
[ -x "$INFINITY" ] || { echo "no infinity_emb at $INFINITY (see the header of this script)" >&2; exit 1; }
source scripts/load/common.sh
data=$(mktemp -d)
trap 'stop_server; rm -rf "$data"' EXIT

drive() {  # $1: server name, $2: route
    ROUTE=$2 wrk -t 2 -c 8 -d 2s -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" >/dev/null  # warm-up
    for c in $CONCURRENCY; do
        threads=$(( c < 2 ? 1 : 2 ))
        before=$(load)
        line=$(ROUTE=$2 wrk -t "$threads" -c "$c" -d "$DURATION" --timeout 20s -s scripts/load/embeddings.lua \
            "http://127.0.0.1:$PORT" | grep '^RESULT')
        parse_result "$line"
        echo "| $1 | $c | ${result[requests]} | ${result[rps]} | ${result[p50_ms]} | ${result[p99_ms]} | ${result[non2xx]} | $before |"
    done
}

echo "| server | concurrency | requests | req/s | p50 ms | p99 ms | non-2xx | loadavg before |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"

"$BIN" serve --host 127.0.0.1 --port "$PORT" --log-level warning --data "$data" --no-sample --query-cache 0 \
    --model "$MODEL" >/tmp/quiver-vs-infinity-quiver.log 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$PORT/ready"
drive quiver /v1/embeddings
stop_server

HF_HUB_OFFLINE=1 INFINITY_ANONYMOUS_USAGE_STATS=0 DO_NOT_TRACK=1 "$INFINITY" v2 --model-id "$MODEL" --engine torch \
    --device cpu --host 127.0.0.1 --port "$PORT" >/tmp/quiver-vs-infinity-infinity.log 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$PORT/health"
drive infinity /embeddings
stop_server

"$INFINITY" --version 2>/dev/null | sed 's/^/infinity: /' || true
