/**
 * Fused attention with dropout, for the WebGPU kernel page (webgpu-page.ts, which passes its
 * helpers in): the WGSL forward (out, lse) and backward (dq, dk, dv) against the js fused kernel
 * (src/backend/js/attention.ts) with dropoutP 0.1 and 0.5, causal, additive masks with -Infinity
 * and fully masked rows, GQA, L != S, counters that cross 2^32 within a call and start past 2^40.
 * The mask itself is compared exactly: with v the identity (Dv = S) the output row is the dropped
 * weights, so an element is 0 on the device exactly where the js kernel dropped it (or the key is
 * masked). One case lays q, k, v, out (and the gradients) out as [B, L, H, D] (the strided path,
 * packedSelfAttention's kind of layout). Tolerances are fp32 bounds from the magnitudes of the
 * summed terms (see `bounds`).
 *
 * ```ts
 * const families = attentionDropoutFamilies(kit); // { attentionDropout }
 * ```
 */
import { contiguousLayouts, type AttentionArgs } from "../../src/backend/backend.js";
import { attentionBackward, attentionForward } from "../../src/backend/js/attention.js";
import type { GpuAttentionArgs } from "../../src/backend/webgpu/index.js";
import { uniformAt } from "../../src/tensor/rng.js";
import { liveRows } from "./webgpu-attention-rows.js";
import type { Kit } from "./webgpu-efficient-cases.js";
import type { CaseResult } from "./webgpu-page.js";
import { randn, rng } from "./webgpu-page-setup.js";

const U = 2 ** -24;

interface DropCase {
  name: string; B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number; causal: boolean;
  p: number; start: number;
  /** an additive mask [B, H, L, S] (full), -Infinity where it says */
  masked?: (b: number, h: number, i: number, j: number) => boolean;
  /** v [B, Hkv, S, S] the identity in each head: out is the dropped weights */
  identity?: boolean;
  /** every operand on the device as [B, rows, heads, n] (row strides [rows heads n, n, heads n]) */
  strided?: boolean;
}

const CASES: DropCase[] = [
  { name: "p 0.1, L 7, S 33, D 16", B: 2, H: 2, Hkv: 2, L: 7, S: 33, D: 16, Dv: 16, causal: false, p: 0.1, start: 0 },
  { name: "p 0.5, GQA 4/2, causal, L 33, S 65, D 8, Dv 24", B: 1, H: 4, Hkv: 2, L: 33, S: 65, D: 8, Dv: 24, causal: true,
    p: 0.5, start: 12345 },
  // B H L S = 11200 counters from 2^32 - 3000: the low word wraps inside the call
  { name: "p 0.5, GQA 2/1, mask with -Infinity and fully masked rows, L 70, S 40, D 32, Dv 16, counters across 2^32",
    B: 2, H: 2, Hkv: 1, L: 70, S: 40, D: 32, Dv: 16, causal: false, p: 0.5, start: 2 ** 32 - 3000,
    masked: (b, _h, i, j) => (i % 17 === 3 && b === 1) || (i * 7 + j * 3 + b) % 5 === 0 },
  { name: "p 0.1, causal with L > S and a per-head mask, L 65, S 33, D 16, Dv 8, counters past 2^40",
    B: 1, H: 3, Hkv: 3, L: 65, S: 33, D: 16, Dv: 8, causal: true, p: 0.1, start: 2 ** 40 + 7,
    masked: (_b, h, i, j) => (h === 1 && j === 0) || ((i + h) % 11 === 0 && j < 20) },
  { name: "p 0.5, strided operands [B, L, H, D], GQA 4/2, causal, L 19, S 23, D 8, Dv 12", B: 2, H: 4, Hkv: 2, L: 19, S: 23,
    D: 8, Dv: 12, causal: true, p: 0.5, start: 77, strided: true },
  { name: "p 0.1, GQA 8/2 decode row, L 1, S 130, D 32", B: 2, H: 8, Hkv: 2, L: 1, S: 130, D: 32, Dv: 32, causal: false,
    p: 0.1, start: 99 },
  { name: "the mask: v the identity, p 0.5, causal, L 20, S 37", B: 2, H: 2, Hkv: 1, L: 20, S: 37, D: 8, Dv: 37, causal: true,
    p: 0.5, start: 2 ** 33 + 5, identity: true },
  { name: "the mask: v the identity, p 0.1, masked, L 9, S 50", B: 1, H: 3, Hkv: 3, L: 9, S: 50, D: 4, Dv: 50, causal: false,
    p: 0.1, start: 4, identity: true, masked: (_b, h, i, j) => (i + j + h) % 7 === 0 },
];

