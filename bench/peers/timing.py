"""Timing shared by the PyTorch peers of the single-purpose benches (torch_conv.py, torch_sdpa.py).

timed(fn, reps): two warm-up calls, then the median wall and process CPU milliseconds of `reps`
calls, as {"ms": ..., "cpuMs": ...}.
"""
import time


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def timed(fn, reps):
    fn()
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"ms": median(wall), "cpuMs": median(cpu)}
