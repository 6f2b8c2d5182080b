"""The same-budget PyTorch peer of qkv's EN->ES translation training (not part of the test suite).

Trains the model of `qkv translate train` (src/apps/text/train-seq2seq.ts) with PyTorch on the CPU
for a wall-clock budget: the same data, the same tokenizer (a tokenizer.json written by qkv, read
with the `tokenizers` package, which gives the same ids), the same model and the same recipe, then
decodes the test split greedily and reports corpus BLEU with sacreBLEU (13a, default settings), so
that qkv and PyTorch can be compared at equal training time.

  model     pre-norm encoder-decoder (nn.TransformerEncoderLayer / nn.TransformerDecoderLayer,
            norm_first=True, batch_first=True), dModel 256, 4 heads, 3+3 layers, FFN 1024, ReLU,
            dropout 0.1, a final LayerNorm on both stacks; one embedding table shared by the
            encoder input, the decoder input and the output projection, initialized N(0, E^-0.5)
            (padding row zero), times sqrt(E), plus sinusoidal positions, dropout;
            7,578,624 parameters with 8000 tokens
  data      sources cut to 128 tokens, targets to 159 (+ </s> = 160); token-bucketed batches (sorted
            by target then source length, cut greedily at batch size * max(S, T + 1) <= 2048 tokens),
            the order of the batches reshuffled every epoch
  recipe    AdamW(lr 7e-4, betas (0.9, 0.98), eps 1e-9, weight decay 1e-4 on every parameter),
            lr * min(s / 600, sqrt(600 / s)) for update s (0-based, so the first update has lr 0),
            label smoothing 0.1 (padding ignored), gradient norm clipped to 1.0
  decoding  greedy, batched (64 sentences of similar length), each output at most 2 S + 10 tokens
            (and 160), <pad>, <s> and <unk> never generated; sources longer than 160 tokens cut

The training clock counts the training steps only (batch building, forward, backward, update);
the evaluations of --eval-every-minutes and the final one are excluded from it.

Smoke run (seconds, from the repository root):
    python3 -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch==2.13.0+cpu sacrebleu tokenizers numpy
    /work/venv-torch/bin/python tools/peers/translate_torch.py --tokenizer runs/translate/tokenizer.json \
        --minutes 1 --test-limit 20 --threads 1

The full comparison: train qkv with the same budget (`qkv translate train --minutes 30 ...`), then
    /work/venv-torch/bin/python tools/peers/translate_torch.py --tokenizer models/translate-en-es/tokenizer.json \
        --minutes 30 --eval-every-minutes 10 --threads 2 --out torch-30min.json
and compare its `BLEU:` line with `qkv translate eval --beam 1` on the same test split. Both must
run on an otherwise idle machine (one at a time, nothing else busy): the budget is wall-clock time,
so any other load takes steps from whichever run it meets. Give both the same number of threads.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import sacrebleu
import torch
import torch.nn as nn
import torch.nn.functional as F
from tokenizers import Tokenizer

# qkv's translation task (src/apps/text/tasks.ts) and trainer defaults (src/apps/text/train-seq2seq.ts)
SRC_COL, TGT_COL = "en", "es"
MAX_SRC_LEN, MAX_TGT_LEN = 128, 160  # targets keep MAX_TGT_LEN - 1 tokens (+ </s>)
MAX_LEN = max(MAX_SRC_LEN, MAX_TGT_LEN)  # the positions table; decoding cuts sources here
D_MODEL, NHEAD, LAYERS, FFN, DROPOUT = 256, 4, 3, 1024, 0.1
MAX_TOKENS = 2048
LR, BETAS, EPS, WEIGHT_DECAY = 7e-4, (0.9, 0.98), 1e-9, 1e-4
WARMUP = 600
LABEL_SMOOTHING = 0.1
CLIP_NORM = 1.0
DECODE_BATCH = 64
QKV_PARAMS_8000 = 7_578_624  # qkv's count for this configuration with an 8000-token vocabulary


def read_tsv(path):
    """Rows of a tab-separated file with a header (no quoting) as (en, es) pairs."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].rstrip("\r").split("\t")
    for c in (SRC_COL, TGT_COL):
        if c not in header:
            sys.exit(f"{path}: no column {c!r} in the header {header}")
    si, ti = header.index(SRC_COL), header.index(TGT_COL)
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != len(header):
            sys.exit(f"{path}:{n}: {len(fields)} fields, the header has {len(header)}")
        rows.append((fields[si], fields[ti]))
    return rows


