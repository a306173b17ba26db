#!/usr/bin/env bash
# Side-by-side encoder benchmark: sentence-transformers (PyTorch, CPU, 2 threads) and Quiver's
# EmbedCompare on the same 800 documents and 200 short queries, in one run:
#   Quiver fp32, bf16 and int8, sentence-transformers, ONNX Runtime fp32 and dynamic int8
#   (onnx_bench.py), Quiver fp32, bf16 and int8 again (so all see
#   the same machine conditions), then PrecisionCompare for bf16 and int8 against fp32 (cosines on
#   10,000 documents, 1,000 queries and the mixed texts of mixed_texts.py; top-10 overlap of the
#   1,000 queries).
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
(cd Benchmarks && swift build -c release --product EmbedCompare >&2 && swift build -c release --product PrecisionCompare >&2)
[ -f "$CORPUS/mixed-texts.jsonl" ] || python3 scripts/bench/mixed_texts.py --out "$CORPUS/mixed-texts.jsonl"
quiver() {
    Benchmarks/.build/release/EmbedCompare --model models/all-MiniLM-L6-v2 --docs "$DOCS" --queries "$QUERIES" \
        --token-budgets 2048,4096,8192 --repeats 3 "$@"
}
quiver > "$OUT/quiver-1.json"
quiver --precision bf16 > "$OUT/quiver-bf16-1.json"
quiver --precision int8 > "$OUT/quiver-int8-1.json"
"$VENV/bin/python" scripts/bench/st_bench.py --docs "$DOCS" --queries "$QUERIES" --n-docs 800 --n-queries 200 \
    --batch-sizes 16,32,64 --threads 2 --repeats 2 > "$OUT/st.json"
"$VENV/bin/python" scripts/bench/onnx_bench.py --docs "$DOCS" --queries "$QUERIES" --n-docs 800 --n-queries 200 \
    --batch-sizes 16,32,64 --threads 2 --repeats 2 --variants fp32,int8 > "$OUT/onnx.json"
quiver > "$OUT/quiver-2.json"
quiver --precision bf16 > "$OUT/quiver-bf16-2.json"
quiver --precision int8 > "$OUT/quiver-int8-2.json"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE Benchmarks/.build/release/EmbedCompare --model models/all-MiniLM-L6-v2 \
    --docs "$DOCS" --queries "$QUERIES" --token-budgets 4096 --repeats 3 > "$OUT/quiver-autodetect.json"
for precision in bf16 int8; do
    Benchmarks/.build/release/PrecisionCompare --model models/all-MiniLM-L6-v2 --docs "$CORPUS/docs.jsonl" --precision $precision \
        --queries "$CORPUS/queries.jsonl" --n-docs 10000 --n-queries 1000 --extra "$CORPUS/mixed-texts.jsonl" > "$OUT/precision-$precision.json"
done
echo "results in $OUT" >&2
