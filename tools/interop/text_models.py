"""qkv's two text models as torch.nn modules, and qkv's text-model files read and written from Python.

`Seq2SeqTransformer` and `SpanExtractor` below compute what src/nn/seq2seq.ts and
src/nn/span-extractor.ts compute, with the same parameter names, so `load_state_dict` takes the
tensors of a qkv `model.safetensors` as they are (the sinusoidal table `pe` is built, not stored):

- embeddings x sqrt(E) plus sinusoidal positions (float64, as qkv), dropout;
- pre-norm torch.nn.TransformerEncoder / TransformerDecoder stacks with a final LayerNorm each;
- Seq2SeqTransformer: one table for the encoder input, the decoder input and the output projection;
  the decoder is causal, padding (pad_id) is masked in the encoder and the cross-attention;
- SpanExtractor: `head` [2, E] gives the start and end scores, -inf at padding.

`load_text_model(dir)` builds the model a qkv directory holds (model.safetensors + tokenizer.json,
config from the "qkv.config" metadata); `save_text_model(model, src_dir, out_dir)` writes a state
dict back in qkv's format (the "qkv.*" metadata kept, tokenizer.json copied), which qkv's
`loadTextModelDir` reads.

    from text_models import load_text_model, save_text_model
    model, meta = load_text_model("models/translate-en-es")
    logits = model(src, tgt_in)            # src [B, S], tgt_in [B, T] int64 -> [B, T, V]
    save_text_model(model, "models/translate-en-es", "runs/mt-torch", info={"steps": 1200})
"""
import json
import math
import os
import shutil

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

SEQ2SEQ_DEFAULTS = {"dropout": 0.1, "maxLen": 512, "activation": "relu"}
SPAN_DEFAULTS = {"dropout": 0.1, "maxLen": 256}


def sinusoidal(max_len, d_model, base=10000.0):
    """PE[pos, 2i] = sin(pos / base^(2i/d)), PE[pos, 2i+1] = cos(...), in float64 then float32 (as qkv)."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    i2 = (torch.arange(d_model) // 2 * 2).to(torch.float64)
    angle = pos / torch.pow(torch.tensor(base, dtype=torch.float64), i2 / d_model)
    pe = torch.where(torch.arange(d_model) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return pe.to(torch.float32)


def _encoder(c, layers, activation):
    layer = nn.TransformerEncoderLayer(c["dModel"], c["nhead"], c["dimFeedforward"], c["dropout"], activation,
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(c["dModel"]), enable_nested_tensor=False)


class Seq2SeqTransformer(nn.Module):
    """qkv's Seq2SeqTransformer: config keys as qkv's ("vocabSize", "dModel", …)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = {**SEQ2SEQ_DEFAULTS, **config}
        E = c["dModel"]
        self.embed = nn.Embedding(c["vocabSize"], E, padding_idx=c["padId"])
        nn.init.normal_(self.embed.weight, 0.0, E ** -0.5)
        with torch.no_grad():
            self.embed.weight[c["padId"]].zero_()
        self.encoder = _encoder(c, c["encoderLayers"], c["activation"])
        dec = nn.TransformerDecoderLayer(E, c["nhead"], c["dimFeedforward"], c["dropout"], c["activation"],
                                         batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(dec, c["decoderLayers"], norm=nn.LayerNorm(E))
        self.register_buffer("pe", sinusoidal(c["maxLen"], E), persistent=False)
        self.dropout = nn.Dropout(c["dropout"])
        self.scale = math.sqrt(E)

    def embed_tokens(self, ids, offset=0):
        """ids [B, N] -> [B, N, E]."""
        n = ids.shape[1]
        return self.dropout(self.embed(ids) * self.scale + self.pe[offset:offset + n])

    def padding_mask(self, ids):
        return ids == self.config["padId"]  # [B, N], True at padding

    def encode(self, src, src_pad=None):
        """src [B, S] -> memory [B, S, E]."""
        src_pad = self.padding_mask(src) if src_pad is None else src_pad
        return self.encoder(self.embed_tokens(src), src_key_padding_mask=src_pad)

    def decode(self, tgt, memory, src_pad):
        """tgt [B, T] -> logits [B, T, V], causal."""
        T = tgt.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=tgt.device)
        h = self.decoder(self.embed_tokens(tgt), memory, tgt_mask=mask, tgt_is_causal=True,
                         memory_key_padding_mask=src_pad)  # [B, T, E]
        return nn.functional.linear(h, self.embed.weight)  # [B, T, V]

    def forward(self, src, tgt_in):
        src_pad = self.padding_mask(src)
        return self.decode(tgt_in, self.encode(src, src_pad), src_pad)