def encode_all(tok, texts):
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


class TokenBatches:
    """qkv's TokenBatches (src/seq2seq/batching.ts): the same algorithm, numpy's generators."""

    def __init__(self, pairs, max_tokens, seed, pad_id, bos_id, eos_id):
        self.pairs, self.seed = pairs, seed
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        tie = np.random.default_rng(seed ^ 0x5EED).random(len(pairs))
        tgt_len = np.array([len(t) for _, t in pairs])
        src_len = np.array([len(s) for s, _ in pairs])
        order = np.lexsort((tie, src_len, tgt_len))  # by target length, then source length, then tie
        self.batches, cur, longest = [], [], 0
        for i in order.tolist():
            n = max(len(pairs[i][0]), len(pairs[i][1]) + 1)
            if cur and (len(cur) + 1) * max(longest, n) > max_tokens:
                self.batches.append(cur)
                cur, longest = [], 0
            cur.append(i)
            longest = max(longest, n)
        if cur:
            self.batches.append(cur)
        self._order = (None, None)

    def epoch_of(self, step):
        return step // len(self.batches)

    def batch_at(self, step):
        """(src [B, S], tgt_in [B, T], tgt_out [B, T]) int64 for training step `step` (0-based)."""
        epoch = self.epoch_of(step)
        if self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng(self.seed * 1000003 + epoch).permutation(len(self.batches)))
        members = [self.pairs[i] for i in self.batches[self._order[1][step % len(self.batches)]]]
        B = len(members)
        S = max(1, max(len(s) for s, _ in members))
        T = max(len(t) for _, t in members) + 1
        src = torch.full((B, S), self.pad_id, dtype=torch.long)
        tin = torch.full((B, T), self.pad_id, dtype=torch.long)
        tout = torch.full((B, T), self.pad_id, dtype=torch.long)
        for b, (s, t) in enumerate(members):
            if s:
                src[b, :len(s)] = torch.tensor(s)
            tin[b, 0] = self.bos_id
            if t:
                tin[b, 1:len(t) + 1] = torch.tensor(t)
                tout[b, :len(t)] = torch.tensor(t)
            tout[b, len(t)] = self.eos_id
        return src, tin, tout


def sinusoidal(max_len, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same), computed in float64."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = (torch.arange(d_model) // 2 * 2).to(torch.float64)
    angle = pos / torch.pow(10000.0, two_i / d_model)
    pe = torch.where(torch.arange(d_model) % 2 == 0, torch.sin(angle), torch.cos(angle))
    return pe.to(torch.float32)


