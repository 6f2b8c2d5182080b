"""Image classifiers both ways between qkv and PyTorch (not part of the test suite).

For each qkv classifier directory (qkv classify's model.safetensors: a ViT or the CNN-stem hybrid):
1. qkv -> torch: the directory loads into the torch.nn definition of tools/interop/vit_models.py
   (strict names and shapes); the same random images go through qkv (tools/interop/vit-run.ts,
   tensors exchanged as safetensors files) and torch: logits and the normalized tokens, max |diff|.
2. torch -> qkv: the torch model trains a few AdamW steps (dropout on, BatchNorm updating its
   running statistics), is written back in qkv's format (the "qkv.*" metadata kept, float32 weights),
   qkv's loadClassifierDir reads it, and the outputs are compared again on new images (and shown to
   have moved away from the untrained ones).

Run from the repository root (default: the shipped classifiers, models/classify-*, else small random
ones made by tools/interop/make_vit_model.ts):
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch safetensors numpy
    /tmp/tvenv/bin/python tools/interop/vit_check.py [model dirs...] [--fixture test/fixtures/interop/torch-vit]

--fixture also writes the random hybrid as trained in torch, with images and torch's outputs, there,
for test/interop/vit-checkpoint.test.ts.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vit_models import load_vit_model, save_vit_model  # noqa: E402

TOL = 1e-5
SHIPPED = ["models/classify-mnist", "models/classify-fashion-mnist"]


def qkv_run(model_dir, x, d):
    i, o = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    save_file({"x": x.contiguous()}, i)
    subprocess.run(["npx", "tsx", "tools/interop/vit-run.ts", model_dir, i, o], check=True)
    return load_file(o)


def images(model, g, B=4):
    c = model.config
    size = c["imageSize"]
    H, W = (size, size) if isinstance(size, int) else size
    return torch.randn(B, c["inChannels"], H, W, generator=g)


def torch_run(model, x):
    with torch.no_grad():
        return {"logits": model(x), "features": model.features(x)}


def compare(label, ours, theirs):
    worst, parts = 0.0, []
    for k, t in theirs.items():
        d = (ours[k] - t).abs().max().item()
        worst = max(worst, d)
        parts.append(f"{k} {list(t.shape)} max |diff| {d:.2e} (max |value| {t.abs().max().item():.2f})")
    ok = worst <= TOL
    print(f"{'ok' if ok else 'FAIL'} {label}: " + "; ".join(parts))
    return ok


def train_steps(model, g, steps=5):
    """A few AdamW steps fitting one random batch of images and labels; dropout and BatchNorm in training mode."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    model.train()
    x = images(model, g, 16)
    y = torch.randint(0, model.config["numClasses"], (16,), generator=g)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def check(model_dir, d, fixture=None):
    ok = True
    model, meta = load_vit_model(model_dir)
    kind = meta["qkv.kind"]
    n = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(0)
    x = images(model, g)
    ok &= compare(f"qkv -> torch {kind} ({model_dir}, {n} parameters)", qkv_run(model_dir, x, d), torch_run(model, x))

    before = torch_run(model, x)
    model, losses = train_steps(model, g)
    out_dir = os.path.join(d, f"{kind}-torch")
    save_vit_model(model, model_dir, out_dir, info={"note": "trained further in PyTorch", "torchSteps": len(losses)})
    print(f"   torch AdamW steps on {kind}: loss " + " ".join(f"{v:.4f}" for v in losses))
    back, _ = load_vit_model(out_dir)  # the file's own round trip in torch: float32, so exact
    sd, sd2 = model.state_dict(), back.state_dict()
    wdiff = max((sd[k].double() - sd2[k].double()).abs().max().item() for k in sd)
    x2 = images(model, g)
    theirs = torch_run(model, x2)
    moved = max((a - b).abs().max().item() for a, b in zip(torch_run(model, x).values(), before.values()))
    ok &= compare(f"torch -> qkv {kind} (trained, written to {out_dir}; weights re-read with max |diff| {wdiff:.1e}; "
                  f"outputs moved by up to {moved:.2f} from the untrained model)", qkv_run(out_dir, x2, d), theirs)
    if fixture:
        os.makedirs(fixture, exist_ok=True)
        shutil.copyfile(os.path.join(out_dir, "model.safetensors"), os.path.join(fixture, "model.safetensors"))
        xs = x2[:2].contiguous()
        save_file({"x": xs, **{k: v.contiguous() for k, v in torch_run(model, xs).items()}}, os.path.join(fixture, "io.safetensors"),
                  metadata={"torch": torch.__version__, "torchSteps": str(len(losses))})
        print(f"fixture written to {fixture}")
    return ok


def main():
    args = sys.argv[1:]
    fixture = None
    if "--fixture" in args:
        i = args.index("--fixture")
        fixture = args[i + 1]
        del args[i:i + 2]
    dirs = args or [p for p in SHIPPED if os.path.exists(os.path.join(p, "model.safetensors"))]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        random_dir = os.path.join(d, "random")
        if not dirs or fixture:
            subprocess.run(["npx", "tsx", "tools/interop/make_vit_model.ts", random_dir], check=True)
        if not dirs:
            print("no shipped classifier here: small random ones from tools/interop/make_vit_model.ts")
            dirs = [os.path.join(random_dir, "vit"), os.path.join(random_dir, "hybrid")]
        hybrid = os.path.join(random_dir, "hybrid")
        for m in dirs:
            ok &= check(m, d, fixture if m == hybrid else None)
        if fixture and hybrid not in dirs:
            ok &= check(hybrid, d, fixture)
    print(f"torch {torch.__version__}: {'classifier interop OK' if ok else 'classifier interop FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
