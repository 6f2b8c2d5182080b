/**
 * The measurement of `npm run bench -- webgpu` (bench/webgpu.ts), on any WebGPUKernels: in Node
 * on a dawn.node device, or in Chromium through webgpu-bench-page.ts. fp32 throughout, but for
 * the GEMM's fp16 option.
 *
 * - GEMM: out [n, n] = a [n, n] @ b [n, n], 2 n^3 flops, once per kernel the device has (matmul.ts:
 *   the 64 and 128 tiles, the subgroup kernel where it has subgroups, the 128 tile with f16 staging
 *   where it has shader-f16), each forced through `k.gemm` so that one run compares them.
 * - Attention core, B = 1: attentionForward (out, lse) and attentionForward + attentionBackward
 *   (dq, dk, dv) over q, k, v, dout [1, H, N, D]; 4 N^2 D H flops forward, 2.5 times that backward.
 * - Efficient attention at each N (webgpu-bench-efficient.ts): the sliding window's sparse kernels
 *   and linear attention, each against the full core's time.
 * - Convolution (webgpu-bench-conv.ts): a 3 x 3 layer's forward, input and weight gradients, the
 *   weight gradient as splitK decides, unsplit and in 4 ranges of K.
 *
 * Each is recorded, submitted and waited for `warmup + reps` times; the median of the last `reps`
 * is reported, as GPU time from timestamp queries (first pass begins to last pass ends) where the
 * device has timestamp-query, and always as wall time from submit to onSubmittedWorkDone. The
 * results are checked on sampled entries against float64 sums on the host (a wrong kernel is off
 * by O(1); the bounds are fp32's accumulation over K or S terms, and for fp16 staging matmul.ts's
 * per-product bound on top): 16 entries of each GEMM, and for attention 4 rows of out, lse and dq
 * and 4 keys of dk and dv.
 *
 * ```ts
 * const result = await runBench(kernels, { sizes: [1024], H: 8, D: 64, reps: 10, warmup: 2 }, console.log);
 * ```
 */
