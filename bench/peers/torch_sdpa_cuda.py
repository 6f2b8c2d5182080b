"""PyTorch CUDA peer of bench/webgpu.ts (run by it with --torch PYTHON; prints one JSON object on the last stdout line).

python torch_sdpa_cuda.py --sizes 1024,2048,4096 --heads 8 --dim 64 --gemm 4096 --reps 10 --warmup 3

fp32 throughout, TF32 off (torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 False):
- F.scaled_dot_product_attention(q, k, v) on q, k, v [1, H, N, D] at each N of --sizes: the forward under
  torch.no_grad(), and forward + backward (out.backward(dout), gradients reset to None each run), with the
  backend PyTorch picks for fp32; the CUDA kernels of one forward are listed (from the profiler);
- torch.matmul of two [n, n] at each n of --gemm.
Each call is timed with CUDA events recorded around it, median of --reps after --warmup calls.
Without a CUDA device it prints {"unavailable": "..."} and exits 0.
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F


def timed(fn, reps, warmup):
    """Median milliseconds of fn() between two CUDA events, after warmup calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        ms.append(start.elapsed_time(end))
    return statistics.median(ms)


def kernels_of(fn):
    """Names of the CUDA kernels one call of fn launches (best effort: [] when the profiler gives none)."""
    try:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        return sorted({e.key for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA})
    except Exception:  # noqa: BLE001 - a listing, not a measurement
        return []


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="1024,2048,4096")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--gemm", default="4096")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"unavailable": f"torch {torch.__version__} sees no CUDA device"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    H, D = a.heads, a.dim
    gemm = {}
    for n in (int(s) for s in a.gemm.split(",") if s):
        x, y = (torch.randn(n, n, device=dev, generator=g) for _ in range(2))
        ms = timed(lambda: torch.matmul(x, y), a.reps, a.warmup)
        gemm[str(n)] = {"ms": ms, "tflops": 2 * n**3 / (ms * 1e-3) / 1e12}
        del x, y
    attention = {}
    kernels = []
    for N in (int(s) for s in a.sizes.split(",") if s):
        q, k, v, dout = (torch.randn(1, H, N, D, device=dev, generator=g) for _ in range(4))

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v)

        fwd = timed(forward, a.reps, a.warmup)
        if not kernels:
            kernels = kernels_of(forward)
        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))

        def forward_backward():
            for t in (qg, kg, vg):
                t.grad = None
            F.scaled_dot_product_attention(qg, kg, vg).backward(dout)

        fwd_bwd = timed(forward_backward, a.reps, a.warmup)
        flop = 4 * N * N * D * H
        attention[str(N)] = {"forwardMs": fwd, "forwardBackwardMs": fwd_bwd,
                             "forwardTflops": flop / (fwd * 1e-3) / 1e12, "forwardBackwardTflops": 3.5 * flop / (fwd_bwd * 1e-3) / 1e12}
        del q, k, v, dout, qg, kg, vg
    print(json.dumps({
        "version": torch.__version__, "device": torch.cuda.get_device_name(0), "tf32": False,
        "reps": a.reps, "warmup": a.warmup, "sdpaKernels": kernels, "gemm": gemm, "attention": attention,
    }))


if __name__ == "__main__":
    main()