class SpanExtractor(nn.Module):
    """qkv's SpanExtractor: forward(ids) -> (start, end) scores [B, N], -inf at padding."""

    def __init__(self, config):
        super().__init__()
        c = self.config = {**SPAN_DEFAULTS, **config}
        E = c["dModel"]
        self.embed = nn.Embedding(c["vocabSize"], E, padding_idx=c["padId"])
        nn.init.normal_(self.embed.weight, 0.0, E ** -0.5)
        with torch.no_grad():
            self.embed.weight[c["padId"]].zero_()
        self.encoder = _encoder(c, c["layers"], "relu")
        self.head = nn.Linear(E, 2)
        self.dropout = nn.Dropout(c["dropout"])
        self.register_buffer("pe", sinusoidal(c["maxLen"], E), persistent=False)

    def forward(self, ids):
        n = ids.shape[1]
        pad = ids == self.config["padId"]  # [B, N]
        x = self.dropout(self.embed(ids) * math.sqrt(self.config["dModel"]) + self.pe[:n])
        s = self.head(self.encoder(x, src_key_padding_mask=pad))  # [B, N, 2]
        start = s[..., 0].masked_fill(pad, float("-inf"))
        end = s[..., 1].masked_fill(pad, float("-inf"))
        return start, end


def read_text_model(path):
    """(tensors, metadata) of a qkv model.safetensors (a directory or the file); F16 weights come as float32."""
    file = path if path.endswith(".safetensors") else os.path.join(path, "model.safetensors")
    with safe_open(file, "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k).to(torch.float32) for k in f.keys()}
    if meta.get("qkv.format") != "text-model":
        raise ValueError(f"{file}: not a qkv text model (metadata qkv.format = {meta.get('qkv.format')!r})")
    return tensors, meta


def build(meta):
    """The empty torch model of a qkv model file's metadata."""
    config = json.loads(meta["qkv.config"])
    kind = meta.get("qkv.kind")
    if kind == "seq2seq":
        return Seq2SeqTransformer(config)
    if kind == "span":
        return SpanExtractor(config)
    raise ValueError(f"unknown qkv.kind {kind!r}")


def load_text_model(path):
    """(model in eval mode, metadata) from a qkv model directory; strict names and shapes."""
    tensors, meta = read_text_model(path)
    model = build(meta)
    model.load_state_dict(tensors, strict=True)
    return model.eval(), meta


def save_text_model(model, src_dir, out_dir, info=None, dtype=torch.float32):
    """Writes model.safetensors (qkv's metadata from src_dir, `info` merged into "qkv.info") and copies tokenizer.json."""
    _, meta = read_text_model(src_dir)
    meta = dict(meta)
    meta["qkv.config"] = json.dumps(model.config)
    meta["qkv.info"] = json.dumps({**json.loads(meta.get("qkv.info", "{}")), **(info or {})})
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    tmp = os.path.join(out_dir, ".model.safetensors.tmp")
    save_file(sd, tmp, metadata=meta)
    os.replace(tmp, os.path.join(out_dir, "model.safetensors"))
    src_tok = os.path.join(src_dir if not src_dir.endswith(".safetensors") else os.path.dirname(src_dir), "tokenizer.json")
    if os.path.abspath(src_tok) != os.path.abspath(os.path.join(out_dir, "tokenizer.json")):
        shutil.copyfile(src_tok, os.path.join(out_dir, "tokenizer.json"))
