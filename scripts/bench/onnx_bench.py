#!/usr/bin/env python3
"""ONNX Runtime side of Quiver's encoder benchmark: fp32 and dynamic-int8 all-MiniLM-L6-v2.

A peer for st_bench.py, measured the same way so the two JSON objects can sit side by side:
the same flags, the same document and query selection (st_bench's own functions), the same
batching (texts sorted by descending character length, as SentenceTransformer.encode does, padded
to the longest text of each batch, truncated at the folder's max_seq_length), the same warm-up,
best and median of --repeats runs per batch size, and every query encoded alone, one call each.

Models (built once, kept in --cache, default /tmp/quiver-onnx; never inside the repo):
  * fp32: the Hugging Face BertModel (AutoModel, eager attention) exported with the TorchScript
    exporter, torch.onnx.export(dynamo=False), opset --opset (17); inputs input_ids,
    attention_mask, token_type_ids with dynamic batch and sequence axes; output last_hidden_state;
  * int8: onnxruntime.quantization.quantize_dynamic of that file: int8 weights (QInt8), per
    channel, no reduce_range, default operator types; activations are quantized at run time.
  Sessions: CPUExecutionProvider, intra_op_num_threads = --threads, inter_op_num_threads = 1,
  ORT_ENABLE_ALL. Mean pooling over the attention mask and L2 normalization are done in numpy;
  tokenization (HF fast tokenizer of the model folder) is inside the timed region, as in ST.

Correctness: the first --check-docs selected documents (batch 32) and every selected query (alone)
are compared with SentenceTransformer(folder, device='cpu'); min and mean cosine per variant.

Usage (prints one JSON object; variants run one after another, in the order given):
  /work/venv/bin/python scripts/bench/onnx_bench.py --docs /work/corpus/bench-docs-800.jsonl \\
      --queries /work/corpus/bench-queries-200.jsonl --n-docs 800 --n-queries 200 \\
      --batch-sizes 16,32,64 --threads 2 --repeats 2 --variants fp32,int8 > onnx.json

Needs onnx besides onnxruntime and torch (scripts/bench/requirements.txt). As with st_bench.py,
run it without nice on a quiet machine; the load average before and after is recorded.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_bench import (DEFAULT_MODEL, cpu_model, loadavg, parse_range, percentile,  # noqa: E402
                      read_jsonl, select_every_kth, token_lengths)

VARIANTS = ("fp32", "int8")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
QUANT = {"weight_type": "QInt8", "per_channel": True, "reduce_range": False}


# ---------------------------------------------------------------------------------------------
# Building the ONNX files


def weights_digest(model_dir: str) -> str:
    """Short sha256 over the config and the weights, so a changed model gets fresh ONNX files."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = os.path.join(model_dir, name)
        if not os.path.exists(path):
            continue
        h.update(name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def export_fp32(model_dir: str, tokenizer, path: str, opset: int) -> dict:
    """Export the bare encoder (token embeddings out, pooling left to numpy) to `path`."""
    import torch
    from transformers import AutoModel

    # Eager attention: the SDPA path builds its mask with data-dependent Python branches that
    # the tracer would freeze for the example batch.
    bert = AutoModel.from_pretrained(model_dir, local_files_only=True,
                                     attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        """Keyword call with a plain tensor out: BertModel's positional order is not stable."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids, return_dict=True).last_hidden_state

    # Two texts of different length, so the traced graph applies a real padding mask.
    example = tokenizer(["a short example", "a somewhat longer example sentence for tracing"],
                        padding=True, return_tensors="pt")
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, "last_hidden_state")}
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, torch.inference_mode():
        warnings.simplefilter("always")
        torch.onnx.export(Encoder(bert).eval(), tuple(example[n] for n in INPUT_NAMES), tmp,
                          input_names=list(INPUT_NAMES), output_names=["last_hidden_state"],
                          dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True,
                          dynamo=False)
    seconds = time.perf_counter() - t0
    import onnx
    onnx.checker.check_model(tmp)
    os.replace(tmp, path)
    seen: list[str] = []
    for w in caught:
        line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if line not in seen:
            seen.append(line)
    return {"seconds": round(seconds, 2), "warnings": seen}


def quantize_int8(fp32_path: str, path: str) -> dict:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path + ".tmp.onnx"
    t0 = time.perf_counter()
    quantize_dynamic(fp32_path, tmp, weight_type=getattr(QuantType, QUANT["weight_type"]),
                     per_channel=QUANT["per_channel"], reduce_range=QUANT["reduce_range"])
    seconds = time.perf_counter() - t0
    os.replace(tmp, path)
    return {"seconds": round(seconds, 2)}


def op_counts(path: str) -> dict[str, int]:
    import onnx
    counts: dict[str, int] = {}
    for node in onnx.load(path, load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def build_models(args, tokenizer, wanted: list[str]) -> tuple[dict, dict]:
    """Return ({variant: path}, build info); reuses files already in the cache."""
    model_dir = os.path.abspath(args.model)
    folder = os.path.join(os.path.abspath(args.cache),
                          f"{os.path.basename(model_dir.rstrip('/'))}-{weights_digest(model_dir)}")
    os.makedirs(folder, exist_ok=True)
    fp32 = os.path.join(folder, f"encoder-opset{args.opset}-fp32.onnx")
    int8 = os.path.join(folder, f"encoder-opset{args.opset}-int8-dynamic-qint8-perchannel.onnx")
    meta_path = os.path.join(folder, f"encoder-opset{args.opset}.json")
    meta = {}
    if os.path.exists(meta_path) and not args.rebuild:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)

    import torch
    built = []
    if args.rebuild or not os.path.exists(fp32):
        print(f"exporting {fp32}", file=sys.stderr)
        meta = {"torch": torch.__version__,
                "fp32": export_fp32(model_dir, tokenizer, fp32, args.opset)}
        built.append("fp32")
        if os.path.exists(int8):
            os.remove(int8)  # derived from the previous fp32 file
    if "int8" in wanted and not os.path.exists(int8):
        print(f"quantizing {int8}", file=sys.stderr)
        meta["int8"] = quantize_int8(fp32, int8)
        built.append("int8")
    with open(meta_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    os.replace(meta_path + ".tmp", meta_path)

    info = {
        "cache": folder,
        "built_this_run": built,
        "export": {
            "exporter": "torch.onnx.export, TorchScript-based (dynamo=False)",
            "torch": meta.get("torch"), "opset": args.opset, "attn_implementation": "eager",
            "inputs": list(INPUT_NAMES), "output": "last_hidden_state",
            "dynamic_axes": "batch, sequence", "seconds": meta.get("fp32", {}).get("seconds"),
            "warnings": meta.get("fp32", {}).get("warnings", []),
        },
        "quantization": {
            "method": "onnxruntime.quantization.quantize_dynamic",
            **QUANT,
            "activations": "QUInt8, dynamic per tensor (DynamicQuantizeLinear at run time)",
            "op_types_to_quantize": "default (all supported)",
            "pre_processing": "none (quantized straight from the exported graph)",
            "seconds": meta.get("int8", {}).get("seconds"),
        },
    }
    return {"fp32": fp32, "int8": int8}, info


# ---------------------------------------------------------------------------------------------
# Encoding


class OnnxEncoder:
    def __init__(self, path: str, tokenizer, max_length: int, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(path, sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.feeds = [i.name for i in self.session.get_inputs()]
        self.tokenizer = tokenizer
        self.max_length = max_length

    def _batch(self, texts: list[str]):
        import numpy as np

        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="np")
        hidden = self.session.run(None, {n: enc[n].astype(np.int64) for n in self.feeds})[0]
        mask = enc["attention_mask"].astype(np.float32)[:, :, None]
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def encode(self, texts: list[str], batch_size: int):
        """Like SentenceTransformer.encode: longest texts first, results in input order."""
        import numpy as np

        order = np.argsort([-len(t) for t in texts])
        out = None
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            emb = self._batch([texts[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        return out


def cosine_summary(a, b) -> dict:
    import numpy as np

    cos = np.sum(a.astype(np.float64) * b.astype(np.float64), axis=1)
    return {"n": int(len(cos)), "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())}


def latency_summary(lat_ms: list[float]) -> dict:
    s = sorted(lat_ms)
    return {"median": round(statistics.median(lat_ms), 3), "p90": round(percentile(s, 90), 3),
            "p99": round(percentile(s, 99), 3), "mean": round(statistics.fmean(lat_ms), 3),
            "min": round(s[0], 3), "max": round(s[-1], 3)}


def run_variant(enc: OnnxEncoder, doc_texts, doc_lens, q_texts, batch_sizes, repeats) -> dict:
    import numpy as np

    enc.encode(doc_texts[:96], 32)  # warm-up, as st_bench
    for q in q_texts[:20]:
        enc.encode([q], 1)

    throughput = {}
    reference = None
    for b in batch_sizes:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            emb = enc.encode(doc_texts, b)
            runs.append(time.perf_counter() - t0)
        if reference is None:
            reference = emb
        best = min(runs)
        throughput[str(b)] = {
            "docs_per_s": round(len(doc_texts) / best, 2),
            "docs_per_s_median": round(len(doc_texts) / statistics.median(runs), 2),
            "docs_per_s_all": [round(len(doc_texts) / r, 2) for r in runs],
            "tokens_per_s": round(sum(doc_lens) / best, 1),
            "seconds": [round(r, 3) for r in runs],
            "min_cosine_vs_first_batch_size": float(np.min(np.sum(emb * reference, axis=1))),
        }

    lat_ms = []
    for q in q_texts:
        t0 = time.perf_counter()
        enc.encode([q], 1)
        lat_ms.append((time.perf_counter() - t0) * 1000)
    return {"throughput": throughput, "query_latency_ms": latency_summary(lat_ms)}


# ---------------------------------------------------------------------------------------------


def max_seq_length(model_dir: str) -> int:
    """sentence_bert_config.json's max_seq_length, capped by the position embeddings (as ST)."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        limit = json.load(f).get("max_position_embeddings", 512)
    try:
        with open(os.path.join(model_dir, "sentence_bert_config.json"), encoding="utf-8") as f:
            return min(int(json.load(f)["max_seq_length"]), limit)
    except (OSError, KeyError):
        return limit


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", required=True, help="JSONL with a 'text' field per line")
    ap.add_argument("--queries", required=True, help="JSONL with a 'text' field per line")
    ap.add_argument("--n-docs", type=int, default=800)
    ap.add_argument("--n-queries", type=int, default=200)
    ap.add_argument("--doc-tokens", type=parse_range, default=(50, 250), metavar="LO..HI")
    ap.add_argument("--query-tokens", type=parse_range, default=(5, 20), metavar="LO..HI")
    ap.add_argument("--batch-sizes", default="16,32,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per batch size (best wins)")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--variants", default="fp32,int8", help="comma-separated, of: fp32, int8")
    ap.add_argument("--cache", default="/tmp/quiver-onnx", metavar="DIR",
                    help="where the .onnx files are written and reused (keep it outside the repo)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--rebuild", action="store_true", help="export and quantize again")
    ap.add_argument("--check-docs", type=int, default=200,
                    help="documents compared with sentence-transformers (0: skip the check)")
    args = ap.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    variants = [v for v in args.variants.split(",") if v]
    if not variants or any(v not in VARIANTS for v in variants):
        ap.error(f"--variants takes a comma-separated subset of {','.join(VARIANTS)}")

    import numpy as np
    import onnx
    import onnxruntime
    import torch
    import transformers
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)  # export and the sentence-transformers reference
    model_dir = os.path.abspath(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, use_fast=True)
    max_length = max_seq_length(model_dir)

    doc_rows = read_jsonl(args.docs)
    q_rows = read_jsonl(args.queries)
    docs, doc_lens, doc_eligible = select_every_kth(
        doc_rows, token_lengths(tokenizer, [r["text"] for r in doc_rows]),
        *args.doc_tokens, args.n_docs, "documents")
    queries, q_lens, q_eligible = select_every_kth(
        q_rows, token_lengths(tokenizer, [r["text"] for r in q_rows]),
        *args.query_tokens, args.n_queries, "queries")
    doc_texts = [r["text"] for r in docs]
    q_texts = [r["text"] for r in queries]

    paths, build = build_models(args, tokenizer, variants)

    # Reference vectors first, then the torch model is dropped before anything is timed.
    check_docs = doc_texts[:args.check_docs]
    st_docs = st_queries = None
    if check_docs:
        import sentence_transformers
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
        with torch.inference_mode():
            st_docs = st.encode(check_docs, batch_size=32, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            st_queries = st.encode(q_texts, batch_size=32, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        st_version = sentence_transformers.__version__
        del st
        gc.collect()
    else:
        st_version = None

    results = {}
    load_before = loadavg()
    for name in variants:
        enc = OnnxEncoder(paths[name], tokenizer, max_length, args.threads)
        entry = {"file": paths[name],
                 "file_mb": round(os.path.getsize(paths[name]) / 1e6, 1),
                 "loadavg_before": loadavg()}
        if st_docs is not None:
            entry["vs_sentence_transformers"] = {
                "docs": cosine_summary(enc.encode(check_docs, 32), st_docs),
                "queries_one_at_a_time": cosine_summary(
                    np.vstack([enc.encode([q], 1) for q in q_texts]), st_queries),
            }
        entry.update(run_variant(enc, doc_texts, doc_lens, q_texts, batch_sizes, args.repeats))
        entry["loadavg_after"] = loadavg()
        entry["op_counts"] = op_counts(paths[name])
        results[name] = entry
        del enc
        gc.collect()
    load_after = loadavg()

    result = {
        "peer": "onnxruntime",
        "model": model_dir,
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
                     "torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": st_version, "numpy": np.__version__,
                     "python": platform.python_version()},
        "threads": args.threads,
        "cpu": cpu_model(),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "docs": {"file": os.path.abspath(args.docs), "n": len(doc_texts), "eligible": doc_eligible,
                 "token_range": list(args.doc_tokens),
                 "mean_tokens": round(statistics.fmean(doc_lens), 2),
                 "median_tokens": statistics.median(doc_lens), "total_tokens": sum(doc_lens)},
        "queries": {"file": os.path.abspath(args.queries), "n": len(q_texts),
                    "eligible": q_eligible, "token_range": list(args.query_tokens),
                    "mean_tokens": round(statistics.fmean(q_lens), 2)},
        "repeats": args.repeats,
        "max_seq_length": max_length,
        "session": {"provider": "CPUExecutionProvider", "intra_op_num_threads": args.threads,
                    "inter_op_num_threads": 1, "execution_mode": "ORT_SEQUENTIAL",
                    "graph_optimization_level": "ORT_ENABLE_ALL"},
        "pipeline": "HF fast tokenizer (padding to the batch's longest, truncation at "
                    "max_seq_length) -> ONNX encoder -> numpy mean pooling over the attention "
                    "mask -> L2 normalization; texts sorted by descending character length",
        "check": {"reference": "SentenceTransformer(model, device='cpu').encode(batch_size=32, "
                               "normalize_embeddings=True)",
                  "docs": f"first {len(check_docs)} selected documents, ONNX batch size 32",
                  "queries": "every selected query, ONNX one query per call"},
        **build,
        "variants": results,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
