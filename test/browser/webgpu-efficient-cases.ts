/**
 * The sparse and linear attention cases of the WebGPU kernel page (webgpu-page.ts, which passes
 * its helpers in): each WGSL kernel against the js reference kernel on seeded inputs of awkward
 * sizes, every device array at an odd offset between guard values.
 *
 * Sparse: every pattern builder (window, causal window, dilated window, Longformer's global tokens,
 * BigBird's blocks, a block layout with rows that see no key, L != S), GQA, Dv != D, forward (out,
 * lse) and backward (dq, dk, dv). Linear: causal and not, GQA, L != S (non-causal), one chunk and
 * several, a feature size that makes the chunks 15 rows long, and a zero denominator (0 / 0).
 *
 * ```ts
 * const families = efficientFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() });
 * ```
 */
import type { LinearAttentionArgs, SparseAttentionArgs, SparsePattern } from "../../src/backend/backend.js";
import { linearAttentionBackward, linearAttentionForward } from "../../src/backend/js/linear-attention.js";
import { sparseAttentionBackward, sparseAttentionForward } from "../../src/backend/js/sparse-attention.js";
import type { WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { bigbirdPattern } from "../../src/attention/bigbird.js";
import { layoutPattern } from "../../src/attention/block-sparse.js";
import { longformerPattern } from "../../src/attention/global.js";
import { dilatedWindowPattern, windowPattern } from "../../src/attention/window.js";
import type { CaseResult, Placed, Results } from "./webgpu-page.js";
import { liveRows } from "./webgpu-attention-rows.js";
import { randn, rng } from "./webgpu-page-setup.js";

/** What the page lends: its kernels, placing arrays between guards, reading them back, and a result list. */
export interface Kit {
  kernels: () => WebGPUKernels;
  place: (host: Float32Array, pad: number) => Placed;
  output: (n: number, pad: number) => Placed;
  fetchPlaced: (p: Placed) => Promise<{ data: Float32Array; guards: boolean }>;
  results: () => Results;
}

const U = 2 ** -24;

// ---------------------------------------------------------------------------------------------
// sparse attention

interface SparseCase { name: string; B: number; H: number; Hkv: number; D: number; Dv: number; pattern: SparsePattern }

const SPARSE_CASES: SparseCase[] = [
  { name: "1 x 1, D 1", B: 1, H: 1, Hkv: 1, D: 1, Dv: 1, pattern: windowPattern(1, 1, 0) },
  { name: "window 5, L 70, D 16, Dv 8", B: 2, H: 2, Hkv: 2, D: 16, Dv: 8, pattern: windowPattern(70, 70, 5) },
  { name: "causal window 4, GQA 4/2, L 33, D 8, Dv 24", B: 1, H: 4, Hkv: 2, D: 8, Dv: 24, pattern: windowPattern(33, 33, 4, true) },
  { name: "dilated window 3, dilation 3, L 65, D 4", B: 2, H: 1, Hkv: 1, D: 4, Dv: 4, pattern: dilatedWindowPattern(65, 65, 3, 3) },
  { name: "Longformer window 2, 3 global tokens, L 130, D 32, GQA 2/1", B: 1, H: 2, Hkv: 1, D: 32, Dv: 16, pattern: longformerPattern(130, 130, 2, 3) },
  { name: "causal Longformer, window 3, 2 global tokens, L 40", B: 2, H: 3, Hkv: 3, D: 5, Dv: 7, pattern: longformerPattern(40, 40, 3, 2, true) },
  { name: "BigBird blocks of 7, L 50, D 12", B: 1, H: 2, Hkv: 2, D: 12, Dv: 12,
    pattern: bigbirdPattern(50, 50, { window: 1, numGlobal: 1, numRandom: 2, blockSize: 7, seed: 3 }) },
  // block rows 1 and 3 see no key (their rows give 0 and lse -Infinity); L 20, S 33
  { name: "block layout with empty block rows, L 20, S 33, D 6, Dv 3", B: 2, H: 2, Hkv: 1, D: 6, Dv: 3,
    pattern: layoutPattern(20, 33, Uint8Array.of(1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), 7, 5) },
];

function sparseInputs(c: SparseCase, seed: number) {
  const r = rng(seed);
  const { B, H, Hkv, D, Dv, pattern } = c;
  const { L, S } = pattern;
  const args: SparseAttentionArgs = { B, H, Hkv, D, Dv, scale: 1 / Math.sqrt(D), pattern };
  return {
    q: randn(r, B * H * L * D), k: randn(r, B * Hkv * S * D), v: randn(r, B * Hkv * S * Dv), dout: randn(r, B * H * L * Dv), args,
  };
}

/**
 * Elementwise error bounds of fp32 sparse backward gradients: each is a sum over (row, key) terms
 * ds k, ds q, p dout with ds = p (dout . v - dout . out) scale, and p = exp(q . k scale - lse); a
 * term is off by about (D + Dv + 8 + 2 (|s| + |lse|)) u of its magnitude (the dot products, exp's
 * 3 + 2|x| ulp, the sums), magnitudes taken term by term in float64: what cancellation leaves of
 * the terms is no larger than the terms.
 */
function sparseGradBounds(dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
  a: SparseAttentionArgs): [Float64Array, Float64Array, Float64Array] {
  const { B, H, Hkv, D, Dv, scale, pattern: { L, S, rowLo, rowHi, spans } } = a;
  const bq = new Float64Array(q.length), bk = new Float64Array(k.length), bv = new Float64Array(v.length);
  liveRows(B, H, Hkv, L, Dv, lse, dout, out, (row, i, kvh, l, di) => {
    for (let r = rowLo[i]!; r < rowHi[i]!; r++) {
      for (let j = spans[3 * r]!; j < spans[3 * r + 1]!; j += spans[3 * r + 2]!) {
        const kj = kvh * S + j;
        let sc = 0, dp = 0;
        for (let d = 0; d < D; d++) sc += q[row * D + d]! * k[kj * D + d]!;
        for (let d = 0; d < Dv; d++) dp += Math.abs(dout[row * Dv + d]! * v[kj * Dv + d]!);
        const s = sc * scale, p = Math.exp(s - l);
        const w = (D + Dv + 8 + 2 * (Math.abs(s) + Math.abs(l))) * U;
        const ds = w * p * (dp + di) * Math.abs(scale);
        for (let d = 0; d < D; d++) {
          bq[row * D + d]! += ds * Math.abs(k[kj * D + d]!);
          bk[kj * D + d]! += ds * Math.abs(q[row * D + d]!);
        }
        for (let d = 0; d < Dv; d++) bv[kj * Dv + d]! += w * p * Math.abs(dout[row * Dv + d]!);
      }
    }
  });
  return [bq, bk, bv];
}

async function sparseCases(kit: Kit, backward: boolean): Promise<CaseResult[]> {
  const res = kit.results(), k = kit.kernels();
  for (const [ci, c] of SPARSE_CASES.entries()) {
    const { q, k: kk, v, dout, args } = sparseInputs(c, 7000 + ci);
    const out = new Float32Array(dout.length), lse = new Float32Array(c.B * c.H * c.pattern.L);
    sparseAttentionForward(out, lse, q, kk, v, args);
    const pq = kit.place(q, 3), pk = kit.place(kk, 70), pv = kit.place(v, 1);
    if (!backward) {
      const po = kit.output(out.length, 4), pl = kit.output(lse.length, 5);
      k.sparseAttentionForward(po.arr, pl.arr, pq.arr, pk.arr, pv.arr, args);
      const go = await kit.fetchPlaced(po), gl = await kit.fetchPlaced(pl);
      // as fused attention: softmax weights within ~(n + 3 |s|) u, out a convex combination of v
      res.close(`out: ${c.name}`, go.data, out, 64 * U, 16 * U, go.guards);
      res.close(`lse: ${c.name}`, gl.data, lse, 16 * U, 4 * U, gl.guards);
      continue;
    }
    const dq = new Float32Array(q.length), dk = new Float32Array(kk.length), dv = new Float32Array(v.length);
    sparseAttentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, args);
    const pdo = kit.place(dout, 6), pout = kit.place(out, 7), plse = kit.place(lse, 8);
    const pdq = kit.output(dq.length, 9), pdk = kit.output(dk.length, 10), pdv = kit.output(dv.length, 11);
    k.sparseAttentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, pout.arr, plse.arr, args);
    const [bq, bk, bv] = sparseGradBounds(dout, q, kk, v, out, lse, args);
    for (const [name, p, want, bound] of [["dq", pdq, dq, bq], ["dk", pdk, dk, bk], ["dv", pdv, dv, bv]] as const) {
      const g = await kit.fetchPlaced(p);
      res.compare(`${name}: ${c.name}`, g.data, want, (i) => bound[i]! + 1e-30, g.guards);
    }
  }
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// linear attention