class Seq2SeqTransformer(nn.Module):
    """qkv's Seq2SeqTransformer (src/nn/seq2seq.ts) from torch.nn modules, with its parameter names."""

    def __init__(self, vocab_size, pad_id):
        super().__init__()
        E = D_MODEL
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, E, padding_idx=pad_id)
        with torch.no_grad():
            nn.init.normal_(self.embed.weight, 0.0, E ** -0.5)
            self.embed.weight[pad_id].zero_()
        opts = dict(dim_feedforward=FFN, dropout=DROPOUT, activation="relu", batch_first=True, norm_first=True)
        # the stacks deep-copy their layer, as qkv's clone(): the layers start with equal weights in both
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, NHEAD, **opts), LAYERS,
                                             norm=nn.LayerNorm(E), enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, NHEAD, **opts), LAYERS, norm=nn.LayerNorm(E))
        self.register_buffer("pe", sinusoidal(MAX_LEN, E), persistent=False)
        self.scale = math.sqrt(E)
        self.dropout = nn.Dropout(DROPOUT)

    def embed_tokens(self, ids, offset):
        n = ids.size(1)
        return self.dropout(self.embed(ids) * self.scale + self.pe[offset:offset + n])

    def encode(self, src, src_pad):
        return self.encoder(self.embed_tokens(src, 0), src_key_padding_mask=src_pad)

    def forward(self, src, tgt_in):
        """src [B, S], tgt_in [B, T] -> logits [B, T, V] (teacher forcing, causal)."""
        src_pad = src.eq(self.pad_id)
        memory = self.encode(src, src_pad)
        T = tgt_in.size(1)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        h = self.decoder(self.embed_tokens(tgt_in, 0), memory, tgt_mask=causal, tgt_is_causal=True,
                         memory_key_padding_mask=src_pad)
        return F.linear(h, self.embed.weight)

    def decode_step(self, tok, t, memory, src_pad, past):
        """Logits [N, V] of the next token after tok [N] at position t, in eval mode. Incremental: past[i]
        holds layer i's normed self-attention inputs of positions 0 .. t - 1 [N, t, E] (the keys and values
        are projected from them again each step); the new token's row runs through the layers alone."""
        x = self.embed_tokens(tok[:, None], t)  # [N, 1, E]
        for i, layer in enumerate(self.decoder.layers):
            h = layer.norm1(x)
            past[i] = h if past[i] is None else torch.cat([past[i], h], dim=1)
            x = x + layer.self_attn(h, past[i], past[i], need_weights=False)[0]
            h = layer.norm2(x)
            x = x + layer.multihead_attn(h, memory, memory, key_padding_mask=src_pad, need_weights=False)[0]
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
        return F.linear(self.decoder.norm(x)[:, 0], self.embed.weight)


def expected_params(V):
    E, Fd, L = D_MODEL, FFN, LAYERS
    attn = 4 * E * E + 4 * E
    ff = 2 * E * Fd + Fd + E
    return V * E + L * (attn + ff + 2 * 2 * E) + L * (2 * attn + ff + 3 * 2 * E) + 2 * 2 * E


@torch.no_grad()
def greedy(model, src, caps, bos_id, eos_id, banned):
    """Token ids per source (without </s>) for src [B, S]; caps[b] = most tokens of source b, </s> included."""
    src_pad = src.eq(model.pad_id)
    memory = model.encode(src, src_pad)
    B = src.size(0)
    out = [[] for _ in range(B)]
    rows = torch.arange(B)  # the sources still decoding
    tok = torch.full((B,), bos_id, dtype=torch.long)
    past = [None] * len(model.decoder.layers)
    caps_t = torch.tensor(caps)
    for t in range(max(caps)):
        logits = model.decode_step(tok, t, memory, src_pad, past)
        logits[:, banned] = -math.inf
        nxt = logits.argmax(dim=-1)
        finished = nxt.eq(eos_id) | (t + 1 >= caps_t[rows])
        for r, v in zip(rows.tolist(), nxt.tolist()):
            if v != eos_id:
                out[r].append(v)
        if bool(finished.all()):
            break
        keep = (~finished).nonzero()[:, 0]
        tok = nxt[keep]
        if keep.numel() < rows.numel():  # drop the finished rows
            rows, memory, src_pad = rows[keep], memory[keep], src_pad[keep]
            past = [p[keep] for p in past]
    return out


def translate(model, tok, texts, ids):
    """Greedy translations of texts, in input order."""
    model.eval()
    enc = encode_all(tok, texts)
    truncated = sum(len(e) > MAX_LEN for e in enc)
    enc = [e[:MAX_LEN] for e in enc]
    order = sorted((i for i in range(len(enc)) if enc[i]), key=lambda i: len(enc[i]))
    out = [""] * len(texts)
    banned = [i for i in (ids["pad"], ids["bos"], ids["unk"]) if i is not None]
    for k in range(0, len(order), DECODE_BATCH):
        idx = order[k:k + DECODE_BATCH]
        S = max(len(enc[i]) for i in idx)
        src = torch.full((len(idx), S), ids["pad"], dtype=torch.long)
        for b, i in enumerate(idx):
            src[b, :len(enc[i])] = torch.tensor(enc[i])
        caps = [min(MAX_LEN, 2 * len(enc[i]) + 10) for i in idx]
        for i, o in zip(idx, greedy(model, src, caps, ids["bos"], ids["eos"], banned)):
            out[i] = tok.decode(o).strip()
    model.train()
    return out, truncated


