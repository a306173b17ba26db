#!/usr/bin/env bash
# Creates (or brings up to date) the Python venv with Quiver's benchmark peers and corpus tools.
#
#   scripts/bench/make_venv.sh            # everything in requirements.txt
#   scripts/bench/make_venv.sh --light    # only numpy, hnswlib, faiss-cpu, usearch, tokenizers
#
# Where: $QUIVER_VENV, default $HOME/.venvs/quiver-bench (kept outside the repository: with torch
# and its CUDA wheels it is ~6 GB). Example: QUIVER_VENV=/work/venv scripts/bench/make_venv.sh
#
# Idempotent: an existing venv is reused; pip is skipped entirely when requirements.txt has not
# changed since the last successful full install (a stamp file in the venv records its hash).
# Heavy installs run under `nice` so they do not starve other work on a small machine.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
venv="${QUIVER_VENV:-$HOME/.venvs/quiver-bench}"
python="${PYTHON:-python3}"
light_only=0
case "${1:-}" in
    --light) light_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--light]" >&2; exit 2 ;;
esac
light_pkgs="numpy hnswlib faiss-cpu usearch tokenizers"

say() { printf '[make_venv] %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("nice" "-n" "10" "$venv/bin/python" "-m" "pip" "install" "--quiet" "--disable-pip-version-check")

stamp="$venv/.quiver-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ "$light_only" -eq 1 ]; then
    pins=()
    for name in $light_pkgs; do
        pin="$(grep -E "^${name}==" "$req")" || { say "no pin for $name in $req"; exit 1; }
        pins+=("$pin")
    done
    say "installing ${pins[*]}"
    "${pip[@]}" "${pins[@]}"
    check="import numpy, hnswlib, faiss, usearch, tokenizers"
elif [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "$venv is up to date with requirements.txt"
    check="import sentence_transformers, torch, hnswlib, faiss, usearch, tokenizers, onnxruntime"
else
    # The light packages first, so they are usable while torch (large) is still downloading.
    for name in $light_pkgs; do
        "${pip[@]}" "$(grep -E "^${name}==" "$req")"
    done
    say "installing requirements.txt (torch brings ~6 GB of CUDA wheels; a few minutes)"
    "${pip[@]}" -r "$req"
    check="import sentence_transformers, torch, hnswlib, faiss, usearch, tokenizers, onnxruntime"
    write_stamp=1
fi

"$venv/bin/python" -c "$check" || { say "import check failed: $check"; exit 1; }
if [ "${write_stamp:-0}" -eq 1 ]; then
    echo "$want" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
fi
say "ok: $venv (activate with: source $venv/bin/activate)"
