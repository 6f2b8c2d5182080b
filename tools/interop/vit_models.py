"""qkv's VisionTransformer (src/nn/vit.ts) and its CNN-stem hybrid (src/nn/hybrid.ts) as plain torch.nn
modules with timm's parameter names, and qkv's image-classifier files read and written from Python.

The modules compute what qkv computes, with the same names, so `load_state_dict` takes the tensors of
a qkv classifier `model.safetensors` (written by `qkv classify train`) as they are:

- patch_embed: `proj`, a Conv2d with kernel = stride = patch; or, for the hybrid, `backbone.{i}`
  stages (3x3 conv without bias, BatchNorm2d, ReLU, 2x2 max-pool) and a 1x1 conv `proj`; the feature
  map [B, E, h, w] becomes tokens [B, h w, E] row by row;
- `cls_token` [1, 1, E] in front ("cls" pooling) or none ("mean" pooling);
- `pos_embed` [1, T, E]: a parameter (learned), or fixed 2-D sine-cosine positions (MAE's, computed in
  float64 as qkv does, zero for the class token) kept as a non-persistent buffer, as qkv keeps them
  out of its state dict;
- pre-norm `blocks.{i}` (norm1, attn.qkv [3E, E] split as [3, H, D], attn.proj, norm2, mlp.fc1, exact
  GELU, mlp.fc2), LayerNorm eps `layerNormEps` (default 1e-6), final `norm`, `head` on the class
  token or the mean of the tokens.

`load_vit_model(dir)` builds the model a qkv classifier directory holds (config from the "qkv.config"
metadata; F16 weights come as float32); `save_vit_model(model, src_dir, out_dir)` writes a state dict
back in qkv's format (the "qkv.*" metadata kept, num_batches_tracked as int32), which qkv's
`loadClassifierDir` reads.

    from vit_models import load_vit_model, save_vit_model
    model, meta = load_vit_model("models/classify-mnist")
    logits = model(x)                     # x [B, C, H, W] float32, normalized as meta["qkv.normalize"] says
    save_vit_model(model, "models/classify-mnist", "runs/classify-torch", info={"steps": 300})
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

DEFAULTS = {"inChannels": 3, "mlpRatio": 4, "dropout": 0.0, "pooling": "cls", "positions": "learned", "stem": None, "layerNormEps": 1e-6}


def sincos_2d(gh, gw, dim):
    """[gh * gw, dim], row by row: sin, cos of the column, then sin, cos of the row, at 10000^(-k / (dim / 4))."""
    q = dim // 4
    omega = 1.0 / torch.pow(torch.tensor(10000.0, dtype=torch.float64), torch.arange(q, dtype=torch.float64) / q)
    i, j = torch.meshgrid(torch.arange(gh, dtype=torch.float64), torch.arange(gw, dtype=torch.float64), indexing="ij")
    i, j = i.reshape(-1, 1) * omega, j.reshape(-1, 1) * omega  # [N, q]
    return torch.cat([torch.sin(j), torch.cos(j), torch.sin(i), torch.cos(i)], dim=1).to(torch.float32)


class PatchEmbed(nn.Module):
    def __init__(self, c, E, p):
        super().__init__()
        self.proj = nn.Conv2d(c, E, p, stride=p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, E, h, w] -> [B, N, E]


class ConvStage(nn.Module):
    def __init__(self, c, o):
        super().__init__()
        self.conv = nn.Conv2d(c, o, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(o)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)


class ConvStem(nn.Module):
    def __init__(self, c, channels, E):
        super().__init__()
        stages = []
        for o in channels:
            stages.append(ConvStage(c, o))
            c = o
        self.backbone = nn.ModuleList(stages)
        self.proj = nn.Conv2d(c, E, 1)

    def forward(self, x):
        for s in self.backbone:
            x = s(x)
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, E, H, dropout):
        super().__init__()
        self.heads, self.dropout = H, dropout
        self.qkv = nn.Linear(E, 3 * E)
        self.proj = nn.Linear(E, E)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, E = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, E // self.heads).permute(2, 0, 3, 1, 4)  # each [B, H, T, D]
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj_drop(self.proj(o.transpose(1, 2).reshape(B, T, E)))


class Mlp(nn.Module):
    def __init__(self, E, hidden, dropout):
        super().__init__()
        self.fc1 = nn.Linear(E, hidden)
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, E)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop2(self.fc2(self.drop1(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, E, H, hidden, dropout, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(E, eps=eps)
        self.attn = Attention(E, H, dropout)
        self.norm2 = nn.LayerNorm(E, eps=eps)
        self.mlp = Mlp(E, hidden, dropout)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """qkv's VisionTransformer; `config` has qkv's keys ("imageSize", "patchSize", "dim", …)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = {**DEFAULTS, **config}
        size = c["imageSize"]
        H, W = (size, size) if isinstance(size, int) else size
        E, p = c["dim"], c["patchSize"]
        gh, gw = H // p, W // p
        cls = c["pooling"] == "cls"
        T = gh * gw + (1 if cls else 0)
        self.patch_embed = ConvStem(c["inChannels"], c["stem"], E) if c["stem"] else PatchEmbed(c["inChannels"], E, p)
        self.cls_token = nn.Parameter(torch.randn(1, 1, E) * 1e-6) if cls else None
        if c["positions"] == "learned":
            self.pos_embed = nn.Parameter(torch.randn(1, T, E) * 0.02)
        else:
            pe = torch.zeros(1, T, E)
            pe[0, T - gh * gw:] = sincos_2d(gh, gw, E)
            self.register_buffer("pos_embed", pe, persistent=False)
        self.pos_drop = nn.Dropout(c["dropout"])
        hidden = round(E * c["mlpRatio"])
        self.blocks = nn.ModuleList([Block(E, c["heads"], hidden, c["dropout"], c["layerNormEps"]) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(E, eps=c["layerNormEps"])
        self.head = nn.Linear(E, c["numClasses"])

    def features(self, x):
        """x [B, C, H, W] -> normalized tokens [B, T, E] (the class token first when there is one)."""
        h = self.patch_embed(x)
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1)
        h = self.pos_drop(h + self.pos_embed)
        for b in self.blocks:
            h = b(h)
        return self.norm(h)

    def forward(self, x):
        h = self.features(x)
        return self.head(h[:, 0] if self.cls_token is not None else h.mean(dim=1))


def model_file(path):
    return path if path.endswith(".safetensors") else os.path.join(path, "model.safetensors")


def read_vit_model(path):
    """(tensors, metadata) of a qkv classifier model.safetensors (a directory or the file); F16 weights come as float32."""
    file = model_file(path)
    with safe_open(file, "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: (t.to(torch.float32) if t.is_floating_point() else t) for k, t in ((k, f.get_tensor(k)) for k in f.keys())}
    if meta.get("qkv.format") != "image-classifier":
        raise ValueError(f"{file}: not a qkv image classifier (metadata qkv.format = {meta.get('qkv.format')!r})")
    return tensors, meta


def load_vit_model(path):
    """(model in eval mode, metadata) from a qkv classifier directory; strict names and shapes."""
    tensors, meta = read_vit_model(path)
    model = VisionTransformer(json.loads(meta["qkv.config"]))
    model.load_state_dict(tensors, strict=True)
    return model.eval(), meta


def save_vit_model(model, src_dir, out_dir, info=None):
    """Writes out_dir/model.safetensors: float32 weights, num_batches_tracked int32, qkv's metadata from src_dir with `info` merged into "qkv.info"."""
    _, meta = read_vit_model(src_dir)
    meta = dict(meta)
    meta["qkv.config"] = json.dumps(model.config)
    meta["qkv.info"] = json.dumps({**json.loads(meta.get("qkv.info", "{}")), **(info or {})})
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: (v.detach().to(torch.float32) if v.is_floating_point() else v.detach().to(torch.int32)).contiguous() for k, v in model.state_dict().items()}
    tmp = os.path.join(out_dir, ".model.safetensors.tmp")
    save_file(sd, tmp, metadata=meta)
    os.replace(tmp, os.path.join(out_dir, "model.safetensors"))
