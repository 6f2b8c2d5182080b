"""Hugging Face ViT checkpoints into qkv (not part of the test suite).

Builds small randomly initialized `transformers.ViTModel` and `ViTForImageClassification` models (no
download), saves each with `save_pretrained` (config.json + model.safetensors), loads the directory
in qkv (loadHfViTDir via tools/interop/hf-vit-run.ts) and compares `last_hidden_state` (qkv's
features) and, for the classifier, `logits` on random images (max |diff| <= 1e-5). Then breaks a
copy: unknown config fields and an activation qkv's ViT does not have, a tensor missing, one of the
wrong shape, one renamed; qkv must refuse each with every problem named.

Run from the repository root:
    python3 -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install torch transformers safetensors numpy
    /tmp/hfvenv/bin/python tools/interop/hf_vit_check.py [--fixture test/fixtures/interop/hf-vit]

--fixture also writes the first (tiny) model with its images and outputs there, for
test/interop/hf-vit.test.ts.
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
from transformers import ViTConfig, ViTForImageClassification, ViTModel

TOL = 1e-5

CASES = {
    "vit-model": (ViTModel, dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=24, image_size=12, patch_size=4,
                                 num_channels=1)),
    "vit-classifier-rgb": (ViTForImageClassification, dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=6, intermediate_size=96,
                                                           image_size=[16, 24], patch_size=8, num_channels=3, num_labels=5, layer_norm_eps=1e-6)),
}


def images(cfg, g, B=3):
    size = cfg.image_size
    H, W = (size, size) if isinstance(size, int) else size
    return torch.randn(B, cfg.num_channels, H, W, generator=g)


def qkv(model_dir, x, d, check=True):
    i, o = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    save_file({"pixel_values": x.contiguous()}, i)
    r = subprocess.run(["npx", "tsx", "tools/interop/hf-vit-run.ts", model_dir, i, o], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(r.stderr)
    return (load_file(o) if r.returncode == 0 else None), r


def compare(name, ours, theirs):
    worst, parts = 0.0, []
    for k, t in theirs.items():
        diff = (ours[k] - t).abs().max().item()
        worst = max(worst, diff)
        parts.append(f"{k} {list(t.shape)} max |diff| {diff:.2e} (max |value| {t.abs().max().item():.2f})")
    ok = worst <= TOL
    print(f"{'ok' if ok else 'FAIL'} HF -> qkv {name}: " + "; ".join(parts))
    return ok


def broken(src, cfg, d, g):
    """Copies with every kind of problem at once; qkv must name each."""
    ok = True
    bad = os.path.join(d, "bad-config")
    shutil.copytree(src, bad)
    with open(os.path.join(bad, "config.json")) as f:
        c = json.load(f)
    c.update({"rope_theta": 10000.0, "use_mask_token": True, "hidden_act": "gelu_new", "qkv_bias": False, "num_attention_heads": 5})
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump(c, f)
    _, r = qkv(bad, images(cfg, g), d, check=False)
    line = next((m for m in r.stderr.splitlines() if "config.json" in m and "loadHfViT" in m), "")
    want = ["unknown fields: rope_theta, use_mask_token", 'hidden_act expected "gelu", got "gelu_new"', "qkv_bias expected true, got false",
            "hidden_size expected a multiple of num_attention_heads (5)"]
    good = r.returncode != 0 and all(w in line for w in want)
    ok &= good
    print(f"{'ok' if good else 'FAIL'} bad config.json refused, all problems named: {line[:400]}")

    bad2 = os.path.join(d, "bad-tensors")
    shutil.copytree(src, bad2)
    t = load_file(os.path.join(bad2, "model.safetensors"))
    del t["encoder.layer.1.attention.attention.key.bias"]
    t["encoder.layer.0.intermediate.dense.weight"] = t["encoder.layer.0.intermediate.dense.weight"][:20].contiguous()
    t["encoder.layer.0.layernorm_after.scale"] = t.pop("encoder.layer.0.layernorm_after.weight")
    save_file(t, os.path.join(bad2, "model.safetensors"), metadata={"format": "pt"})
    _, r = qkv(bad2, images(cfg, g), d, check=False)
    line = next((m for m in r.stderr.splitlines() if "state dict mismatch" in m), "")
    want = ["encoder.layer.1.attention.attention.key.bias", "encoder.layer.0.layernorm_after.weight", "encoder.layer.0.layernorm_after.scale",
            "encoder.layer.0.intermediate.dense.weight expected [24, 16], got [20, 16]"]
    good = r.returncode != 0 and all(w in line for w in want)
    ok &= good
    print(f"{'ok' if good else 'FAIL'} mismatched checkpoint refused, all problems named: {line[:400]}")
    return ok


def main():
    fixture = sys.argv[sys.argv.index("--fixture") + 1] if "--fixture" in sys.argv else None
    ok = True
    g = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        first = None
        for name, (cls, kw) in CASES.items():
            torch.manual_seed(len(name))
            cfg = ViTConfig(**kw)
            model = cls(cfg).eval()  # random init (initializer_range 0.02)
            with torch.no_grad():  # larger weights than the init, so that the layers do visible work
                for p in model.parameters():
                    p.add_(torch.randn(p.shape, generator=g) * 0.1)
            path = os.path.join(d, name)
            model.save_pretrained(path)
            x = images(cfg, g)
            with torch.no_grad():
                if cls is ViTModel:
                    theirs = {"last_hidden_state": model(pixel_values=x).last_hidden_state}
                else:
                    out = model(pixel_values=x, output_hidden_states=True)
                    theirs = {"last_hidden_state": model.vit.layernorm(out.hidden_states[-1]), "logits": out.logits}
            ours, _ = qkv(path, x, d)
            n = sum(p.numel() for p in model.parameters())
            ok &= compare(f"{name} ({cls.__name__}, {n} parameters, {cfg._attn_implementation} attention)", ours, theirs)
            if first is None:
                first = (path, cfg)
                if fixture:
                    os.makedirs(fixture, exist_ok=True)
                    shutil.copyfile(os.path.join(path, "config.json"), os.path.join(fixture, "config.json"))
                    shutil.copyfile(os.path.join(path, "model.safetensors"), os.path.join(fixture, "model.safetensors"))
                    save_file({"pixel_values": x.contiguous(), **{k: v.contiguous() for k, v in theirs.items()}},
                              os.path.join(fixture, "io.safetensors"), metadata={"transformers": transformers.__version__})
                    print(f"fixture written to {fixture}")
        ok &= broken(first[0], first[1], d, g)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: {'HF ViT import OK' if ok else 'HF ViT import FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