interface LinearCase extends LinearAttentionArgs { name: string; zeroRow?: boolean }

const LINEAR_CASES: LinearCase[] = [
  { name: "1 x 1, M 1, Dv 1", B: 1, H: 1, Hkv: 1, L: 1, S: 1, M: 1, Dv: 1, causal: false },
  { name: "causal, L 7, M 3, Dv 5", B: 2, H: 2, Hkv: 2, L: 7, S: 7, M: 3, Dv: 5, causal: true },
  { name: "causal, GQA 4/2, L 130 (3 chunks), M 16, Dv 8", B: 1, H: 4, Hkv: 2, L: 130, S: 130, M: 16, Dv: 8, causal: true },
  { name: "non-causal, GQA 2/1, L 33, S 70, M 8, Dv 24", B: 2, H: 2, Hkv: 1, L: 33, S: 70, M: 8, Dv: 24, causal: false },
  { name: "causal, M 200, Dv 60 (chunks of 15), L 47", B: 1, H: 1, Hkv: 1, L: 47, S: 47, M: 200, Dv: 60, causal: true },
  { name: "non-causal, M 200, Dv 60 (chunks of 15), L 20, S 31", B: 1, H: 3, Hkv: 3, L: 20, S: 31, M: 200, Dv: 60, causal: false },
  { name: "a query row of zero features (0 / 0), L 9, S 12", B: 1, H: 2, Hkv: 2, L: 9, S: 12, M: 4, Dv: 3, causal: false, zeroRow: true },
];

