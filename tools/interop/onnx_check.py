"""ONNX export check with Python's `onnx` and `onnxruntime` (not part of the test suite).

Runs tools/interop/onnx-export.ts, which exports MultiheadAttention, a window-attention
TransformerEncoder, a TransformerDecoder, a Seq2SeqTransformer (encoder, decoder,
decoder-with-past graphs), a VisionTransformer, a CNN-stem hybrid (Conv, BatchNormalization,
MaxPool) and a SpanExtractor, each with plain, fused (com.microsoft.MultiHeadAttention) and
opset23 (the standard Attention operator, opset 23) attention, and the shipped summarizer
(models/summarize-debian) on tokenized text, together with qkv's outputs.
Then, for each file: onnx.checker.check_model (full_check: types and shapes inferred through the
graph; com.microsoft operators are outside the standard schemas and skipped by the checker), an
onnxruntime session whose outputs must equal qkv's within 1e-5 (equal infinities, the
SpanExtractor's padding scores, count as equal), and for the Seq2SeqTransformer
greedy decoding through the three graphs, whose tokens must equal qkv's greedySearch.

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


def greedy(d, g):
    enc, dec, past = (session(os.path.join(d, n)) for n in ("encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"))
    ids, mask = arr(g["input_ids"]), arr(g["attention_mask"])
    (memory,) = enc.run(None, {"input_ids": ids, "attention_mask": mask})
    B = ids.shape[0]
    tok = np.full((B, 1), g["bos"], dtype=np.int64)
    out, done, feeds = [[] for _ in range(B)], [False] * B, {}
    names = [o.name for o in dec.get_outputs()]
    past_names = [o.name for o in past.get_outputs()]
    for t in range(g["maxLen"]):
        if t == 0:
            r = dict(zip(names, dec.run(None, {"input_ids": tok, "encoder_attention_mask": mask, "encoder_hidden_states": memory})))
        else:
            r = dict(zip(past_names, past.run(None, {"input_ids": tok, "encoder_attention_mask": mask, **feeds})))
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
                print(f"{case}/{name}: {verdict} (opsets: {opsets}; {len(m.graph.node)} nodes)")
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
                got = greedy(d, io["greedy"])
                ok = got == io["greedy"]["tokens"]
                failed += 0 if ok else 1
                print(f"  greedy through the three graphs: {got} {'== qkv greedySearch' if ok else '!= qkv ' + str(io['greedy']['tokens'])}")
    print("all checks passed" if failed == 0 else f"{failed} checks FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
