#!/usr/bin/env python3
"""Build a deterministic corpus of real English prose for Quiver's benchmarks.

Sources (all offline, read from the running interpreter's installation, never imported):
  * docstrings of the Python standard library and of a fixed list of installed packages,
    read with `ast` from the .py files (no module is imported, so nothing runs, hangs or
    opens a window);
  * the "documentation" fields of botocore's service models (`botocore/data/<service>/
    <api-version>/service-2.json[.gz]`, latest API version of each service), HTML stripped.

Outputs (in --out, default /work/corpus):
  docs.jsonl       {"id","title","text"}  documents of 50..250 BERT tokens
  queries.jsonl    {"text"}               distinct short queries of 5..20 tokens
  sentences.jsonl  {"id","text"}          distinct sentences of 6..40 tokens (disjoint from queries)
  manifest.json    counts, token statistics, source versions, parameters

Token counts are measured with the model's own tokenizer (tokenizer.json, via the `tokenizers`
library) and include [CLS] and [SEP], i.e. they are the lengths the model sees.

Determinism: sources are walked in sorted order, texts are deduplicated keeping the first
occurrence, and the only randomness (choosing queries and sentences from the candidate pools)
uses a fixed seed. The same interpreter with the same installed package versions gives
byte-identical files.
"""
from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import html
import importlib.util
import json
import os
import random
import re
import statistics
import sys
import sysconfig
import time
import warnings
from pathlib import Path

DEFAULT_TOKENIZER = "/work/main/models/all-MiniLM-L6-v2/tokenizer.json"
DEFAULT_PACKAGES = [
    "boto3", "botocore", "huggingface_hub", "networkx", "numpy", "openai", "scipy",
    "sentence_transformers", "sklearn", "sympy", "tokenizers", "torch", "transformers",
]
# Standard-library top-level names left out: tests, GUI demos, and vendored/generated code.
STDLIB_SKIP = {
    "test", "tests", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "ensurepip",
    "site-packages", "dist-packages", "__pycache__", "pydoc_data", "encodings", "config-3.11",
}
PATH_SKIP_PARTS = {"test", "tests", "testing", "_vendor", "vendor", "__pycache__", "benchmarks"}

DOC_MIN, DOC_MAX = 50, 250
QUERY_MIN, QUERY_MAX = 5, 20
SENT_MIN, SENT_MAX = 6, 40


# ---------------------------------------------------------------------------------------------
# Text cleaning
# ---------------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_RST_UNDERLINE = re.compile(r"^\s*([-=~^*+#`'\"])\1{2,}\s*$")
_RST_ROLE = re.compile(r":[a-zA-Z_:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")
_BACKTICKS = re.compile(r"`{1,2}([^`]+)`{1,2}_?")
_DIRECTIVE = re.compile(r"^\s*\.\.\s")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_ABBREV_END = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|Mr|Dr|No|Fig|Eq|approx)\.)$", re.I)


def norm_ws(s: str) -> str:
    return _WS.sub(" ", s).strip()


def is_prose(p: str) -> bool:
    """A paragraph reads as English prose: mostly letters and spaces, several real words."""
    if len(p) < 20:
        return False
    words = p.split()
    if len(words) < 5:
        return False
    letters = sum(c.isalpha() or c.isspace() for c in p)
    if letters / len(p) < 0.82:
        return False
    alpha_words = sum(1 for w in words if w.strip(".,;:()\"'").isalpha())
    if alpha_words / len(words) < 0.7:
        return False
    return True


def clean_rst_inline(s: str) -> str:
    s = _RST_LINK.sub(r"\1", s)
    s = _RST_ROLE.sub(r"\1", s)
    s = _BACKTICKS.sub(r"\1", s)
    s = s.replace("**", "").replace("\\", "")
    return s


def docstring_paragraphs(doc: str) -> list[str]:
    """Split a cleaned docstring into prose paragraphs (doctests, directives and tables dropped)."""
    paras: list[str] = []
    cur: list[str] = []
    skipping_block = False

    def flush():
        if cur:
            p = norm_ws(clean_rst_inline(" ".join(cur)))
            if is_prose(p):
                paras.append(p)
            cur.clear()

    for line in doc.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
            skipping_block = False
            continue
        if skipping_block:
            continue
        if stripped.startswith((">>>", "...", "$ ", "|", "+--", "+==")) or _DIRECTIVE.match(line):
            flush()
            skipping_block = True  # the rest of this block is code, a table or a directive body
            continue
        if _RST_UNDERLINE.match(line):
            cur.clear()  # the line before was a section title; drop it
            continue
        if stripped.endswith("::"):
            cur.append(stripped[:-1])
            flush()
            skipping_block = True  # a literal block follows
            continue
        cur.append(stripped)
    flush()
    return paras


