"""Training started in qkv, continued in PyTorch with DistributedDataParallel, evaluated back in qkv.

A test-sized demonstration of docs/scaling.md (not part of the test suite):
1. a tiny EN->ES dataset is written (word-for-word sentences over a small lexicon, adjectives after
   the noun in Spanish);
2. qkv trains a tiny Seq2SeqTransformer for --qkv-steps steps (trainSeq2Seq, through
   tools/interop/ddp-demo.ts), validating four times;
3. PyTorch loads its model.safetensors into the torch.nn definition (tools/interop/text_models.py)
   and continues for --torch-steps steps with DistributedDataParallel over 2 CPU processes (gloo),
   on the batches qkv's trainer would have drawn next (each process takes half the rows of each
   batch; the loss is scaled so that the averaged gradient is that of the whole batch), with
   label smoothing 0.1, gradient clipping at 1 and AdamW, validating as it goes;
4. rank 0 writes the model back in qkv's format (float32), qkv loads it and evaluates it: its
   validation loss must equal PyTorch's last one, and its logits PyTorch's.

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch safetensors numpy
    /tmp/tvenv/bin/python tools/interop/ddp_demo.py [--qkv-steps 60] [--torch-steps 40] [--dir /tmp/qkv-ddp]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_models import load_text_model, save_text_model  # noqa: E402

WORLD = 2
NOUNS = {"cat": "gato", "dog": "perro", "house": "casa", "book": "libro", "tree": "árbol", "car": "coche", "bird": "pájaro", "river": "río"}
ADJS = {"red": "rojo", "big": "grande", "small": "pequeño", "old": "viejo", "new": "nuevo", "green": "verde"}
VERBS = {"sees": "ve", "has": "tiene", "wants": "quiere", "likes": "quiere a"}


def sentence(rng):
    """(en, es): 'the big dog sees the red car' -> 'el perro grande ve el coche rojo'."""
    def np():
        n, a = rng.choice(list(NOUNS)), rng.choice(list(ADJS))
        return f"the {a} {n}", f"el {NOUNS[n]} {ADJS[a]}"
    (e1, s1), (e2, s2), v = np(), np(), rng.choice(list(VERBS))
    return f"{e1} {v} {e2}", f"{s1} {VERBS[v]} {s2}"


def write_data(d, n_train=600, n_valid=60):
    rng = random.Random(0)
    os.makedirs(d, exist_ok=True)
    for name, n in (("train", n_train), ("valid", n_valid)):
        with open(os.path.join(d, f"{name}.tsv"), "w") as f:
            f.write("en\tes\n")
            for _ in range(n):
                f.write("\t".join(sentence(rng)) + "\n")


def ts(*args, capture=False):
    r = subprocess.run(["npx", "tsx", "tools/interop/ddp-demo.ts", *args], check=True, capture_output=capture, text=True)
    return r.stdout if capture else None


def batches_of(tensors, kind):
    out, i = [], 0
    while f"{kind}.{i}.src" in tensors:
        out.append(tuple(tensors[f"{kind}.{i}.{k}"].long() for k in ("src", "tgt_in", "tgt_out")))
        i += 1
    return out


def valid_loss(model, valid, pad):
    """Summed cross-entropy over the validation targets / their count (qkv's validLoss)."""
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for src, tgt_in, tgt_out in valid:
            logits = model(src, tgt_in)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out, ignore_index=pad, reduction="sum").item()
            tokens += (tgt_out != pad).sum().item()
    model.train()
    return total / tokens


