/**
 * ONNX Runtime timing of qkv's exported MultiheadAttention, plain ops against the fused
 * com.microsoft.MultiHeadAttention, and of a qkv forward for scale: self-attention, B = 1,
 * E = 512, H = 8, forward only, CPU execution provider.
 *
 * ```sh
 * npx tsx bench/onnx-mha.ts [--n 1024] [--threads 2] [--reps 10]
 * ```
 */
import { createRequire } from "node:module";
import { noGrad } from "../src/autograd/graph.js";
import { getBackend } from "../src/backend/registry.js";
import { loadBackends } from "../src/node.js";
import { MultiheadAttention } from "../src/nn/multihead-attention.js";
import { onnxGraphs } from "../src/onnx/export.js";
import { Generator } from "../src/tensor/rng.js";
import { randn } from "../src/tensor/tensor.js";
import { median } from "./lib.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("--n", 1024), threads = arg("--threads", 2), reps = arg("--reps", 10);
const E = 512, H = 8;
loadBackends({ quiet: true });
const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof import("onnxruntime-node");
const mha = new MultiheadAttention(E, H, { batchFirst: true, generator: new Generator(1) }).eval();
const x = randn([1, N, E], { generator: new Generator(2) });

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

const ref = noGrad(() => mha.forward(x, x, x, { needWeights: false }).output.data as Float32Array);
console.log(`MultiheadAttention E=${E} H=${H}, B=1, N=${N}, forward; onnxruntime-node ${(createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version}, ${threads} intra-op threads; median of ${reps}`);
for (const attention of ["plain", "fused"] as const) {
  const [f] = onnxGraphs(mha, { query: x }, { attention });
  const s = await ort.InferenceSession.create(f!.bytes, { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const feeds = { query: new ort.Tensor("float32", x.data as Float32Array, [1, N, E]) };
  const out = (await s.run(feeds)).output!.data as Float32Array;
  let d = 0;
  for (let i = 0; i < out.length; i++) d = Math.max(d, Math.abs(out[i]! - ref[i]!));
  const ms = await time(() => s.run(feeds));
  console.log(`ort ${attention.padEnd(5)}: ${ms.toFixed(2)} ms  (max |diff| vs qkv ${d.toExponential(2)})`);
  await s.release();
}
const qms = await time(() => noGrad(() => mha.forward(x, x, x, { needWeights: false })));
console.log(`qkv ${getBackend().name.padEnd(5)}: ${qms.toFixed(2)} ms`);
