"""safetensors interop check between qkv (TypeScript) and PyTorch; not run by the test suite.

Run from the repository root:

    python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors torch numpy
    /tmp/stvenv/bin/python tools/interop/safetensors_check.py

It asks tools/interop/safetensors-check.ts (via `npx tsx`) to write a file with float32, int32,
bool and float64 tensors, loads it with `safetensors.torch.load_file` and checks every value;
then writes a file with F16, BF16, I64 and F32 tensors and has the TypeScript side read it and
check it. Without torch it falls back to `safetensors.numpy` (and skips BF16). Exit code 0 means
both directions agree bit for bit.
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
    from safetensors.torch import load_file, save_file
    HAVE_TORCH = True
except ImportError:  # pragma: no cover - fallback path
    from safetensors.numpy import load_file, save_file
    HAVE_TORCH = False

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TS = os.path.join(ROOT, "tools", "interop", "safetensors-check.ts")


def ts(*args):
    subprocess.run(["npx", "tsx", TS, *args], cwd=ROOT, check=True)


def as_np(t):
    return t.numpy() if HAVE_TORCH else t


def check(name, got, dtype, values):
    arr = as_np(got)
    want = np.array(values, dtype=dtype)
    assert arr.dtype == want.dtype, f"{name}: dtype {arr.dtype}, expected {want.dtype}"
    assert arr.shape == want.shape, f"{name}: shape {arr.shape}, expected {want.shape}"
    same = np.array_equal(arr, want, equal_nan=arr.dtype.kind == "f")
    if arr.dtype.kind == "f":
        same = same and np.array_equal(np.signbit(arr), np.signbit(want))
    assert same, f"{name}: {arr!r} != {want!r}"
    print(f"ok {name} {arr.dtype} {list(arr.shape)}")


def main():
    with tempfile.TemporaryDirectory() as d:
        ts_file = os.path.join(d, "from_ts.safetensors")
        ts("write", ts_file)
        got = load_file(ts_file)
        assert sorted(got) == ["empty", "f32", "f64", "i32", "mask", "scalar"], sorted(got)
        check("f32", got["f32"], np.float32, [[0.5, -1.25, 1e-3], [3.4e38, -0.0, 7]])
        check("i32", got["i32"], np.int32, [[-2147483648, 0, 2147483647]])
        check("mask", got["mask"], np.bool_, [[True, False], [False, True]])
        check("f64", got["f64"], np.float64, [math.pi, -1e300, 5e-324])
        check("scalar", got["scalar"], np.float32, 42)
        check("empty", got["empty"], np.float32, np.zeros((0, 4)))
        from safetensors import safe_open
        with safe_open(ts_file, framework="numpy") as f:
            assert f.metadata() == {"format": "pt", "source": "qkv"}, f.metadata()
        print("ok metadata; all qkv tensors read back")

        py_file = os.path.join(d, "from_py.safetensors")
        f16 = [1.0, -2.5, 65504.0, 2.0 ** -24, 1023 * 2.0 ** -24, math.inf, -math.inf, math.nan]
        if HAVE_TORCH:
            tensors = {
                "f16": torch.tensor(f16, dtype=torch.float16).reshape(2, 4),
                "bf16": torch.tensor([1.0, -2.5, 65280.0, 2.0 ** -133, -math.inf], dtype=torch.bfloat16),
                "i64": torch.tensor([-5, 0, 2**31 - 1, -(2**31)], dtype=torch.int64),
                "f32": torch.tensor([[1, 2], [3, 0.1]], dtype=torch.float32),
            }
        else:
            tensors = {
                "f16": np.array(f16, dtype=np.float16).reshape(2, 4),
                "i64": np.array([-5, 0, 2**31 - 1, -(2**31)], dtype=np.int64),
                "f32": np.array([[1, 2], [3, 0.1]], dtype=np.float32),
            }
        save_file(tensors, py_file, metadata={"writer": "python"})
        ts("read", py_file, *([] if HAVE_TORCH else ["--no-bf16"]))
    print(f"safetensors interop OK ({'torch ' + torch.__version__ if HAVE_TORCH else 'numpy only'})")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, subprocess.CalledProcessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
