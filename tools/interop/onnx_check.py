"""ONNX export check with Python's `onnx` and `onnxruntime` (not part of the test suite).

Runs tools/interop/onnx-export.ts, which exports MultiheadAttention, a window-attention
TransformerEncoder, a TransformerDecoder, a Seq2SeqTransformer (encoder, decoder,
decoder-with-past and merged decoder graphs), a VisionTransformer, a CNN-stem hybrid (Conv, BatchNormalization,
MaxPool) and a SpanExtractor, each with plain, fused (com.microsoft.MultiHeadAttention) and
opset23 (the standard Attention operator, opset 23) attention, and the shipped summarizer
(models/summarize-debian) on tokenized text, together with qkv's outputs.
Then, for each file: onnx.checker.check_model (full_check: types and shapes inferred through the
graph; com.microsoft operators are outside the standard schemas and skipped by the checker), an
onnxruntime session whose outputs must equal qkv's within 1e-5 (equal infinities, the
SpanExtractor's padding scores, count as equal), and for the Seq2SeqTransformer
greedy decoding through the three graphs and through the encoder and decoder_model_merged, whose
tokens must equal qkv's greedySearch, and decoder_model_merged against the two decoders: with
use_cache_branch false and empty pasts (past length 0, as transformers.js feeds them) it must give
decoder_model's outputs, with true decoder_with_past_model's and the past encoder keys/values
passed through, within 1e-5; its size is printed beside decoder_model's.

Run from the repository root:
    python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx onnxruntime numpy
    /tmp/onnxvenv/bin/python tools/interop/onnx_check.py [case prefixes, e.g. vit hybrid span summarizer]
Exits non-zero on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-5
DTYPES = {"float32": np.float32, "int64": np.int64, "bool": np.bool_}


def arr(j):
    return np.array(j["data"], dtype=DTYPES[j["dtype"]]).reshape(j["dims"])


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def empty_pasts(s, batch):
    """past_key_values.* of a merged decoder's first step: empty, past length 0."""
    return {i.name: np.zeros((batch, i.shape[1], 0, i.shape[3]), dtype=np.float32) for i in s.get_inputs() if i.name.startswith("past_key_values.")}


def run(s, feeds):
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def greedy(d, g, merged=False):
    """Greedy tokens through encoder + decoder_model + decoder_with_past_model, or (merged) encoder + decoder_model_merged."""
    enc = session(os.path.join(d, "encoder_model.onnx"))
    if merged:
        m = session(os.path.join(d, "decoder_model_merged.onnx"))
    else:
        dec, past = (session(os.path.join(d, n)) for n in ("decoder_model.onnx", "decoder_with_past_model.onnx"))
    ids, mask = arr(g["input_ids"]), arr(g["attention_mask"])
    (memory,) = enc.run(None, {"input_ids": ids, "attention_mask": mask})
    B = ids.shape[0]
    tok = np.full((B, 1), g["bos"], dtype=np.int64)
    out, done, feeds = [[] for _ in range(B)], [False] * B, {}
    for t in range(g["maxLen"]):
        if merged:
            pasts = empty_pasts(m, B) if t == 0 else feeds
            r = run(m, {"input_ids": tok, "encoder_attention_mask": mask, "encoder_hidden_states": memory, **pasts, "use_cache_branch": np.array([t > 0])})
        elif t == 0:
            r = run(dec, {"input_ids": tok, "encoder_attention_mask": mask, "encoder_hidden_states": memory})
        else:
            r = run(past, {"input_ids": tok, "encoder_attention_mask": mask, **feeds})
        nxt = r["logits"][:, -1, :].argmax(-1)
        for b in range(B):
            if not done[b]:
                if nxt[b] == g["eos"]:
                    done[b] = True
                else:
                    out[b].append(int(nxt[b]))
        new = {}
        for i in range(g["layers"]):
            for w in ("key", "value"):
                new[f"past_key_values.{i}.decoder.{w}"] = r[f"present.{i}.decoder.{w}"]
                new[f"past_key_values.{i}.encoder.{w}"] = r[f"present.{i}.encoder.{w}"] if t == 0 else feeds[f"past_key_values.{i}.encoder.{w}"]
        feeds = new
        tok = nxt.reshape(B, 1).astype(np.int64)
        if all(done):
            break
    return out


def max_diff(got, want):
    return float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")


