/**
 * Where a step's time goes, per backend kernel: every kernel method of the active backend is
 * wrapped with a timer, and one workload is run; the table lists each kernel (with its shape:
 * matmul's batch x M x N x K and transposes, the op of unary / binary) by milliseconds per step,
 * calls per step and share of the step. On a host backend each call finishes before it returns,
 * so the times are the kernels' own; what is left of the step is the library's JavaScript
 * (autograd, shape checks, allocation).
 *
 * Workloads:
 *   vit   a `qkv classify` training step (ViT dim 64, depth 6, 4 heads, MLP ratio 2, batch 128, AdamW)
 *   mha   MultiheadAttention(512, 8) forward on x [1, N, 512] (no grad), as bench/onnx-mha.ts
 *         (`--prepack`: its weights prepacked, as bench/onnx-mha.ts's "qkv prepacked")
 *
 * ```sh
 * QKV_NUM_THREADS=1 npm run bench -- ops [--model vit|mha] [--n 128] [--prepack] [--steps 10] [--top 25] [--backend native]
 * ```
 */
import { freeGraph } from "../src/autograd/free-graph.js";
import { noGrad } from "../src/autograd/graph.js";
import { getBackend, setBackend } from "../src/backend/registry.js";
import type { BackendName } from "../src/backend/backend.js";
import { loadBackends } from "../src/node.js";
import { MultiheadAttention } from "../src/nn/multihead-attention.js";
import { prepackWeights } from "../src/nn/prepack.js";
import { VisionTransformer } from "../src/nn/vit.js";
import { crossEntropy } from "../src/ops/functional.js";
import { AdamW } from "../src/optim/adam.js";
import { Generator } from "../src/tensor/rng.js";
import { randint, randn } from "../src/tensor/tensor.js";
import { machineInfo } from "./lib.js";

const argOf = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const model = argOf("--model", "vit"), steps = Number(argOf("--steps", "10")), top = Number(argOf("--top", "25"));
const N = Number(argOf("--n", "128"));
if (model !== "vit" && model !== "mha") throw new Error(`--model must be vit or mha, got ${model}`);
if (!(steps >= 1)) throw new Error(`--steps must be a positive number, got ${argOf("--steps", "")}`);

loadBackends({ quiet: true });
const wanted = argOf("--backend", "");
if (wanted) setBackend(wanted as BackendName);
const be = getBackend();

/** What the backend methods should not be timed as kernels. */
const NOT_KERNELS = new Set(["constructor", "alloc", "upload", "read", "view", "release", "packedUsable"]);

/** The row a call is counted under: the kernel, with the arguments that set its cost. */
function keyOf(kernel: string, a: unknown[]): string {
  if (kernel === "matmulPrepacked") return `matmulPrepacked ${a[3]}x${(a[2] as { N: number }).N}x${(a[2] as { K: number }).K}${a[6] ? " +bias" : ""}`;
  if (kernel === "matmul") return `matmul ${a[3]}x${a[4]}x${a[5]}x${a[6]}${a[7] ? " tA" : ""}${a[8] ? " tB" : ""}`;
  if (kernel === "unary") return `unary ${String(a[0])} n=${a[3]}`;
  if (kernel === "binary") return `binary ${String(a[0])} [${(a[4] as number[]).join("x")}]`;
  if (kernel === "softmax" || kernel === "softmaxBackward") return `${kernel} ${a[3]}x${a[4]}`;
  return kernel;
}

const stats = new Map<string, { calls: number; ms: number }>();
let timing = false;
const target = be as unknown as Record<string, unknown>;
const names = new Set([...Object.getOwnPropertyNames(Object.getPrototypeOf(be)), ...Object.keys(be)]);
for (const name of names) {
  const f = target[name];
  if (typeof f !== "function" || NOT_KERNELS.has(name)) continue;
  target[name] = function timed(this: unknown, ...args: unknown[]): unknown {
    if (!timing) return (f as (...a: unknown[]) => unknown).apply(be, args);
    const t0 = performance.now();
    const r = (f as (...a: unknown[]) => unknown).apply(be, args);
    const ms = performance.now() - t0, key = keyOf(name, args);
    const s = stats.get(key) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += ms;
    stats.set(key, s);
    return r;
  };
}

let step: () => void, what: string;
if (model === "vit") {
  const vit = new VisionTransformer({ imageSize: [28, 28], patchSize: 4, inChannels: 1, numClasses: 10, dim: 64, depth: 6, heads: 4, mlpRatio: 2 },
    { generator: new Generator(1) });
  const opt = new AdamW(vit.parameters(), { lr: 1e-3 });
  const x = randn([128, 1, 28, 28], { generator: new Generator(2) }), y = randint(0, 10, [128], { generator: new Generator(3) });
  step = () => {
    opt.zeroGrad();
    const loss = crossEntropy(vit.forward(x), y);
    loss.backward();
    opt.step();
    freeGraph(loss);
  };
  what = "ViT training step (dim 64, depth 6, 4 heads, MLP ratio 2, batch 128, AdamW)";
} else {
  const mha = new MultiheadAttention(512, 8, { batchFirst: true, generator: new Generator(1) }).eval();
  const x = randn([1, N, 512], { generator: new Generator(2) });
  if (process.argv.includes("--prepack")) prepackWeights(mha);
  step = () => void noGrad(() => mha.forward(x, x, x, { needWeights: false }).output);
  what = `MultiheadAttention(512, 8) forward, x [1, ${N}, 512]${process.argv.includes("--prepack") ? ", weights prepacked" : ""}`;
}

for (let i = 0; i < 3; i++) step();
timing = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const stepMs = (performance.now() - t0) / steps;
timing = false;

const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((s, [, r]) => s + r.ms, 0) / steps;
const m = machineInfo();
console.log(`${what} on ${be.name}, ${steps} steps after 3 of warm-up; ${m.cpu}, ${m.cores} cores, Node ${m.node}`);
console.log(`step ${stepMs.toFixed(2)} ms, in kernels ${inKernels.toFixed(2)} ms (${((100 * inKernels) / stepMs).toFixed(1)}%), the rest ${(stepMs - inKernels).toFixed(2)} ms\n`);
console.log("| kernel | ms / step | calls / step | share |\n|---|---:|---:|---:|");
for (const [key, r] of rows.slice(0, top)) {
  console.log(`| ${key} | ${(r.ms / steps).toFixed(3)} | ${(r.calls / steps).toFixed(1)} | ${((100 * r.ms) / steps / stepMs).toFixed(1)}% |`);
}
if (rows.length > top) console.log(`| (${rows.length - top} more rows) | ${(rows.slice(top).reduce((s, [, r]) => s + r.ms, 0) / steps).toFixed(3)} | | |`);
