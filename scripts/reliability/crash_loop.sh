#!/usr/bin/env bash
# Crash loop for `quiver index`: SIGKILL at random moments, restart, check invariants.
# The logic is in crash_loop.py (Python 3 standard library only); this wrapper checks the
# prerequisites and documents the knobs. See RELIABILITY.md for what it checks and the results.
#
#   ITERATIONS=50      runs (each: write a workload, run `quiver index`, maybe kill it, check)
#   DOCS=1200          target number of live documents
#   TEXT_SHARE=0.05    share of documents given as text (embedded by the model) instead of a vector
#   BATCH=40           documents per transaction (--batch): more commits, more places to be killed
#   KILL_SHARE=0.8     share of runs killed with SIGKILL (the others finish, so prunes complete)
#   KILL_FROM=0.05     the kill lands after U(KILL_FROM, 1.1) × the median run time (0.4: mostly mid-ingest)
#   SEED=1             workload and kill-time seed (the kill still lands wherever the process is)
#   QUIVER=…           binary (default .build/release/quiver; build it first)
#   MODEL=…            model folder (default models/all-MiniLM-L6-v2; its hidden_size = vector size)
#   WORK=DIR KEEP=1    keep the data folder and the JSONL files for a post-mortem
#   RUNNER=cli         how a workload is applied (cli today; an HTTP upsert runner can be added)
#
# Exit status 0 when every check passed. The last line of standard output is a JSON summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
QUIVER="${QUIVER:-$PWD/.build/release/quiver}"
MODEL="${MODEL:-$PWD/models/all-MiniLM-L6-v2}"
[ -x "$QUIVER" ] || { echo "crash_loop: $QUIVER missing; run: swift build -c release --product quiver" >&2; exit 2; }
[ -f "$MODEL/config.json" ] || { echo "crash_loop: no model in $MODEL; run: make setup" >&2; exit 2; }
export QUIVER MODEL
exec python3 "$here/crash_loop.py"
