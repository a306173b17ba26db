#!/usr/bin/env python3
"""Writes the replay corpus of the loader fuzz tests: Tests/EmbedderTests/Fixtures/fuzz/.

Deterministic (no randomness): run it again and `git diff` shows nothing. Each file is one input
that sits on an edge of a format or once broke a loader. Naming (checked by LoaderFuzzReplayTests):
  reject-*  must fail with an EmbedderError naming the file
  accept-*  must load (and then work: every tensor reads, every id stays in the vocabulary)
  other     must only not trap
Add a new file here (not by hand) when the fuzz tests find something, so the corpus stays explained.
"""
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EmbedderTests", "Fixtures", "fuzz")


def write(folder, name, data):
    path = os.path.join(ROOT, folder)
    os.makedirs(path, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


# --- safetensors ---------------------------------------------------------------------------------
def st(header, data=b"", declared=None, raw_json=None):
    js = raw_json if raw_json is not None else json.dumps(header, separators=(",", ":")).encode()
    length = len(js) if declared is None else declared
    return struct.pack("<Q", length & 0xFFFFFFFFFFFFFFFF) + js + data


def e(dtype, shape, offsets):
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets}


DATA = bytes(range(48))
VALID = {"__metadata__": {"format": "pt"}, "a": e("F32", [2, 3], [0, 24]), "b": e("F32", [4], [24, 40]),
         "c": e("BF16", [4], [40, 48])}
