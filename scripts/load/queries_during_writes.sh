#!/usr/bin/env bash
# Query latency while documents are written over HTTP (see BENCHMARKS.md, "Queries during writes").
#
#   scripts/load/queries_during_writes.sh                       # document writes in the background (default)
#   WRITE_FLAGS=--interactive-writes scripts/load/queries_during_writes.sh
#
# Starts `quiver serve` on an empty data directory (the sample corpus is indexed into
# help-center), measures wrk at c=$C on the help-center query route alone, then one client PUTting
# batches of 64 text documents (from $DOCS) back to back alone, then both at once (the writes into
# a fresh collection each time, so none is skipped as unchanged), and reports the three.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-18184}
C=${C:-4}
DURATION=${DURATION:-10s}
DOCS=${DOCS:-/work/corpus/docs.jsonl}
BIN=${BIN:-./.build/release/quiver}
export QUERIES=${QUERIES:-/work/corpus/queries.jsonl} ROUTE=/v1/collections/help-center/query

source scripts/load/common.sh
work=$(mktemp -d)
writer_pid=""
cleanup() {
    [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null || true
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$DOCS" "$work" <<'PY'
import json, sys
docs = [json.loads(line) for _, line in zip(range(4096), open(sys.argv[1]))]
for n in range(0, len(docs), 64):
    batch = [{"id": f"w{n + i}", "title": d.get("title"), "text": d.get("text", "")} for i, d in enumerate(docs[n:n + 64])]
    open(f"{sys.argv[2]}/batch{n // 64:03d}.json", "w").write(json.dumps({"documents": batch}))
PY

# shellcheck disable=SC2086
"$BIN" serve --host 127.0.0.1 --port "$PORT" --log-level warning --data "$work/data" --query-cache 0 ${WRITE_FLAGS:-} \
    >"$work/server.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$PORT/ready"
for name in writes-alone writes-during; do
    curl -sf -X POST "http://127.0.0.1:$PORT/v1/collections" -H 'content-type: application/json' -d "{\"name\": \"$name\"}" >/dev/null
done

wrk -t 1 -c "$C" -d 2s -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" >/dev/null  # warm-up
echo "queries alone:        $(wrk -t 1 -c "$C" -d "$DURATION" -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" | grep '^RESULT')"

start_writer() {  # $1: collection, $2: log file; PUTs the batches back to back (ids repeat after 4,096 documents)
    ( while true; do
        for f in "$work"/batch*.json; do
            curl -s -o /dev/null -w "%{http_code} %{time_total}\n" -X PUT "http://127.0.0.1:$PORT/v1/collections/$1/documents" \
                -H 'content-type: application/json' --data-binary @"$f"
        done
      done >"$2" ) &
    writer_pid=$!
}
stop_writer() {
    kill "$writer_pid" 2>/dev/null || true
    wait "$writer_pid" 2>/dev/null || true
    writer_pid=""
}
report_writes() {  # $1: log, $2: label
    awk -v label="$2" '{n++; s += $2; if ($2 > m) m = $2; if ($1 != "200") bad++} END {
        printf "%s: %d writes of 64 documents (%d not 200), mean %.2f s, max %.2f s\n", label, n, bad, s / n, m }' "$1"
}

start_writer writes-alone "$work/writes-alone.log"
sleep "${DURATION%s}"
stop_writer
report_writes "$work/writes-alone.log" "writes alone, ${DURATION}"

start_writer writes-during "$work/writes.log"
sleep 2
echo "queries during writes: $(wrk -t 1 -c "$C" -d "$DURATION" -s scripts/load/embeddings.lua "http://127.0.0.1:$PORT" | grep '^RESULT')"
stop_writer
report_writes "$work/writes.log" "writes during the queries (and 2 s before)"