def merged_check(d, g):
    """decoder_model_merged against decoder_model (use_cache_branch false, empty pasts) and
    decoder_with_past_model (true): the largest |diff| over each step's outputs, and whether the
    with-past branch returns the past encoder keys/values unchanged."""
    enc, dec, past, m = (session(os.path.join(d, n)) for n in ("encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"))
    ids, mask = arr(g["input_ids"]), arr(g["attention_mask"])
    (memory,) = enc.run(None, {"input_ids": ids, "attention_mask": mask})
    B = ids.shape[0]
    first = {"input_ids": np.tile(np.array([[g["bos"], 7, 9]], dtype=np.int64), (B, 1)), "encoder_attention_mask": mask, "encoder_hidden_states": memory}
    r0 = run(dec, first)
    m0 = run(m, {**first, **empty_pasts(m, B), "use_cache_branch": np.array([False])})
    d0 = max(max_diff(m0[k], v) for k, v in r0.items())
    pasts = {k.replace("present.", "past_key_values."): v for k, v in r0.items() if k.startswith("present.")}
    later = {"input_ids": np.tile(np.array([[11, 13]], dtype=np.int64), (B, 1)), "encoder_attention_mask": mask, **pasts}
    r1 = run(past, later)
    m1 = run(m, {**later, "encoder_hidden_states": memory, "use_cache_branch": np.array([True])})
    d1 = max(max_diff(m1[k], v) for k, v in r1.items())
    through = all(np.array_equal(m1[k], r0[k]) for k in r0 if ".encoder." in k)
    return d0, d1, through


def count_nodes(g):
    """Nodes of a graph and of its subgraphs (an If's branches)."""
    return len(g.node) + sum(count_nodes(a.g) for n in g.node for a in n.attribute if a.type == onnx.AttributeProto.GRAPH)


def main():
    failed = 0
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npx", "tsx", "tools/interop/onnx-export.ts", tmp], check=True, stdout=subprocess.DEVNULL)
        only = sys.argv[1:]
        for io_name in sorted(f for f in os.listdir(tmp) if f.endswith(".io.json")):
            case = io_name[: -len(".io.json")]
            if only and not any(case.startswith(p) for p in only):
                continue
            with open(os.path.join(tmp, io_name)) as f:
                io = json.load(f)
            d = os.path.join(tmp, case)
            for name in io["files"]:
                path = os.path.join(d, name)
                m = onnx.load(path)
                try:
                    onnx.checker.check_model(m, full_check=True)
                    verdict = "checker ok"
                except Exception as e:  # noqa: BLE001 - report and go on
                    verdict = f"checker FAILED: {str(e).splitlines()[0]}"
                    failed += 1
                opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in m.opset_import)
                inner = count_nodes(m.graph) - len(m.graph.node)
                nodes = f"{len(m.graph.node)} nodes" + (f", {inner} in its If branches" if inner else "")
                print(f"{case}/{name}: {verdict} (opsets: {opsets}; {nodes})")
            for run in io["runs"]:
                s = session(os.path.join(d, run["file"]))
                outs = s.run(list(run["expected"]), {k: arr(v) for k, v in run["feeds"].items()})
                for (k, want), got in zip(run["expected"].items(), outs):
                    w = arr(want)
                    with np.errstate(invalid="ignore"):  # -inf - -inf at padding: equal, counted as 0
                        diff = float(np.max(np.where(got == w, 0, np.abs(got - w)))) if got.shape == w.shape else float("inf")
                    ok = diff <= TOL
                    failed += 0 if ok else 1
                    print(f"  {run['file']} {k}: max |diff| vs qkv {diff:.2e} {'ok' if ok else 'MISMATCH'}")
            if "greedy" in io:
                want = io["greedy"]["tokens"]
                for merged, through in ((False, "the three graphs"), (True, "encoder + decoder_model_merged")):
                    got = greedy(d, io["greedy"], merged)
                    ok = got == want
                    failed += 0 if ok else 1
                    print(f"  greedy through {through}: {got} {'== qkv greedySearch' if ok else '!= qkv ' + str(want)}")
            if "decoder_model_merged.onnx" in io["files"]:
                d0, d1, passed_through = merged_check(d, io["greedy"])
                ok = d0 <= TOL and d1 <= TOL and passed_through
                failed += 0 if ok else 1
                size = {n: os.path.getsize(os.path.join(d, n)) for n in ("decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx")}
                print(f"  decoder_model_merged: use_cache_branch false vs decoder_model max |diff| {d0:.2e}, true vs decoder_with_past_model {d1:.2e}, "
                      f"encoder keys/values passed through: {passed_through} {'ok' if ok else 'MISMATCH'}")
                print(f"  sizes: decoder_model {size['decoder_model.onnx']} bytes, decoder_with_past_model {size['decoder_with_past_model.onnx']}, "
                      f"decoder_model_merged {size['decoder_model_merged.onnx']}")
    print("all checks passed" if failed == 0 else f"{failed} checks FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
