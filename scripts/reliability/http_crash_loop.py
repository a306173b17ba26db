#!/usr/bin/env python3
"""Crash loop over HTTP: SIGKILL `quiver serve` at random moments under writes, restart, check.

    python3 scripts/reliability/http_crash_loop.py --iterations 50            # ~5–10 minutes
    python3 scripts/reliability/http_crash_loop.py --iterations 3 --quick     # what CI runs

Each iteration starts `quiver serve` on a private data folder (127.0.0.1, a free port), waits for
/ready, and runs writers against one collection: upserts of new documents, updates that change a
document's vector and metadata, and deletes — mostly with bring-your-own vectors derived from
(id, version), a share with text that the server embeds. After a random delay it sends SIGKILL.
A write counts as acknowledged when its 2xx response has arrived; writes in flight at the kill may
or may not have landed. The server is restarted and must become ready (every time); then:

- every acknowledged document is present with its latest acknowledged (or in-flight) version;
- no acknowledged delete comes back (unless re-upserted later); no phantom ids (never written);
- no duplicate ids in the paged export; the export's count equals `documents` in the collection info;
- the index has caught up with the store (`indexed_seq == store_seq`, `pending == 0`);
- a sample of documents is found by a query with its own vector (top hit, score ≈ 1).

Exit status 1 on the first violated invariant (the data folder is kept for inspection).
Python standard library only; traffic goes to loopback only.
"""
import argparse
import hashlib
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

DIMS = 384
COLLECTION = "crash"


def vector_for(doc_id, version):
    """A deterministic unit vector for (id, version)."""
    seed = hashlib.sha256(f"{doc_id}:{version}".encode()).digest()
    rng = random.Random(seed)
    values = [rng.gauss(0, 1) for _ in range(DIMS)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port, timeout=30):
        self.port, self.timeout, self.connection = port, timeout, None

    def request(self, method, path, body=None):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            self.connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = self.connection.getresponse()
            return response.status, response.read(), response
        except Exception:
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Ledger:
    """What the clients know: acknowledged versions, deletes, and writes in flight."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}      # id -> version (int) or None when deleted
        self.in_flight = {}         # id -> set of versions (None = delete) sent but not answered
        self.ever_written = set()
        self.next_version = {}

    def begin(self, doc_id, version):
        with self.lock:
            self.in_flight.setdefault(doc_id, set()).add(version)
            self.ever_written.add(doc_id)

    def acknowledge(self, doc_id, version):
        with self.lock:
            self.acknowledged[doc_id] = version
            self.in_flight.get(doc_id, set()).discard(version)

    def settle(self):
        """After a crash nothing is in flight any more; the caller reconciles with the server."""
        with self.lock:
            pending, self.in_flight = self.in_flight, {}
            return pending


def writer(port, ledger, rng, stop, ids, text_share, stats, lane, lanes):
    """One connection writing ids of its own lane (id % lanes == lane), so that the order of
    acknowledgements is the order the server applied one id's writes in."""
    client = Client(port)
    per_lane = max(1, ids // lanes)

    def pick():
        return f"doc-{rng.randrange(per_lane) * lanes + lane}"

    while not stop.is_set():
        batch, versions = [], []
        for _ in range(rng.randint(1, 16)):
            doc_id = pick()
            with ledger.lock:
                version = ledger.next_version.get(doc_id, 0) + 1
                ledger.next_version[doc_id] = version
            if rng.random() < text_share:
                doc = {"id": doc_id, "text": f"crash loop document {doc_id} revision {version}",
                       "metadata": {"version": version}}
            else:
                doc = {"id": doc_id, "vector": vector_for(doc_id, version), "metadata": {"version": version}}
            if doc_id in (d["id"] for d in batch):
                continue
            batch.append(doc)
            versions.append((doc_id, version))
        delete = rng.random() < 0.1
        if delete:
            doc_id = pick()
            ledger.begin(doc_id, None)
            try:
                status, _, _ = client.request("DELETE", f"/v1/collections/{COLLECTION}/documents/{doc_id}")
            except Exception:
                return  # the server is gone: the write stays in flight
            if status in (200, 204, 404):
                ledger.acknowledge(doc_id, None)
                stats["deletes"] += 1
            continue
        for doc_id, version in versions:
            ledger.begin(doc_id, version)
        try:
            status, data, _ = client.request("PUT", f"/v1/collections/{COLLECTION}/documents", {"documents": batch})
        except Exception:
            return
        if status == 200:
            for doc_id, version in versions:
                ledger.acknowledge(doc_id, version)
            stats["upserts"] += len(versions)
        else:
            raise SystemExit(f"upsert answered {status}: {data[:300]!r}")


def start_server(binary, model, data, port, log):
    return subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--model", model,
                             "--data", data, "--no-sample", "--log-level", "warning"],
                            stdout=log, stderr=log)


