"""PyTorch peer of bench/conv.ts (called by it; prints one JSON object on the last stdout line).

python torch_conv.py --batch 32 --channels 64 --size 32 --kernel 3 --reps 10 --threads 2

F.conv2d(x, w, b, padding=k // 2) on x [batch, channels, size, size], w [channels, channels, k, k]:
forward under torch.no_grad(), and forward + backward (y.backward(dy), gradients of x, w, b reset
to None each run). Median wall and process CPU ms over the repeats, after two warm-up runs.
"""
import argparse
import json

import torch
import torch.nn.functional as F

from timing import timed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    C, k = a.channels, a.kernel
    x = torch.randn(a.batch, C, a.size, a.size, generator=g)
    w = (torch.randn(C, C, k, k, generator=g) * 0.05)
    b = torch.randn(C, generator=g)
    dy = torch.randn(a.batch, C, a.size, a.size, generator=g)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=k // 2)

    xs, ws, bs = (t.clone().requires_grad_(True) for t in (x, w, b))

    def fwd_bwd():
        xs.grad = ws.grad = bs.grad = None
        F.conv2d(xs, ws, bs, padding=k // 2).backward(dy)

    out = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpuCapability": torch.backends.cpu.get_cpu_capability(),
        "fwd": timed(fwd, a.reps),
        "fwdBwd": timed(fwd_bwd, a.reps),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
