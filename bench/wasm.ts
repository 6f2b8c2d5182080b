/**
 * wasm backend speed against the js backend, one thread: matmul GFLOP/s (M = N = K = 256, 512, 1024)
 * and fused attention forward (B = 1, H = 8, D = 64, N = L = S = 1024), median of repeats, kernel
 * calls on Float32Arrays (the copies into and out of wasm memory included). Rates are per second of
 * this process's CPU time (process.cpuUsage), which a busy machine does not inflate; wall time is shown too.
 *
 *   npx tsx bench/wasm.ts [--reps 5] [--no-js]
 */
import type { AttentionArgs, Backend } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/registry.js";
import { loadWasmBackendSync } from "../src/backend/wasm/load.js";
import { Generator } from "../src/tensor/rng.js";
import { wallAndCpu as time } from "./lib.js";

const args = process.argv.slice(2);
const ri = args.indexOf("--reps");
const reps = ri >= 0 ? Number(args[ri + 1]) : 5;
const withJs = !args.includes("--no-js");
const wasm = loadWasmBackendSync({ threads: 1 });
if (!wasm) throw new Error("the wasm backend does not load here");
const gen = new Generator(0);

function rand(n: number): Float32Array {
  const x = new Float32Array(n);
  gen.fillNormal(x);
  return x;
}


const backends: Backend[] = withJs ? [wasm, jsBackend] : [wasm];
console.log(`matmul (float32, 1 thread), median of ${reps}`);
for (const n of [256, 512, 1024]) {
  const a = rand(n * n), b = rand(n * n), out = new Float32Array(n * n);
  const row = [`  ${n}x${n}x${n}`];
  for (const be of backends) {
    const r = be === jsBackend && n > 512 ? Math.min(reps, 2) : reps;
    const { cpu, wall } = time(() => be.matmul(out, a, b, 1, n, n, n, false, false, 0, 0, false), r);
    row.push(`${be.name} ${((2 * n * n * n) / cpu / 1e9).toFixed(1)} GFLOP/s (${(cpu * 1000).toFixed(1)} ms cpu, ${(wall * 1000).toFixed(1)} wall)`);
  }
  console.log(row.join("   "));
}

const B = 1, H = 8, N = 1024, D = 64;
const q = rand(B * H * N * D), k = rand(B * H * N * D), v = rand(B * H * N * D);
const out = new Float32Array(B * H * N * D), lse = new Float32Array(B * H * N);
console.log(`fused attention forward B=${B} H=${H} L=S=${N} D=${D}`);
for (const causal of [false, true]) {
  const a: AttentionArgs = { B, H, Hkv: H, L: N, S: N, D, Dv: D, scale: 1 / Math.sqrt(D), causal, mask: null,
    maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
  const flops = 4 * B * H * N * N * D * (causal ? 0.5 : 1);
  const row = [`  causal=${causal}`];
  for (const be of backends) {
    const { cpu, wall } = time(() => be.attentionForward(out, lse, q, k, v, a), be === jsBackend ? Math.min(reps, 2) : reps);
    row.push(`${be.name} ${(cpu * 1000).toFixed(1)} ms cpu, ${(wall * 1000).toFixed(1)} wall (${(flops / cpu / 1e9).toFixed(1)} GFLOP/s)`);
  }
  console.log(row.join("   "));
}
