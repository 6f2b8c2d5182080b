"""Hugging Face BERT checkpoints into qkv (not part of the test suite).

Builds small randomly initialized `transformers.BertModel`s (no download), saves each with
`save_pretrained` (config.json + model.safetensors), loads the directory in qkv (loadHfBertDir via
tools/interop/hf-bert-run.ts) and compares `last_hidden_state` and `pooler_output` on inputs with
padding and two segments (max |diff| <= 1e-5). Then breaks a copy: unknown config fields, a tensor
missing, one of the wrong shape, one renamed; qkv must refuse each with every problem named.

Run from the repository root:
    python3 -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install torch transformers safetensors numpy
    /tmp/hfvenv/bin/python tools/interop/hf_check.py [--fixture test/fixtures/interop/hf-bert]

--fixture also writes the first (tiny) model with its inputs and outputs there, for
test/interop/hf.test.ts.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

TOL = 1e-5

CASES = {
    "gelu": dict(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=24,
                 max_position_embeddings=20, type_vocab_size=2),
    "gelu_new-3-types": dict(vocab_size=120, hidden_size=48, num_hidden_layers=3, num_attention_heads=6, intermediate_size=96,
                             max_position_embeddings=40, type_vocab_size=3, hidden_act="gelu_new", layer_norm_eps=1e-5),
}


def inputs(cfg, g, B=3, N=11):
    ids = torch.randint(1, cfg.vocab_size, (B, N), generator=g)
    mask = torch.ones(B, N, dtype=torch.long)
    for b, n in enumerate([N, N - 4, 3][:B]):
        mask[b, n:] = 0
        ids[b, n:] = cfg.pad_token_id
    types = torch.zeros(B, N, dtype=torch.long)
    types[:, N // 2:] = torch.randint(0, cfg.type_vocab_size, (1,), generator=g).item() or 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def qkv(model_dir, x, d, check=True):
    i, o = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    save_file({k: v.to(torch.int32).contiguous() for k, v in x.items()}, i)
    r = subprocess.run(["npx", "tsx", "tools/interop/hf-bert-run.ts", model_dir, i, o], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(r.stderr)
    return (load_file(o) if r.returncode == 0 else None), r


def compare(name, ours, theirs):
    worst, parts = 0.0, []
    for k in ("last_hidden_state", "pooler_output"):
        diff = (ours[k] - theirs[k]).abs().max().item()
        worst = max(worst, diff)
        parts.append(f"{k} {list(theirs[k].shape)} max |diff| {diff:.2e}")
    ok = worst <= TOL
    print(f"{'ok' if ok else 'FAIL'} HF -> qkv {name}: " + "; ".join(parts))
    return ok


def broken(src, d, g):
    """A copy with every kind of problem at once; qkv must name each."""
    ok = True
    bad = os.path.join(d, "bad-config")
    shutil.copytree(src, bad)
    with open(os.path.join(bad, "config.json")) as f:
        c = json.load(f)
    c.update({"rope_theta": 10000.0, "use_flash": True, "position_embedding_type": "relative_key", "num_attention_heads": 5})
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump(c, f)
    _, r = qkv(bad, inputs(BertConfig(**CASES["gelu"]), g), d, check=False)
    msg = r.stderr.strip().splitlines()
    line = next((m for m in msg if m.startswith("HfConfigError")), "")
    want = ["rope_theta", "use_flash", "position_embedding_type", "hidden_size expected a multiple"]
    good = r.returncode != 0 and all(w in line for w in want)
    ok &= good
    print(f"{'ok' if good else 'FAIL'} bad config.json refused, all four problems named: {line[:400]}")

    bad2 = os.path.join(d, "bad-tensors")
    shutil.copytree(src, bad2)
    t = load_file(os.path.join(bad2, "model.safetensors"))
    del t["encoder.layer.1.attention.self.key.bias"]
    t["encoder.layer.0.intermediate.dense.weight"] = t["encoder.layer.0.intermediate.dense.weight"][:20].contiguous()
    t["encoder.layer.0.output.LayerNorm.scale"] = t.pop("encoder.layer.0.output.LayerNorm.weight")
    save_file(t, os.path.join(bad2, "model.safetensors"), metadata={"format": "pt"})
    _, r = qkv(bad2, inputs(BertConfig(**CASES["gelu"]), g), d, check=False)
    line = next((m for m in r.stderr.splitlines() if "state dict mismatch" in m), "")
    want = ["encoder.layer.1.attention.self.key.bias", "encoder.layer.0.output.LayerNorm.weight",
            "encoder.layer.0.output.LayerNorm.scale", "encoder.layer.0.intermediate.dense.weight expected [24, 16], got [20, 16]"]
    good = r.returncode != 0 and all(w in line for w in want)
    ok &= good
    print(f"{'ok' if good else 'FAIL'} mismatched checkpoint refused, all four problems named: {line[:400]}")
    return ok


def main():
    fixture = sys.argv[sys.argv.index("--fixture") + 1] if "--fixture" in sys.argv else None
    ok = True
    g = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        first = None
        for name, kw in CASES.items():
            torch.manual_seed(len(name))
            cfg = BertConfig(**kw)
            model = BertModel(cfg).eval()  # random init (initializer_range 0.02)
            with torch.no_grad():  # larger weights than the init, so that the layers do visible work
                for p in model.parameters():
                    p.add_(torch.randn(p.shape, generator=g) * 0.1)
            path = os.path.join(d, name)
            model.save_pretrained(path)
            x = inputs(cfg, g)
            with torch.no_grad():
                out = model(**x)
            theirs = {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output}
            ours, _ = qkv(path, x, d)
            ok &= compare(f"{name} ({sum(p.numel() for p in model.parameters())} parameters, {cfg._attn_implementation} attention)", ours, theirs)
            if first is None:
                first = path
                if fixture:
                    os.makedirs(fixture, exist_ok=True)
                    shutil.copyfile(os.path.join(path, "config.json"), os.path.join(fixture, "config.json"))
                    shutil.copyfile(os.path.join(path, "model.safetensors"), os.path.join(fixture, "model.safetensors"))
                    save_file({**{k: v.to(torch.int32).contiguous() for k, v in x.items()}, **{k: v.contiguous() for k, v in theirs.items()}},
                              os.path.join(fixture, "io.safetensors"), metadata={"transformers": transformers.__version__})
                    print(f"fixture written to {fixture}")
        ok &= broken(first, d, g)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: {'HF import OK' if ok else 'HF import FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
