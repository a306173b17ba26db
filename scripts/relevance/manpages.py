#!/usr/bin/env python3
"""A judged retrieval set from the English manual pages installed on this machine (sections 1 and 8).

    nice -n 10 python3 scripts/relevance/manpages.py                 # -> /work/relevance/manpages
    python3 scripts/relevance/manpages.py --docs 3000 --queries 600 --seed 20240601 --out DIR

Every page of /usr/share/man/man1 and /usr/share/man/man8 (not the localized folders) is rendered to
plain text with groff (man macros or mdoc, tbl, 100 columns, no hyphenation, left-adjusted, no
bold/underline/colour). The NAME section `name1, name2 - description` gives the query (the
description) and the title (the names); the document is the rest of the page: the NAME section
(heading and content) and the running header and footer lines are removed.

Skipped: symlinks, `.so` redirect pages, pages that fail or time out (10 s) in groff, pages without a
parsable NAME section, descriptions of fewer than 3 words, descriptions shared (case-insensitively)
by two or more pages (all of them are skipped: the answer would be ambiguous), documents shorter
than 200 characters, and (unless --keep-description-in-body) documents whose remaining text still
contains the description verbatim (whitespace and case aside), e.g. a DESCRIPTION section opening
with the same sentence. Documents are cut to 20,000 characters at a paragraph boundary.

Selection is deterministic: the eligible pages sorted by id, a seeded random sample of --docs
documents, and a seeded random sample of --queries of those documents whose descriptions become the
queries (one relevant document each); the other documents are distractors. --exclude-prefix drops
pages whose file name starts with a prefix before anything else (e.g. `gcloud`: the Google Cloud
SDK's ~16,600 generated pages are most of man1 on this machine).

Writes docs.jsonl (`{"id", "title", "text"}`), queries.jsonl (`{"text", "relevant": [id]}`) and
manifest.json (counts, skips per reason, parameters, sha256, package versions). Standard library only.
"""
import argparse
import collections
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import re
import subprocess
import time

MAN_DIRS = ("/usr/share/man/man1", "/usr/share/man/man8")
GROFF = ["groff", "-mandoc", "-Tutf8", "-rLL=100n", "-rHY=0", "-rcR=1",
         "-P-c", "-P-b", "-P-u"]
TIMEOUT = 10
MIN_WORDS = 3
MIN_DOC_CHARS = 200
MAX_DOC_CHARS = 20000
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
OVERSTRIKE = re.compile(r".\x08")
NON_ASCII = re.compile(r"[^\x00-\x7f]")
HYPHENATED = re.compile(r"(\w)\u2010\n[ \t]*(?=\w)")  # mdoc and some man pages hyphenate anyway
DASH = re.compile(r"\s+(?:--?|\u2014|\u2013)\s+")


def read_source(path):
    """The page's roff source as text (UTF-8, else Latin-1), without NUL bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\x00", "")


def is_redirect(source):
    """True when the first request of the page (comments and blank lines aside) is `.so`."""
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped in (".", "'") or re.match(r"^['.]\s*\\\"", stripped):
            continue
        return bool(re.match(r"^\.\s*so\s", stripped))
    return False


def render(source):
    """Plain text of the page, or None if groff fails or times out.

    Non-ASCII characters are passed as groff escapes (what preconv does) and tbl/eqn run only for
    pages with tables/equations, which saves two processes per page."""
    options = []
    if re.search(r"^\.\s*TS", source, re.M):
        options.append("-t")
    if re.search(r"^\.\s*EQ", source, re.M):
        options.append("-e")
    escaped = NON_ASCII.sub(lambda c: "\\[u%04X]" % ord(c.group()), source)
    try:
        done = subprocess.run(GROFF + options, input=(".ad l\n" + escaped).encode("ascii"),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    text = done.stdout.decode("utf-8", errors="replace").replace("\x00", "")
    text = OVERSTRIKE.sub("", ANSI.sub("", text))
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return HYPHENATED.sub(r"\1", text)


def join_wrapped(lines):
    """Join wrapped lines into one; a line ending in a hyphen glued to a word joins without a space."""
    out = ""
    for line in (line.strip() for line in lines):
        if not out:
            out = line
        elif re.search(r"\w[-\u2010]$", out):
            out += line
        else:
            out += " " + line
    return re.sub(r"\s+", " ", out).strip()


def split_page(text):
    """(title, description, document) of a rendered page, or a skip reason as a string.

    The running header and the blank lines under it are all that precede the NAME heading, and with
    continuous rendering (-rcR=1) the running footer is the page's last non-blank line, after a
    blank one: the document is what lies between the end of the NAME section and the footer."""
    lines = text.split("\n")
    heading = next((i for i, line in enumerate(lines) if line.strip() == "NAME" and not line[0].isspace()), None)
    if heading is None:
        return "no_name_section"
    end = heading + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace()):
        end += 1
    parts = DASH.split(join_wrapped(lines[heading + 1:end]), maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return "no_description"
    body = lines[end:]
    nonblank = [i for i, line in enumerate(body) if line.strip()]
    if len(nonblank) >= 2 and nonblank[-2] < nonblank[-1] - 1:
        body = body[:nonblank[-1]]
    document = re.sub(r"\n{3,}", "\n\n", "\n".join(body)).strip("\n")
    return parts[0].strip(), parts[1].strip(), document


def parse_page(path):
    """Read, render and split one page: a dict with `id` and either `skip` (a reason) or `title`,
    `description` and `text`."""
    page_id = os.path.basename(path)[:-3] if path.endswith(".gz") else os.path.basename(path)
    try:
        source = read_source(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return {"id": page_id, "skip": "unreadable"}
    if is_redirect(source):
        return {"id": page_id, "skip": "so_redirect"}
    text = render(source)
    if text is None:
        return {"id": page_id, "skip": "render_failed"}
    split = split_page(text)
    if isinstance(split, str):
        return {"id": page_id, "skip": split}
    title, description, document = split
    return {"id": page_id, "title": title, "description": description, "text": document}


def cap(text, limit=MAX_DOC_CHARS):
    """At most `limit` characters, cut at the last paragraph break (else line break) before it."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n\n", 0, limit + 1)
    if cut < limit // 2:
        cut = text.rfind("\n", 0, limit + 1)
    if cut < limit // 2:
        cut = limit
    return text[:cut].rstrip()


