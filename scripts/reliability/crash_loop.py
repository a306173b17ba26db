#!/usr/bin/env python3
"""Crash loop for `quiver index`: run a workload, SIGKILL it at a random moment, restart, check.

Run through crash_loop.sh (which documents the environment variables). Python 3 standard library
only. Every iteration:

  1. picks a workload kind (insert / update / prune) and writes its JSONL file — bring-your-own
     vectors for most documents, plain text (embedded by the model) for a small share;
  2. runs it through a *runner* (today: `quiver index`; an HTTP runner can be added beside it,
     see RUNNERS) and kills it with SIGKILL after a random delay, or lets it finish;
  3. restarts (the next `quiver` process opens the damaged-by-kill folder: WAL recovery, stale
     checkpoint, temporary files) and checks the invariants with `quiver export`, `quiver query
     --json` and `quiver info --json`:
       - every acknowledged write ("committed through line N", or a finished run) is present with
         its latest content; a write in flight at the kill is either fully old or fully new;
       - deleted ids never come back; no duplicate ids; no ids that were never written;
       - every stored document is the top-1 hit of a query with its own stored vector, and the
         hit's text is the document's latest text; a text document's vector is the embedding of
         that text (`quiver embed`);
       - a killed `--prune` run (one transaction) deleted all of its ids or none;
       - after catch-up the index covers the store's seq (indexed_seq == store_seq, pending 0)
         and counts agree; no temporary files of dead processes are left behind.
  The model of what may be stored is then collapsed to what was observed (it is durable now).

Exit status 0 when every check of every iteration passed; 1 otherwise. A JSON summary is printed
on the last line of standard output.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import struct

DELETED = ("deleted",)


def env(name, default):
    value = os.environ.get(name)
    return type(default)(value) if value not in (None, "") else default


class Config:
    def __init__(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.root = root
        self.iterations = env("ITERATIONS", 50)
        self.docs = env("DOCS", 1200)              # target number of live documents
        self.text_share = env("TEXT_SHARE", 0.05)  # share of documents given as text (embedded)
        self.batch = env("BATCH", 40)              # documents per transaction (--batch)
        self.kill_share = env("KILL_SHARE", 0.8)   # share of runs that get a SIGKILL
        self.kill_from = env("KILL_FROM", 0.05)    # kill after U(KILL_FROM, 1.1) x the median run time
        self.seed = env("SEED", 1)
        self.quiver = env("QUIVER", os.path.join(root, ".build/release/quiver"))
        self.model = env("MODEL", os.path.join(root, "models/all-MiniLM-L6-v2"))
        self.work = env("WORK", "")
        self.keep = env("KEEP", 0)
        self.verbose = env("VERBOSE", 0)


def f32(x):
    """x rounded to float32, as the store keeps it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Version:
    """One content a document may have: a vector (bring your own) or a text."""
    __slots__ = ("vector", "text")

    def __init__(self, vector=None, text=None):
        self.vector = tuple(f32(x) for x in vector) if vector is not None else None
        self.text = text

    def key(self):
        return ("v", self.vector) if self.vector is not None else ("t", self.text)

    def __eq__(self, other):
        return isinstance(other, Version) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def describe(self):
        return f"text {self.text!r}" if self.text is not None else f"vector {self.vector[:2]}…"


class Truth:
    """For every id ever written: the set of versions (or DELETED) it may have now."""

    def __init__(self):
        self.allowed = {}      # id -> set of Version | DELETED
        self.next_id = 0
        self.ever_deleted = set()  # absent at a check: deleted, or never committed (killed in flight)
        self.seen_live = set()
        self.pending_prune = set()  # live ids a killed --prune run would have deleted (one transaction)

    def live_ids(self):
        """Ids certainly or possibly live (after a collapse: exactly the live ones)."""
        return sorted(i for i, a in self.allowed.items() if any(v is not DELETED for v in a))

    def current(self, doc_id):
        """The single version after a collapse."""
        (version,) = self.allowed[doc_id]
        return version


# ----- workloads: each returns a list of (id, Version) lines and whether the run prunes -----------

