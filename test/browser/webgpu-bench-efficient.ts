/**
 * The efficient attention rows of `npm run bench -- webgpu` (webgpu-bench.ts runs them after the
 * full attention core, at the same B = 1, H, D and N): fp32, not causal, forward and forward +
 * backward, each checked on sampled entries against float64 sums on the host.
 *
 * - window: sparse attention over the sliding window |i - j| <= WINDOW (windowPattern, 2 WINDOW + 1
 *   keys a row), sparse-attention.ts's kernels; the same sampled checks as the full core, over the
 *   window's pairs.
 * - linear: linear attention over positive features fq, fk [1, H, N, M = D] (the kernels take them
 *   already mapped, as elu + 1 or FAVOR+ give them), linear-attention.ts's kernels; checked on 4 rows
 *   (out, den, dfq) and 4 keys (dfk, dv).
 *
 * Each row's `vsFull` is the full core's forward + backward time at that N over its own: how many
 * times faster than the attention it approximates.
 *
 * ```ts
 * const rows = await efficientRows(k, timer, 4096, config, fullRow);
 * ```
 */
import type { LinearAttentionArgs, SparseAttentionArgs } from "../../src/backend/backend.js";
import { windowPattern } from "../../src/attention/window.js";
import type { GpuArray, GpuTimer, WebGPUKernels } from "../../src/backend/webgpu/index.js";
import {
  checkAttention, Checker, FAILED_TIMING, orFailed, time, timeAttentionPair, U, type AttentionRow, type BenchConfig, type Check, type Timing,
} from "./webgpu-bench.js";
import { randn, rng } from "./webgpu-page-setup.js";

/** Keys on each side of a query in the window rows. */
export const WINDOW = 128;

export interface EfficientRow {
  N: number;
  kind: "window" | "linear";
  /** The kernels' (query, key) pairs per head: N (2 WINDOW + 1) clipped at the ends, or N^2 through the M features. */
  pairs: number;
  forward: Timing;
  forwardBackward: Timing;
  /** The full core's forward + backward time at N over this row's (absent without a full row at N). */
  vsFull: number | null;
  check: Check;
}

async function windowRow(k: WebGPUKernels, timer: GpuTimer | null, N: number, c: BenchConfig): Promise<Omit<EfficientRow, "vsFull">> {
  const { H, D } = c;
  const scale = 1 / Math.sqrt(D);
  const pattern = windowPattern(N, N, WINDOW);
  const args: SparseAttentionArgs = { B: 1, H, Hkv: H, D, Dv: D, scale, pattern };
  const { host, got, forward, forwardBackward, r } = await timeAttentionPair(k, timer, N, c, 2000 + N, 4 * pattern.nnz * D * H,
    (a) => k.sparseAttentionForward(a.out, a.lse, a.q, a.k, a.v, args),
    (a) => k.sparseAttentionBackward(a.dq, a.dk, a.dv, a.dout, a.q, a.k, a.v, a.out, a.lse, args));
  const check = checkAttention(N, D, H, scale, host, got, r, (i, j) => Math.abs(i - j) <= WINDOW);
  return { N, kind: "window", pairs: pattern.nnz, forward, forwardBackward, check };
}

/** Positive features: 0.05 + |x| / 2 for x ~ N(0, 1). */
function features(r: () => number, n: number): Float32Array {
  return Float32Array.from(randn(r, n), (x) => 0.05 + Math.abs(x) / 2);
}

/**
 * Checks linear attention on 4 query rows (out, den, dfq) and 4 keys (dfk, dv) of sampled heads
 * against float64 sums: kv = sum_j fk_j v_j^T, z = sum_j fk_j, den_i = fq_i . z,
 * out_i = fq_i^T kv / den_i, dfq_i = (kv dout_i - z (dout_i . out_i)) / den_i,
 * dv_j = sum_i (fq_i . fk_j / den_i) dout_i, dfk_j = sum_i fq_i (dout_i . (v_j - out_i)) / den_i.
 * Bounds: fp32 sums over N keys and M or Dv terms, against the sums of absolute terms.
 */
