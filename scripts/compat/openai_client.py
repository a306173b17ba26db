#!/usr/bin/env python3
"""Proves that Quiver's POST /v1/embeddings works with the real `openai` Python client.

Usage:  python scripts/compat/openai_client.py [--base-url http://127.0.0.1:8080] [--api-key KEY]
Needs a running `quiver serve` and `pip install openai`. Every check compares the client's vectors
with Quiver's own TEI-compatible POST /embed output for the same texts; exit status 1 on a mismatch.
"""
import argparse
import base64
import json
import math
import struct
import sys
import urllib.request

import openai

TEXTS = [
    "How do I reset my password?",
    "Change the billing address on an invoice",
    "Export all projects to CSV — including archived ones (ünïcödé).",
]
TOLERANCE = 1e-5


def tei_embed(base_url, api_key, inputs, dimensions=None):
    body = {"inputs": inputs, "truncate": True}
    if dimensions is not None:
        body["dimensions"] = dimensions
    request = urllib.request.Request(
        base_url + "/embed", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def max_abs_diff(a, b):
    assert len(a) == len(b), f"length {len(a)} != {len(b)}"
    return max(abs(x - y) for x, y in zip(a, b))


def check(name, got, expected):
    worst = max(max_abs_diff(g, e) for g, e in zip(got, expected))
    ok = len(got) == len(expected) and worst <= TOLERANCE
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(got)} vectors of {len(got[0])} dims, max |diff| vs /embed = {worst:.2e}")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url + "/v1", api_key=args.api_key or "unused", max_retries=0)
    print(f"openai {openai.__version__} against {args.base_url}")
    reference = tei_embed(args.base_url, args.api_key, TEXTS)
    results = []

    # A single string (the client asks for base64 by default and decodes it itself).
    single = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS[0])
    results.append(check("string input (client default encoding)", [single.data[0].embedding], reference[:1]))
    results.append(single.usage.prompt_tokens > 0 and single.usage.total_tokens == single.usage.prompt_tokens)

    # A list of strings, explicitly as floats.
    floats = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="float")
    results.append([d.index for d in floats.data] == [0, 1, 2])
    results.append(check("list input, encoding_format=float", [d.embedding for d in floats.data], reference))

    # Explicit base64: the client hands back the string; decode little-endian float32 ourselves.
    encoded = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="base64")
    decoded = []
    for item in encoded.data:
        raw = base64.b64decode(item.embedding)
        decoded.append(list(struct.unpack(f"<{len(raw) // 4}f", raw)))
    results.append(check("list input, encoding_format=base64", decoded, reference))

    # dimensions: truncated and re-normalized, equal to /embed with the same dimensions.
    short = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, dimensions=64, encoding_format="float")
    reference64 = tei_embed(args.base_url, args.api_key, TEXTS, dimensions=64)
    results.append(check("dimensions=64", [d.embedding for d in short.data], reference64))
    norms = [math.sqrt(sum(x * x for x in d.embedding)) for d in short.data]
    results.append(all(abs(n - 1) <= 1e-5 for n in norms))
    print(f"{'ok  ' if results[-1] else 'FAIL'} dimensions=64 vectors have unit norm: {[round(n, 6) for n in norms]}")

    # Errors surface as the client's exception types.
    try:
        client.embeddings.create(model="all-MiniLM-L6-v2", input=[])
        results.append(False)
        print("FAIL empty input was accepted")
    except openai.UnprocessableEntityError as error:
        results.append(True)
        print(f"ok   empty input -> {error.status_code} {error.body}")

    if not all(results):
        print("FAILED")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
