"""PyTorch peer of bench/run.ts (called by it; prints one JSON object on the last stdout line).

Timing:  python torch_bench.py --spec '{"rows": [...], "timing": {...}, "rowLimitMs": 20000, "threads": 2}'
Memory:  python torch_bench.py --mem core|mha --n 16384 --threads 2
Info:    python torch_bench.py --info

Implementations:
  torch:default  F.scaled_dot_product_attention as dispatched (the CPU flash kernel for float32);
                 mha rows: nn.MultiheadAttention(512, 8, batch_first=True), need_weights=False
  torch:math     the same under sdpa_kernel(SDPBackend.MATH) (the unfused composition)
Forward runs under torch.no_grad() with the module in eval mode (its inference fast path applies);
forward + backward in train mode (dropout 0), out.backward(dy), gradients reset to None each run.
Same skip rule and timing as the Node side: median after warm-up, adaptive repeats.
"""
import argparse
import contextlib
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

B, H, D, E = 1, 8, 64, 512


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def backend_ctx(impl):
    return sdpa_kernel(SDPBackend.MATH) if impl == "torch:math" else contextlib.nullcontext()


def make_runner(impl, group, pass_, n, gen):
    """A closure running one row once."""
    if group == "core":
        q, k, v = (torch.randn(B, H, n, D, generator=gen) for _ in range(3))
        if pass_ == "fwd":
            def run():
                with torch.no_grad(), backend_ctx(impl):
                    F.scaled_dot_product_attention(q, k, v)
            return run
        for t in (q, k, v):
            t.requires_grad_(True)
        dy = torch.randn(B, H, n, D, generator=gen)

        def run():
            q.grad = k.grad = v.grad = None
            with backend_ctx(impl):
                out = F.scaled_dot_product_attention(q, k, v)
            out.backward(dy)
        return run
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
    x = torch.randn(B, n, E, generator=gen)
    if pass_ == "fwd":
        mha.eval()

        def run():
            with torch.no_grad(), backend_ctx(impl):
                mha(x, x, x, need_weights=False)
        return run
    mha.train()
    x.requires_grad_(True)
    dy = torch.randn(B, n, E, generator=gen)

    def run():
        x.grad = None
        mha.zero_grad(set_to_none=True)
        with backend_ctx(impl):
            out, _ = mha(x, x, x, need_weights=False)
        out.backward(dy)
    return run


def measure(fn, o):
    # the same warm-up as bench/lib.ts: the given runs, then more (up to 50) until warmupMs passed
    w0 = time.perf_counter()
    i = 0
    while i < o["warmup"] or (o["warmup"] > 0 and i < 50 and (time.perf_counter() - w0) * 1000 < o.get("warmupMs", 0)):
        fn()
        i += 1
    ts = []
    t0 = time.perf_counter()
    while len(ts) < o["minReps"] or (len(ts) < o["maxReps"] and (time.perf_counter() - t0) * 1000 < o["budgetMs"]):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    s = sorted(ts)
    m = len(s) // 2
    med = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
    return {"ms": med, "minMs": s[0], "reps": len(ts)}


def info():
    cfg = torch.__config__.show()
    blas = "unknown"
    for line in cfg.splitlines():
        if "BLAS_INFO=" in line:
            blas = line.split("BLAS_INFO=")[1].split(",")[0]
    mkl = next((l.strip(" -") for l in cfg.splitlines() if "Math Kernel Library" in l), None)
    return {
        "version": torch.__version__,
        "blas": blas,
        "blasDetail": mkl,
        "cpuCapability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "config": cfg,
    }


def timing(spec):
    gen = torch.Generator().manual_seed(0)
    o = spec["timing"]
    limit = spec["rowLimitMs"]
    last, failed, out = {}, {}, []
    for r in spec["rows"]:
        key = (r["impl"], r["group"], r["pass"])
        res = {"impl": r["impl"], "id": r["id"]}
        if key in failed:
            res["skipped"] = failed[key]
            out.append(res)
            continue
        opts = dict(o)
        if key in last:
            n0, ms0 = last[key]
            est = ms0 * (r["N"] / n0) ** 2
            if est > 3000:
                opts["warmup"] = 0
            row_ms = est * (opts["warmup"] + opts["minReps"])
            if row_ms > limit:
                res["skipped"] = "skipped: estimated %.1f s per run, %.0f s per row > %.0f s" % (est / 1000, row_ms / 1000, limit / 1000)
                out.append(res)
                continue
        try:
            run = make_runner(r["impl"], r["group"], r["pass"], r["N"], gen)
            t = measure(run, opts)
            del run
            last[key] = (r["N"], t["ms"])
            res.update(t)
        except Exception as e:  # noqa: BLE001 - reported, the series stops
            msg = "failed at N=%d: %s" % (r["N"], str(e).splitlines()[0][:160] if str(e) else type(e).__name__)
            failed[key] = "skipped: " + msg
            res["error"] = msg
        out.append(res)
        print(json.dumps({"progress": res}), flush=True)
    return out


def memory(group, n, impl):
    gen = torch.Generator().manual_seed(0)
    small = make_runner(impl, group, "fwd+bwd", 256, gen)
    small()
    run = make_runner(impl, group, "fwd+bwd", n, gen)
    base = peak_mib()
    t = time.perf_counter()
    run()
    ms = (time.perf_counter() - t) * 1000
    peak = peak_mib()
    return {"peakMiB": peak, "baselineMiB": base, "deltaMiB": peak - base, "ms": ms}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec")
    ap.add_argument("--mem", choices=["core", "mha"])
    ap.add_argument("--impl", default="torch:default")
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--info", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.info:
        result = info()
    elif a.mem:
        result = memory(a.mem, a.n, a.impl)
    else:
        spec = json.loads(a.spec)
        torch.set_num_threads(spec.get("threads", a.threads))
        result = {"info": info(), "results": timing(spec)}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
