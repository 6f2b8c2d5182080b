"""Model interop check between qkv and PyTorch (not part of the test suite).

A checkpoint written by qkv (safetensors, qkv's state-dict names) loads into the matching torch.nn
module with identical outputs, and a torch state dict loads into qkv with identical outputs, for
MultiheadAttention, TransformerEncoderLayer and TransformerDecoderLayer.

Run from the repository root:
    python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors torch numpy
    /tmp/stvenv/bin/python tools/interop/model_check.py
or with Debian's python3-torch (1.13), whose missing safetensors module is replaced by a reader and
writer of the format below:
    apt-get install python3-torch && /usr/bin/python3 tools/interop/model_check.py
"""
import json
import struct
import subprocess
import sys
import tempfile

import torch

try:
    from safetensors.torch import load_file, save_file
except ImportError:  # Debian ships python3-torch but no python3-safetensors: read/write the format here
    _DT = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64, "BOOL": torch.bool}
    _NAME = {v: k for k, v in _DT.items()}

    def load_file(path):
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        header.pop("__metadata__", None)
        body = data[8 + n:]
        out = {}
        for name, info in header.items():
            b, e = info["data_offsets"]
            t = torch.frombuffer(bytearray(body[b:e]), dtype=_DT[info["dtype"]]) if e > b else torch.empty(0, dtype=_DT[info["dtype"]])
            out[name] = t.reshape(info["shape"]).clone()
        return out

    def save_file(tensors, path):
        header, chunks, off = {}, [], 0
        for name in sorted(tensors):
            t = tensors[name].contiguous()
            raw = t.numpy().tobytes()
            header[name] = {"dtype": _NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
            chunks.append(raw)
            off += len(raw)
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))

TOL = 1e-5


def modules():
    torch.manual_seed(0)
    return {
        "mha": (lambda: torch.nn.MultiheadAttention(16, 4, batch_first=True),
                lambda m, x: m(x["x"], x["x"], x["x"], need_weights=False)[0],
                lambda: {"x": torch.randn(2, 5, 16)}),
        "encoder_layer": (lambda: torch.nn.TransformerEncoderLayer(16, 4, 32, 0.0, "gelu", batch_first=True),
                          lambda m, x: m(x["x"]),
                          lambda: {"x": torch.randn(2, 5, 16)}),
        "decoder_layer": (lambda: torch.nn.TransformerDecoderLayer(16, 4, 32, 0.0, batch_first=True, norm_first=True),
                          lambda m, x: m(x["x"], x["memory"], tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(x["x"].shape[1])),
                          lambda: {"x": torch.randn(2, 4, 16), "memory": torch.randn(2, 6, 16)}),
    }


def ts(mode, d):
    subprocess.run(["npx", "tsx", "tools/interop/model-check.ts", mode, d], check=True)


def main():
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        ts("write", d)
        for name, (make, run, inputs) in modules().items():
            # qkv -> torch
            m = make().eval()
            sd = load_file(f"{d}/{name}.safetensors")
            missing, unexpected = m.load_state_dict(sd, strict=True)
            io = load_file(f"{d}/{name}.io.safetensors")
            with torch.no_grad():
                out = run(m, io)
            diff = (out - io["output"]).abs().max().item()
            ok = diff <= TOL
            bad += not ok
            print(f"{'ok' if ok else 'FAIL'} qkv -> torch {name}: {len(sd)} tensors, max |diff| {diff:.2e}")
            # torch -> qkv
            m2 = make().eval()
            x = inputs()
            with torch.no_grad():
                y = run(m2, x)
            save_file({k: v.contiguous() for k, v in m2.state_dict().items()}, f"{d}/{name}.torch.safetensors")
            save_file({**x, "output": y.contiguous()}, f"{d}/{name}.torch-io.safetensors")
        r = subprocess.run(["npx", "tsx", "tools/interop/model-check.ts", "read", d])
        bad += r.returncode != 0
    print(f"torch {torch.__version__}: {'model interop OK' if not bad else 'model interop FAILED'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
