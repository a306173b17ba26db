#!/usr/bin/env python3
"""Bad-input fuzzer for Quiver's HTTP API (our own generator; schemathesis is the other half).

    python3 scripts/reliability/http_fuzz.py --base-url http://127.0.0.1:18190 --requests 20000 --seed 1

Sends seeded, mostly-invalid requests to every route: malformed and deeply nested JSON, wrong types,
invalid UTF-8, huge strings and arrays, NaN/Infinity, negative/zero/huge k and ef, wrong vector
lengths, unknown collections, path tricks (`../x`, `.`, `%2e%2e`), very long ids, wrong methods and
content types. Every response must be a 2xx (the input happened to be valid) or a 4xx whose body is
`{"error": {"code": str, "message": str}}`; a 5xx other than 503-before-ready, a non-JSON error
body, a dropped connection or a dead process is a failure. Python standard library only.

Exit status 0 when nothing failed; failures are printed (and written to --failures as JSONL).
"""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse

COLLECTION = "fuzz"
EXTERNAL = "fuzz-vectors"
EXTERNAL_DIMS = 384  # collections over HTTP have the served model's dimensions


class Client:
    def __init__(self, base_url, api_key, timeout):
        parsed = urllib.parse.urlparse(base_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.api_key, self.timeout = api_key, timeout
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        """Returns (status, body bytes); a dropped connection raises."""
        all_headers = {"Content-Type": "application/json"}
        if self.api_key:
            all_headers["Authorization"] = f"Bearer {self.api_key}"
        all_headers.update(headers or {})
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=all_headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                # The server may close an idle keep-alive connection or one it answered with a
                # 413 before reading the body; retry once on a fresh connection.
                if attempt == 1:
                    raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Generator:
    """Seeded generators of valid-looking and hostile values."""

    def __init__(self, rng):
        self.rng = rng

    def nasty_string(self):
        r = self.rng
        choices = [
            "", " ", "a", "..", ".", "../x", "%2e%2e", "..%2f..%2fetc%2fpasswd", "/", "\\", "\x00", "\u0000abc",
            "x" * r.choice([256, 1025, 4096, 70_000]), "💥" * r.randint(1, 3000), "\ud7ff\ue000\uffff",
            "é" * 500, "select * from documents; --", "<script>alert(1)</script>", "${jndi:ldap://x}",
            "CON", "nul", "a/b", "a b", "-", "_", "UPPER", "name\nwith\nnewlines", "\t",
            "".join(chr(r.randint(0x20, 0x2FFF)) for _ in range(r.randint(1, 64))),
        ]
        return r.choice(choices)

    def number(self):
        r = self.rng
        return r.choice([0, -1, 1, 2, 10, 1000, 1001, 4096, 4097, 100_001, 2**31, 2**53, 2**63, 2**64, -2**63,
                         1e308, -1e308, 1.5, 0.5, -0.0, 3.14159, 10**30])

    def special_float_token(self):
        return self.rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999"])

    def value(self, depth=0):
        r = self.rng
        kind = r.randint(0, 9 if depth < 3 else 5)
        if kind == 0: return None
        if kind == 1: return r.choice([True, False])
        if kind == 2: return self.number()
        if kind in (3, 4): return self.nasty_string()
        if kind == 5: return r.random()
        if kind == 6: return [self.value(depth + 1) for _ in range(r.randint(0, 5))]
        if kind == 7: return {self.nasty_string()[:20]: self.value(depth + 1) for _ in range(r.randint(0, 4))}
        if kind == 8: return [r.uniform(-1, 1) for _ in range(r.choice([0, 1, 7, 8, 9, 384, 385, 5000]))]
        return {"$gt": self.number()}

    def vector(self, dims):
        r = self.rng
        length = r.choice([dims, dims, dims, 0, 1, dims - 1, dims + 1, 100_000])
        return [r.uniform(-1, 1) for _ in range(max(0, length))]

    def document(self, dims):
        r = self.rng
        doc = {}
        if r.random() < 0.9: doc["id"] = r.choice([f"doc-{r.randint(0, 50)}", self.nasty_string(), self.value()])
        if r.random() < 0.7: doc["text"] = r.choice(["how do I reset my password", self.nasty_string(), self.value()])
        if r.random() < 0.3: doc["title"] = r.choice(["Title", self.value()])
        if r.random() < 0.3: doc["metadata"] = r.choice([{"lang": "en", "n": self.number()}, self.value(), "x", [1]])
        if r.random() < 0.3: doc["updated_at"] = r.choice(["2026-01-01T00:00:00Z", "yesterday", self.number(), "9999-99-99"])
        if r.random() < 0.3: doc["vector"] = r.choice([self.vector(dims), self.value()])
        if r.random() < 0.1: doc[self.nasty_string()[:30]] = self.value()
        return doc

    def query(self, dims):
        r = self.rng
        body = {}
        which = r.randint(0, 4)
        if which == 0: body["text"] = r.choice(["refund", self.nasty_string(), self.value()])
        elif which == 1: body["vector"] = self.vector(dims)
        elif which == 2: body["id"] = r.choice(["doc-1", self.nasty_string(), self.value()])
        elif which == 3: body.update(text="a", vector=self.vector(dims))
        if r.random() < 0.7: body["k"] = r.choice([self.number(), self.value(), 5])
        if r.random() < 0.5: body["ef"] = r.choice([self.number(), self.value(), 64])
        if r.random() < 0.4: body["filter"] = r.choice([{"lang": "en"}, {"n": {"gte": self.number()}}, self.value(),
                                                        {"updated_at": {"gt": self.nasty_string()}}])
        if r.random() < 0.3: body["include"] = r.choice([["text", "vector"], ["bogus"], self.value()])
        return body

    def deep(self):
        depth = self.rng.choice([100, 1000, 10_000, 100_000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        return (opener * depth + "1" + closer * depth).encode()

    def mangle(self, raw):
        """Byte-level damage to an encoded body."""
        r = self.rng
        data = bytearray(raw)
        action = r.randint(0, 5)
        if action == 0 and data: return bytes(data[: r.randint(0, len(data) - 1)])
        if action == 1 and data:
            for _ in range(r.randint(1, 8)):
                data[r.randrange(len(data))] = r.randint(0, 255)
            return bytes(data)
        if action == 2: return bytes(data) + b"\xff\xfe\xc0\x80"
        if action == 3: return b"\xef\xbb\xbf" + bytes(data)
        if action == 4: return bytes(data).replace(b"0.", b"NaN", 1)
        return bytes(data) + b"garbage"


def routes(gen, dims):
    """(method, path, body bytes or None, extra headers) for one request."""
    r = gen.rng
    name = r.choice([COLLECTION, EXTERNAL, "missing", urllib.parse.quote(gen.nasty_string(), safe=""),
                     "..", "%2e%2e", ".", "a" * 300])
    doc_id = r.choice(["doc-1", urllib.parse.quote(gen.nasty_string(), safe=""), "x" * 5000, "%00", ".."])
    choice = r.randint(0, 17)

    def enc(obj):
        text = json.dumps(obj, allow_nan=True)
        if r.random() < 0.05:
            text = text.replace("0.", gen.special_float_token() + "0.", 1)
        return text.encode("utf-8", "surrogatepass")

    if choice == 0:
        body = {"name": r.choice([gen.nasty_string(), "fz-" + str(r.randint(0, 5)), gen.value()])}
        if r.random() < 0.5: body["dimensions"] = gen.value()
        if r.random() < 0.5: body["distance"] = r.choice(["cosine", "dot", "l2", "hamming", gen.value()])
        if r.random() < 0.5: body["hnsw"] = r.choice([{"m": gen.number(), "ef_construction": gen.number()}, gen.value()])
        if r.random() < 0.3: body["model"] = r.choice(["external", gen.nasty_string(), gen.value()])
        return "POST", "/v1/collections", enc(body), {}
    if choice == 1: return "GET", f"/v1/collections/{name}", None, {}
    if choice == 2:
        docs = [gen.document(dims) for _ in range(r.choice([0, 1, 3, 10]))]
        body = r.choice([{"documents": docs}, {"documents": gen.value()}, docs, gen.value()])
        return "PUT", f"/v1/collections/{name}/documents", enc(body), {}
    if choice == 3:
        return "GET", f"/v1/collections/{name}/documents/{doc_id}?include={r.choice(['vector', 'x', ''])}", None, {}
    if choice == 4: return "DELETE", f"/v1/collections/{name}/documents/{doc_id}", None, {}
    if choice in (5, 6): return "POST", f"/v1/collections/{name}/query", enc(gen.query(dims)), {}
    if choice == 7:
        body = {"positive": r.choice([["doc-1"], [], [gen.value()], gen.value()])}
        if r.random() < 0.5: body["negative"] = r.choice([["doc-2"], gen.value()])
        if r.random() < 0.5: body["k"] = gen.number()
        return "POST", f"/v1/collections/{name}/recommend", enc(body), {}
    if choice == 8:
        body = {"queries": r.choice([[gen.query(dims) for _ in range(r.randint(0, 4))], gen.value()])}
        return "POST", f"/v1/collections/{name}/query/batch", enc(body), {}
    if choice == 9:
        body = {"ids": r.choice([["doc-1", "doc-2"], [gen.value()], gen.value(), ["x"] * 20_000])}
        return "POST", f"/v1/collections/{name}/vectors", enc(body), {}
    if choice == 10:
        query = urllib.parse.urlencode({"cursor": gen.nasty_string()[:100], "limit": str(gen.number()),
                                        "format": r.choice(["ndjson", "f32", "xml", ""])})
        return "GET", f"/v1/collections/{name}/vectors?{query}", None, {}
    if choice == 11:
        body = {"input": r.choice(["hello", [gen.nasty_string() for _ in range(3)], gen.value(), [1, 2, 3]])}
        if r.random() < 0.4: body["encoding_format"] = r.choice(["float", "base64", gen.value()])
        if r.random() < 0.4: body["dimensions"] = gen.value()
        return "POST", "/v1/embeddings", enc(body), {}
    if choice == 12:
        body = {"inputs": r.choice(["hello", [gen.nasty_string()], gen.value()])}
        if r.random() < 0.4: body["truncate"] = gen.value()
        if r.random() < 0.4: body["normalize"] = gen.value()
        if r.random() < 0.4: body["dimensions"] = gen.value()
        return "POST", "/embed", enc(body), {}
    if choice == 13:
        return "POST", "/tokenize", enc({"inputs": r.choice(["hello", gen.value()])}), {}
    if choice == 14:
        path = r.choice(["/v1/embeddings", f"/v1/collections/{name}/query", "/v1/collections",
                         f"/v1/collections/{name}/documents", "/embed"])
        method = "PUT" if path.endswith("documents") else "POST"
        return method, path, gen.deep(), {}
    if choice == 15:
        path = r.choice(["/v1/embeddings", f"/v1/collections/{name}/query", f"/v1/collections/{name}/documents"])
        method = "PUT" if path.endswith("documents") else "POST"
        return method, path, gen.mangle(enc(gen.query(dims) if "query" in path else {"input": "x", "documents": []})), {}
    if choice == 16:
        method = r.choice(["PATCH", "DELETE", "PUT", "GET", "OPTIONS"])
        return method, r.choice(["/v1/embeddings", "/v1/collections", "/nope", "/v1/info", "//..//"]), None, {}
    big = b'{"input": "' + b"a" * r.choice([5 << 20, 1 << 20]) + b'"}'
    return "POST", r.choice(["/v1/embeddings", f"/v1/collections/{name}/query"]), big, {}


def check(status, data, ready):
    """Why this response breaks the contract, or None."""
    if 500 <= status:
        if status == 503 and not ready:
            return None
        if status == 503:
            try:
                if json.loads(data)["error"]["code"] == "unavailable":
                    return None  # shutting down / not ready is allowed to say so
            except (ValueError, KeyError, TypeError):
                pass
        return f"server error {status}"
    if 200 <= status < 300:
        return None
    try:
        error = json.loads(data)["error"]
        if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
            return "error body without string code/message"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"non-JSON error body: {data[:120]!r}"
    return None


def setup(client):
    """Creates the two collections the fuzzer aims at (ignores 409 on a re-run)."""
    for body in ({"name": COLLECTION}, {"name": EXTERNAL, "dimensions": EXTERNAL_DIMS}):
        status, data = client.request("POST", "/v1/collections", json.dumps(body).encode())
        if status not in (200, 201, 409):
            print(f"setup: POST /v1/collections {body} -> {status} {data[:200]!r}", file=sys.stderr)
    docs = [{"id": f"doc-{i}", "text": f"document number {i} about refunds and passwords"} for i in range(20)]
    client.request("PUT", f"/v1/collections/{COLLECTION}/documents", json.dumps({"documents": docs}).encode())
    vectors = [{"id": f"doc-{i}", "vector": [((i * 7 + j) % 11) / 11 - 0.5 for j in range(EXTERNAL_DIMS)]}
               for i in range(20)]
    client.request("PUT", f"/v1/collections/{EXTERNAL}/documents", json.dumps({"documents": vectors}).encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: no time limit)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--failures", default=None, help="write failing requests here (JSONL)")
    args = parser.parse_args()
    if not urllib.parse.urlparse(args.base_url).hostname in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to fuzz anything but loopback")

    rng = random.Random(args.seed)
    gen = Generator(rng)
    client = Client(args.base_url, args.api_key, args.timeout)
    status, _ = client.request("GET", "/ready")
    ready = status == 200
    if not ready:
        sys.exit(f"server not ready (/ready answered {status}); start it and wait")
    setup(client)

    statuses, failures = {}, []
    started = time.monotonic()
    sent = 0
    for sent in range(1, args.requests + 1):
        method, path, body, headers = routes(gen, EXTERNAL_DIMS if rng.random() < 0.8 else 8)
        try:
            status, data = client.request(method, path, body, headers)
        except Exception as error:  # noqa: BLE001 - any transport failure is a finding
            # The process must still be alive; a refused connection means it died.
            try:
                alive, _ = Client(args.base_url, None, 5).request("GET", "/health")
            except Exception:  # noqa: BLE001
                alive = None
            failures.append({"method": method, "path": path[:300], "body": (body or b"")[:300].decode("latin-1"),
                             "problem": f"transport: {error!r}; /health then: {alive}"})
            if alive is None:
                print("server is gone", file=sys.stderr)
                break
            continue
        statuses[status] = statuses.get(status, 0) + 1
        problem = check(status, data, ready)
        if problem:
            failures.append({"method": method, "path": path[:300], "body": (body or b"")[:300].decode("latin-1"),
                             "status": status, "problem": problem, "response": data[:300].decode("latin-1")})
        if args.seconds and time.monotonic() - started > args.seconds:
            break
    elapsed = time.monotonic() - started
    health, _ = Client(args.base_url, None, 5).request("GET", "/health")
    summary = {"requests": sent, "seconds": round(elapsed, 1), "statuses": dict(sorted(statuses.items())),
               "failures": len(failures), "health_after": health, "seed": args.seed}
    print(json.dumps(summary))
    if args.failures:
        with open(args.failures, "w") as out:
            for failure in failures:
                out.write(json.dumps(failure) + "\n")
    for failure in failures[:20]:
        print(json.dumps(failure), file=sys.stderr)
    sys.exit(1 if failures or health != 200 else 0)


if __name__ == "__main__":
    main()
