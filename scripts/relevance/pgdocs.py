#!/usr/bin/env python3
"""A judged set of long documents from the PostgreSQL 15 manual, queried far past each page's start.

    apt-get install -y postgresql-doc-15
    nice -n 10 python3 scripts/relevance/pgdocs.py                   # -> /work/relevance/pgdocs
    python3 scripts/relevance/pgdocs.py --queries 400 --seed 20240601 --out DIR

Meant to compare chunked embedding with embedding only the first ~256 word pieces of a document:
every query comes from text that starts at or after character 2,000 of its document.

Documents: every page of Debian's HTML manual (/usr/share/doc/postgresql-doc-15/html/*.html), all
of them (short pages are distractors). Id = file name (`sql-select.html`); title = the page's
<title> (a ` - PostgreSQL ... Documentation` suffix would be removed; this build has none). The
text is the <body> converted with html.parser: <head>, <script>, <style> and the navigation
(`div.navheader`, `div.navfooter`, and `div.toc`, the generated tables of contents, which would
otherwise repeat every section heading of a chapter on its parent page) are dropped. Headings are
paragraphs of their own; paragraphs are separated by blank lines; list items, definition terms and
table rows (cells joined by " | ") are single lines, consecutive ones of the same list or table
separated by one newline; <pre> blocks are kept verbatim; elsewhere runs of whitespace collapse to
one space. Texts are cut at 60,000 characters on a paragraph boundary.

Queries: the long pages (text of at least 2,000 characters) are shuffled with --seed and taken in
that order, one query per page, until --queries are found. For a page, the candidates are its h2/h3/h4
headings that start at or after character 2,000 with the section number removed ("5.4.1. Check
Constraints" -> "Check Constraints"); a heading is kept if it has at least 3 words, no other heading
of the manual (any page, any level, or any page's <title>) is the same case-insensitively, and it
passes the two text checks below; one of the kept headings is picked at random (`"kind":
"heading"`). Only if none is kept: sentences of 8-30 words from paragraphs (not <pre>, list
items, terms or table rows) starting at or after character 2,000, starting with a capital letter or
digit and ending in . ! or ?, are tried in random order and the first one that passes the text
checks is the query, verbatim (`"kind": "sentence"`). Text checks (whitespace-normalized,
case-insensitive): the query text must not occur in any other document, nor in the first 2,000
characters of its own document. Pages without any candidate, or whose candidates all fail, give no
query. Every rejection is counted per reason in the manifest.

Writes docs.jsonl (`{"id", "title", "text"}`), queries.jsonl (`{"text", "relevant": [id], "offset",
"kind"}`, offset = character offset of the query's source text in the document text) and
manifest.json (counts, skips per reason, parameters, seed, sha256, package version, run time).
Deterministic for a given --seed and manual. Standard library only.
"""
import argparse
import bisect
import collections
import html.parser
import json
import os
import random
import re
import statistics
import subprocess
import time

from manpages import write_jsonl  # the sibling script (its directory is on sys.path)

HTML_DIR = "/usr/share/doc/postgresql-doc-15/html"
PACKAGE = "postgresql-doc-15"
MIN_LONG_CHARS = 2000      # a page is long from here; queries start at or after this offset
MAX_DOC_CHARS = 60000
MIN_HEADING_WORDS = 3
SENTENCE_WORDS = (8, 30)
QUERY_HEADING_TAGS = ("h2", "h3", "h4")

SKIP_TAGS = {"script", "style", "object"}
SKIP_DIV_CLASSES = {"navheader", "navfooter", "toc"}
VOID_TAGS = {"br", "hr", "img", "meta", "link", "col", "input", "area", "base", "wbr", "param", "source"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
LINE_TAGS = {"li", "dt"}            # one line each; <p>/<div> inside do not break the line
LIST_TAGS = {"ul", "ol", "dl"}
CELL_TAGS = {"td", "th"}
BLOCK_TAGS = HEADINGS | LINE_TAGS | LIST_TAGS | CELL_TAGS | {
    "p", "div", "dd", "pre", "table", "thead", "tbody", "tfoot", "tr", "blockquote", "hr",
    "caption", "address", "body", "center", "section", "figure", "figcaption"}
TITLE_SUFFIX = re.compile(r"\s+[-\u2013\u2014]\s+PostgreSQL\b.*\bDocumentation\s*$")
SECTION_NUMBER = re.compile(r"^(?:(?:Chapter|Appendix|Part)\s+[A-Z0-9]+\.|[A-Z]?\d+(?:\.\d+)*\.|[A-Z](?:\.\d+)+\.)\s+")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")
ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|esp|incl|resp|Dr|Mr|Mrs|Ms|No|Vol|al)\.|\b[A-Z]\.)$")
SENTENCE_START = re.compile(r"^[A-Z0-9]")
SENTENCE_END = re.compile(r"[.!?]$")