function inputs(c: DropCase, seed: number) {
  const r = rng(seed);
  const { B, H, Hkv, L, S, D, Dv } = c;
  const q = randn(r, B * H * L * D), kk = randn(r, B * Hkv * S * D), dout = randn(r, B * H * L * Dv);
  const v = c.identity ? new Float32Array(B * Hkv * S * Dv) : randn(r, B * Hkv * S * Dv);
  if (c.identity) for (let bk = 0; bk < B * Hkv; bk++) for (let j = 0; j < S; j++) v[(bk * S + j) * Dv + j] = 1;
  let mask: Float32Array | null = null;
  if (c.masked) {
    mask = new Float32Array(B * H * L * S);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      mask[((b * H + h) * L + i) * S + j] = c.masked(b, h, i, j) ? -Infinity : -2 * r();
    }
  }
  const seedK0 = Math.floor(r() * 4294967296) >>> 0, seedK1 = Math.floor(r() * 4294967296) >>> 0;
  const args: AttentionArgs = { B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal, ...contiguousLayouts(c), mask,
    maskStrideB: mask ? H * L * S : 0, maskStrideH: mask ? L * S : 0, maskStrideL: mask ? S : 0,
    dropoutP: c.p, seedK0, seedK1, seedStart: c.start };
  return { q, k: kk, v, dout, mask, args };
}

/**
 * Elementwise fp32 error bounds of out, dq, dk, dv. Each is a sum over (row, key) terms P z v,
 * ds k, ds q, P z dout with ds = P (z dout . v - dout . out) scale, P = exp(s - lse) and z = 0 or
 * 1 / (1 - p) the js kernel's dropout of (row, key). A term is off by about w = (D + Dv + S + 8 +
 * 2 (sabs + |lse|)) u of its magnitude, sabs = |q| . |k| scale + |mask| (the dot products and
 * the score's error through exp's argument, exp's ulps, the sums); out also by the row sum's error
 * (its row's largest w times the same magnitudes). Magnitudes are taken term by term in float64:
 * what cancellation leaves of the terms is no larger than the terms.
 */
function bounds(q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array, out: Float32Array, lse: Float32Array,
  a: AttentionArgs): { out: Float64Array; dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, H, Hkv, L, S, D, Dv, scale } = a;
  const bo = new Float64Array(out.length), bq = new Float64Array(q.length), bk = new Float64Array(k.length), bv = new Float64Array(v.length);
  liveRows(B, H, Hkv, L, Dv, lse, dout, out, (row, i, kvh, l, di) => {
    let wMax = 0;
    const mag = new Float64Array(Dv);
    for (let j = 0; j < S; j++) {
      const mv = a.mask ? a.mask[row * S + j]! : 0;
      if ((a.causal && j > i) || mv === -Infinity) continue;
      const kj = kvh * S + j;
      let sc = 0, sabs = Math.abs(mv), dp = 0;
      for (let d = 0; d < D; d++) {
        sc += q[row * D + d]! * k[kj * D + d]!;
        sabs += Math.abs(q[row * D + d]! * k[kj * D + d]! * scale);
      }
      for (let d = 0; d < Dv; d++) dp += Math.abs(dout[row * Dv + d]! * v[kj * Dv + d]!);
      const P = Math.exp(sc * scale + mv - l);
      const z = uniformAt(a.seedK0, a.seedK1, a.seedStart + row * S + j) < a.dropoutP ? 0 : 1 / (1 - a.dropoutP);
      const w = (D + Dv + S + 8 + 2 * (sabs + Math.abs(l))) * U;
      wMax = Math.max(wMax, w);
      for (let d = 0; d < Dv; d++) {
        const t = P * z * Math.abs(v[kj * Dv + d]!);
        mag[d]! += t;
        bo[row * Dv + d]! += w * t;
        bv[kj * Dv + d]! += w * P * z * Math.abs(dout[row * Dv + d]!);
      }
      const ds = w * P * (z * dp + di) * Math.abs(scale);
      for (let d = 0; d < D; d++) {
        bq[row * D + d]! += ds * Math.abs(k[kj * D + d]!);
        bk[kj * D + d]! += ds * Math.abs(q[row * D + d]!);
      }
    }
    for (let d = 0; d < Dv; d++) bo[row * Dv + d]! += wMax * mag[d]!;
  });
  return { out: bo, dq: bq, dk: bk, dv: bv };
}

