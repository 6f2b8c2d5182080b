#!/usr/bin/env python3
"""The coefficients of native/attention.h's expBase2: 2^f on [-1/2, 1/2] as
1 + f (c1 + c2 f + ... + c6 f^5), fitted for relative error by Lawson's iteration on weighted least
squares over Chebyshev nodes; then the float32 coefficients are evaluated in float32 in the
kernels' order (by pairs: a = c1 + c2 f, b = c3 + c4 f, c = c5 + c6 f, 1 + f (a + f^2 (b + f^2 c)))
and their worst error against 2^f in float64 is printed in ulps.

    python3 tools/exp2-poly.py    # needs numpy
"""
import numpy as np

DEG = 6
x = np.cos(np.pi * (np.arange(4000) + 0.5) / 4000) * 0.5
y = np.exp2(x)
w = np.ones_like(x)
A = np.stack([x**k for k in range(1, DEG + 1)], 1)
for _ in range(200):
    W = np.sqrt(w) / y
    c, *_ = np.linalg.lstsq(A * W[:, None], (y - 1) * W, rcond=None)
    err = np.abs((1 + A @ c) - y) / y
    w = w * err
    w /= w.sum()
print(f"relative error in exact arithmetic: {err.max():.3g}")
cf = [np.float32(v) for v in c]
for i, v in enumerate(cf, 1):
    print(f"kExp2C{i} = {float(v)!r}")

f = np.linspace(-0.5, 0.5, 2_000_001).astype(np.float32)
f2 = f * f
a = cf[0] + cf[1] * f
b = cf[2] + cf[3] * f
cc = cf[4] + cf[5] * f
p = np.float32(1) + f * (a + f2 * (b + f2 * cc))
ref = np.exp2(f.astype(np.float64))
ulps = np.abs(p.astype(np.float64) - ref) / np.spacing(ref.astype(np.float32)).astype(np.float64)
print(f"worst error evaluated in float32: {ulps.max():.3f} ulp")
