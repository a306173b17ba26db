#!/usr/bin/env bash
# Where the server's CPU goes under load: CPU seconds per thread name (from /proc/PID/task/*/stat),
# wrk's own CPU and the machine's idle share over one wrk run (see BENCHMARKS.md, query route).
#
#   ROUTE=/v1/collections/bench/query SERVE_ARGS="--data /work/bench-collection --no-sample" \
#     C=64 DURATION=10 scripts/load/cpu_by_thread.sh
#
# Thread names: quiver-embed-N (batcher workers), quiver-fwd-N (the embedder's helpers), NIO-…-TP
# (the read pool: search and fetch), NIO-SGLTN-… (event loops), …default-qos (Swift tasks).
set -euo pipefail
cd "$(dirname "$0")/../.."
C=${C:-64}
DURATION=${DURATION:-10}
PORT=${PORT:-18183}
BIN=${BIN:-./.build/release/quiver}
export QUERIES=${QUERIES:-/work/corpus/queries.jsonl} ROUTE=${ROUTE:-/v1/embeddings}

# shellcheck disable=SC2206
flags=(--host 127.0.0.1 --port "$PORT" --log-level warning --query-cache "${QUERY_CACHE:-0}" ${SERVE_ARGS:-})
source scripts/load/common.sh
"$BIN" serve "${flags[@]}" >/tmp/quiver-cpu-by-thread.log 2>&1 &
server_pid=$!
trap stop_server EXIT
wait_ready "http://127.0.0.1:$PORT/ready"
wrk -t 2 -c 8 -d 2s -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" >/dev/null  # warm-up

per_thread() {  # "name ticks" summed over threads of the same name
    for task in /proc/$server_pid/task/*; do
        name=$(cat "$task/comm")
        fields=$(sed 's/.*) //' "$task/stat")
        # shellcheck disable=SC2086
        set -- $fields
        echo "${name// /_} $(( ${12} + ${13} ))"
    done | awk '{ticks[$1] += $2} END {for (n in ticks) print n, ticks[n]}' | sort
}
machine() { head -1 /proc/stat | awk '{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}'; }

per_thread >/tmp/quiver-cpu-before
read -r idle0 total0 < <(machine)
/usr/bin/time -f "wrk: %U s user, %S s system" wrk -t 2 -c "$C" -d "${DURATION}s" --timeout 10s \
    -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" 2>&1 | grep -E '^RESULT|^wrk:'
read -r idle1 total1 < <(machine)
per_thread >/tmp/quiver-cpu-after
echo "machine idle: $(( 100 * (idle1 - idle0) / (total1 - total0) )) % of $(( total1 - total0 )) ticks (2 cores)"
join /tmp/quiver-cpu-before /tmp/quiver-cpu-after | awk '{d = $3 - $2; if (d > 0) printf "%-22s %6.2f s\n", $1, d / 100}'
