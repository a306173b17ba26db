#!/usr/bin/env bash
# Side-by-side encoder benchmark: sentence-transformers (PyTorch, CPU, 2 threads) and Quiver's
# EmbedCompare on the same 800 documents and 200 short queries, in one run:
#   Quiver, sentence-transformers, Quiver again (so both see the same machine conditions).
# Usage: scripts/bench/encoder_compare.sh [OUT_DIR]
#   QUIVER_VENV   venv with sentence-transformers (scripts/bench/make_venv.sh); default ~/.venvs/quiver-bench
#   CORPUS        folder with docs.jsonl and queries.jsonl (scripts/corpus/build_corpus.py); default /work/corpus
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${QUIVER_VENV:-$HOME/.venvs/quiver-bench}"
CORPUS="${CORPUS:-/work/corpus}"
OUT="${1:-/tmp/quiver-encoder-compare}"
mkdir -p "$OUT"
DOCS="$CORPUS/bench-docs-800.jsonl"; QUERIES="$CORPUS/bench-queries-200.jsonl"
if [ ! -f "$DOCS" ] || [ ! -f "$QUERIES" ]; then
    "$VENV/bin/python" scripts/bench/st_bench.py --docs "$CORPUS/docs.jsonl" --queries "$CORPUS/queries.jsonl" \
        --dump-selection "$DOCS" --dump-queries "$QUERIES" --batch-sizes 32 --repeats 1 > /dev/null
fi
(cd Benchmarks && swift build -c release --product EmbedCompare >&2)
quiver() {
    Benchmarks/.build/release/EmbedCompare --model models/all-MiniLM-L6-v2 --docs "$DOCS" --queries "$QUERIES" \
        --token-budgets 2048,4096,8192 --repeats 3 "$@"
}
quiver > "$OUT/quiver-1.json"
"$VENV/bin/python" scripts/bench/st_bench.py --docs "$DOCS" --queries "$QUERIES" --n-docs 800 --n-queries 200 \
    --batch-sizes 16,32,64 --threads 2 --repeats 2 > "$OUT/st.json"
quiver > "$OUT/quiver-2.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE Benchmarks/.build/release/EmbedCompare --model models/all-MiniLM-L6-v2 \
    --docs "$DOCS" --queries "$QUERIES" --token-budgets 4096 --repeats 3 > "$OUT/quiver-autodetect.json"
echo "results in $OUT" >&2
