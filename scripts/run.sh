#!/usr/bin/env bash
# The main job behind `make run`: the HTTP server on 127.0.0.1:8080 with the default model.
# Try it:   curl -s localhost:8080/v1/embeddings -d '{"input": "how do I reset my password"}'
# (Collections and the sample corpus come with the search engine.) Extra flags go to `quiver serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./.build/release/quiver serve --host 127.0.0.1 --port 8080 --model models/all-MiniLM-L6-v2 "$@"