def evaluate(model, tok, test, ids, step, train_seconds, log):
    t0 = time.perf_counter()
    hyps, truncated = translate(model, tok, [s for s, _ in test], ids)
    bleu = sacrebleu.corpus_bleu(hyps, [[r for _, r in test]])
    seconds = time.perf_counter() - t0
    if truncated:
        log(f"warning: {truncated} test source(s) longer than {MAX_LEN} tokens were truncated")
    log(f"eval at step {step} ({train_seconds / 60:.2f} min of training): BLEU {bleu.score:.2f} on {len(test)} sentences "
        f"(decoded in {seconds:.1f} s, not counted)")
    return {"step": step, "train_seconds": round(train_seconds, 1), "bleu": bleu.score, "sentences": len(test),
            "decode_seconds": round(seconds, 1), "truncated_sources": truncated, "example": hyps[0] if hyps else ""}


def main():
    ap = argparse.ArgumentParser(description="Train qkv's EN->ES translation model with PyTorch for a wall-clock budget; "
                                             "greedy test BLEU (sacreBLEU 13a).")
    ap.add_argument("--tokenizer", required=True, help="a tokenizer.json written by qkv")
    ap.add_argument("--data", default="data/translation-en-es", help="directory with train.tsv and test.tsv")
    ap.add_argument("--minutes", type=float, required=True, help="training budget (evaluation excluded)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every-minutes", type=float, default=None, help="also record test BLEU every K minutes of training")
    ap.add_argument("--out", default=None, help="write the results here (JSON)")
    ap.add_argument("--test-limit", type=int, default=None, help="decode only the first N test sentences")
    a = ap.parse_args()
    if not a.minutes > 0:
        ap.error("--minutes must be > 0")
    if a.threads < 1:
        ap.error("--threads must be >= 1")
    if a.eval_every_minutes is not None and not a.eval_every_minutes > 0:
        ap.error("--eval-every-minutes must be > 0")
    if a.test_limit is not None and a.test_limit < 1:
        ap.error("--test-limit must be >= 1")

    def log(line):
        print(line, flush=True)

    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    wall0 = time.perf_counter()

    tok = Tokenizer.from_file(a.tokenizer)
    V = tok.get_vocab_size(with_added_tokens=True)
    ids = {k: tok.token_to_id(t) for k, t in (("pad", "<pad>"), ("bos", "<s>"), ("eos", "</s>"), ("unk", "<unk>"))}
    for k in ("pad", "bos", "eos"):
        if ids[k] is None:
            sys.exit(f"{a.tokenizer}: no {k} token (<pad>, <s>, </s> expected, as qkv writes them)")
    train = read_tsv(os.path.join(a.data, "train.tsv"))
    test = read_tsv(os.path.join(a.data, "test.tsv"))
    if a.test_limit is not None:
        test = test[:a.test_limit]
    src_ids = encode_all(tok, [s for s, _ in train])
    tgt_ids = encode_all(tok, [t for _, t in train])
    pairs = [(s[:MAX_SRC_LEN], t[:MAX_TGT_LEN - 1]) for s, t in zip(src_ids, tgt_ids)]
    plan = TokenBatches(pairs, MAX_TOKENS, a.seed, ids["pad"], ids["bos"], ids["eos"])

    model = Seq2SeqTransformer(V, ids["pad"])
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == expected_params(V), (n_params, expected_params(V))
    if V == 8000:
        assert n_params == QKV_PARAMS_8000, n_params
    log(f"torch {torch.__version__}, {a.threads} thread(s); {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    log(f"translate: {len(pairs):,} training pairs in {len(plan.batches)} batches of <= {MAX_TOKENS} tokens; "
        f"{LAYERS}+{LAYERS} layers, dModel {D_MODEL}, {NHEAD} heads, vocab {V}, {n_params:,} parameters")
    log(f"decoding: greedy, batched ({DECODE_BATCH} sentences), incremental (per-layer cache of the normed "
        f"self-attention inputs; the new token alone runs through the layers)")

    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: s / WARMUP if s < WARMUP else math.sqrt(WARMUP / s))
    budget = a.minutes * 60
    next_eval = a.eval_every_minutes * 60 if a.eval_every_minutes else math.inf
    train_seconds, step = 0.0, 0
    losses, window, evals = [], [], []
    model.train()
    while train_seconds < budget:
        t0 = time.perf_counter()
        src, tin, tout = plan.batch_at(step)
        optimizer.zero_grad(set_to_none=True)
        logits = model(src, tin)
        loss = F.cross_entropy(logits.reshape(-1, V), tout.reshape(-1), ignore_index=ids["pad"],
                               label_smoothing=LABEL_SMOOTHING)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        loss_value = loss.item()
        train_seconds += time.perf_counter() - t0
        step += 1
        window.append(loss_value)
        if not math.isfinite(loss_value):
            sys.exit(f"step {step}: loss {loss_value}")
        if step % 50 == 0 or step in (1, 10):  # the loss of the last 50 steps (progress lines at 1 and 10 too)
            mean = sum(window) / len(window)
            if step % 50 == 0:
                losses.append({"step": step, "loss": round(mean, 5), "lr": lr, "train_seconds": round(train_seconds, 1)})
                window = []
            log(f"step {step} (epoch {plan.epoch_of(step - 1) + 1}): loss {mean:.4f}, lr {lr:.3g}, "
                f"{1000 * train_seconds / step:.0f} ms/step, {train_seconds / 60:.2f}/{a.minutes:g} min")
        if train_seconds >= next_eval and train_seconds < budget:
            evals.append(evaluate(model, tok, test, ids, step, train_seconds, log))
            next_eval += a.eval_every_minutes * 60
    log(f"trained {step} steps in {train_seconds:.1f} s ({1000 * train_seconds / step:.0f} ms/step, "
        f"epoch {plan.epoch_of(step - 1) + 1})")
    evals.append(evaluate(model, tok, test, ids, step, train_seconds, log))

    if a.out:
        result = {
            "peer": "pytorch",
            "steps": step,
            "train_seconds": round(train_seconds, 1),
            "wall_seconds": round(time.perf_counter() - wall0, 1),
            "parameters": n_params,
            "losses": losses,
            "evals": evals,
            "bleu": evals[-1]["bleu"],
            "decoding": "greedy, batched, incremental (per-layer cache of the normed self-attention inputs)",
            "config": {"minutes": a.minutes, "threads": a.threads, "seed": a.seed, "eval_every_minutes": a.eval_every_minutes,
                       "test_limit": a.test_limit, "tokenizer": a.tokenizer, "data": a.data, "vocab": V,
                       "d_model": D_MODEL, "nhead": NHEAD, "layers": LAYERS, "ffn": FFN, "dropout": DROPOUT,
                       "max_tokens": MAX_TOKENS, "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY,
                       "warmup": WARMUP, "label_smoothing": LABEL_SMOOTHING, "clip_norm": CLIP_NORM,
                       "max_src_len": MAX_SRC_LEN, "max_tgt_len": MAX_TGT_LEN},
            "torch": torch.__version__,
            "sacrebleu": sacrebleu.__version__,
            "machine": {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
                        "python": platform.python_version(), "cpu_count": os.cpu_count()},
        }
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
            f.write("\n")
        log(f"results: {a.out}")
    log(f"BLEU: {evals[-1]['bleu']:.2f}")


if __name__ == "__main__":
    main()
