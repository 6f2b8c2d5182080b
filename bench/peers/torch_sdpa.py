"""PyTorch peer of bench/short-attention.ts (called by it; prints one JSON object on the last stdout line).

python torch_sdpa.py --shapes 128x4x50x16,40x4x50x64 --reps 10 --threads 1 [--forward]

F.scaled_dot_product_attention(q, k, v) on q, k, v [B, H, L, D]: forward under torch.no_grad() with
--forward, else forward + backward (out.backward(dout), gradients reset to None each run). Median
wall and process CPU ms over the repeats, after two warm-up runs.
"""
import argparse
import json

import torch
import torch.nn.functional as F

from timing import timed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", default="128x4x50x16")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--forward", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    rows = {}
    for s in a.shapes.split(","):
        B, H, L, D = (int(x) for x in s.split("x"))
        q, k, v, dout = (torch.randn(B, H, L, D, generator=g) for _ in range(4))
        if a.forward:
            def fn():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v)
        else:
            for t in (q, k, v):
                t.requires_grad_(True)

            def fn():
                for t in (q, k, v):
                    t.grad = None
                F.scaled_dot_product_attention(q, k, v).backward(dout)
        rows[s] = timed(fn, a.reps)
    print(json.dumps({"version": torch.__version__, "threads": a.threads, "rows": rows}))


if __name__ == "__main__":
    main()
