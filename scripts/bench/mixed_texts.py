#!/usr/bin/env python3
"""Real texts of mixed kinds from this machine's own files, for PrecisionCompare --extra.

  python3 scripts/bench/mixed_texts.py --out /work/corpus/mixed-texts.jsonl [--per-kind 400]

Kinds (each line {"kind", "text"}): `translation` (messages of Debian packages' gettext catalogs
in /usr/share/locale, many languages and scripts), `code` (runs of 5-40 lines of Python's standard
library source), `urls` (paragraphs of /usr/share/doc/*/copyright that contain a URL), `long`
(whole copyright files: past the model's 256 tokens, so truncated). Deterministic: files sorted,
every n-th item taken. Nothing here is written by the project: it only selects.
"""
import argparse
import gettext
import glob
import json
import os
import sys


def every(items, count):
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def translations(limit):
    texts = []
    for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo")):
        if "iso_" in os.path.basename(path):  # lists of names, not prose
            continue
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except Exception:
            continue
        for key, value in catalog.items():
            if isinstance(value, str) and len(value) >= 40 and value != key:
                texts.append(value.strip())
    return every(sorted(set(texts)), limit)


def code(limit):
    texts = []
    root = "/usr/lib/python3.11" if os.path.isdir("/usr/lib/python3.11") else sorted(glob.glob("/usr/lib/python3.*"))[-1]
    for path in sorted(glob.glob(root + "/*.py")):
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split("\n")
        for start in range(0, len(lines) - 40, 97):
            size = 5 + (start % 36)
            chunk = "\n".join(lines[start:start + size]).strip()
            if len(chunk) > 80:
                texts.append(chunk)
    return every(texts, limit)


def copyright_texts(limit):
    paragraphs, whole = [], []
    for path in sorted(glob.glob("/usr/share/doc/*/copyright")):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                content = handle.read()
        except OSError:
            continue
        if len(content) > 3000:
            whole.append(content[:20000])
        for paragraph in content.split("\n\n"):
            if "http" in paragraph and 60 <= len(paragraph) <= 2000:
                paragraphs.append(paragraph.strip())
    return every(sorted(set(paragraphs)), limit), every(whole, limit // 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-kind", type=int, default=400)
    args = parser.parse_args()
    urls, long = copyright_texts(args.per_kind)
    kinds = {"translation": translations(args.per_kind), "code": code(args.per_kind), "urls": urls, "long": long}
    with open(args.out, "w", encoding="utf-8") as out:
        for kind, texts in kinds.items():
            for text in texts:
                out.write(json.dumps({"kind": kind, "text": text}, ensure_ascii=False) + "\n")
    print(json.dumps({kind: len(texts) for kind, texts in kinds.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