class _HTMLToParas:
    """Turns botocore's small HTML dialect into paragraphs: <p>, <li> and headings break them."""

    _TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9]+)[^>]*?>", re.S)
    _BREAKS = {"p", "li", "ul", "ol", "br", "h1", "h2", "h3", "h4", "h5", "note", "important",
               "dl", "dt", "dd", "div", "table", "tr", "td", "th", "pre"}
    _DROP = {"pre", "code_block", "examples", "example"}

    def paragraphs(self, text: str) -> list[str]:
        out: list[str] = []
        cur: list[str] = []
        pos = 0
        drop_depth = 0
        for m in self._TAG.finditer(text):
            if drop_depth == 0:
                cur.append(text[pos:m.start()])
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name in self._DROP:
                drop_depth = max(0, drop_depth - 1) if closing else drop_depth + 1
            if name in self._BREAKS:
                self._flush(cur, out)
            pos = m.end()
        if drop_depth == 0:
            cur.append(text[pos:])
        self._flush(cur, out)
        return out

    @staticmethod
    def _flush(cur: list[str], out: list[str]) -> None:
        if cur:
            p = norm_ws(html.unescape("".join(cur)))
            if is_prose(p):
                out.append(p)
            cur.clear()


def split_sentences(p: str) -> list[str]:
    parts = _SENT_SPLIT.split(p)
    out: list[str] = []
    for part in parts:
        if out and _ABBREV_END.search(out[-1]):
            out[-1] = out[-1] + " " + part  # "e.g. Foo" is not a sentence boundary
        else:
            out.append(part)
    return [s.strip() for s in out if s.strip()]


def is_sentence(s: str) -> bool:
    return (s[:1].isupper() and s.endswith((".", "?", "!")) and is_prose(s)
            and s.count("(") == s.count(")") and s.count('"') % 2 == 0)


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

class Unit:
    """One source text (a docstring or a documentation field) split into paragraphs."""
    __slots__ = ("key", "title", "paras")

    def __init__(self, key: str, title: str, paras: list[str]):
        self.key, self.title, self.paras = key, title, paras