/** Positive features exp(x / 2) (as FAVOR+'s and elu + 1's are), values randn. */
function linearInputs(c: LinearCase, seed: number) {
  const r = rng(seed);
  const { B, H, Hkv, L, S, M, Dv } = c;
  const fq = randn(r, B * H * L * M).map((x) => Math.exp(x / 2)), fk = randn(r, B * Hkv * S * M).map((x) => Math.exp(x / 2));
  if (c.zeroRow) fq.fill(0, 3 * M, 4 * M);
  return { fq, fk, v: randn(r, B * Hkv * S * Dv), dout: randn(r, B * H * L * Dv) };
}

async function linearCases(kit: Kit): Promise<CaseResult[]> {
  const res = kit.results(), k = kit.kernels();
  for (const [ci, c] of LINEAR_CASES.entries()) {
    const { fq, fk, v, dout } = linearInputs(c, 8000 + ci);
    const { B, H, L, S, M } = c;
    const out = new Float32Array(dout.length), den = new Float32Array(B * H * L);
    linearAttentionForward(out, den, fq, fk, v, c);
    const pq = kit.place(fq, 3), pk = kit.place(fk, 70), pv = kit.place(v, 1);
    const po = kit.output(out.length, 4), pd = kit.output(den.length, 5);
    k.linearAttentionForward(po.arr, pd.arr, pq.arr, pk.arr, pv.arr, c);
    const go = await kit.fetchPlaced(po), gd = await kit.fetchPlaced(pd);
    // num and den are fp32 sums of at most S + M positive-weighted terms (js sums in float64);
    // out is their quotient, a convex combination of v rows
    const n = S + M;
    res.close(`out: ${c.name}`, go.data, out, 4 * n * U, 2 * n * U, go.guards);
    res.close(`den: ${c.name}`, gd.data, den, 2 * n * U, 0, gd.guards);
    if (c.zeroRow) continue; // the gradients of 0 / 0 are not numbers
    const dfq = new Float32Array(fq.length), dfk = new Float32Array(fk.length), dv = new Float32Array(v.length);
    linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, c);
    const pdo = kit.place(dout, 6), pout = kit.place(out, 7), pden = kit.place(den, 8);
    const pdq = kit.output(dfq.length, 9), pdk = kit.output(dfk.length, 10), pdv = kit.output(dv.length, 11);
    k.linearAttentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, pout.arr, pden.arr, c);
    // each gradient is a sum of products (some cancel: dfq of a single key is 0), computed in fp32
    // along paths of at most S + M + Dv additions: the bound is that many u times the sum of the
    // terms' magnitudes, which is the same backward of |dout|, |v| and out = -|out| (every term >= 0)
    const mag = [new Float32Array(fq.length), new Float32Array(fk.length), new Float32Array(v.length)] as const;
    linearAttentionBackward(mag[0], mag[1], mag[2], dout.map(Math.abs), fq, fk, v.map(Math.abs), out.map((x) => -Math.abs(x)), den, c);
    const gamma = 2 * (S + M + c.Dv + 4) * U;
    for (const [name, p, want, bound] of [["dfq", pdq, dfq, mag[0]], ["dfk", pdk, dfk, mag[1]], ["dv", pdv, dv, mag[2]]] as const) {
      const g = await kit.fetchPlaced(p);
      res.compare(`${name}: ${c.name}`, g.data, want, (i) => gamma * bound[i]! + 1e-30, g.guards);
    }
  }
  // a feature size past workgroup memory (M + Dv + 1 floats a staged row) is refused before anything is recorded
  let thrown = "none";
  const big: LinearAttentionArgs = { B: 1, H: 1, Hkv: 1, L: 1, S: 1, M: k.workgroupFloats, Dv: 1, causal: false };
  const t = k.alloc(1);
  try {
    k.linearAttentionForward(t, t, t, t, t, big);
  } catch (e) {
    thrown = `${(e as Error).name}: ${(e as Error).message}`;
  }
  const want = `WebGPUUnsupportedError: linearAttentionForward: M + Dv expected at most ${k.workgroupFloats - 1} (workgroup memory), got ${k.workgroupFloats + 1}`;
  res.list.push({ name: "M + Dv over workgroup memory", ok: thrown === want, worst: 0, detail: thrown });
  k.release(t);
  return res.list;
}

