"""Whole text models both ways between qkv and PyTorch (not part of the test suite).

For each qkv text model directory (model.safetensors + tokenizer.json):
1. qkv -> torch: the directory loads into the torch.nn definition of tools/interop/text_models.py
   (strict names and shapes); the same random inputs (padding included) go through qkv
   (tools/interop/text-model-run.ts, tensors exchanged as safetensors files) and torch: max |diff|.
2. torch -> qkv: the torch model trains a few AdamW steps (dropout on), is written back in qkv's
   format (the "qkv.*" metadata kept, float32 weights), qkv's loadTextModelDir reads it, and the
   outputs are compared again on new inputs (and shown to have moved away from the untrained ones).

Run from the repository root (default: the shipped models, else tiny random ones made by
tools/interop/make_text_model.ts):
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch safetensors numpy
    /tmp/tvenv/bin/python tools/interop/text_model_check.py [model dirs...]
"""
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_models import Seq2SeqTransformer, load_text_model, save_text_model  # noqa: E402

TOL = 1e-5
SHIPPED = ["models/translate-en-es", "models/summarize-debian"]


def qkv_run(model_dir, inputs, d):
    """qkv's outputs for `inputs` (a dict of int tensors)."""
    i, o = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    save_file({k: v.to(torch.int32).contiguous() for k, v in inputs.items()}, i)
    subprocess.run(["npx", "tsx", "tools/interop/text-model-run.ts", model_dir, i, o], check=True)
    return load_file(o)


def random_ids(g, B, N, vocab, pad, lengths):
    ids = torch.randint(3, vocab, (B, N), generator=g)
    for b, n in enumerate(lengths):
        ids[b, n:] = pad
    return ids


def make_inputs(model, g):
    c = model.config
    V, pad = c["vocabSize"], c["padId"]
    if isinstance(model, Seq2SeqTransformer):
        S, T = min(12, c["maxLen"]), min(9, c["maxLen"])
        return {"src": random_ids(g, 3, S, V, pad, [S, S - 4, 3]), "tgt_in": random_ids(g, 3, T, V, pad, [T, 5, T - 2])}
    N = min(14, c["maxLen"])
    return {"ids": random_ids(g, 3, N, V, pad, [N, N - 5, 4])}


def torch_run(model, x):
    with torch.no_grad():
        if isinstance(model, Seq2SeqTransformer):
            src, tgt = x["src"].long(), x["tgt_in"].long()
            return {"memory": model.encode(src), "logits": model(src, tgt)}
        start, end = model(x["ids"].long())
        return {"start": start, "end": end}


def max_diff(a, b):
    """Largest |a - b| over the finite entries; inf if the -inf entries are not the same."""
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if a.shape != b.shape or not torch.equal(fa, fb) or not torch.equal(a[~fa], b[~fb]):
        return float("inf")
    return (a[fa] - b[fb]).abs().max().item() if fa.any() else 0.0


def compare(label, ours, theirs):
    worst = 0.0
    parts = []
    for k, t in ours.items():
        d = max_diff(t, theirs[k])
        worst = max(worst, d)
        scale = t[torch.isfinite(t)].abs().max().item()
        parts.append(f"{k} {list(t.shape)} max |diff| {d:.2e} (max |value| {scale:.2f})")
    ok = worst <= TOL
    print(f"{'ok' if ok else 'FAIL'} {label}: " + "; ".join(parts))
    return ok


def train_steps(model, g, steps=5):
    """A few AdamW steps fitting one random batch (token / start-end cross-entropy), dropout on."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    model.train()
    c = model.config
    x = make_inputs(model, g)
    if isinstance(model, Seq2SeqTransformer):
        target = torch.randint(3, c["vocabSize"], x["tgt_in"].shape, generator=g)
    losses = []
    for _ in range(steps):
        if isinstance(model, Seq2SeqTransformer):
            logits = model(x["src"].long(), x["tgt_in"].long())
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        else:
            start, end = model(x["ids"].long())
            target = torch.zeros(start.shape[0], dtype=torch.long)  # the first token of every row
            loss = torch.nn.functional.cross_entropy(start, target) + torch.nn.functional.cross_entropy(end, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def check(model_dir, d):
    ok = True
    model, meta = load_text_model(model_dir)
    kind = meta["qkv.kind"]
    n = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(0)
    x = make_inputs(model, g)
    ok &= compare(f"qkv -> torch {kind} ({model_dir}, {n} parameters)", qkv_run(model_dir, x, d), torch_run(model, x))

    before = torch_run(model, x)
    model, losses = train_steps(model, g)
    out_dir = os.path.join(d, f"{kind}-torch")
    save_text_model(model, model_dir, out_dir, info={"note": "trained further in PyTorch", "torchSteps": len(losses)})
    print(f"   torch AdamW steps on {kind}: loss " + " ".join(f"{v:.4f}" for v in losses))
    back, _ = load_text_model(out_dir)  # the file's own round trip in torch: float32, so exact
    sd, sd2 = model.state_dict(), back.state_dict()
    wdiff = max((sd[k] - sd2[k]).abs().max().item() for k in sd)
    x2 = make_inputs(model, g)
    theirs = torch_run(model, x2)
    moved = max(max_diff(a, b) for a, b in zip(torch_run(model, x).values(), before.values()))
    ok &= compare(f"torch -> qkv {kind} (trained, written to {out_dir}; weights re-read with max |diff| {wdiff:.1e}; "
                  f"outputs moved by up to {moved:.2f} from the untrained model)", qkv_run(out_dir, x2, d), theirs)
    return ok


def main():
    dirs = sys.argv[1:] or [p for p in SHIPPED if os.path.exists(os.path.join(p, "model.safetensors"))]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        if not dirs:
            print("no shipped model here: tiny random ones from tools/interop/make_text_model.ts")
            subprocess.run(["npx", "tsx", "tools/interop/make_text_model.ts", d], check=True)
            dirs = [os.path.join(d, "seq2seq"), os.path.join(d, "span")]
        for m in dirs:
            ok &= check(m, d)
    print(f"torch {torch.__version__}: {'text model interop OK' if ok else 'text model interop FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
