/**
 * Native kernel benchmark: GEMM GFLOP/s for M = N = K in {256, 512, 1024, 2048} with 1 and 2
 * threads, and fused attention forward / forward + backward for B=1, H=8, D=64, N in {1024, 4096}
 * (non-causal, no mask, no dropout), printing ms and GFLOP/s (best of the repeats).
 *
 *   npx tsx bench/gemm.ts [--threads 1,2] [--sizes 256,512,1024,2048] [--attn 1024,4096] [--reps 5]
 *                         [--shapes 128x1536x512tB,6400x64x192,192x64x6400tA]
 *
 * --shapes times those products instead of the square ones (M x N x K, `tA` / `tB` for a
 * transposed operand, as a weight gradient's or a linear layer's); --attn "" leaves attention out.
 *
 * FLOPs: GEMM 2 M N K; attention forward 4 B H N^2 D (QK^T and PV), backward 2.5x the forward
 * (five N x N x D products: QK^T and dO V^T recomputed, dV, dK, dQ), FlashAttention's count.
 * "% peak" divides by the fp32 peak on the same thread count (`measurePeakGflops`: chains of vector
 * FMAs on every thread) measured just before and just after the row, the larger of the two: a
 * shared machine's speed drifts between minutes, so a peak measured once would flatter or wrong
 * the rows far from it.
 */
import { contiguousLayouts, type AttentionArgs } from "../src/backend/backend.js";
import { getNativeIsa, getNumThreads, loadNativeBackend, measurePeakGflops, setNumThreads } from "../src/backend/native/index.js";
import { Generator } from "../src/tensor/rng.js";

function option(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v === undefined ? fallback : v.split(",").map(Number);
}

const native = loadNativeBackend();
if (native === null) {
  console.log("native backend not built: nothing to benchmark");
  process.exit(0);
}
/** Products named M x N x K with optional tA / tB, e.g. "128x1536x512tB". */
function shapesOption(): { M: number; N: number; K: number; tA: boolean; tB: boolean; name: string }[] | null {
  const i = process.argv.indexOf("--shapes");
  if (i < 0) return null;
  return (process.argv[i + 1] ?? "").split(",").filter(Boolean).map((name) => {
    const m = /^(\d+)x(\d+)x(\d+)(tA)?(tB)?$/.exec(name);
    if (!m) throw new Error(`--shapes: expected MxNxK with optional tA / tB (e.g. 128x1536x512tB), got "${name}"`);
    return { M: Number(m[1]), N: Number(m[2]), K: Number(m[3]), tA: m[4] !== undefined, tB: m[5] !== undefined, name };
  });
}

const threadCounts = option("threads", [1, 2]);
const sizes = option("sizes", [256, 512, 1024, 2048]).filter((n) => n > 0);
const attnSizes = option("attn", [1024, 4096]).filter((n) => n > 0);
const reps = option("reps", [5])[0] ?? 5;
const gen = new Generator(0);

function rand(n: number): Float32Array {
  const x = new Float32Array(n);
  gen.fillUniform(x, -1, 1);
  return x;
}

/**
 * Best wall time in ms of `reps` runs (after one warm-up), and the process CPU time (all threads)
 * of that run in ms: on a machine shared with other work, wall time counts the time slices other
 * processes took, CPU time does not.
 */
function best(fn: () => void, budgetMs: number): { ms: number; cpuMs: number } {
  fn();
  let min = Infinity, cpuMs = Infinity;
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (ms < min) { min = ms; cpuMs = (c.user + c.system) / 1000; }
    if (performance.now() - start > budgetMs) break;
  }
  return { ms: min, cpuMs };
}