S = {
    "accept-valid.safetensors": st(VALID, DATA),
    "accept-empty-header.safetensors": st({}, b""),
    "accept-metadata-only.safetensors": st({"__metadata__": {"k": "v"}}, b""),
    "accept-unknown-dtype.safetensors": st({"a": e("F33", [3], [0, 12])}, DATA[:12]),
    "accept-empty-tensors-share-an-offset.safetensors": st({"a": e("F32", [0], [8, 8]), "b": e("F32", [0, 4], [8, 8]),
                                                            "c": e("F32", [2], [0, 8])}, DATA[:8]),
    "accept-gap-between-tensors.safetensors": st({"a": e("F32", [1], [0, 4]), "b": e("F32", [1], [12, 16])}, DATA[:16]),
    "reject-empty.safetensors": b"",
    "reject-seven-bytes.safetensors": b"\x02\x00\x00\x00\x00\x00\x00",
    "reject-length-u64-max.safetensors": st({}, b"", declared=2**64 - 1),
    "reject-length-negative.safetensors": st({}, b"", declared=-8),
    "reject-length-int64-max.safetensors": st({}, b"", declared=2**63 - 1),
    "reject-length-past-end.safetensors": st(VALID, b"", declared=len(json.dumps(VALID, separators=(",", ":"))) + 1),
    "reject-length-zero.safetensors": st(VALID, DATA, declared=0),
    "reject-offsets-outside.safetensors": st({"a": e("F32", [4], [40, 56])}, DATA),
    "reject-offsets-reversed.safetensors": st({"a": e("F32", [1], [8, 4])}, DATA),
    "reject-offsets-negative.safetensors": st({"a": e("F32", [1], [-4, 0])}, DATA),
    "reject-offsets-huge.safetensors": st({"a": e("F32", [1], [0, 10**20])}, DATA),
    "reject-offsets-three.safetensors": st({"a": e("F32", [1], [0, 4, 8])}, DATA),
    "reject-offsets-strings.safetensors": st({"a": e("F32", [1], ["0", "4"])}, DATA),
    "reject-overlap.safetensors": st({"a": e("F32", [4], [0, 16]), "b": e("F32", [4], [8, 24])}, DATA),
    "reject-overlap-identical.safetensors": st({"a": e("F32", [2], [0, 8]), "b": e("F32", [2], [0, 8])}, DATA),
    "reject-overlap-contained.safetensors": st({"a": e("F32", [12], [0, 48]), "b": e("F32", [1], [20, 24])}, DATA),
    "reject-shape-mismatch.safetensors": st({"a": e("F32", [3, 3], [0, 24])}, DATA),
    "reject-shape-overflow.safetensors": st({"a": e("F32", [2**32, 2**32, 2**32], [0, 0])}, DATA),
    # Found by libFuzzer (Fuzz/FuzzSafeTensors): an unknown dtype skipped the shape check, and
    # SafeTensorsFile.floats trapped multiplying the shape out.
    "reject-unknown-dtype-shape-overflow.safetensors": st({"a": e("F33", [2**32, 2**32, 2**32], [0, 0])}, DATA[:7]),
    "reject-shape-overflow-bytes.safetensors": st({"a": e("F64", [2**61], [0, 8])}, DATA),
    "reject-shape-negative.safetensors": st({"a": e("F32", [-1, -4], [0, 16])}, DATA),
    "reject-shape-fraction.safetensors": st({"a": e("F32", [1.5], [0, 4])}, DATA),
    "reject-shape-nested.safetensors": st({"a": e("F32", [[1], [1]], [0, 4])}, DATA),
    "reject-dtype-size-mismatch.safetensors": st({"a": e("F64", [3], [0, 12])}, DATA),
    "reject-dtype-number.safetensors": st({"a": e(32, [3], [0, 12])}, DATA),
    "reject-dtype-missing.safetensors": st({"a": {"shape": [3], "data_offsets": [0, 12]}}, DATA),
    "reject-entry-not-object.safetensors": st({"a": 5}, DATA),
    "reject-top-level-array.safetensors": st(None, DATA, raw_json=b"[1,2,3]"),
    "reject-top-level-string.safetensors": st(None, DATA, raw_json=b'"tensors"'),
    "reject-json-truncated.safetensors": st(None, DATA, raw_json=json.dumps(VALID).encode()[:-3]),
    "reject-json-trailing-garbage.safetensors": st(None, DATA, raw_json=json.dumps(VALID).encode() + b"}}"),
    "reject-json-nul.safetensors": st(None, DATA, raw_json=b'{"a\x00":' + json.dumps(e("F32", [1], [0, 4])).encode() + b"}"),
    "reject-json-invalid-utf8.safetensors": st(None, DATA, raw_json=b'{"\xff\xfe":' + json.dumps(e("F32", [1], [0, 4])).encode() + b"}"),
    "reject-json-deep-arrays.safetensors": st(None, DATA, raw_json=b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "reject-json-deep-objects.safetensors": st(None, DATA, raw_json=b'{"a":' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}"),
    "reject-json-deep-unclosed.safetensors": st(None, DATA, raw_json=b"[" * 10000),
}
for name, data in S.items():
    write("safetensors", name, data)

# --- tokenizer.json ------------------------------------------------------------------------------
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", ",", "!", "a", "b", "##lo", "hel"]


def tokenizer(vocab=None, added=None, model=None, normalizer=None, **extra):
    vocab_map = {t: i for i, t in enumerate(VOCAB)} if vocab is None else vocab
    root = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added if added is not None else [
            {"id": i, "content": VOCAB[i], "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i in range(5)],
        "normalizer": None if normalizer == "none" else normalizer if normalizer is not None else
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing", "single": [
            {"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]},
        "model": dict({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                       "max_input_chars_per_word": 100, "vocab": vocab_map}, **(model or {})),
    }
    root.update(extra)
    return json.dumps(root, ensure_ascii=False)


def specials(*more):
    base = [{"id": i, "content": VOCAB[i], "normalized": False, "special": True} for i in range(5)]
    return base + list(more)


T = {
    "accept-valid.json": tokenizer(),
    "accept-vocab-as-list.json": tokenizer(vocab=VOCAB),
    "accept-empty-prefix.json": tokenizer(model={"continuing_subword_prefix": ""}),
    "accept-added-token-empty-content.json": tokenizer(added=specials({"id": 3, "content": "", "normalized": False})),
    "accept-added-token-huge-id.json": tokenizer(added=specials({"id": 2147483647, "content": "neg", "normalized": False})),
    "accept-no-normalizer.json": tokenizer(normalizer="none"),
    "accept-max-chars-one.json": tokenizer(model={"max_input_chars_per_word": 1}),
    "accept-duplicate-ids.json": tokenizer(vocab=dict({t: i for i, t in enumerate(VOCAB)}, **{"zz": 5, "yy": 5})),
    "reject-added-token-negative-id.json": tokenizer(added=specials({"id": -1, "content": "neg", "normalized": False})),
    "reject-added-cls-negative-id.json": tokenizer(vocab={t: i for i, t in enumerate(VOCAB) if t != "[CLS]"},
                                                   added=[{"id": -7, "content": "[CLS]", "normalized": False}]),
    "reject-vocab-negative-id.json": tokenizer(vocab=dict({t: i for i, t in enumerate(VOCAB)}, **{"neg": -3})),
    "reject-vocab-id-too-large.json": tokenizer(vocab=dict({t: i for i, t in enumerate(VOCAB)}, **{"big": 2**40})),
    "reject-vocab-id-fraction.json": tokenizer(vocab=dict({t: i for i, t in enumerate(VOCAB)}, **{"half": 0.5})),
    "reject-vocab-string.json": tokenizer(vocab="hello"),
    "reject-vocab-missing-unk.json": tokenizer(vocab={t: i for i, t in enumerate(VOCAB) if t != "[UNK]"},
                                               added=[{"id": 2, "content": "[CLS]"}, {"id": 3, "content": "[SEP]"}]),
    "reject-model-bpe.json": tokenizer(model={"type": "BPE"}),
    "reject-model-missing.json": json.dumps({"version": "1.0"}),
    "reject-normalizer-lowercase.json": tokenizer(normalizer={"type": "Lowercase"}),
    "reject-pre-tokenizer-whitespace.json": tokenizer(pre_tokenizer={"type": "Whitespace"}),
    "reject-max-chars-zero.json": tokenizer(model={"max_input_chars_per_word": 0}),
    "reject-max-chars-negative.json": tokenizer(model={"max_input_chars_per_word": -100}),
    "reject-added-token-without-id.json": tokenizer(added=specials({"content": "x"})),
    "reject-top-level-array.json": "[1, 2, 3]",
    "reject-empty.json": "",
    "reject-truncated.json": tokenizer()[:200],
    "reject-deep-nesting.json": '{"model":' + "[" * 5000 + "]" * 5000 + "}",
    "reject-invalid-utf8.json": b'{"model": {"type": "WordPiece", "vocab": {"\xff": 0}}}',
    "edge-unk-empty-string.json": tokenizer(vocab=dict({t: i for i, t in enumerate(VOCAB)}, **{"": 14}), model={"unk_token": ""}),
    "edge-prefix-is-unk.json": tokenizer(model={"continuing_subword_prefix": "[UNK]"}),
}
for name, data in T.items():
    write("tokenizer", name, data)

# --- config.json ---------------------------------------------------------------------------------
CONFIG = {"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
          "intermediate_size": 16, "max_position_embeddings": 16, "vocab_size": 12, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu"}


def config(**changes):
    c = dict(CONFIG)
    for k, v in changes.items():
        if v is KeyError:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c)


C = {
    "accept-valid.json": config(),
    "accept-extra-keys.json": config(architectures=["BertModel"], torch_dtype="float32", id2label={"0": "a"}),
    "accept-defaults.json": config(model_type=KeyError, hidden_act=KeyError, layer_norm_eps=KeyError, type_vocab_size=KeyError),
    "reject-hidden-size-string.json": config(hidden_size="eight"),
    "reject-hidden-size-fraction.json": config(hidden_size=8.5),
    "reject-hidden-size-huge.json": config(hidden_size=10**20),
    "reject-hidden-size-zero.json": config(hidden_size=0),
    "reject-heads-not-dividing.json": config(num_attention_heads=3),
    "reject-layers-negative.json": config(num_hidden_layers=-1),
    "reject-vocab-size-missing.json": config(vocab_size=KeyError),
    "reject-vocab-size-null.json": config(vocab_size=None),
    "reject-max-positions-one.json": config(max_position_embeddings=1),
    "reject-eps-zero.json": config(layer_norm_eps=0),
    "reject-eps-string.json": config(layer_norm_eps="1e-12"),
    "reject-model-type-gpt2.json": config(model_type="gpt2"),
    "reject-model-type-number.json": config(model_type=7),
    "reject-activation-relu.json": config(hidden_act="relu"),
    "reject-relative-positions.json": config(position_embedding_type="relative_key"),
    "reject-top-level-array.json": "[" + config() + "]",
    "reject-empty.json": "",
    "reject-truncated.json": config()[:40],
    "reject-deep-nesting.json": '{"hidden_size":' + "[" * 5000 + "]" * 5000 + "}",
    "reject-nul.json": config().replace('"bert"', '"be\\u0000rt"'),
}
for name, data in C.items():
    write("config", name, data)

# --- tokenizer input -----------------------------------------------------------------------------
X = {
    "long-word-20000.txt": "a" * 20000,
    "word-100-101-chars.txt": "x" * 100 + " " + "y" * 101 + " " + "é" * 100 + " " + "e\u0301" * 100,
    "marks-only.txt": "\u0301" * 5000,
    "specials-tangled.txt": "[CLS][SEP][UNK][[CLS]][SEP[SEP]]][MASK[PAD][cls] [Cls]" * 50,
    "zero-width-and-bidi.txt": "a\u200bb\u200cc\u200dd\u2060e\ufeff\u202eevil\u202c\u2066x\u2069" * 100,
    "controls-and-nul.txt": "".join(chr(c) for c in range(0, 32)) * 50 + "\x7f\x85\xa0",
    "cjk-run.txt": "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(5000)),
    "emoji-zwj.txt": "👩‍👩‍👧‍👦🏳️‍🌈🇫🇷👍🏽" * 100,
    "private-use-and-noncharacters.txt": "\ue000\uf8ff\U000f0000\U0010fffd\ufdd0\ufffe\uffff" * 200,
    "unassigned-and-new-scalars.txt": "\U0001fae8\U00031350\u0870\U0001e030" * 300,
    "hangul-jamo-compose.txt": "\u1100\u1161\u11a8" * 1000,
    "many-short-words.txt": "a b, c! " * 3000,
}
for name, data in X.items():
    write("text", name, data)
B = {  # raw bytes: invalid UTF-8 (repaired to U+FFFD by String(decoding:))
    "invalid-utf8-sequences.bin.txt": b"\xc0\xaf\xe0\x80\xaf\xed\xa0\x80\xed\xbf\xbf\xf4\x90\x80\x80\xf8\x88\x80\x80\x80\xfe\xff" * 200,
    "truncated-sequences.bin.txt": b"a\xe2\x82 b\xf0\x9f\x98 c\xc3" * 500,
    "lone-continuations.bin.txt": bytes(range(0x80, 0xC0)) * 100,
}
for name, data in B.items():
    write("text", name, data)
print(f"wrote {len(S)} safetensors, {len(T)} tokenizer, {len(C)} config and {len(X) + len(B)} text inputs to {os.path.normpath(ROOT)}",
      file=sys.stderr)
