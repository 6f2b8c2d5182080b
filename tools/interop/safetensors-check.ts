/**
 * The TypeScript half of the safetensors interop check with PyTorch (not part of the test suite).
 * Run the whole check from the repository root with the Python half, which calls this script:
 *
 * ```sh
 * python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors torch numpy
 * /tmp/stvenv/bin/python tools/interop/safetensors_check.py
 * ```
 *
 * Modes: `write <file>` writes the tensors Python checks; `read <file>` reads the file Python
 * wrote (F16, BF16, I64, F32) and checks its values. Exits non-zero on any mismatch.
 */
import { readFile } from "node:fs/promises";
import { decodeSafetensors } from "../../src/io/safetensors.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { type Tensor, tensor } from "../../src/tensor/tensor.js";

function fail(msg: string): never {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

async function write(path: string): Promise<void> {
  await saveSafetensors(
    path,
    {
      f32: tensor([[0.5, -1.25, 1e-3], [3.4e38, -0, 7]]),
      i32: tensor([[-2147483648, 0, 2147483647]], { dtype: "int32" }),
      mask: tensor([[true, false], [false, true]]),
      f64: tensor([Math.PI, -1e300, 5e-324], { dtype: "float64" }),
      scalar: tensor(42),
      empty: tensor(new Float32Array(0), { shape: [0, 4] }),
    },
    { format: "pt", source: "qkv" },
  );
  console.log(`wrote ${path}`);
}

function same(name: string, t: Tensor | undefined, dtype: string, shape: number[], values: number[]): void {
  if (!t) fail(`${name}: missing`);
  if (t.dtype !== dtype) fail(`${name}: dtype ${t.dtype}, expected ${dtype}`);
  if (t.shape.join(",") !== shape.join(",")) fail(`${name}: shape [${t.shape}], expected [${shape}]`);
  values.forEach((v, i) => {
    if (!Object.is(t.data[i], v)) fail(`${name}[${i}] = ${t.data[i]}, expected ${v}`);
  });
  console.log(`ok ${name} ${t.dtype} [${t.shape}]`);
}

async function read(path: string, hasBf16: boolean): Promise<void> {
  const fromFile = await loadSafetensors(path);
  const fromBytes = decodeSafetensors(new Uint8Array(await readFile(path)));
  for (const { tensors, metadata } of [fromFile, fromBytes]) {
    same("f16", tensors.get("f16"), "float32", [2, 4], [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, NaN]);
    if (hasBf16) same("bf16", tensors.get("bf16"), "float32", [5], [1, -2.5, 65280, 2 ** -133, -Infinity]);
    same("i64", tensors.get("i64"), "int32", [4], [-5, 0, 2147483647, -2147483648]);
    same("f32", tensors.get("f32"), "float32", [2, 2], [1, 2, 3, Math.fround(0.1)]);
    if (metadata["writer"] !== "python") fail(`metadata ${JSON.stringify(metadata)}`);
  }
  console.log("ok metadata; all python tensors read back");
}

const [mode, path, flag] = process.argv.slice(2);
if (mode === "write" && path) await write(path);
else if (mode === "read" && path) await read(path, flag !== "--no-bf16");
else fail("usage: safetensors-check.ts write|read <file> [--no-bf16]");