import { contiguousLayouts } from "../../src/backend/backend.js";
import { DeviceLostError, GpuTimer, type GemmVariant, type GpuArray, type WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { convRows, type ConvRow } from "./webgpu-bench-conv.js";
import { efficientRows, type EfficientRow } from "./webgpu-bench-efficient.js";
import { randn, rng } from "./webgpu-page-setup.js";

export interface BenchConfig {
  /** GEMM n and attention N. */
  sizes: number[];
  H: number;
  D: number;
  reps: number;
  warmup: number;
}

/** Medians in milliseconds; `ms` is GPU time where timestamps were read, else the wall time. */
export interface Timing { ms: number; wallMs: number; tflops: number }

/** A spot check: `worst` is the largest |got - want| / bound over the samples (at most 1 passes). */
export interface Check { ok: boolean; samples: number; worst: number; detail: string }

/** A GEMM kernel as the bench names it: a matmul.ts variant, or "fp16" (the 128 tile, f16 staging). */
export type GemmName = GemmVariant | "fp16";
export interface GemmRow { n: number; kernel: GemmName; time: Timing; check: Check }
export interface AttentionRow { N: number; forward: Timing; forwardBackward: Timing; check: Check }

export interface BenchResult {
  adapter: { vendor: string; architecture: string; description: string; cpu: boolean };
  features: string[];
  limits: Record<string, number>;
  timing: "timestamps" | "wall";
  config: BenchConfig;
  gemm: GemmRow[];
  attention: AttentionRow[];
  /** Windowed sparse and linear attention at each N (webgpu-bench-efficient.ts). */
  efficient: EfficientRow[];
  /** 3 x 3 convolutions: forward, input and weight gradients (webgpu-bench-conv.ts). */
  conv: ConvRow[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const U = 2 ** -24;

/** Collects |got - want| / bound over samples. */
export class Checker {
  private worst = 0;
  private samples = 0;
  private detail = "";

  add(what: string, got: number, want: number, bound: number): void {
    this.samples++;
    const r = Number.isFinite(got) ? Math.abs(got - want) / bound : Infinity;
    if (r > this.worst || !this.detail) {
      this.worst = Math.max(this.worst, r);
      this.detail = `${what}: got ${got.toPrecision(8)}, want ${want.toPrecision(8)}, bound ${bound.toExponential(2)}`;
    }
  }

  result(): Check {
    return { ok: this.worst <= 1, samples: this.samples, worst: this.worst, detail: this.detail };
  }
}

/** Times `record` (which records one run's kernels): medians over `reps` after `warmup`. */
export async function time(k: WebGPUKernels, timer: GpuTimer | null, record: () => void, flop: number, c: BenchConfig): Promise<Timing> {
  const gpu: number[] = [], wall: number[] = [];
  for (let i = 0; i < c.warmup + c.reps; i++) {
    timer?.start();
    record();
    timer?.stop();
    const t0 = performance.now();
    k.flush();
    await k.gpu.device.queue.onSubmittedWorkDone();
    const t1 = performance.now();
    const g = timer ? await timer.read() : NaN;
    if (i < c.warmup) continue;
    wall.push(t1 - t0);
    if (timer) gpu.push(g);
  }
  await k.finish(); // throws what WebGPU reported (a validation error, out of memory)
  const wallMs = median(wall);
  const ms = timer ? median(gpu) : wallMs;
  return { ms, wallMs, tflops: flop / (ms * 1e-3) / 1e12 };
}

/** The GEMM kernels `k` has, in the order they are timed. */
export function gemmKernels(k: WebGPUKernels): GemmName[] {
  const f = k.gpu.features;
  return ["64", "128", ...(f.subgroups ? ["subgroup" as const] : []), ...(f.shaderF16 ? ["fp16" as const] : [])];
}

// fp16 staging, per product: C1 |a b| + C2 (|a| + |b|) + C3 (matmul.ts's bound: h = 2^-11, t = 2^-14)
const H = 2 ** -11, T = 2 ** -14;
const C1 = 3 * H + 3 * H * H + H ** 3, C2 = T * (1 + H) ** 2, C3 = T * (1 + H) + T * T;

async function gemm(k: WebGPUKernels, timer: GpuTimer | null, n: number, kernel: GemmName, c: BenchConfig): Promise<GemmRow> {
  const r = rng(n);
  const a = randn(r, n * n), b = randn(r, n * n);
  const ga = k.upload(a), gb = k.upload(b), gout = k.alloc(n * n);
  const saved = { ...k.gemm };
  let t: Timing;
  try {
    k.gemm.variant = kernel === "fp16" ? "128" : kernel;
    k.setMatmulPrecision(kernel === "fp16" ? "fp16" : "fp32");
    t = await time(k, timer, () => k.matmul(gout, ga, gb, 1, n, n, n, false, false, 0, 0, false), 2 * n ** 3, c);
  } finally {
    Object.assign(k.gemm, saved);
  }
  const out = await k.read(gout);
  const check = new Checker();
  for (let s = 0; s < 16; s++) {
    const i = s === 15 ? n - 1 : Math.floor(r() * n), j = s === 15 ? n - 1 : Math.floor(r() * n);
    let want = 0, abs = 0, ones = 0;
    for (let q = 0; q < n; q++) {
      want += a[i * n + q]! * b[q * n + j]!;
      abs += Math.abs(a[i * n + q]! * b[q * n + j]!);
      ones += Math.abs(a[i * n + q]!) + Math.abs(b[q * n + j]!);
    }
    // fp32 summation over n terms: (n + 2) u sum |a_iq b_qj|; fp16 staging adds each product's error
    const products = kernel === "fp16" ? C1 * abs + C2 * ones + C3 * n : 0;
    check.add(`out[${i}, ${j}]`, out[i * n + j]!, want, products + (n + 2) * U * (abs + products) + 1e-30);
  }
  for (const x of [ga, gb, gout]) k.release(x);
  return { n, kernel, time: t, check: check.result() };
}

/**
 * Checks sampled rows (out, lse, dq) and keys (dk, dv) of one head against float64 sums on the
 * host, over the (query, key) pairs `allowed` keeps (every pair: full attention; a sparse pattern's).
 */
export function checkAttention(N: number, D: number, H: number, scale: number, host: Record<"q" | "k" | "v" | "dout", Float32Array>,
  got: Record<"out" | "lse" | "dq" | "dk" | "dv", Float32Array>, r: () => number, allowed: (i: number, j: number) => boolean = () => true): Check {
  const { q, k, v, dout } = host;
  const check = new Checker();
  const dot = (x: Float32Array, xo: number, y: Float32Array, yo: number): number => {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[xo + d]! * y[yo + d]!;
    return s;
  };
  const pick = (s: number): [number, number] => (s === 3 ? [H - 1, N - 1] : [Math.floor(r() * H), Math.floor(r() * N)]);
  for (let s = 0; s < 4; s++) {
    // a query row: its scores, softmax, out, lse, then dq from the host's own delta
    const [h, i] = pick(s);
    const base = h * N, row = (base + i) * D;
    const sc = new Float64Array(N);
    let m = -Infinity;
    for (let j = 0; j < N; j++) m = Math.max(m, (sc[j] = allowed(i, j) ? dot(q, row, k, (base + j) * D) * scale : -Infinity));
    let l = 0;
    for (let j = 0; j < N; j++) l += (sc[j] = Math.exp(sc[j]! - m));
    const lse = m + Math.log(l);
    check.add(`lse[${h}, ${i}]`, got.lse[base + i]!, lse, (N + D) * U * (Math.abs(lse) + 1) + 4 * U * N);
    const out = new Float64Array(D), outAbs = new Float64Array(D);
    for (let j = 0; j < N; j++) {
      for (let d = 0; d < D; d++) {
        out[d]! += (sc[j]! / l) * v[(base + j) * D + d]!;
        outAbs[d]! += (sc[j]! / l) * Math.abs(v[(base + j) * D + d]!);
      }
    }
    let delta = 0;
    for (let d = 0; d < D; d++) {
      check.add(`out[${h}, ${i}, ${d}]`, got.out[row + d]!, out[d]!, 4 * (N + D) * U * outAbs[d]! + 1e-30);
      delta += dout[row + d]! * out[d]!;
    }
    const dq = new Float64Array(D), dqAbs = new Float64Array(D);
    for (let j = 0; j < N; j++) {
      const p = sc[j]! / l, ds = p * (dot(dout, row, v, (base + j) * D) - delta) * scale;
      for (let d = 0; d < D; d++) {
        dq[d]! += ds * k[(base + j) * D + d]!;
        dqAbs[d]! += Math.abs(ds * k[(base + j) * D + d]!) + p * scale * Math.abs(k[(base + j) * D + d]!) * (Math.abs(delta) + 1);
      }
    }
    for (let d = 0; d < D; d++) check.add(`dq[${h}, ${i}, ${d}]`, got.dq[row + d]!, dq[d]!, 4 * (N + D) * U * dqAbs[d]! + 1e-30);
  }
  for (let s = 0; s < 4; s++) {
    // a key: the probabilities of every query row from the device's lse and out (themselves checked above)
    const [h, j] = pick(s);
    const base = h * N, key = (base + j) * D;
    const dk = new Float64Array(D), dv = new Float64Array(D), dkAbs = new Float64Array(D), dvAbs = new Float64Array(D);
    for (let i = 0; i < N; i++) {
      if (!allowed(i, j)) continue;
      const row = (base + i) * D;
      const p = Math.exp(dot(q, row, k, key) * scale - got.lse[base + i]!);
      const delta = dot(dout, row, got.out, row);
      const ds = p * (dot(dout, row, v, key) - delta) * scale;
      for (let d = 0; d < D; d++) {
        dv[d]! += p * dout[row + d]!;
        dvAbs[d]! += p * Math.abs(dout[row + d]!);
        dk[d]! += ds * q[row + d]!;
        dkAbs[d]! += Math.abs(ds * q[row + d]!) + p * scale * Math.abs(q[row + d]!) * (Math.abs(delta) + 1);
      }
    }
    for (let d = 0; d < D; d++) {
      check.add(`dv[${h}, ${j}, ${d}]`, got.dv[key + d]!, dv[d]!, 4 * (N + D) * U * dvAbs[d]! + 1e-30);
      check.add(`dk[${h}, ${j}, ${d}]`, got.dk[key + d]!, dk[d]!, 4 * (N + D) * U * dkAbs[d]! + 1e-30);
    }
  }
  return check.result();
}

/** The device arrays of an attention kernel pair: inputs q, k, v, dout and outputs out, lse, dq, dk, dv, all [1, H, N, D] but lse [1, H, N]. */
export interface AttentionArrays { q: GpuArray; k: GpuArray; v: GpuArray; dout: GpuArray; out: GpuArray; lse: GpuArray; dq: GpuArray; dk: GpuArray; dv: GpuArray }

/**
 * Times a forward kernel and forward + backward over q, k, v, dout [1, H, N, D] drawn from `seed`
 * (`flop`: the forward's; the pair counts 3.5 times it), then reads every output back and gives
 * the arrays back: the host inputs, the outputs read, the timings and the generator (for the
 * checks' samples).
 */
export async function timeAttentionPair(k: WebGPUKernels, timer: GpuTimer | null, N: number, c: BenchConfig, seed: number, flop: number,
  forward: (a: AttentionArrays) => void, backward: (a: AttentionArrays) => void) {
  const { H, D } = c;
  const r = rng(seed);
  const n = H * N * D;
  const host = { q: randn(r, n), k: randn(r, n), v: randn(r, n), dout: randn(r, n) };
  const [q, kk, v, dout] = [host.q, host.k, host.v, host.dout].map((x) => k.upload(x)) as [GpuArray, GpuArray, GpuArray, GpuArray];
  const [out, dq, dk, dv] = [0, 1, 2, 3].map(() => k.alloc(n)) as [GpuArray, GpuArray, GpuArray, GpuArray];
  const a: AttentionArrays = { q, k: kk, v, dout, out, lse: k.alloc(H * N), dq, dk, dv };
  const fwdTime = await time(k, timer, () => forward(a), flop, c);
  const pairTime = await time(k, timer, () => {
    forward(a);
    backward(a);
  }, 3.5 * flop, c);
  const got = { out: await k.read(a.out), lse: await k.read(a.lse), dq: await k.read(a.dq), dk: await k.read(a.dk), dv: await k.read(a.dv) };
  for (const x of Object.values(a)) k.release(x);
  return { host, got, forward: fwdTime, forwardBackward: pairTime, r };
}

async function attention(k: WebGPUKernels, timer: GpuTimer | null, N: number, c: BenchConfig): Promise<AttentionRow> {
  const { H, D } = c;
  const scale = 1 / Math.sqrt(D);
  const args = { B: 1, H, Hkv: H, L: N, S: N, D, Dv: D, scale, causal: false, mask: null,
    ...contiguousLayouts({ H, Hkv: H, L: N, S: N, D, Dv: D }), maskStrideB: 0, maskStrideH: 0,
    maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
  const { host, got, forward, forwardBackward, r } = await timeAttentionPair(k, timer, N, c, 1000 + N, 4 * N * N * D * H,
    (a) => k.attentionForward(a.out, a.lse, a.q, a.k, a.v, args),
    (a) => k.attentionBackward(a.dq, a.dk, a.dv, a.dout, a.q, a.k, a.v, a.out, a.lse, args));
  return { N, forward, forwardBackward, check: checkAttention(N, D, H, scale, host, got, r) };
}

/** A row's timing when its kernels failed. */
export const FAILED_TIMING: Readonly<Timing> = Object.freeze({ ms: NaN, wallMs: NaN, tflops: NaN });

/**
 * `measure()`, or, when its kernels fail (a compile error, a validation error, out of memory: a GPU
 * that SwiftShader does not stand in for, such as the fp16 kernel's `enable f16`), the row `failed`
 * makes from the failed check naming the error, so that one kernel does not cost the run its other
 * rows. A lost device ends the run.
 */
export async function orFailed<R>(what: string, measure: () => Promise<R>, failed: (check: Check) => R, log: (line: string) => void): Promise<R> {
  try {
    return await measure();
  } catch (e) {
    if (e instanceof DeviceLostError) throw e;
    const detail = e instanceof Error ? `${e.name}: ${e.message.replaceAll("\n", " ")}` : String(e);
    log(`${what}: FAILED (${detail})`);
    return failed({ ok: false, samples: 0, worst: Infinity, detail });
  }
}

/** Every GEMM and attention row of `c` on `k`; `log` gets a line per row as it is done. */
export async function runBench(k: WebGPUKernels, c: BenchConfig, log: (line: string) => void = () => {}): Promise<BenchResult> {
  const timer = k.gpu.features.timestampQuery ? new GpuTimer(k) : null;
  const g = k.gpu;
  const result: BenchResult = {
    adapter: { vendor: g.vendor, architecture: g.architecture, description: g.description, cpu: g.cpu },
    features: [g.features.subgroups && "subgroups", g.features.shaderF16 && "shader-f16", g.features.timestampQuery && "timestamp-query"]
      .filter((f): f is string => !!f),
    limits: { ...g.limits },
    timing: timer ? "timestamps" : "wall",
    config: c,
    gemm: [],
    attention: [],
    efficient: [],
    conv: [],
  };
  for (const n of c.sizes) {
    for (const kernel of gemmKernels(k)) {
      const row = await orFailed(`gemm n=${n} ${kernel}`, () => gemm(k, timer, n, kernel, c), (check) => ({ n, kernel, time: FAILED_TIMING, check }), log);
      result.gemm.push(row);
      log(`gemm n=${n} ${kernel}: ${row.time.ms.toFixed(3)} ms, ${row.time.tflops.toFixed(2)} TFLOP/s`);
    }
  }
  for (const N of c.sizes) {
    const row = await orFailed(`attention N=${N}`, () => attention(k, timer, N, c), (check) => ({ N, forward: FAILED_TIMING, forwardBackward: FAILED_TIMING, check }), log);
    result.attention.push(row);
    log(`attention N=${N}: forward ${row.forward.ms.toFixed(3)} ms, forward + backward ${row.forwardBackward.ms.toFixed(3)} ms`);
    for (const e of await efficientRows(k, timer, N, c, row.check.ok ? row : undefined, log)) {
      result.efficient.push(e);
      log(`${e.kind} attention N=${N}: forward ${e.forward.ms.toFixed(3)} ms, forward + backward ${e.forwardBackward.ms.toFixed(3)} ms`);
    }
  }
  result.conv = await convRows(k, timer, c, log);
  timer?.destroy();
  return result;
}
