/**
 * Two builds of the native addon called in turns on the same fused-attention inputs: the fastest
 * call of each and their ratio, so a kernel change is measured against the build before it in one
 * process (a shared machine's speed drifts between minutes; calls in turns see the same drift).
 * B = 1, H = 8, D = Dv = 64, L = S = N, non-causal, no mask; FLOPs counted as in bench/gemm.ts.
 *
 * ```sh
 * cp build/Release/qkv_native.node /tmp/before.node   # then change the kernels and rebuild
 * npx tsx bench/native-ab.ts /tmp/before.node build/Release/qkv_native.node [--mode fwd|bwd|both]
 *   [--n 2048] [--rounds 10] [--threads 1]
 * ```
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { contiguousLayouts, type AttentionArgs } from "../src/backend/backend.js";
import { Generator } from "../src/tensor/rng.js";

/** The addon's attention entry points and thread count (the subset called here). */
interface Addon {
  attentionForward(out: Float32Array, lse: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, args: AttentionArgs): void;
  attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array,
    v: Float32Array, out: Float32Array, lse: Float32Array, args: AttentionArgs): void;
  setNumThreads(n: number): number;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const [pathA, pathB] = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !(all[i - 1] ?? "").startsWith("--"));
if (pathA === undefined || pathB === undefined) {
  console.log("usage: npx tsx bench/native-ab.ts A.node B.node [--mode fwd|bwd|both] [--n 2048] [--rounds 10] [--threads 1]");
  process.exit(1);
}
const mode = option("mode", "both");
if (!["fwd", "bwd", "both"].includes(mode)) throw new Error(`--mode: expected fwd, bwd or both, got "${mode}"`);
/** A positive integer option, else an error naming it. */
function count(name: string, fallback: string): number {
  const v = option(name, fallback), n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${v}"`);
  return n;
}
const N = count("n", "2048"), rounds = count("rounds", "10"), threads = count("threads", "1");
const require = createRequire(import.meta.url);
const libs = [pathA, pathB].map((p) => require(resolve(p)) as Addon);
for (const lib of libs) lib.setNumThreads(threads);

const H = 8, D = 64, n = H * N * D;
const args: AttentionArgs = {
  B: 1, H, Hkv: H, L: N, S: N, D, Dv: D, scale: 1 / Math.sqrt(D), causal: false, mask: null,
  ...contiguousLayouts({ H, Hkv: H, L: N, S: N, D, Dv: D }), maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0,
};
const gen = new Generator(0);
const rand = (): Float32Array => { const x = new Float32Array(n); gen.fillUniform(x, -1, 1); return x; };
const q = rand(), k = rand(), v = rand(), dout = rand();
const outputs = libs.map(() => ({ out: new Float32Array(n), lse: new Float32Array(H * N), dq: new Float32Array(n), dk: new Float32Array(n), dv: new Float32Array(n) }));

function call(i: number): number {
  const lib = libs[i]!, o = outputs[i]!;
  const t0 = performance.now();
  if (mode !== "bwd") lib.attentionForward(o.out, o.lse, q, k, v, args);
  if (mode !== "fwd") lib.attentionBackward(o.dq, o.dk, o.dv, dout, q, k, v, o.out, o.lse, args);
  return performance.now() - t0;
}
libs.forEach((lib, i) => lib.attentionForward(outputs[i]!.out, outputs[i]!.lse, q, k, v, args));
const best = [Infinity, Infinity];
for (let r = 0; r < rounds; r++) for (const i of r % 2 ? [1, 0] : [0, 1]) best[i] = Math.min(best[i]!, call(i));
const flops = 4 * H * N * N * D * (mode === "fwd" ? 1 : mode === "bwd" ? 2.5 : 3.5);
let diff = 0;
for (const key of ["out", "dq", "dk", "dv"] as const)
  for (let j = 0; j < n; j++) diff = Math.max(diff, Math.abs(outputs[0]![key][j]! - outputs[1]![key][j]!));
const rate = (ms: number): string => `${ms.toFixed(2)} ms (${(flops / ms / 1e6).toFixed(1)} GFLOP/s)`;
console.log(`${mode} N=${N} threads=${threads}: A ${rate(best[0]!)}  B ${rate(best[1]!)}  B/A ${(best[1]! / best[0]!).toFixed(3)}  max |A - B| ${diff.toExponential(2)}`);