function checkLinear(N: number, M: number, Dv: number, H: number, host: Record<"fq" | "fk" | "v" | "dout", Float32Array>,
  got: Record<"out" | "den" | "dfq" | "dfk" | "dv", Float32Array>, r: () => number): Check {
  const { fq, fk, v, dout } = host;
  const check = new Checker();
  const tol = 4 * (N + M + Dv) * U;
  const pick = (s: number): [number, number] => (s === 3 ? [H - 1, N - 1] : [Math.floor(r() * H), Math.floor(r() * N)]);
  // a head's kv [M, Dv] and its absolute form, z [M], and den of every row
  const headSums = (h: number): { kv: Float64Array; kvAbs: Float64Array; z: Float64Array; den: Float64Array } => {
    const kv = new Float64Array(M * Dv), kvAbs = new Float64Array(M * Dv), z = new Float64Array(M), den = new Float64Array(N);
    for (let j = 0; j < N; j++) {
      const fo = (h * N + j) * M, vo = (h * N + j) * Dv;
      for (let m = 0; m < M; m++) {
        z[m]! += fk[fo + m]!;
        for (let e = 0; e < Dv; e++) {
          kv[m * Dv + e]! += fk[fo + m]! * v[vo + e]!;
          kvAbs[m * Dv + e]! += fk[fo + m]! * Math.abs(v[vo + e]!);
        }
      }
    }
    for (let i = 0; i < N; i++) for (let m = 0; m < M; m++) den[i]! += fq[(h * N + i) * M + m]! * z[m]!;
    return { kv, kvAbs, z, den };
  };
  for (let s = 0; s < 4; s++) {
    const [h, i] = pick(s);
    const { kv, kvAbs, z, den } = headSums(h);
    const qo = (h * N + i) * M, ro = (h * N + i) * Dv;
    check.add(`den[${h}, ${i}]`, got.den[h * N + i]!, den[i]!, tol * den[i]!);
    const out = new Float64Array(Dv);
    let delta = 0, deltaAbs = 0;
    for (let e = 0; e < Dv; e++) {
      let o = 0, abs = 0;
      for (let m = 0; m < M; m++) {
        o += fq[qo + m]! * kv[m * Dv + e]!;
        abs += fq[qo + m]! * kvAbs[m * Dv + e]!;
      }
      out[e] = o / den[i]!;
      check.add(`out[${h}, ${i}, ${e}]`, got.out[ro + e]!, out[e]!, (tol * abs) / den[i]! + 1e-30);
      delta += dout[ro + e]! * out[e]!;
      deltaAbs += Math.abs(dout[ro + e]!) * (abs / den[i]!);
    }
    for (let m = 0; m < M; m++) {
      let g = 0, abs = 0;
      for (let e = 0; e < Dv; e++) {
        g += kv[m * Dv + e]! * dout[ro + e]!;
        abs += kvAbs[m * Dv + e]! * Math.abs(dout[ro + e]!);
      }
      const want = (g - z[m]! * delta) / den[i]!;
      check.add(`dfq[${h}, ${i}, ${m}]`, got.dfq[qo + m]!, want, (tol * (abs + z[m]! * deltaAbs)) / den[i]! + 1e-30);
    }
  }
  for (let s = 0; s < 4; s++) {
    const [h, j] = pick(s);
    const { den } = headSums(h);
    const ko = (h * N + j) * M, vo = (h * N + j) * Dv;
    const dv = new Float64Array(Dv), dvAbs = new Float64Array(Dv), dfk = new Float64Array(M), dfkAbs = new Float64Array(M);
    for (let i = 0; i < N; i++) {
      const qo = (h * N + i) * M, ro = (h * N + i) * Dv;
      let a = 0;
      for (let m = 0; m < M; m++) a += fq[qo + m]! * fk[ko + m]!;
      a /= den[i]!;
      // dout_i . (v_j - out_i), out_i from the device (checked above on the sampled rows)
      let t = 0, tAbs = 0;
      for (let e = 0; e < Dv; e++) {
        dv[e]! += a * dout[ro + e]!;
        dvAbs[e]! += a * Math.abs(dout[ro + e]!);
        t += dout[ro + e]! * (v[vo + e]! - got.out[ro + e]!);
        tAbs += Math.abs(dout[ro + e]!) * (Math.abs(v[vo + e]!) + Math.abs(got.out[ro + e]!));
      }
      for (let m = 0; m < M; m++) {
        dfk[m]! += (fq[qo + m]! * t) / den[i]!;
        dfkAbs[m]! += (fq[qo + m]! * tAbs) / den[i]!;
      }
    }
    for (let e = 0; e < Dv; e++) check.add(`dv[${h}, ${j}, ${e}]`, got.dv[vo + e]!, dv[e]!, tol * dvAbs[e]! + 1e-30);
    for (let m = 0; m < M; m++) check.add(`dfk[${h}, ${j}, ${m}]`, got.dfk[ko + m]!, dfk[m]!, tol * dfkAbs[m]! + 1e-30);
  }
  return check.result();
}

