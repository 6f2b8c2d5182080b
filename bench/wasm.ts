/**
 * wasm backend speed against the js backend, one thread: matmul GFLOP/s (M = N = K = 256, 512, 1024),
 * fused attention forward (B = 1, H = 8, D = 64, N = L = S = 1024), and sparse (window w=64,
 * Longformer w=64 g=32) and linear attention (Performer-style positive features, M = 128; causal
 * and not) forward and backward at N = 1024 and 4096 (B = 1, H = 8, D = 64), where js is also what
 * the wasm backend ran before it had those kernels. Median of repeats, kernel calls on Float32Arrays
 * (the copies into and out of wasm memory included). Rates are per second of this process's CPU
 * time (process.cpuUsage), which a busy machine does not inflate; wall time is shown too.
 *
 *   npx tsx bench/wasm.ts [--reps 5] [--no-js] [--only matmul,attention,sparse,linear]
 */
import { longformerPattern } from "../src/attention/global.js";
import { windowPattern } from "../src/attention/window.js";
import { contiguousLayouts, type AttentionArgs, Backend, LinearAttentionArgs, SparseAttentionArgs, SparsePattern } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/registry.js";
import { loadWasmBackendSync } from "../src/backend/wasm/load.js";
import { Generator } from "../src/tensor/rng.js";
import { wallAndCpu as time } from "./lib.js";

const args = process.argv.slice(2);
const ri = args.indexOf("--reps");
const reps = ri >= 0 ? Number(args[ri + 1]) : 5;
const withJs = !args.includes("--no-js");
const oi = args.indexOf("--only");
const only = new Set((oi >= 0 ? args[oi + 1] ?? "" : "matmul,attention,sparse,linear").split(","));
const wasm = loadWasmBackendSync({ threads: 1 });
if (!wasm) throw new Error("the wasm backend does not load here");
const gen = new Generator(0);

function rand(n: number): Float32Array {
  const x = new Float32Array(n);
  gen.fillNormal(x);
  return x;
}


const backends: Backend[] = withJs ? [wasm, jsBackend] : [wasm];
if (only.has("matmul")) console.log(`matmul (float32, 1 thread), median of ${reps}`);
for (const n of only.has("matmul") ? [256, 512, 1024] : []) {
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
if (only.has("attention")) console.log(`fused attention forward B=${B} H=${H} L=S=${N} D=${D}`);
for (const causal of only.has("attention") ? [false, true] : []) {
  const a: AttentionArgs = { B, H, Hkv: H, L: N, S: N, D, Dv: D, scale: 1 / Math.sqrt(D), causal, mask: null,
    ...contiguousLayouts({ H, Hkv: H, L: N, S: N, D, Dv: D }), maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
  const flops = 4 * B * H * N * N * D * (causal ? 0.5 : 1);
  const row = [`  causal=${causal}`];
  for (const be of backends) {
    const { cpu, wall } = time(() => be.attentionForward(out, lse, q, k, v, a), be === jsBackend ? Math.min(reps, 2) : reps);
    row.push(`${be.name} ${(cpu * 1000).toFixed(1)} ms cpu, ${(wall * 1000).toFixed(1)} wall (${(flops / cpu / 1e9).toFixed(1)} GFLOP/s)`);
  }
  console.log(row.join("   "));
}

/** Forward and backward CPU ms of each backend, and js / wasm (the speedup over the js fallback). */
function forwardBackward(label: string, fwd: (be: Backend) => void, bwd: (be: Backend) => void): void {
  const row = [`  ${label}`];
  const ms: { f: number; b: number }[] = [];
  for (const be of backends) {
    const r = be === jsBackend ? Math.min(reps, 3) : reps;
    const f = time(() => fwd(be), r), b = time(() => bwd(be), r);
    ms.push({ f: f.cpu * 1000, b: b.cpu * 1000 });
    row.push(`${be.name} fwd ${(f.cpu * 1000).toFixed(1)} ms, bwd ${(b.cpu * 1000).toFixed(1)} ms cpu (wall ${(f.wall * 1000).toFixed(1)}, ${(b.wall * 1000).toFixed(1)})`);
  }
  const [w, j] = ms;
  if (w && j) row.push(`js / wasm: fwd ${(j.f / w.f).toFixed(1)}x, bwd ${(j.b / w.b).toFixed(1)}x`);
  console.log(row.join("   "));
}

const sizes = [1024, 4096];
if (only.has("sparse")) console.log(`sparse attention B=${B} H=${H} D=${D}, L=S=N`);
for (const n of only.has("sparse") ? sizes : []) {
  const patterns: [string, SparsePattern][] = [
    ["window w=64", windowPattern(n, n, 64)], ["longformer w=64 g=32", longformerPattern(n, n, 64, 32)],
  ];
  const q = rand(B * H * n * D), k = rand(B * H * n * D), v = rand(B * H * n * D), g = rand(B * H * n * D);
  const o = new Float32Array(B * H * n * D), l = new Float32Array(B * H * n);
  const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
  for (const [name, pattern] of patterns) {
    const a: SparseAttentionArgs = { B, H, Hkv: H, D, Dv: D, scale: 1 / Math.sqrt(D), pattern };
    wasm.sparseAttentionForward(o, l, q, k, v, a);
    forwardBackward(`N=${n} ${name}`, (be) => be.sparseAttentionForward(o, l, q, k, v, a),
      (be) => be.sparseAttentionBackward(dq, dk, dv, g, q, k, v, o, l, a));
  }
}

const M = 128;
if (only.has("linear")) console.log(`linear attention B=${B} H=${H} Dv=${D}, positive features M=${M}, L=S=N`);
for (const n of only.has("linear") ? sizes : []) {
  const positive = (len: number): Float32Array => rand(len).map((x) => Math.exp(0.5 * x - 2));
  const fq = positive(B * H * n * M), fk = positive(B * H * n * M), v = rand(B * H * n * D), g = rand(B * H * n * D);
  const o = new Float32Array(B * H * n * D), den = new Float32Array(B * H * n);
  const dq = new Float32Array(fq.length), dk = new Float32Array(fk.length), dv = new Float32Array(v.length);
  for (const causal of [false, true]) {
    const a: LinearAttentionArgs = { B, H, Hkv: H, L: n, S: n, M, Dv: D, causal };
    wasm.linearAttentionForward(o, den, fq, fk, v, a);
    forwardBackward(`N=${n} ${causal ? "causal" : "non-causal"}`, (be) => be.linearAttentionForward(o, den, fq, fk, v, a),
      (be) => be.linearAttentionBackward(dq, dk, dv, g, fq, fk, v, o, den, a));
  }
}