def normalized(text):
    return re.sub(r"\s+", " ", text).strip().casefold()


def package_versions(names):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *names],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def list_pages(exclude_prefix, skipped):
    """Regular files of the man directories, sorted; symlinks and excluded names are counted."""
    paths = []
    for directory in MAN_DIRS:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                skipped["symlink"] += 1
            elif not os.path.isfile(path):
                continue
            elif any(name.startswith(prefix) for prefix in exclude_prefix):
                skipped["excluded_prefix"] += 1
            else:
                paths.append(path)
    return paths


def eligible_pages(pages, keep_description_in_body, skipped):
    """{id: page} of the pages that pass every filter; the others are counted by reason."""
    parsed = []
    for page in pages:
        if "skip" in page:
            skipped[page["skip"]] += 1
        elif len(page["description"].split()) < MIN_WORDS:
            skipped["short_description"] += 1
        else:
            parsed.append(dict(page, text=cap(page["text"]), capped=len(page["text"]) > MAX_DOC_CHARS))
    descriptions = collections.Counter(normalized(page["description"]) for page in parsed)
    eligible = {}
    for page in parsed:
        if descriptions[normalized(page["description"])] > 1:
            skipped["duplicate_description"] += 1
        elif len(page["text"]) < MIN_DOC_CHARS:
            skipped["short_document"] += 1
        elif not keep_description_in_body and normalized(page["description"]) in normalized(page["text"]):
            skipped["description_in_body"] += 1
        elif page["id"] in eligible:
            skipped["duplicate_id"] += 1
        else:
            eligible[page["id"]] = page
    return eligible


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default="/work/relevance/manpages")
    parser.add_argument("--docs", type=int, default=3000, help="documents in the corpus (at most the eligible pages)")
    parser.add_argument("--queries", type=int, default=600, help="queries (each on one corpus document)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--exclude-prefix", action="append", default=[], metavar="PREFIX",
                        help="drop pages whose file name starts with PREFIX (repeatable)")
    parser.add_argument("--keep-description-in-body", action="store_true",
                        help="keep pages whose body repeats the description verbatim (skipped by default)")
    args = parser.parse_args()
    started = time.time()

    skipped = collections.Counter()
    paths = list_pages(args.exclude_prefix, skipped)
    seen = len(paths) + sum(skipped.values())
    with multiprocessing.Pool(args.workers) as pool:
        pages = list(pool.imap(parse_page, paths, chunksize=16))
    eligible = eligible_pages(pages, args.keep_description_in_body, skipped)

    ids = sorted(eligible)
    chosen = sorted(random.Random(args.seed).sample(ids, min(args.docs, len(ids))))
    queried = sorted(random.Random(args.seed + 1).sample(chosen, min(args.queries, len(chosen))))
    docs = [{"id": i, "title": eligible[i]["title"], "text": eligible[i]["text"]} for i in chosen]
    queries = [{"text": eligible[i]["description"], "relevant": [i]} for i in queried]

    os.makedirs(args.out, exist_ok=True)
    lengths = sorted(len(d["text"]) for d in docs)
    prefixes = collections.Counter(re.split(r"[-_.]", i, maxsplit=1)[0] for i in chosen)
    manifest = {
        "source": list(MAN_DIRS),
        "renderer": " ".join(GROFF) + " (+ -t / -e for pages with .TS / .EQ; input prefixed with `.ad l`, "
                    "non-ASCII as \\[uXXXX])",
        "parameters": {"docs": args.docs, "queries": args.queries, "seed": args.seed,
                       "exclude_prefix": args.exclude_prefix,
                       "keep_description_in_body": args.keep_description_in_body, "timeout_s": TIMEOUT,
                       "min_description_words": MIN_WORDS, "min_doc_chars": MIN_DOC_CHARS,
                       "max_doc_chars": MAX_DOC_CHARS},
        "pages_seen": seen,
        "skipped": dict(sorted(skipped.items())),
        "eligible": len(ids),
        "docs": len(docs),
        "queries": len(queries),
        "docs_capped": sum(eligible[i]["capped"] for i in chosen),
        "doc_chars": {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1],
                      "total": sum(lengths)} if docs else {},
        "top_id_prefixes": dict(prefixes.most_common(10)),
        "sha256": {"docs.jsonl": write_jsonl(os.path.join(args.out, "docs.jsonl"), docs),
                   "queries.jsonl": write_jsonl(os.path.join(args.out, "queries.jsonl"), queries)},
        "packages": package_versions(["man-db", "groff-base", "coreutils"]),
        "seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")

    print(f"pages seen {seen}, eligible {len(ids)}, docs {len(docs)}, queries {len(queries)} "
          f"-> {args.out} ({manifest['seconds']} s)")
    if len(ids) < args.docs:
        print(f"fewer eligible pages than --docs {args.docs}: all {len(ids)} are documents")
    print("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    print("documents by id prefix: " + ", ".join(f"{k} {v}" for k, v in prefixes.most_common(6)))


if __name__ == "__main__":
    main()