async function linearRow(k: WebGPUKernels, timer: GpuTimer | null, N: number, c: BenchConfig): Promise<Omit<EfficientRow, "vsFull">> {
  const { H, D } = c;
  const M = D, Dv = D;
  const r = rng(3000 + N);
  const host = { fq: features(r, H * N * M), fk: features(r, H * N * M), v: randn(r, H * N * Dv), dout: randn(r, H * N * Dv) };
  const [gfq, gfk, gv, gdout] = [host.fq, host.fk, host.v, host.dout].map((x) => k.upload(x)) as [GpuArray, GpuArray, GpuArray, GpuArray];
  const [gout, gdfq, gdfk, gdv] = [H * N * Dv, H * N * M, H * N * M, H * N * Dv].map((len) => k.alloc(len)) as [GpuArray, GpuArray, GpuArray, GpuArray];
  const gden = k.alloc(H * N);
  const args: LinearAttentionArgs = { B: 1, H, Hkv: H, L: N, S: N, M, Dv, causal: false };
  const fwd = (): void => k.linearAttentionForward(gout, gden, gfq, gfk, gv, args);
  // forward: kv and z (2 N M Dv + N M), then out and den (2 N M Dv + 2 N M), per head; backward about twice that
  const flop = H * N * M * (4 * Dv + 3);
  const forward = await time(k, timer, fwd, flop, c);
  const forwardBackward = await time(k, timer, () => {
    fwd();
    k.linearAttentionBackward(gdfq, gdfk, gdv, gdout, gfq, gfk, gv, gout, gden, args);
  }, 3 * flop, c);
  const got = { out: await k.read(gout), den: await k.read(gden), dfq: await k.read(gdfq), dfk: await k.read(gdfk), dv: await k.read(gdv) };
  for (const x of [gfq, gfk, gv, gdout, gout, gdfq, gdfk, gdv, gden]) k.release(x);
  return { N, kind: "linear", pairs: N * N, forward, forwardBackward, check: checkLinear(N, M, Dv, H, host, got, r) };
}

/** The window and linear rows at N, each against `full` (the full core's row at N) where given; a row whose kernels fail is a failed row. */
export async function efficientRows(k: WebGPUKernels, timer: GpuTimer | null, N: number, c: BenchConfig, full?: AttentionRow,
  log: (line: string) => void = () => {}): Promise<EfficientRow[]> {
  const rows: EfficientRow[] = [];
  for (const [kind, measure] of [["window", windowRow], ["linear", linearRow]] as const) {
    const row = await orFailed(`${kind} attention N=${N}`, () => measure(k, timer, N, c),
      (check) => ({ N, kind, pairs: 0, forward: FAILED_TIMING, forwardBackward: FAILED_TIMING, check }), log);
    rows.push({ ...row, vsFull: full && row.check.ok ? full.forwardBackward.ms / row.forwardBackward.ms : null });
  }
  return rows;
}
