/**
 * The wasm backend on 1 thread against T threads (default 2): matmul (M = N = K = 512, 1024) and
 * the fused attention core (B = 1, H = 8, D = 64, L = S = 1024) forward and forward + backward,
 * kernel calls on Float32Arrays (copies into and out of wasm memory included), median wall time of
 * repeats. Threads spend more CPU time than wall time, so rates here are per wall second: run it on
 * a quiet machine. Both backends give the same bits (test/backend/wasm-threads.test.ts).
 *
 *   npx tsx bench/wasm-threads.ts [--reps 5] [--threads 2]
 */
import os from "node:os";
import { contiguousLayouts, type AttentionArgs } from "../src/backend/backend.js";
import type { WasmBackend } from "../src/backend/wasm/backend.js";
import { createWasmBackendSync } from "../src/backend/wasm/load.js";
import { nodeWasmPlatform } from "../src/backend/wasm/node-platform.js";
import { setWasmPlatform } from "../src/backend/wasm/platform.js";
import { Generator } from "../src/tensor/rng.js";
import { wallAndCpu as time } from "./lib.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const reps = opt("--reps", 5);
const threads = opt("--threads", 2);
setWasmPlatform(nodeWasmPlatform);
const one = createWasmBackendSync({ threads: 1 });
const many = createWasmBackendSync({ threads });
if (!one || !many) throw new Error("the wasm backend does not load here");
if (many.threads !== threads) console.log(`note: ${threads} threads requested, ${many.threads} available`);
const gen = new Generator(0);

function rand(n: number): Float32Array {
  const x = new Float32Array(n);
  gen.fillNormal(x);
  return x;
}


/** One row: each backend's median ms and GFLOP/s, and the speed-up. */
function row(label: string, gflop: number, run: (b: WasmBackend) => void): void {
  const cells: string[] = [];
  const walls: number[] = [];
  for (const b of [one!, many!]) {
    const { wall, cpu } = time(() => run(b), reps);
    walls.push(wall);
    cells.push(`${b.threads} thr ${(wall * 1000).toFixed(1)} ms (cpu ${(cpu * 1000).toFixed(1)}) ${(gflop / wall).toFixed(1)} GFLOP/s`);
  }
  console.log(`  ${label.padEnd(22)} ${cells.join("   ")}   x${(walls[0]! / walls[1]!).toFixed(2)}`);
}

console.log(`wasm backend, 1 thread vs ${many.threads}, median wall time of ${reps} ` +
  `(${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(2)})`);
for (const n of [512, 1024]) {
  const a = rand(n * n), b = rand(n * n), out = new Float32Array(n * n);
  row(`matmul ${n}x${n}x${n}`, (2 * n * n * n) / 1e9, (be) => be.matmul(out, a, b, 1, n, n, n, false, false, 0, 0, false));
}

const B = 1, H = 8, N = 1024, D = 64;
const q = rand(B * H * N * D), k = rand(B * H * N * D), v = rand(B * H * N * D), dout = rand(B * H * N * D);
const out = new Float32Array(B * H * N * D), lse = new Float32Array(B * H * N);
const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
for (const causal of [false, true]) {
  const a: AttentionArgs = { B, H, Hkv: H, L: N, S: N, D, Dv: D, scale: 1 / Math.sqrt(D), causal, mask: null,
    ...contiguousLayouts({ H, Hkv: H, L: N, S: N, D, Dv: D }), maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
  // forward: QK^T and PV, 2 * 2 * B H N^2 D; the backward counted as twice the forward
  const fwd = (4 * B * H * N * N * D * (causal ? 0.5 : 1)) / 1e9;
  row(`core fwd${causal ? " causal" : ""}`, fwd, (be) => be.attentionForward(out, lse, q, k, v, a));
  row(`core fwd+bwd${causal ? " causal" : ""}`, 3 * fwd, (be) => {
    be.attentionForward(out, lse, q, k, v, a);
    be.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, a);
  });
}
many.dispose();