def worker(rank, a, q):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(a.port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.manual_seed(rank)  # dropout differs per process, as it should; the weights start equal
    model, meta = load_text_model(a.qkv_dir)
    pad = model.config["padId"]
    model.train()
    ddp = DDP(model)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=1e-4)
    t = load_file(a.batches)
    train, valid = batches_of(t, "train"), batches_of(t, "valid")
    log = [(0, valid_loss(model, valid, pad))]
    t0 = time.time()
    for step, (src, tgt_in, tgt_out) in enumerate(train, 1):
        B = src.shape[0]
        rows = slice(rank * B // WORLD, (rank + 1) * B // WORLD)  # this process's share of the batch
        T = tgt_in.shape[1]
        mine = tgt_out.reshape(B, T)[rows].reshape(-1)
        logits = ddp(src[rows], tgt_in[rows])
        # sum over this share / tokens of the whole batch, times WORLD: DDP's gradient average is then the whole batch's gradient
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), mine, ignore_index=pad,
                                                 label_smoothing=0.1, reduction="sum") / (tgt_out != pad).sum() * WORLD
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % a.eval_every == 0 or step == len(train):
            log.append((step, valid_loss(model, valid, pad)))
    seconds = time.time() - t0
    # the replicas must be identical after DDP: the largest difference between the two processes' weights
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    others = [torch.empty_like(flat) for _ in range(WORLD)]
    dist.all_gather(others, flat)
    spread = max((o - flat).abs().max().item() for o in others)
    if rank == 0:
        steps = json.loads(meta.get("qkv.info", "{}")).get("steps", 0) + len(train)
        save_text_model(model, a.qkv_dir, a.torch_dir, info={"steps": steps, "validLoss": log[-1][1], "note": f"continued in PyTorch (DDP x{WORLD}, gloo)"})
        model.eval()
        with torch.no_grad():
            src, tgt_in, _ = valid[0]
            save_file({"logits": model(src, tgt_in).contiguous()}, os.path.join(a.dir, "torch-logits.safetensors"))
        q.put({"log": log, "spread": spread, "seconds": seconds})
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qkv-steps", type=int, default=60)
    p.add_argument("--torch-steps", type=int, default=40)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dir", default="/tmp/qkv-ddp")
    p.add_argument("--port", type=int, default=29517)
    a = p.parse_args()
    t0 = time.time()
    shutil.rmtree(a.dir, ignore_errors=True)
    data, a.qkv_dir, a.torch_dir = os.path.join(a.dir, "data"), os.path.join(a.dir, "qkv"), os.path.join(a.dir, "torch")
    a.batches = os.path.join(a.dir, "batches.safetensors")
    write_data(data)

    print(f"1. qkv: trainSeq2Seq, {a.qkv_steps} steps")
    ts("train", data, a.qkv_dir, str(a.qkv_steps), capture=True)
    with open(os.path.join(a.qkv_dir, "log.jsonl")) as f:
        qkv_log = [json.loads(line) for line in f]
    for r in qkv_log:
        print(f"   qkv step {r['step']:4d}: validation loss {r['validLoss']:.4f}")

    ts("batches", data, a.qkv_dir, str(a.qkv_steps), str(a.torch_steps), a.batches, capture=True)
    print(f"2. PyTorch: DistributedDataParallel over {WORLD} CPU processes (gloo), {a.torch_steps} steps on the trainer's next batches")
    q = mp.get_context("spawn").SimpleQueue()
    mp.spawn(worker, args=(a, q), nprocs=WORLD, join=True)
    r = q.get()
    for step, loss in r["log"]:
        print(f"   torch step {a.qkv_steps + step:4d}: validation loss {loss:.4f}" + ("   (qkv's model as loaded: F16 weights)" if step == 0 else ""))
    print(f"   {a.torch_steps} steps in {r['seconds']:.1f} s; largest weight difference between the {WORLD} replicas: {r['spread']:.1e}")

    print("3. qkv: loadTextModelDir on PyTorch's result")
    ev = json.loads(ts("eval", a.torch_dir, a.batches, os.path.join(a.dir, "qkv-logits.safetensors"), capture=True))
    ours = load_file(os.path.join(a.dir, "qkv-logits.safetensors"))["logits"]
    theirs = load_file(os.path.join(a.dir, "torch-logits.safetensors"))["logits"]
    diff = (ours - theirs).abs().max().item()
    torch_last = r["log"][-1][1]
    print(f"   qkv validation loss {ev['validLoss']:.6f} (PyTorch's {torch_last:.6f}, |diff| {abs(ev['validLoss'] - torch_last):.1e}); "
          f"logits of validation batch 0 {list(ours.shape)}: max |diff| {diff:.2e}")
    ok = diff <= 1e-5 and abs(ev["validLoss"] - torch_last) <= 1e-5 and r["spread"] == 0 and torch_last < qkv_log[-1]["validLoss"]
    print(f"loss {qkv_log[0]['validLoss']:.3f} -> {qkv_log[-1]['validLoss']:.3f} in qkv -> {torch_last:.3f} in PyTorch DDP -> {ev['validLoss']:.3f} back in qkv; "
          f"{time.time() - t0:.0f} s in all: {'DDP round trip OK' if ok else 'DDP round trip FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