def _py_files(root: Path, top_skip: set[str]) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        parts = rel.parts
        if parts and (parts[0] in top_skip or any(p in PATH_SKIP_PARTS for p in parts)):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.endswith(".py") or f.startswith("test_") or f.endswith("_test.py"):
                continue
            if not parts and f[:-3] in top_skip:
                continue
            files.append(Path(dirpath) / f)
    return sorted(files)


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def docstring_units(root: Path, top_skip: set[str], name_root: Path) -> list[Unit]:
    units: list[Unit] = []
    for path in _py_files(root, top_skip):
        try:
            src = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(src, filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        mod = _module_name(path, name_root)

        def visit(node, qual: str):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                paras = docstring_paragraphs(doc)
                if paras:
                    units.append(Unit(f"py:{qual}", qual, paras))
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(child, f"{qual}.{child.name}")

        visit(tree, mod)
    return units


def botocore_units(data_dir: Path) -> list[Unit]:
    conv = _HTMLToParas()
    units: list[Unit] = []
    for service_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        versions = sorted(p for p in service_dir.iterdir() if p.is_dir())
        model = None
        for v in reversed(versions):  # latest API version that has a service model
            for name in ("service-2.json", "service-2.json.gz"):
                f = v / name
                if f.exists():
                    raw = gzip.open(f, "rb").read() if name.endswith(".gz") else f.read_bytes()
                    model = json.loads(raw)
                    break
            if model is not None:
                break
        if model is None:
            continue
        svc = service_dir.name

        def add(key: str, title: str, doc):
            if isinstance(doc, str) and doc:
                paras = conv.paragraphs(doc)
                if paras:
                    units.append(Unit(f"aws:{svc}:{key}", title, paras))

        full = model.get("metadata", {}).get("serviceFullName", svc)
        add("", full, model.get("documentation"))
        for op in sorted(model.get("operations", {})):
            add(op, f"{svc} {op}", model["operations"][op].get("documentation"))
        shapes = model.get("shapes", {})
        for sh in sorted(shapes):
            shape = shapes[sh]
            add(sh, f"{svc} {sh}", shape.get("documentation"))
            for mem in sorted(shape.get("members", {}) or {}):
                add(f"{sh}.{mem}", f"{svc} {sh}.{mem}", shape["members"][mem].get("documentation"))
    return units


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # top-level lookup only: nothing is executed
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(sorted(spec.submodule_search_locations)[0])


def package_version(name: str) -> str | None:
    from importlib import metadata
    dist = {"sklearn": "scikit-learn", "huggingface_hub": "huggingface-hub",
            "sentence_transformers": "sentence-transformers"}.get(name, name)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

class TokenCounter:
    def __init__(self, path: str):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(path)
        self.tok.no_truncation()
        self.tok.no_padding()
        self.cache: dict[str, int] = {}

    def count(self, text: str) -> int:
        n = self.cache.get(text)
        if n is None:
            n = self.count_many([text])[0]
        return n

    def count_many(self, texts: list[str]) -> list[int]:
        todo = sorted({t for t in texts if t not in self.cache})
        step = 4096
        for i in range(0, len(todo), step):
            chunk = todo[i:i + step]
            for t, enc in zip(chunk, self.tok.encode_batch(chunk, add_special_tokens=True)):
                self.cache[t] = len(enc.ids)
        return [self.cache[t] for t in texts]


# ---------------------------------------------------------------------------------------------
# Building the outputs
# ---------------------------------------------------------------------------------------------

def pack_documents(units: list[Unit], tc: TokenCounter) -> list[dict]:
    """Pack each unit's paragraphs, in order, into documents of DOC_MIN..DOC_MAX tokens.

    A paragraph longer than DOC_MAX is split at sentence boundaries. Token counts of a joined
    text are re-measured exactly, so every emitted document is within bounds.
    """
    all_paras = [p for u in units for p in u.paras]
    tc.count_many(all_paras)
    docs: list[dict] = []
    seen: set[str] = set()
    for u in units:
        pieces: list[str] = []
        for p in u.paras:
            if tc.count(p) > DOC_MAX:
                pieces.extend(split_sentences(p))
            else:
                pieces.append(p)
        chunks: list[str] = []
        cur: list[str] = []
        cur_tokens = 0
        for piece in pieces:
            n = tc.count(piece) - 2  # without [CLS]/[SEP]
            if n + 2 > DOC_MAX:
                continue  # a single sentence longer than a document: not prose we want
            if cur and cur_tokens + n + 2 > DOC_MAX:
                chunks.append(" ".join(cur))
                cur, cur_tokens = [], 0
            cur.append(piece)
            cur_tokens += n
        if cur:
            chunks.append(" ".join(cur))
        counts = tc.count_many(chunks)
        k = 0
        for text, n in zip(chunks, counts):
            if DOC_MIN <= n <= DOC_MAX and text not in seen:
                seen.add(text)
                docs.append({"id": f"{u.key}#{k}", "title": u.title, "text": text})
                k += 1
    return docs


def sentence_pool(units: list[Unit]) -> list[str]:
    seen: set[str] = set()
    pool: list[str] = []
    for u in units:
        for p in u.paras:
            for s in split_sentences(p):
                if s not in seen and is_sentence(s):
                    seen.add(s)
                    pool.append(s)
    return pool


def stats(counts: list[int]) -> dict:
    if not counts:
        return {}
    s = sorted(counts)
    return {
        "count": len(s), "mean": round(statistics.fmean(s), 2), "median": statistics.median(s),
        "p90": s[min(len(s) - 1, int(0.9 * len(s)))], "min": s[0], "max": s[-1],
    }


def write_jsonl(path: Path, rows: list[dict]) -> str:
    tmp = path.with_suffix(path.suffix + ".tmp")
    h = hashlib.sha256()
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            line = json.dumps(r, ensure_ascii=False) + "\n"
            h.update(line.encode("utf-8"))
            f.write(line)
    os.replace(tmp, path)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/corpus", help="output folder (default /work/corpus)")
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="tokenizer.json of the model")
    ap.add_argument("--packages", default=",".join(DEFAULT_PACKAGES),
                    help="installed packages whose docstrings are read (missing ones are skipped)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--n-queries", type=int, default=25000)
    ap.add_argument("--n-sentences", type=int, default=64000)
    ap.add_argument("--max-docs", type=int, default=0, help="cap on documents (0 = all)")
    args = ap.parse_args()

    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tc = TokenCounter(args.tokenizer)

    sources: dict[str, str | None] = {"python": sys.version.split()[0]}
    units: list[Unit] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    units += docstring_units(stdlib, STDLIB_SKIP, stdlib)
    print(f"[corpus] stdlib: {len(units)} docstrings", file=sys.stderr)
    packages = sorted(p for p in args.packages.split(",") if p)
    boto_data = None
    for name in packages:
        d = package_dir(name)
        if d is None:
            print(f"[corpus] package {name}: not installed, skipped", file=sys.stderr)
            continue
        sources[name] = package_version(name)
        before = len(units)
        units += docstring_units(d, set(), d.parent)
        print(f"[corpus] {name} {sources[name]}: {len(units) - before} docstrings", file=sys.stderr)
        if name == "botocore" and (d / "data").is_dir():
            boto_data = d / "data"
    if boto_data is not None:
        before = len(units)
        units += botocore_units(boto_data)
        print(f"[corpus] botocore data: {len(units) - before} documentation fields", file=sys.stderr)

    # A qualified name can repeat (a function defined in both branches of an `if`, a property
    # and its setter): number the repeats so that every unit key, and so every id, is unique.
    seen_keys: dict[str, int] = {}
    for u in units:
        n = seen_keys.get(u.key, 0)
        seen_keys[u.key] = n + 1
        if n:
            u.key = f"{u.key}~{n + 1}"

    docs = pack_documents(units, tc)
    if args.max_docs and len(docs) > args.max_docs:
        rng = random.Random(args.seed)
        keep = sorted(rng.sample(range(len(docs)), args.max_docs))
        docs = [docs[i] for i in keep]
    doc_texts = {d["text"] for d in docs}
    ids = [d["id"] for d in docs]
    assert len(set(ids)) == len(ids), "document ids must be unique"

    pool = sentence_pool(units)
    counts = tc.count_many(pool)
    query_cands = [s for s, n in zip(pool, counts) if QUERY_MIN <= n <= QUERY_MAX and s not in doc_texts]
    rng = random.Random(args.seed)
    rng.shuffle(query_cands)
    queries = query_cands[:args.n_queries]
    qset = set(queries)
    sent_cands = [s for s, n in zip(pool, counts) if SENT_MIN <= n <= SENT_MAX and s not in qset]
    rng = random.Random(args.seed + 1)
    rng.shuffle(sent_cands)
    sentences = sent_cands[:args.n_sentences]

    doc_counts = tc.count_many([d["text"] for d in docs])
    q_counts = tc.count_many(queries)
    s_counts = tc.count_many(sentences)

    manifest = {
        "tokenizer": args.tokenizer, "token_counts_include_special_tokens": True,
        "seed": args.seed, "sources": sources,
        "botocore_data": str(boto_data) if boto_data else None,
        "units": len(units), "sentence_pool": len(pool),
        "query_candidates": len(query_cands), "sentence_candidates": len(sent_cands),
        "files": {},
    }
    for name, rows, cnt in (
        ("docs.jsonl", docs, doc_counts),
        ("queries.jsonl", [{"text": q} for q in queries], q_counts),
        ("sentences.jsonl", [{"id": f"s{i:06d}", "text": s} for i, s in enumerate(sentences)], s_counts),
    ):
        digest = write_jsonl(out / name, rows)
        manifest["files"][name] = {"sha256": digest, "tokens": stats(cnt)}
        by_source = {}
        if name == "docs.jsonl":
            for d in docs:
                k = "aws" if d["id"].startswith("aws:") else "python"
                by_source[k] = by_source.get(k, 0) + 1
            manifest["files"][name]["by_source"] = by_source
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({k: v["tokens"] for k, v in manifest["files"].items()}, indent=2))
    for what, have, want in (("documents", len(docs), 60000), ("queries", len(queries), 20000),
                             ("sentences", len(sentences), 60000)):
        if have < want:
            print(f"[corpus] warning: only {have} {what} (benchmarks expect >= {want})",
                  file=sys.stderr)
    print(f"[corpus] done in {time.time() - t0:.1f}s -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