def collapse(text):
    return " ".join(text.split())


def normalized(text):
    return collapse(text).casefold()


class PageParser(html.parser.HTMLParser):
    """Blocks of one page: dicts with `kind` (heading, para, line, row, pre), `text`, `tag` and
    `group` (the list or table a line or row belongs to, else None)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.blocks = []
        self.stack = []          # open tags
        self.skip_depth = None   # stack depth of the element being skipped, if any
        self.in_title = False
        self.buffer = []
        self.pre_depth = 0
        self.line_depth = 0      # open li/dt elements
        self.groups = []         # open lists/tables: group ids
        self.next_group = 0
        self.heading = None      # open heading tag
        self.row = None          # cells of the open table row
        self.cell = None         # text pieces of the open cell

    # -- output
    def emit(self, kind, text, tag=None, group=None):
        if text:
            self.blocks.append({"kind": kind, "text": text, "tag": tag, "group": group})

    def flush(self):
        """Emit the buffered inline text as a block of the innermost open context."""
        text = collapse("".join(self.buffer))
        self.buffer = []
        if not text:
            return
        if self.heading:
            self.emit("heading", text, self.heading)
        elif self.line_depth:
            self.emit("line", text, group=self.groups[-1] if self.groups else None)
        else:
            self.emit("para", text)

    # -- parser callbacks
    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            self.handle_startendtag(tag, attrs)
            return
        self.stack.append(tag)
        if self.skip_depth is not None:
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in SKIP_TAGS or (tag == "div" and classes & SKIP_DIV_CLASSES):
            self.skip_depth = len(self.stack)
            return
        if tag == "title":
            self.in_title = True
            return
        self.block_boundary(tag, start=True)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        if tag not in self.stack:
            return                       # stray end tag
        while self.stack:
            open_tag = self.stack.pop()
            depth = len(self.stack) + 1
            if self.skip_depth is not None:
                if depth == self.skip_depth:
                    self.skip_depth = None
            elif open_tag == "title":
                self.in_title = False
            elif open_tag != "head":
                self.block_boundary(open_tag, start=False)
            if open_tag == tag:
                break

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.handle_data("\n" if self.pre_depth else " ")

    def handle_data(self, data):
        if self.skip_depth is not None:
            return
        if self.in_title:
            self.title += data
        elif "head" in self.stack:   # only the <title> is kept from <head>
            return
        elif self.cell is not None:
            self.cell.append(data)
        else:
            self.buffer.append(data)

    # -- structure
    def block_boundary(self, tag, start):
        if tag not in BLOCK_TAGS:
            return
        if self.cell is not None and tag not in CELL_TAGS | {"tr", "table"}:
            if tag == "pre":
                self.pre_depth += 1 if start else -1
            self.cell.append(" ")            # anything inside a cell stays inline
            return
        if self.pre_depth and tag != "pre":
            return
        if tag == "pre":
            if start:
                self.flush()
                self.pre_depth += 1
            else:
                self.pre_depth -= 1
                if not self.pre_depth:
                    text = "".join(self.buffer)
                    self.buffer = []
                    lines = [line.rstrip() for line in text.split("\n")]
                    while lines and not lines[0]:
                        lines.pop(0)
                    while lines and not lines[-1]:
                        lines.pop()
                    self.emit("pre", "\n".join(lines))
            return
        if tag in ("p", "div") and self.line_depth:
            self.buffer.append(" ")
            return
        self.flush()
        if tag in HEADINGS:
            self.heading = tag if start else None
        elif tag in LINE_TAGS:
            self.line_depth += 1 if start else -1
        elif tag in LIST_TAGS or tag == "table":
            if start:
                self.groups.append(self.next_group)
                self.next_group += 1
            elif self.groups:
                self.groups.pop()
        elif tag == "tr":
            if start:
                self.row = []
            else:
                if self.row and any(self.row):
                    self.emit("row", " | ".join(self.row), group=self.groups[-1] if self.groups else None)
                self.row = None
        elif tag in CELL_TAGS:
            if start:
                self.cell = []
            else:
                if self.row is not None:
                    self.row.append(collapse("".join(self.cell)))
                self.cell = None


def layout(blocks, limit=MAX_DOC_CHARS):
    """(text, offsets, cut): blocks joined (one newline between consecutive lines/rows of the same
    list/table, else a blank line), with each block's offset, cut before the first block that would
    end past `limit` characters. A first block longer than the limit is cut at a line break."""
    parts, offsets, position = [], [], 0
    previous = None
    for block in blocks:
        if previous is None:
            separator = ""
        elif (block["kind"] in ("line", "row") and previous["kind"] == block["kind"]
              and block["group"] is not None and block["group"] == previous["group"]):
            separator = "\n"
        else:
            separator = "\n\n"
        start = position + len(separator)
        if start + len(block["text"]) > limit:
            if not parts:
                cut = block["text"].rfind("\n", 0, limit + 1)
                parts.append(block["text"][:cut if cut > 0 else limit])
                offsets.append(0)
            return "".join(parts), offsets, True
        parts.append(separator + block["text"])
        offsets.append(start)
        position = start + len(block["text"])
        previous = block
    return "".join(parts), offsets, False


def parse_page(path):
    parser = PageParser()
    with open(path, encoding="utf-8", errors="replace") as f:
        parser.feed(f.read())
    parser.close()
    parser.flush()
    title = collapse(parser.title)
    title = TITLE_SUFFIX.sub("", title) or title
    text, offsets, cut = layout(parser.blocks)
    blocks = [dict(block, offset=offset) for block, offset in zip(parser.blocks, offsets)]
    return {"id": os.path.basename(path), "title": title, "text": text, "cut": cut,
            "blocks": blocks, "all_blocks": parser.blocks}


def heading_query(text):
    return SECTION_NUMBER.sub("", text, count=1).strip()


def sentences(paragraph):
    """(start, sentence) pairs of a collapsed paragraph; no break after common abbreviations."""
    pieces, start = [], 0
    for match in SENTENCE_BREAK.finditer(paragraph):
        piece = paragraph[start:match.start()]
        if ABBREVIATION.search(piece):
            continue
        pieces.append((start, piece))
        start = match.end()
    pieces.append((start, paragraph[start:]))
    return pieces


class Corpus:
    """Whitespace-normalized, case-folded document texts, for 'occurs in another document' checks."""

    def __init__(self, docs):
        self.ids, self.starts, texts, position = [], [], [], 0
        for doc in docs:
            self.ids.append(doc["id"])
            self.starts.append(position)
            texts.append(normalized(doc["text"]))
            position += len(texts[-1]) + 1
        self.text = "\x00".join(texts)

    def in_other_document(self, query, own_id):
        needle = normalized(query)
        at = self.text.find(needle)
        while at >= 0:
            if self.ids[bisect.bisect_right(self.starts, at) - 1] != own_id:
                return True
            at = self.text.find(needle, at + 1)
        return False


def pick_query(page, heading_pages, title_pages, corpus, rng, skipped):
    """The query of one long page as a dict, or None; rejections are counted in `skipped`."""
    prefix = normalized(page["text"][:MIN_LONG_CHARS])

    def text_checks(query, kind):
        if normalized(query) in prefix:
            skipped[f"{kind}_in_own_first_{MIN_LONG_CHARS}"] += 1
            return False
        if corpus.in_other_document(query, page["id"]):
            skipped[f"{kind}_in_other_document"] += 1
            return False
        return True

    headings = []
    for block in page["blocks"]:
        if block["kind"] != "heading" or block["tag"] not in QUERY_HEADING_TAGS or block["offset"] < MIN_LONG_CHARS:
            continue
        query = heading_query(block["text"])
        key = normalized(query)
        if len(query.split()) < MIN_HEADING_WORDS:
            skipped["heading_under_3_words"] += 1
        elif heading_pages[key] > 1 or title_pages[key] - (key in page["own_titles"]) > 0:
            skipped["heading_not_unique"] += 1
        elif text_checks(query, "heading"):
            offset = block["offset"] + block["text"].index(query)
            headings.append({"text": query, "relevant": [page["id"]], "offset": offset, "kind": "heading"})
    if headings:
        return rng.choice(headings)

    candidates = []
    for block in page["blocks"]:
        if block["kind"] != "para" or block["offset"] < MIN_LONG_CHARS:
            continue
        for start, sentence in sentences(block["text"]):
            words = len(sentence.split())
            if (SENTENCE_WORDS[0] <= words <= SENTENCE_WORDS[1] and SENTENCE_START.match(sentence)
                    and SENTENCE_END.search(sentence)):
                candidates.append((block["offset"] + start, sentence))
    if not candidates:
        skipped["page_without_candidates"] += 1
        return None
    rng.shuffle(candidates)
    for offset, sentence in candidates:
        if text_checks(sentence, "sentence"):
            return {"text": sentence, "relevant": [page["id"]], "offset": offset, "kind": "sentence"}
    skipped["page_all_candidates_rejected"] += 1
    return None


def package_version(name):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.strip() or None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--html-dir", default=HTML_DIR)
    parser.add_argument("--out", default="/work/relevance/pgdocs")
    parser.add_argument("--queries", type=int, default=400, help="queries (one per long page, at most)")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    started = time.time()

    names = sorted(name for name in os.listdir(args.html_dir) if name.endswith(".html"))
    pages = [parse_page(os.path.join(args.html_dir, name)) for name in names]

    # Heading uniqueness over the whole manual (uncut pages): in how many pages, and how many times
    # in total, each section-number-stripped heading occurs; and which pages have it as <title>.
    heading_pages = collections.Counter()
    title_pages = collections.Counter()
    for page in pages:
        for block in page["all_blocks"]:
            if block["kind"] == "heading":
                heading_pages[normalized(heading_query(block["text"]))] += 1
        page["own_titles"] = {normalized(heading_query(page["title"]))}
        title_pages[normalized(heading_query(page["title"]))] += 1

    corpus = Corpus(pages)
    skipped = collections.Counter()
    long_ids = sorted(page["id"] for page in pages if len(page["text"]) >= MIN_LONG_CHARS)
    by_id = {page["id"]: page for page in pages}
    order = list(long_ids)
    random.Random(args.seed).shuffle(order)
    queries, pages_tried = [], 0
    for page_id in order:
        if len(queries) >= args.queries:
            break
        pages_tried += 1
        query = pick_query(by_id[page_id], heading_pages, title_pages, corpus,
                           random.Random(f"{args.seed}/{page_id}"), skipped)
        if query:
            queries.append(query)
    queries.sort(key=lambda q: (q["relevant"][0], q["offset"]))
    for query in queries:   # the offsets point at the query text (whitespace aside)
        text = by_id[query["relevant"][0]]["text"]
        assert normalized(text[query["offset"]:query["offset"] + len(query["text"]) + 200]).startswith(
            normalized(query["text"])), query

    docs = [{"id": page["id"], "title": page["title"], "text": page["text"]} for page in pages]
    os.makedirs(args.out, exist_ok=True)
    lengths = sorted(len(doc["text"]) for doc in docs)
    long_lengths = sorted(len(by_id[i]["text"]) for i in long_ids)
    offsets = sorted(query["offset"] for query in queries)
    kinds = collections.Counter(query["kind"] for query in queries)
    manifest = {
        "source": args.html_dir,
        "package": {PACKAGE: package_version(PACKAGE)},
        "parameters": {"queries": args.queries, "seed": args.seed, "min_long_chars": MIN_LONG_CHARS,
                       "min_query_offset": MIN_LONG_CHARS, "max_doc_chars": MAX_DOC_CHARS,
                       "min_heading_words": MIN_HEADING_WORDS, "sentence_words": list(SENTENCE_WORDS),
                       "query_heading_tags": list(QUERY_HEADING_TAGS),
                       "dropped_div_classes": sorted(SKIP_DIV_CLASSES)},
        "pages": len(pages),
        "long_pages": len(long_ids),
        "long_pages_tried": pages_tried,
        "docs": len(docs),
        "docs_cut": sum(page["cut"] for page in pages),
        "queries": len(queries),
        "queries_by_kind": dict(sorted(kinds.items())),
        "skipped": dict(sorted(skipped.items())),
        "doc_chars": {"min": lengths[0], "median": statistics.median(lengths),
                      "mean": round(statistics.mean(lengths), 1), "max": lengths[-1], "total": sum(lengths)},
        "long_doc_chars": {"median": statistics.median(long_lengths),
                           "mean": round(statistics.mean(long_lengths), 1)} if long_lengths else {},
        "query_offset": {"min": offsets[0], "median": statistics.median(offsets), "max": offsets[-1]} if offsets else {},
        "sha256": {"docs.jsonl": write_jsonl(os.path.join(args.out, "docs.jsonl"), docs),
                   "queries.jsonl": write_jsonl(os.path.join(args.out, "queries.jsonl"), queries)},
        "seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")

    print(f"pages {len(pages)} (long {len(long_ids)}, cut {manifest['docs_cut']}), queries {len(queries)} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) from {pages_tried} long pages "
          f"-> {args.out} ({manifest['seconds']} s)")
    if len(queries) < args.queries:
        print(f"fewer queries than --queries {args.queries}: the long pages ran out")
    print("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
    print(f"doc chars: median {manifest['doc_chars']['median']}, mean {manifest['doc_chars']['mean']}; "
          f"long docs: median {manifest['long_doc_chars'].get('median')}, mean {manifest['long_doc_chars'].get('mean')}")


if __name__ == "__main__":
    main()
