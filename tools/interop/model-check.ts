/**
 * The TypeScript half of the model interop check with PyTorch (not part of the test suite): a qkv
 * checkpoint loads into torch.nn modules with identical outputs, and a torch state dict loads into
 * qkv with identical outputs. Run from the repository root:
 *
 * ```sh
 * python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install safetensors torch numpy   # or Debian's python3-torch
 * /tmp/stvenv/bin/python tools/interop/model_check.py
 * ```
 *
 * Modes: `write <dir>` saves, for each test model, `<name>.safetensors` (its state dict) and
 * `<name>.io.safetensors` (an input and qkv's output); `read <dir>` loads the state dicts and inputs
 * Python wrote (`<name>.torch.safetensors`, `<name>.torch-io.safetensors`) and checks qkv's outputs
 * against torch's. Exits non-zero on any mismatch.
 */
import { join } from "node:path";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import type { Module } from "../../src/nn/module.js";
import { TransformerEncoderLayer } from "../../src/nn/transformer.js";
import { TransformerDecoderLayer } from "../../src/nn/transformer-decoder.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { randn, type Tensor } from "../../src/tensor/tensor.js";

interface Case {
  name: string;
  make: () => Module;
  inputs: () => Record<string, Tensor>;
  run: (m: Module, x: Record<string, Tensor>) => Tensor;
}

const cases: Case[] = [
  {
    name: "mha",
    make: () => new MultiheadAttention(16, 4, { batchFirst: true }),
    inputs: () => ({ x: randn([2, 5, 16]) }),
    run: (m, x) => (m as MultiheadAttention).forward(x.x!, x.x!, x.x!, { needWeights: false }).output,
  },
  {
    name: "encoder_layer",
    make: () => new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, dropout: 0, batchFirst: true, activation: "gelu" }).eval(),
    inputs: () => ({ x: randn([2, 5, 16]) }),
    run: (m, x) => (m as TransformerEncoderLayer).forward(x.x!),
  },
  {
    name: "decoder_layer",
    make: () => new TransformerDecoderLayer(16, 4, { dimFeedforward: 32, dropout: 0, batchFirst: true, normFirst: true }).eval(),
    inputs: () => ({ x: randn([2, 4, 16]), memory: randn([2, 6, 16]) }),
    run: (m, x) => (m as TransformerDecoderLayer).forward(x.x!, x.memory!, { tgtIsCausal: true }),
  },
];

function maxDiff(a: Tensor, b: Tensor): number {
  if (a.size !== b.size) return Infinity;
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

async function write(dir: string): Promise<void> {
  manualSeed(1);
  for (const c of cases) {
    const m = c.make();
    const x = c.inputs();
    await saveSafetensors(join(dir, `${c.name}.safetensors`), m.stateDict());
    await saveSafetensors(join(dir, `${c.name}.io.safetensors`), { ...x, output: c.run(m, x) });
    console.log(`wrote ${c.name}`);
  }
}

async function read(dir: string): Promise<void> {
  let bad = 0;
  for (const c of cases) {
    const m = c.make();
    const sd = await loadSafetensors(join(dir, `${c.name}.torch.safetensors`));
    m.loadStateDict(sd.tensors);
    const io = (await loadSafetensors(join(dir, `${c.name}.torch-io.safetensors`))).tensors;
    const x: Record<string, Tensor> = {};
    for (const [k, v] of io) if (k !== "output") x[k] = v;
    const d = maxDiff(c.run(m, x), io.get("output")!);
    const ok = d <= 1e-5;
    if (!ok) bad++;
    console.log(`${ok ? "ok" : "FAIL"} torch -> qkv ${c.name}: max |diff| ${d.toExponential(2)}`);
  }
  if (bad) process.exit(1);
}

const [mode, dir] = process.argv.slice(2);
if (mode === "write" && dir) await write(dir);
else if (mode === "read" && dir) await read(dir);
else {
  console.error("usage: model-check.ts write|read <dir>");
  process.exit(2);
}