const defaultThreads = getNumThreads();
console.log(`native kernels: ${getNativeIsa()}, default threads ${defaultThreads}`);
/** fn's result and the fp32 peak (GFLOP/s) on t threads measured just before and after it, the larger. */
function withPeak<T>(t: number, fn: () => T): T & { peak: number } {
  const before = measurePeakGflops(t, 0.2)?.gflops ?? NaN;
  const value = fn();
  return { ...value, peak: Math.max(before, measurePeakGflops(t, 0.2)?.gflops ?? NaN) };
}
const pct = (gflops: number, peak: number): string => `${((100 * gflops) / peak).toFixed(1)}%`;
console.log("\nGEMM (float32, row-major, C = A @ B)");
console.log("    size  threads        ms   GFLOP/s  GFLOP/s/thread  GFLOP/s per CPU-second  % peak (peak GFLOP/s)");
const shapes = shapesOption();
for (const { M, N, K, tA, tB, name } of shapes ?? []) {
  const a = rand(M * K), b = rand(K * N), c = new Float32Array(M * N);
  for (const t of threadCounts) {
    setNumThreads(t);
    const { ms, cpuMs, peak } = withPeak(t, () => best(() => native.matmul(c, a, b, 1, M, N, K, tA, tB, 0, 0, false), 4000));
    const flops = 2 * M * N * K;
    console.log(`${name.padStart(18)}  ${String(t).padStart(2)}  ${ms.toFixed(3).padStart(9)} ms  ${(flops / (ms * 1e6)).toFixed(1).padStart(7)} GFLOP/s  ${(flops / (cpuMs * 1e6)).toFixed(1).padStart(7)} per CPU-second  ${pct(flops / (ms * 1e6), peak).padStart(6)} of peak (${peak.toFixed(1)})`);
  }
}
for (const n of shapes ? [] : sizes) {
  const a = rand(n * n), b = rand(n * n), c = new Float32Array(n * n);
  for (const t of threadCounts) {
    setNumThreads(t);
    const { ms, cpuMs, peak } = withPeak(t, () => best(() => native.matmul(c, a, b, 1, n, n, n, false, false, 0, 0, false), 4000));
    const gflops = (2 * n * n * n) / (ms * 1e6);
    console.log(`${String(n).padStart(8)}  ${String(t).padStart(7)}  ${ms.toFixed(2).padStart(8)}  ${gflops.toFixed(1).padStart(8)}  ${(gflops / t).toFixed(1).padStart(14)}  ${((2 * n * n * n) / (cpuMs * 1e6)).toFixed(1).padStart(22)}  ${pct(gflops, peak).padStart(6)} (${peak.toFixed(1)})`);
  }
}

if (attnSizes.length) console.log("\nFused attention (B=1, H=8, D=64, L=S=N, float32)");
if (attnSizes.length) console.log("       N  threads    fwd ms  fwd GFLOP/s  fwd+bwd ms  fwd+bwd GFLOP/s  (per CPU-second: fwd  fwd+bwd)  % peak: fwd  fwd+bwd  (peak GFLOP/s)");
const B = 1, H = 8, D = 64;
for (const N of attnSizes) {
  const args: AttentionArgs = {
    B, H, Hkv: H, L: N, S: N, D, Dv: D, scale: 1 / Math.sqrt(D), causal: false, mask: null,
    ...contiguousLayouts({ H, Hkv: H, L: N, S: N, D, Dv: D }), maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0,
  };
  const q = rand(B * H * N * D), k = rand(B * H * N * D), v = rand(B * H * N * D), dout = rand(B * H * N * D);
  const out = new Float32Array(B * H * N * D), lse = new Float32Array(B * H * N);
  const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
  const fwdFlops = 4 * B * H * N * N * D;
  for (const t of threadCounts) {
    setNumThreads(t);
    const { fwd, both, peak } = withPeak(t, () => ({
      fwd: best(() => native.attentionForward(out, lse, q, k, v, args), 10000),
      both: best(() => {
        native.attentionForward(out, lse, q, k, v, args);
        native.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args);
      }, 20000),
    }));
    console.log(`${String(N).padStart(8)}  ${String(t).padStart(7)}  ${fwd.ms.toFixed(1).padStart(8)}  ${(fwdFlops / (fwd.ms * 1e6)).toFixed(1).padStart(11)}  ${both.ms.toFixed(1).padStart(10)}  ${((3.5 * fwdFlops) / (both.ms * 1e6)).toFixed(1).padStart(15)}  ${(fwdFlops / (fwd.cpuMs * 1e6)).toFixed(1).padStart(24)}  ${((3.5 * fwdFlops) / (both.cpuMs * 1e6)).toFixed(1).padStart(7)}  ${pct(fwdFlops / (fwd.ms * 1e6), peak).padStart(12)}  ${pct((3.5 * fwdFlops) / (both.ms * 1e6), peak).padStart(7)}  (${peak.toFixed(1)})`);
  }
}
setNumThreads(defaultThreads);
