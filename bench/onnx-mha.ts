/**
 * ONNX Runtime timing of qkv's exported attention in its three forms (plain ops, the fused
 * com.microsoft.MultiHeadAttention, the standard opset-23 Attention), and of a qkv forward for
 * scale, CPU execution provider, forward only, B = 1:
 *   --model mha (default): one self-attention MultiheadAttention, E = 512, H = 8, x [1, N, 512];
 *   --model vit: a VisionTransformer whose N tokens are the patches of a 4 N-pixel-wide strip
 *     (1 x 4 x 4N image, patch 4, mean pooling, no class token), E = 512, H = 8, 2 blocks.
 * qkv runs with QKV_NUM_THREADS threads (set it to match --threads), as it is and with its weights
 * prepacked (prepackWeights, as ONNX Runtime packs them when it makes a session). Each line gives the median
 * wall time and the median CPU time of the process per call: on a machine shared with other work
 * the wall time includes waiting for a core, while the CPU time of a 1-thread run does not.
 * With `--rounds R`, a last line compares qkv prepacked with ONNX Runtime's fused graph called in
 * turns (R rounds of --reps calls of each), by the fastest call of each: the least disturbed
 * figure on a machine whose speed drifts between runs.
 *
 * ```sh
 * QKV_NUM_THREADS=1 npm run bench -- onnx-mha [--model mha|vit] [--n 1024] [--threads 1] [--reps 10] [--rounds 5]
 * ```
 */
import { createRequire } from "node:module";
import { noGrad } from "../src/autograd/graph.js";
import { getBackend } from "../src/backend/registry.js";
import { getNumThreads, loadBackends } from "../src/node.js";
import type { Module } from "../src/nn/module.js";
import { MultiheadAttention } from "../src/nn/multihead-attention.js";
import { prepackWeights } from "../src/nn/prepack.js";
import { VisionTransformer } from "../src/nn/vit.js";
import { onnxGraphs } from "../src/onnx/export.js";
import { Generator } from "../src/tensor/rng.js";
import { randn, type Tensor } from "../src/tensor/tensor.js";
import { machineInfo, median } from "./lib.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const which = process.argv.includes("--model") ? process.argv[process.argv.indexOf("--model") + 1] : "mha";
if (which !== "mha" && which !== "vit") throw new Error(`--model must be mha or vit, got ${which}`);
const N = arg("--n", 1024), threads = arg("--threads", 2), reps = arg("--reps", 10), rounds = arg("--rounds", 0);
const E = 512, H = 8;
loadBackends({ quiet: true });
const req = createRequire(import.meta.url);
const ort = req("onnxruntime-node") as typeof import("onnxruntime-node");

let fused: { session: import("onnxruntime-node").InferenceSession; feeds: Record<string, import("onnxruntime-node").Tensor> } | null = null;
let model: Module, x: Tensor, input: string, output: string, run: () => Tensor, what: string;
if (which === "mha") {
  const mha = new MultiheadAttention(E, H, { batchFirst: true, generator: new Generator(1) }).eval();
  x = randn([1, N, E], { generator: new Generator(2) });
  [model, input, output, what] = [mha, "query", "output", `MultiheadAttention E=${E} H=${H}, B=1, N=${N}`];
  run = () => mha.forward(x, x, x, { needWeights: false }).output;
} else {
  const vit = new VisionTransformer({ imageSize: [4, 4 * N], patchSize: 4, inChannels: 1, numClasses: 10, dim: E, depth: 2, heads: H, pooling: "mean" }, { generator: new Generator(1) }).eval();
  x = randn([1, 1, 4, 4 * N], { generator: new Generator(2) });
  [model, input, output, what] = [vit, "pixel_values", "logits", `VisionTransformer E=${E} H=${H} depth 2, B=1, N=${N} tokens`];
  run = () => vit.forward(x);
}

/** Median wall and CPU milliseconds per call (after one warm-up call). */
async function time(fn: () => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number }> {
  await fn();
  const walls: number[] = [], cpus: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  return { wall: median(walls), cpu: median(cpus) };
}
const fmt = (t: { wall: number; cpu: number }): string => `${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms CPU`;

const m = machineInfo();
const ref = noGrad(run).data as Float32Array;
console.log(`${what}, forward; onnxruntime-node ${(req("onnxruntime-node/package.json") as { version: string }).version}, ${threads} intra-op threads; median of ${reps}`);
console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, node ${m.node}, load average ${m.loadAvgStart.toFixed(1)} at the start`);
for (const attention of ["plain", "fused", "opset23"] as const) {
  const [f] = onnxGraphs(model, input === "query" ? { query: x } : {}, { attention });
  const s = await ort.InferenceSession.create(f!.bytes, { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const feeds = { [input]: new ort.Tensor("float32", x.data as Float32Array, x.shape) };
  const out = (await s.run(feeds))[output]!.data as Float32Array;
  let d = 0;
  for (let i = 0; i < out.length; i++) d = Math.max(d, Math.abs(out[i]! - ref[i]!));
  const t = await time(() => s.run(feeds));
  console.log(`ort ${attention.padEnd(7)}: ${fmt(t)}  (max |diff| vs qkv ${d.toExponential(2)})`);
  if (attention === "fused" && rounds > 0) fused = { session: s, feeds };
  else await s.release();
}
const q = await time(() => noGrad(run));
console.log(`qkv ${getBackend().name.padEnd(7)}: ${fmt(q)}  (${getNumThreads()} threads)`);
// the weights packed once, as ONNX Runtime does when it creates the session
prepackWeights(model);
const qp = await time(() => noGrad(run));
console.log(`qkv ${getBackend().name} prepacked: ${fmt(qp)}  (prepackWeights)`);
if (fused) {
  // in turns: R rounds of `reps` calls of each, the fastest call of each kept
  const f = fused;
  let bestQkv = Infinity, bestOrt = Infinity;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      noGrad(run);
      bestQkv = Math.min(bestQkv, performance.now() - t0);
    }
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await f.session.run(f.feeds);
      bestOrt = Math.min(bestOrt, performance.now() - t0);
    }
  }
  await f.session.release();
  console.log(`in turns (${rounds} rounds of ${reps}), fastest call: qkv prepacked ${bestQkv.toFixed(2)} ms, ort fused ${bestOrt.toFixed(2)} ms, ratio ${(bestQkv / bestOrt).toFixed(3)}`);
}
