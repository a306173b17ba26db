#!/usr/bin/env bash
# The main job behind `make run`. Until the HTTP server lands (issue 5) it embeds a few support
# questions with the default model and shows which ones the model finds closest.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./.build/release/quiver demo --model models/all-MiniLM-L6-v2 "$@"
