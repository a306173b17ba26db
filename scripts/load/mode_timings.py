#!/usr/bin/env python3
"""Per-mode query timings from a running `quiver serve`: the responses' own `timings`.

    python3 scripts/load/mode_timings.py --url http://127.0.0.1:18183 --collection eval \
        --queries /tmp/mq.jsonl --modes vector,hybrid --rounds 2

For each round and mode: N queries at concurrency 4, then N/2 at concurrency 1 (texts from a JSONL
file of {"text": ...}), printing requests/s and the medians of embed_ms, search_ms, fetch_ms and the
client's wall time. Standard library only; loopback only.
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request


def run(url, collection, texts, mode, concurrency, count):
    results, lock = [], threading.Lock()

    def worker(start):
        for j in range(start, count, concurrency):
            body = json.dumps({"text": texts[j % len(texts)], "k": 10, "mode": mode}).encode()
            began = time.perf_counter()
            request = urllib.request.Request(
                f"{url}/v1/collections/{collection}/query", body, {"content-type": "application/json"})
            with urllib.request.urlopen(request) as response:
                timings = json.load(response)["timings"]
            wall = (time.perf_counter() - began) * 1000
            with lock:
                results.append((timings["embed_ms"], timings["search_ms"], timings["fetch_ms"], wall))

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    embed, search, fetch, wall = (statistics.median(column) for column in zip(*results))
    print(f"{mode:8} c={concurrency} {count / elapsed:6.0f} req/s  embed p50 {embed:.2f}  search p50 {search:.2f}"
          f"  fetch p50 {fetch:.2f}  wall p50 {wall:.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:18183")
    parser.add_argument("--collection", required=True)
    parser.add_argument("--queries", required=True, help="JSONL lines with a \"text\" key")
    parser.add_argument("--modes", default="vector,hybrid")
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in open(args.queries, encoding="utf-8") if line.strip()]
    for _ in range(args.rounds):
        for mode in args.modes.split(","):
            run(args.url, args.collection, texts, mode, 4, args.count)
            run(args.url, args.collection, texts, mode, 1, args.count // 2)


if __name__ == "__main__":
    main()
