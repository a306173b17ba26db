#!/usr/bin/env bash
# Embedding throughput of a nightly load, side by side (BENCHMARKS.md, "PostgreSQL store: workers,
# lag, catch-up"): the single-machine path (quiver index on SQLite, embedding in process) against
# deferred writes on PostgreSQL (quiver index --defer-embedding) embedded by 1 and by 2
# `quiver worker --once` processes. Prints one JSON line per configuration.
#
#   scripts/bench/pg_workers.sh postgres://USER@HOST:PORT DOCS.jsonl [N]
#
# Needs a built .build/release/quiver, models/all-MiniLM-L6-v2 and psql; creates and drops the
# databases quiver_workers_1 and quiver_workers_2 on that server.
set -euo pipefail
server=${1:?postgres://USER@HOST:PORT}
docs=${2:?DOCS.jsonl}
n=${3:-2000}
bin=.build/release/quiver
model=models/all-MiniLM-L6-v2
tmp=$(mktemp -d /tmp/quiver-pg-workers-XXXX)
trap 'rm -rf "$tmp"' EXIT
head -n "$n" "$docs" > "$tmp/docs.jsonl"
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(round($1 / ($3 - $2), 1))"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

start=$(now)
"$bin" index "$tmp/docs.jsonl" -c w --data "$tmp/sqlite" --model "$model" > /dev/null 2>&1
end=$(now)
echo "{\"path\": \"sqlite, quiver index (embeds in process)\", \"documents\": $n, \"docs_per_s\": $(rate "$n" "$start" "$end"), \"loadavg\": \"$(load)\"}"

for workers in 1 2; do
    db=quiver_workers_$workers
    psql "$server/postgres" -X -q -c "drop database if exists $db" -c "create database $db"
    store="$server/$db"
    start=$(now)
    "$bin" index "$tmp/docs.jsonl" -c w --store "$store" --data "$tmp/writer-$workers" --model "$model" --defer-embedding > /dev/null 2>&1
    stored=$(now)
    pids=()
    for i in $(seq "$workers"); do
        "$bin" worker --store "$store" --data "$tmp/worker-$workers-$i" --model "$model" -c w --once > /dev/null 2> "$tmp/worker-$workers-$i.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    end=$(now)
    echo "{\"path\": \"postgres, --defer-embedding + $workers worker(s)\", \"documents\": $n, \"store_docs_per_s\": $(rate "$n" "$start" "$stored"), \"embed_docs_per_s\": $(rate "$n" "$stored" "$end"), \"end_to_end_docs_per_s\": $(rate "$n" "$start" "$end"), \"loadavg\": \"$(load)\"}"
    grep -h "worker: embedded" "$tmp"/worker-"$workers"-*.log >&2 || true
    psql "$server/postgres" -X -q -c "drop database $db"
done