def new_version(rng, cfg, dims, doc_id, round_):
    if rng.random() < cfg.text_share:
        return Version(text=f"document {doc_id} revision {round_} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))))
    return Version(vector=[rng.uniform(-1, 1) for _ in range(dims)])


WORDS = ("river stone light garden quiet market winter engine paper signal harbor orchard copper lantern "
         "meadow thunder violet anchor silver canyon").split()


def workload_insert(rng, cfg, truth, dims, round_):
    live = truth.live_ids()
    count = max(50, min(400, cfg.docs - len(live)))
    lines = []
    for _ in range(count):
        doc_id = f"doc-{truth.next_id}"
        truth.next_id += 1
        lines.append((doc_id, new_version(rng, cfg, dims, doc_id, round_)))
    # Some unchanged documents in the same file (they must stay as they are).
    for doc_id in rng.sample(live, min(len(live), 50)):
        lines.append((doc_id, truth.current(doc_id)))
    rng.shuffle(lines)
    return lines, False


def workload_update(rng, cfg, truth, dims, round_):
    live = truth.live_ids()
    chosen = rng.sample(live, len(live) // 2) if live else []
    lines = []
    for doc_id in chosen:
        if rng.random() < 0.6:
            lines.append((doc_id, new_version(rng, cfg, dims, doc_id, round_)))
        else:
            lines.append((doc_id, truth.current(doc_id)))
    return lines, False


def workload_prune(rng, cfg, truth, dims, round_):
    """A full sync: every live id but ~8% (deleted by --prune), some of them changed."""
    live = truth.live_ids()
    lines = []
    for doc_id in live:
        r = rng.random()
        if r < 0.08:
            continue
        lines.append((doc_id, new_version(rng, cfg, dims, doc_id, round_) if r < 0.2 else truth.current(doc_id)))
    # A few new documents too.
    for _ in range(20):
        doc_id = f"doc-{truth.next_id}"
        truth.next_id += 1
        lines.append((doc_id, new_version(rng, cfg, dims, doc_id, round_)))
    rng.shuffle(lines)
    return lines, True


WORKLOADS = {"insert": workload_insert, "update": workload_update, "prune": workload_prune}


def schedule(rng, iteration):
    if iteration == 0:
        return "insert"
    return rng.choices(["insert", "update", "prune"], weights=[3, 4, 2])[0]


# ----- runners: apply a workload, possibly killed; report what was acknowledged --------------------

def jsonl(lines):
    out = []
    for doc_id, version in lines:
        if version.vector is not None:
            out.append(json.dumps({"id": doc_id, "vector": list(version.vector), "metadata": {"kind": "vector"}},
                                  separators=(",", ":")))
        else:
            out.append(json.dumps({"id": doc_id, "text": version.text, "metadata": {"kind": "text"}}, separators=(",", ":")))
    return "\n".join(out) + "\n"


class RunResult:
    def __init__(self):
        self.killed = False
        self.completed = False     # the process finished and printed its report
        self.acknowledged = 0      # lines 1...acknowledged are committed
        self.status = None
        self.stderr = ""
        self.seconds = 0.0


def run_cli_index(cfg, data, path, prune, kill_after):
    """`quiver index FILE --prune?`, killed with SIGKILL after kill_after seconds (None: never)."""
    args = [cfg.quiver, "index", path, "--collection", "c", "--data", data, "--model", cfg.model,
            "--batch", str(cfg.batch)]
    if prune:
        args.append("--prune")
    result = RunResult()
    started = time.monotonic()
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        process = subprocess.Popen(args, stdout=out, stderr=err)
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            result.killed = True
        result.seconds = time.monotonic() - started
        result.status = process.returncode
        err.seek(0)
        out.seek(0)
        result.stderr = err.read().decode("utf-8", "replace")
        stdout = out.read().decode("utf-8", "replace")
    for line in result.stderr.splitlines():
        if line.startswith("committed through line "):
            number = line[len("committed through line "):].split(":")[0]
            result.acknowledged = max(result.acknowledged, int(number))
    result.completed = result.status == 0 and " inserted " in stdout
    if result.killed and result.status == 0:  # finished just before the signal
        result.killed = False
    return result


RUNNERS = {"cli": run_cli_index}  # an HTTP upsert runner goes here (same signature)


def apply_expectations(truth, lines, prune, result):
    """Updates what each id may be after the run."""
    if result.completed:
        certain = len(lines)
    else:
        certain = result.acknowledged
    seen = set()
    for number, (doc_id, version) in enumerate(lines, start=1):
        seen.add(doc_id)
        before = truth.allowed.get(doc_id, {DELETED})
        if number <= certain:
            truth.allowed[doc_id] = {version}
        else:
            truth.allowed[doc_id] = set(before) | {version}
    truth.pending_prune = set()
    if prune:
        for doc_id, allowed in truth.allowed.items():
            if doc_id in seen:
                continue
            if result.completed:
                truth.allowed[doc_id] = {DELETED}
            else:
                truth.allowed[doc_id] = set(allowed) | {DELETED}
                if any(v is not DELETED for v in allowed):
                    truth.pending_prune.add(doc_id)


# ----- checks ----------------------------------------------------------------------------------

def quiver(cfg, *args, stdin=None):
    process = subprocess.run([cfg.quiver, *args], input=stdin, capture_output=True)
    if process.returncode != 0:
        raise CheckFailure(f"quiver {' '.join(args[:2])} exited {process.returncode}: "
                           f"{process.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    return process.stdout.decode("utf-8")


class CheckFailure(Exception):
    pass


def close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1e-6 * max(1.0, abs(x)) for x, y in zip(a, b))


def check(cfg, data, truth, dims):
    """Checks the folder against `truth`, then collapses `truth` to what is stored. Returns a list
    of failure messages (empty: all good)."""
    failures = []
    info = json.loads(quiver(cfg, "info", "--data", data, "--json"))
    collections = {c["name"]: c for c in info["collections"]}
    if "c" in collections:
        exported = [json.loads(line) for line in quiver(cfg, "export", "-c", "c", "--data", data).splitlines() if line]
    else:
        exported = []  # killed before the collection was created: nothing may be acknowledged
    ids = [item["id"] for item in exported]
    if len(ids) != len(set(ids)):
        failures.append(f"duplicate ids in export: {len(ids) - len(set(ids))}")
    vectors = {item["id"]: item["vector"] for item in exported}
    for doc_id in vectors:
        if doc_id not in truth.allowed:
            failures.append(f"phantom id {doc_id} (never written)")
        elif doc_id in truth.ever_deleted:
            failures.append(f"deleted id {doc_id} came back")
    for doc_id, allowed in truth.allowed.items():
        if doc_id not in vectors and DELETED not in allowed:
            failures.append(f"acknowledged {doc_id} is missing")

    # Every stored document: top-1 of a query with its own stored vector, with its latest text.
    order = sorted(vectors)
    queries = "".join(json.dumps({"vector": vectors[i], "k": 1, "ef": 200, "include": ["text"]}, separators=(",", ":")) + "\n"
                      for i in order)
    answers = quiver(cfg, "query", "-c", "c", "--data", data, "--model", cfg.model, "--json", "--input", "-",
                     stdin=queries.encode()).splitlines() if order else []
    if len(answers) != len(order):
        failures.append(f"{len(answers)} answers for {len(order)} queries")
    observed = {}
    not_top = 0
    index_state = None
    for doc_id, line in zip(order, answers):
        answer = json.loads(line)
        if "error" in answer:
            failures.append(f"query for {doc_id} failed: {answer['error']}")
            continue
        index_state = answer["index"]
        hits = answer["results"]
        if not hits or hits[0]["id"] != doc_id:
            not_top += 1
            if not_top <= 5:
                failures.append(f"{doc_id} is not the top hit of its own vector (got {hits[0]['id'] if hits else None})")
        text = hits[0].get("text") if hits and hits[0]["id"] == doc_id else None
        vector = vectors[doc_id]
        kind = None
        for version in truth.allowed.get(doc_id, ()):
            if version is DELETED:
                continue
            if version.vector is not None and close(version.vector, vector):
                kind = version
            elif version.text is not None and text == version.text:
                kind = version
        if kind is None:
            if doc_id in truth.allowed:
                failures.append(f"{doc_id} holds content that was never acknowledged nor in flight "
                                f"(allowed: {[v.describe() if v is not DELETED else 'deleted' for v in truth.allowed[doc_id]]})")
        else:
            observed[doc_id] = kind
    if not_top > 5:
        failures.append(f"… {not_top} documents in all were not the top hit of their own vector")

    # A prune is one transaction: a killed one deleted all of its ids or none.
    if truth.pending_prune:
        gone = {i for i in truth.pending_prune if i not in vectors}
        if gone and gone != truth.pending_prune:
            failures.append(f"a killed prune deleted {len(gone)} of its {len(truth.pending_prune)} ids")

    # A text document's vector is the embedding of its latest text (not of an earlier one).
    texts = [(doc_id, v.text) for doc_id, v in observed.items() if v.text is not None]
    if texts:
        lines = "".join(json.dumps({"text": t}) + "\n" for _, t in texts)
        embedded = [json.loads(line)["embedding"] for line in
                    quiver(cfg, "embed", "--model", cfg.model, stdin=lines.encode()).splitlines() if line]
        for (doc_id, text), embedding in zip(texts, embedded):
            stored = vectors[doc_id]
            dot = sum(a * b for a, b in zip(stored, embedding))
            norm = (sum(a * a for a in stored) * sum(b * b for b in embedding)) ** 0.5
            if norm == 0 or dot / norm < 0.9999:
                failures.append(f"{doc_id}: stored vector is not the embedding of its text (cosine {dot / norm if norm else 0:.5f})")
        if len(embedded) != len(texts):
            failures.append(f"quiver embed returned {len(embedded)} embeddings for {len(texts)} texts")
    if index_state and (index_state["pending"] != 0 or index_state["indexed_seq"] != index_state["store_seq"]):
        failures.append(f"index does not cover the store after catch-up: {index_state}")

    info = json.loads(quiver(cfg, "info", "--data", data, "--json"))
    collections = {c["name"]: c for c in info["collections"]}
    c = collections.get("c")
    if c is None:
        if vectors:
            failures.append("collection c missing from info")
    else:
        if c["documents"] != len(vectors):
            failures.append(f"info says {c['documents']} documents, export has {len(vectors)}")
        if c["index"]["pending"] != 0 or c["index"]["indexed_seq"] != c["index"]["store_seq"]:
            failures.append(f"info: index behind the store: {c['index']}")
        if c["dimensions"] != dims:
            failures.append(f"info: {c['dimensions']} dimensions")
    for folder, _, names in os.walk(os.path.join(data, "collections")):
        for name in names:
            if ".tmp-" in name:
                failures.append(f"temporary file left behind: {os.path.join(folder, name)}")

    # Collapse: what is stored now is durable.
    for doc_id in list(truth.allowed):
        if doc_id in observed:
            truth.allowed[doc_id] = {observed[doc_id]}
            truth.seen_live.add(doc_id)
        elif doc_id not in vectors:
            truth.allowed[doc_id] = {DELETED}
            truth.ever_deleted.add(doc_id)
    return failures


# ----- main ------------------------------------------------------------------------------------

def main():
    cfg = Config()
    if not os.access(cfg.quiver, os.X_OK):
        sys.exit(f"crash_loop: {cfg.quiver} is not built (swift build -c release --product quiver)")
    with open(os.path.join(cfg.model, "config.json")) as f:
        dims = json.load(f)["hidden_size"]
    work = cfg.work or tempfile.mkdtemp(prefix="quiver-crash-loop-")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data")
    rng = random.Random(cfg.seed)
    truth = Truth()
    runner = RUNNERS[env("RUNNER", "cli")]
    stats = {"iterations": 0, "kills": 0, "completed": 0, "acknowledged_lines": 0, "checks_failed": 0,
             "failures": [], "by_kind": {}, "seed": cfg.seed, "docs_target": cfg.docs, "dimensions": dims}
    durations = []
    started = time.monotonic()
    for iteration in range(cfg.iterations):
        kind = schedule(rng, iteration)
        lines, prune = WORKLOADS[kind](rng, cfg, truth, dims, iteration)
        path = os.path.join(work, f"run-{iteration}.jsonl")
        with open(path, "w") as f:
            f.write(jsonl(lines))
        typical = sorted(durations)[len(durations) // 2] if durations else 3.0
        kill_after = rng.uniform(cfg.kill_from, 1.1) * typical if rng.random() < cfg.kill_share else None
        result = runner(cfg, data, path, prune, kill_after)
        if not result.killed and result.status != 0:
            stats["failures"].append(f"iteration {iteration}: {kind} run failed with status {result.status}: {result.stderr[-500:]}")
        if result.completed:
            durations.append(result.seconds)
        apply_expectations(truth, lines, prune, result)
        stats["iterations"] += 1
        stats["kills"] += result.killed
        stats["completed"] += result.completed
        stats["acknowledged_lines"] += len(lines) if result.completed else result.acknowledged
        stats["by_kind"][kind] = stats["by_kind"].get(kind, 0) + 1
        try:
            failures = check(cfg, data, truth, dims)
        except CheckFailure as error:
            # The folder could not even be read: record it and stop (the model of what is stored
            # cannot be collapsed, so later checks would mean nothing).
            stats["checks_failed"] += 1
            stats["failures"].append(f"iteration {iteration} ({kind}): {error}")
            print(f"[{iteration + 1}/{cfg.iterations}] {kind}: check could not run: {error}", flush=True)
            break
        if failures:
            stats["checks_failed"] += 1
            stats["failures"] += [f"iteration {iteration} ({kind}, {'killed' if result.killed else 'finished'}): {m}" for m in failures]
        live = len(truth.live_ids())
        print(f"[{iteration + 1}/{cfg.iterations}] {kind:6} {len(lines):5} lines, "
              f"{'killed after %.2f s' % result.seconds if result.killed else 'finished in %.2f s' % result.seconds}, "
              f"acknowledged {len(lines) if result.completed else result.acknowledged}, live {live}, "
              f"{'FAILED: ' + failures[0] if failures else 'ok'}", flush=True)
        if not cfg.keep:
            os.remove(path)
    stats["seconds"] = round(time.monotonic() - started, 1)
    stats["live_at_end"] = len(truth.live_ids())
    stats["deleted_ids"] = len(truth.ever_deleted & truth.seen_live)
    stats["never_committed_ids"] = len(truth.ever_deleted - truth.seen_live)
    if not cfg.keep and not cfg.work:
        subprocess.run(["rm", "-rf", work])
    else:
        print(f"data kept in {work}", file=sys.stderr)
    for failure in stats["failures"][:50]:
        print("FAIL " + failure, file=sys.stderr)
    print(json.dumps(stats))
    sys.exit(1 if stats["failures"] else 0)


if __name__ == "__main__":
    main()