// ---------------------------------------------------------------------------------------------
// past 65535 workgroups (kernels.ts gridOf lays them out over x and y)

/** `n` floats, distinct per index (a multiplicative hash) and within [-4, 4), so a misplaced element shows. */
function hashed(n: number, salt: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (Math.imul(i + salt, 0x9e3779b1) >>> 0) / 2 ** 29 - 4;
  return x;
}

async function largeCases(kit: Kit): Promise<CaseResult[]> {
  const res = kit.results(), k = kit.kernels();
  const maxDim = k.gpu.limits.maxComputeWorkgroupsPerDimension;
  // sparse: 64 rows and 64 keys per batch, maxDim + 100 batches: a thread per row and per key, 64 a workgroup
  {
    const B = maxDim + 100, L = 64;
    const args: SparseAttentionArgs = { B, H: 1, Hkv: 1, D: 1, Dv: 1, scale: 0.5, pattern: windowPattern(L, L, 1) };
    const n = B * L;
    const q = hashed(n, 1), kk = hashed(n, 2), v = hashed(n, 3), dout = hashed(n, 4);
    const out = new Float32Array(n), lse = new Float32Array(n);
    sparseAttentionForward(out, lse, q, kk, v, args);
    const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
    sparseAttentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, args);
    const pq = kit.place(q, 1), pk = kit.place(kk, 2), pv = kit.place(v, 3), po = kit.output(n, 4), pl = kit.output(n, 5);
    k.sparseAttentionForward(po.arr, pl.arr, pq.arr, pk.arr, pv.arr, args);
    const go = await kit.fetchPlaced(po), gl = await kit.fetchPlaced(pl);
    res.close(`sparse out, ${n} rows in ${Math.ceil(n / 64)} workgroups`, go.data, out, 64 * U, 16 * U, go.guards);
    res.close(`sparse lse, ${n} rows`, gl.data, lse, 16 * U, 4 * U, gl.guards);
    const pdo = kit.place(dout, 6), pdq = kit.output(n, 7), pdk = kit.output(n, 8), pdv = kit.output(n, 9);
    k.sparseAttentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, po.arr, pl.arr, args);
    const [bq, bk, bv] = sparseGradBounds(dout, q, kk, v, out, lse, args);
    for (const [name, p, want, bound] of [["dq", pdq, dq, bq], ["dk", pdk, dk, bk], ["dv", pdv, dv, bv]] as const) {
      const g = await kit.fetchPlaced(p);
      res.compare(`sparse ${name}, ${n} ${name === "dq" ? "rows" : "keys"}`, g.data, want, (i) => bound[i]! + 1e-30, g.guards);
      k.release(p.whole);
    }
    for (const p of [pq, pk, pv, po, pl, pdo]) k.release(p.whole);
  }
  // linear: one chunk per head, maxDim + 100 heads: a workgroup per chunk in every pass (the
  // non-causal passes have the same grids; SwiftShader takes long over so many workgroups)
  for (const causal of [true]) {
    const a: LinearAttentionArgs = { B: maxDim + 100, H: 1, Hkv: 1, L: 3, S: 3, M: 2, Dv: 1, causal };
    const n = a.B * a.L;
    const fq = hashed(n * a.M, 5).map((x) => Math.exp(x / 4)), fk = hashed(n * a.M, 6).map((x) => Math.exp(x / 4));
    const v = hashed(n, 7), dout = hashed(n, 8);
    const out = new Float32Array(n), den = new Float32Array(n);
    linearAttentionForward(out, den, fq, fk, v, a);
    const dfq = new Float32Array(n * a.M), dfk = new Float32Array(n * a.M), dv = new Float32Array(n);
    linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, a);
    const pq = kit.place(fq, 1), pk = kit.place(fk, 2), pv = kit.place(v, 3), po = kit.output(n, 4), pd = kit.output(n, 5);
    k.linearAttentionForward(po.arr, pd.arr, pq.arr, pk.arr, pv.arr, a);
    const c = causal ? "causal" : "non-causal";
    const go = await kit.fetchPlaced(po), gd = await kit.fetchPlaced(pd);
    res.close(`linear out, ${c}, ${a.B} heads`, go.data, out, 32 * U, 16 * U, go.guards);
    res.close(`linear den, ${c}, ${a.B} heads`, gd.data, den, 16 * U, 0, gd.guards);
    const pdo = kit.place(dout, 6), pdq = kit.output(n * a.M, 7), pdk = kit.output(n * a.M, 8), pdv = kit.output(n, 9);
    k.linearAttentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, po.arr, pd.arr, a);
    const mag = [new Float32Array(n * a.M), new Float32Array(n * a.M), new Float32Array(n)] as const;
    linearAttentionBackward(mag[0], mag[1], mag[2], dout.map(Math.abs), fq, fk, v.map(Math.abs), out.map((x) => -Math.abs(x)), den, a);
    const gamma = 2 * (a.S + a.M + a.Dv + 4) * U;
    for (const [name, p, want, bound] of [["dfq", pdq, dfq, mag[0]], ["dfk", pdk, dfk, mag[1]], ["dv", pdv, dv, mag[2]]] as const) {
      const g = await kit.fetchPlaced(p);
      res.compare(`linear ${name}, ${c}, ${a.B} heads`, g.data, want, (i) => gamma * bound[i]! + 1e-30, g.guards);
      k.release(p.whole);
    }
    for (const p of [pq, pk, pv, po, pd, pdo]) k.release(p.whole);
  }
  return res.list;
}

/** The families this file adds to the page. */
export function efficientFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  return {
    sparseAttentionForward: () => sparseCases(kit, false),
    sparseAttentionBackward: () => sparseCases(kit, true),
    linearAttention: () => linearCases(kit),
    efficientLarge: () => largeCases(kit),
  };
}
