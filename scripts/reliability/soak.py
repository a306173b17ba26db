#!/usr/bin/env python3
"""Soak test: mixed queries and upserts against a running `quiver serve`, on loopback only.

    python3 scripts/reliability/soak.py --base-url http://127.0.0.1:18190 --pid $(pgrep -f 'quiver serve') \
        --collection soak --queries /work/corpus/queries.jsonl --minutes 10 --concurrency 64

`--concurrency` client threads, each with one keep-alive connection, send text queries (share
`1 - --upsert-share`, distinct texts from the query file, cycled only if it runs out) and single-
document upserts of new and changed documents (`--upsert-share`, default 0.1) for `--minutes`.
Every minute it prints one JSON line: requests, req/s, p50/p99/max latency (ms), statuses, and the
server's RSS (from /proc/PID/status). At the end: totals, whether any error other than a deliberate
429 happened, and whether RSS levelled off (the last third of the samples grew less than
--rss-growth-limit MiB). Exit status 1 on errors or memory growth. Python standard library only.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies, self.statuses, self.errors = [], {}, []

    def record(self, latency_ms, status, detail=None):
        with self.lock:
            self.latencies.append(latency_ms)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if detail is not None and len(self.errors) < 50:
                self.errors.append(detail)

    def take(self):
        with self.lock:
            latencies, statuses, errors = self.latencies, self.statuses, self.errors
            self.latencies, self.statuses, self.errors = [], {}, []
        return latencies, statuses, errors


def worker(args, texts, counter, stats, stop, seed):
    rng = random.Random(seed)
    parsed = urllib.parse.urlparse(args.base_url)
    headers = {"Content-Type": "application/json"}
    if args.api_key:
        headers["Authorization"] = f"Bearer {args.api_key}"
    connection = None
    while not stop.is_set():
        if rng.random() < args.upsert_share:
            doc = rng.randrange(args.upsert_ids)
            version = rng.randrange(1_000_000)
            body = {"documents": [{"id": f"soak-{doc}", "title": f"Soak document {doc}",
                                   "text": f"Revision {version} of soak document {doc}: " + texts[doc % len(texts)],
                                   "metadata": {"revision": version}}]}
            method, path = "PUT", f"/v1/collections/{args.collection}/documents"
        else:
            with counter["lock"]:
                index = counter["next"]
                counter["next"] += 1
            body = {"text": texts[index % len(texts)], "k": 10}
            method, path = "POST", f"/v1/collections/{args.collection}/query"
        payload = json.dumps(body).encode()
        started = time.monotonic()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=60)
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status = response.status
            detail = None if status in (200, 201, 429) else {"path": path, "status": status, "body": data[:200].decode("latin-1")}
        except Exception as error:  # noqa: BLE001 - every transport failure counts as an error
            if connection is not None:
                connection.close()
            connection = None
            status, detail = 0, {"path": path, "status": 0, "error": repr(error)}
        stats.record((time.monotonic() - started) * 1000, status, detail)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--pid", type=int, required=True, help="the server's process id (for RSS)")
    parser.add_argument("--collection", default="soak")
    parser.add_argument("--queries", required=True, help="JSONL with a 'text' or 'query' field per line")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--upsert-share", type=float, default=0.1)
    parser.add_argument("--upsert-ids", type=int, default=5000, help="distinct ids the upserts cycle over")
    parser.add_argument("--interval", type=float, default=60, help="seconds between report lines")
    parser.add_argument("--rss-growth-limit", type=float, default=64, help="MiB allowed over the last third")
    args = parser.parse_args()
    if urllib.parse.urlparse(args.base_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to load anything but loopback")

    texts = []
    with open(args.queries) as lines:
        for line in lines:
            line = line.strip()
            if line:
                row = json.loads(line)
                texts.append(row.get("text") or row.get("query"))
    texts = [t for t in texts if isinstance(t, str) and t]
    if not texts:
        sys.exit("no query texts")

    stats, stop = Stats(), threading.Event()
    counter = {"lock": threading.Lock(), "next": 0}
    threads = [threading.Thread(target=worker, args=(args, texts, counter, stats, stop, seed), daemon=True)
               for seed in range(args.concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    samples, totals, all_errors = [], {}, []
    deadline = started + args.minutes * 60
    while time.monotonic() < deadline:
        time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
        latencies, statuses, errors = stats.take()
        latencies.sort()
        rss = rss_mib(args.pid)
        samples.append(rss)
        for status, count in statuses.items():
            totals[status] = totals.get(status, 0) + count
        all_errors.extend(errors)
        print(json.dumps({
            "t_s": round(time.monotonic() - started), "requests": len(latencies),
            "req_per_s": round(len(latencies) / args.interval, 1),
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(latencies[-1] if latencies else 0, 1),
            "statuses": dict(sorted(statuses.items())), "rss_mib": None if rss is None else round(rss, 1),
        }), flush=True)
        if rss is None:
            print("server process is gone", file=sys.stderr)
            break
    stop.set()
    for thread in threads:
        thread.join(timeout=70)
    known = [s for s in samples if s is not None]
    third = known[len(known) * 2 // 3:] if len(known) >= 3 else known
    growth = (max(third) - min(third)) if third else 0.0
    bad = {s: c for s, c in totals.items() if s not in (200, 201, 429)}
    summary = {"minutes": args.minutes, "concurrency": args.concurrency, "totals": dict(sorted(totals.items())),
               "errors": sum(bad.values()), "rss_first_mib": known[0] if known else None,
               "rss_last_mib": known[-1] if known else None, "rss_growth_last_third_mib": round(growth, 1),
               "server_alive": rss_mib(args.pid) is not None}
    print(json.dumps(summary))
    for error in all_errors[:10]:
        print(json.dumps(error), file=sys.stderr)
    ok = not bad and growth <= args.rss_growth_limit and summary["server_alive"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
