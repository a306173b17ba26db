#!/usr/bin/env bash
# The main job behind `make run`: the HTTP server on 127.0.0.1:8080 with the default model.
# Try it (bodies must be declared JSON, else 415):
#   curl -s localhost:8080/v1/embeddings -H 'content-type: application/json' -d '{"input": "how do I reset my password"}'
#   curl -s localhost:8080/v1/collections/help-center/query -H 'content-type: application/json' \
#        -d '{"text": "how do I reset my password", "k": 3}'
# On first start data/help-center.jsonl (if present) is indexed into the collection "help-center"
# under var/data; /ready answers 503 until it is done. Extra flags go to `quiver serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./.build/release/quiver serve --host 127.0.0.1 --port 8080 --model models/all-MiniLM-L6-v2 "$@"