/** x [B, heads, rows, n] as [B, rows, heads, n] (`back`: the other way). */
function swapHeads(x: Float32Array, B: number, heads: number, rows: number, n: number, back = false): Float32Array {
  const o = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) for (let i = 0; i < rows; i++) for (let d = 0; d < n; d++) {
    const dense = ((b * heads + h) * rows + i) * n + d, swapped = ((b * rows + i) * heads + h) * n + d;
    if (back) o[dense] = x[swapped]!;
    else o[swapped] = x[dense]!;
  }
  return o;
}

/** Whether got and want are 0 at the same elements (the mask, with v the identity). */
function sameZeros(name: string, got: Float32Array, want: Float32Array): CaseResult {
  let bad = 0, first = "";
  for (let e = 0; e < want.length; e++) {
    if ((got[e] === 0) !== (want[e] === 0)) {
      if (!bad) first = `[${e}] got ${got[e]}, want ${want[e]}`;
      bad++;
    }
  }
  return { name, ok: bad === 0, worst: bad, detail: bad ? `${bad} elements differ in being 0; first ${first}` : "exact" };
}

async function dropoutCases(kit: Kit): Promise<CaseResult[]> {
  const res = kit.results(), k = kit.kernels();
  for (const [ci, c] of CASES.entries()) {
    const { q, k: kk, v, dout, mask, args } = inputs(c, 8000 + ci);
    const { B, H, L, Dv } = c;
    const out = new Float32Array(B * H * L * Dv), lse = new Float32Array(B * H * L);
    attentionForward(out, lse, q, kk, v, args);
    const dq = new Float32Array(q.length), dk = new Float32Array(kk.length), dv = new Float32Array(v.length);
    attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, args);
    const bound = bounds(q, kk, v, dout, out, lse, args);

    // the device's layout of a [B, heads, rows, n] operand, and back
    const { Hkv, S, D } = c;
    const lay = (x: Float32Array, heads: number, rows: number, n: number): Float32Array =>
      (c.strided ? swapHeads(x, B, heads, rows, n) : x);
    const unlay = (x: Float32Array, heads: number, rows: number, n: number): Float32Array =>
      (c.strided ? swapHeads(x, B, heads, rows, n, true) : x);
    const rowsOf = (heads: number, rows: number, n: number): [number, number, number] => [rows * heads * n, n, heads * n];
    const pq = kit.place(lay(q, H, L, D), 3), pk = kit.place(lay(kk, Hkv, S, D), 70), pv = kit.place(lay(v, Hkv, S, Dv), 1);
    const pm = mask ? kit.place(mask, 2) : null;
    const gargs: GpuAttentionArgs = { ...args, mask: pm?.arr ?? null,
      ...(c.strided ? { qStrides: rowsOf(H, L, D), kStrides: rowsOf(Hkv, S, D), vStrides: rowsOf(Hkv, S, Dv), oStrides: rowsOf(H, L, Dv) } : {}) };
    const po = kit.output(out.length, 4), pl = kit.output(lse.length, 5);
    k.attentionForward(po.arr, pl.arr, pq.arr, pk.arr, pv.arr, gargs);
    const go = await kit.fetchPlaced(po), gl = await kit.fetchPlaced(pl);
    const gout = unlay(go.data, H, L, Dv);
    res.compare(`out: ${c.name}`, gout, out, (e) => bound.out[e]!, go.guards);
    // lse is the undropped softmax's: the tolerance of the dropout-free family
    res.close(`lse: ${c.name}`, gl.data, lse, 16 * U, 4 * U, gl.guards);
    if (c.identity) res.list.push(sameZeros(`mask: ${c.name}`, gout, out));

    // the backward from the js forward's out and lse, so that only the backward is compared
    const pdo = kit.place(lay(dout, H, L, Dv), 6), pout = kit.place(lay(out, H, L, Dv), 7), plse = kit.place(lse, 8);
    const pdq = kit.output(dq.length, 9), pdk = kit.output(dk.length, 10), pdv = kit.output(dv.length, 11);
    k.attentionBackward(pdq.arr, pdk.arr, pdv.arr, pdo.arr, pq.arr, pk.arr, pv.arr, pout.arr, plse.arr, gargs);
    for (const [name, p, want, b, heads, rows, n] of [["dq", pdq, dq, bound.dq, H, L, D], ["dk", pdk, dk, bound.dk, Hkv, S, D],
      ["dv", pdv, dv, bound.dv, Hkv, S, Dv]] as const) {
      const g = await kit.fetchPlaced(p);
      res.compare(`${name}: ${c.name}`, unlay(g.data, heads, rows, n), want, (e) => b[e]!, g.guards);
    }
  }
  return res.list;
}

export function attentionDropoutFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  return { attentionDropout: () => dropoutCases(kit) };
}