def wait_ready(port, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with status {process.returncode}"
        try:
            status, _, _ = Client(port, 2).request("GET", "/ready")
            if status == 200:
                return None
        except Exception:
            pass
        time.sleep(0.05)
    return f"not ready after {timeout} s"


def export_all(client):
    """Every (id, vector) of the collection through the paged NDJSON export."""
    items, cursor = [], None
    while True:
        path = f"/v1/collections/{COLLECTION}/vectors?limit=1000&format=ndjson" + (f"&cursor={cursor}" if cursor else "")
        status, data, response = client.request("GET", path)
        if status != 200:
            raise SystemExit(f"export answered {status}: {data[:200]!r}")
        for line in data.splitlines():
            if line.strip():
                items.append(json.loads(line))
        cursor = response.getheader("Quiver-Next-Cursor")
        if not cursor:
            return items


def verify(port, ledger, rng, in_flight):
    """Checks every invariant; returns a list of problems (empty when all hold)."""
    client = Client(port)
    problems = []
    status, data, _ = client.request("GET", f"/v1/collections/{COLLECTION}")
    if status != 200:
        return [f"collection info answered {status}: {data[:200]!r}"], 0
    info = json.loads(data)
    index = info["index"]
    if index["indexed_seq"] != index["store_seq"] or index["pending"] != 0:
        problems.append(f"index not caught up: {index}")
    items = export_all(client)
    ids = [item["id"] for item in items]
    if len(ids) != len(set(ids)):
        problems.append(f"duplicate ids in the export: {len(ids) - len(set(ids))}")
    if len(set(ids)) != info["documents"]:
        problems.append(f"export has {len(set(ids))} ids, the collection info says {info['documents']} documents")
    present = {item["id"]: item["vector"] for item in items}
    for doc_id in present:
        if doc_id not in ledger.ever_written:
            problems.append(f"phantom id {doc_id}")
    for doc_id, version in ledger.acknowledged.items():
        allowed = {version} | in_flight.get(doc_id, set())
        if doc_id not in present:
            if None not in allowed:
                problems.append(f"acknowledged {doc_id} v{version} is missing")
            continue
        if allowed == {None}:
            problems.append(f"deleted {doc_id} came back")
            continue
        # Which version is stored? Vector documents are recognisable by their vector.
        vector = present[doc_id]
        matches = [v for v in allowed if v is not None and _close(vector, vector_for(doc_id, v))]
        if not matches:
            # A text version (embedded by the server) or an unknown vector: look at the metadata.
            status, data, _ = client.request("GET", f"/v1/collections/{COLLECTION}/documents/{doc_id}")
            stored = json.loads(data).get("metadata", {}).get("version") if status == 200 else None
            if stored not in allowed:
                problems.append(f"{doc_id}: stored version {stored}, expected one of {sorted(v for v in allowed if v)}")
    # Documents written for the first time during the crashed run and never acknowledged may exist.
    sample = rng.sample(sorted(present), min(20, len(present)))
    for doc_id in sample:
        status, data, _ = client.request("POST", f"/v1/collections/{COLLECTION}/query",
                                         {"vector": present[doc_id], "k": 1})
        hits = json.loads(data).get("results", []) if status == 200 else []
        if not hits or hits[0]["id"] != doc_id and hits[0]["score"] < 0.9999:
            problems.append(f"query with {doc_id}'s own vector found {hits[:1]}")
    return problems, len(present)


def _close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1e-5 for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/quiver")
    parser.add_argument("--model", default="models/all-MiniLM-L6-v2")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--ids", type=int, default=3000, help="distinct document ids the writers use")
    parser.add_argument("--text-share", type=float, default=0.05, help="share of documents sent as text")
    parser.add_argument("--kill-after", default="0.3,4.0", help="min,max seconds of writes before SIGKILL")
    parser.add_argument("--ready-timeout", type=float, default=120)
    parser.add_argument("--quick", action="store_true", help="small and fast (CI): 300 ids, kills within 2 s")
    parser.add_argument("--keep", action="store_true", help="keep the data folder even on success")
    args = parser.parse_args()
    if args.quick:
        args.ids, args.kill_after = 300, "0.2,2.0"
    low, high = (float(x) for x in args.kill_after.split(","))
    rng = random.Random(args.seed)
    data = tempfile.mkdtemp(prefix="quiver-http-crash-")
    log_path = os.path.join(data, "server.log")
    ledger = Ledger()
    totals = {"iterations": 0, "kills": 0, "upserts": 0, "deletes": 0, "restarts": 0}
    started = time.monotonic()
    with open(log_path, "ab") as log:
        for iteration in range(1, args.iterations + 1):
            port = free_port()
            server = start_server(args.binary, args.model, os.path.join(data, "data"), port, log)
            problem = wait_ready(port, server, args.ready_timeout)
            if problem:
                print(f"iteration {iteration}: the server did not start: {problem} (log: {log_path})", file=sys.stderr)
                sys.exit(1)
            totals["restarts"] += 1
            pending = ledger.settle()
            if iteration == 1:
                status, body, _ = Client(port).request("POST", "/v1/collections", {"name": COLLECTION})
                if status not in (201, 409):
                    sys.exit(f"create answered {status}: {body!r}")
            else:
                problems, count = verify(port, ledger, rng, pending)
                if problems:
                    print(f"iteration {iteration}: {len(problems)} invariant(s) violated (data kept in {data}):", file=sys.stderr)
                    for p in problems[:20]:
                        print("  " + p, file=sys.stderr)
                    sys.exit(1)
                # Reconcile the ledger with what landed: an in-flight write that landed is now the
                # acknowledged state (it is durable), one that did not is forgotten.
                client = Client(port)
                for doc_id, versions in pending.items():
                    status, data_, _ = client.request("GET", f"/v1/collections/{COLLECTION}/documents/{doc_id}")
                    if status == 404:
                        ledger.acknowledged[doc_id] = None
                    elif status == 200:
                        ledger.acknowledged[doc_id] = json.loads(data_).get("metadata", {}).get("version")
                print(json.dumps({"iteration": iteration, "documents": count, "checked": "ok"}), flush=True)
            stop = threading.Event()
            stats = {"upserts": 0, "deletes": 0}
            threads = [threading.Thread(target=writer, daemon=True,
                                        args=(port, ledger, random.Random(rng.random()), stop, args.ids, args.text_share, stats,
                                              lane, args.writers))
                       for lane in range(args.writers)]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(low, high))
            server.send_signal(signal.SIGKILL)
            server.wait()
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            totals["kills"] += 1
            totals["iterations"] = iteration
            totals["upserts"] += stats["upserts"]
            totals["deletes"] += stats["deletes"]
        # A last restart verifies the final kill too.
        port = free_port()
        server = start_server(args.binary, args.model, os.path.join(data, "data"), port, log)
        problem = wait_ready(port, server, args.ready_timeout)
        if problem:
            sys.exit(f"final restart: the server did not start: {problem} (log: {log_path})")
        problems, count = verify(port, ledger, rng, ledger.settle())
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    totals.update(seconds=round(time.monotonic() - started, 1), final_documents=count, failures=len(problems))
    print(json.dumps(totals))
    if problems:
        for p in problems[:20]:
            print("  " + p, file=sys.stderr)
        print(f"data kept in {data}", file=sys.stderr)
        sys.exit(1)
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
