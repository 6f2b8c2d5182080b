/**
 * Fused attention on the device, FlashAttention-style, as Backend.attentionForward /
 * attentionBackward (layouts and options: AttentionArgs in ../backend.ts), fp32:
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv], lse [B, H, L].
 *
 * The G = H / Hkv query heads that read one kv head are taken together: their G * L query rows are
 * contiguous in q, out and lse, and a workgroup of BR = 64 threads owns BR of them (a thread per
 * row, its q row and output accumulator in registers), so GQA reads each k / v block once per
 * workgroup. Forward: key blocks of BC keys are staged in workgroup memory; per block the scores
 * (scaled, causal, plus the additive mask; -Infinity recognised by its bits), the block max,
 * one rescale of the accumulator (online softmax) and the weighted values. A row with no key
 * gives out 0 and lse -Infinity. Under `causal` a workgroup stops at its last row's keys.
 *
 * Backward recomputes the probabilities from lse: (1) per row, delta = dout . out beside a copy of
 * lse; (2) a workgroup per 64 keys of a kv head (a thread per key, its dk / dv in registers) loops
 * over the G * L query rows in blocks staged in workgroup memory, undoing out = P v (dv += p dout)
 * and the softmax (ds = p (dout . v - delta) scale; dk += ds q); (3) the query rows as in the
 * forward, loop over key blocks for dq += ds k. Each pass writes its own elements once: dq, dk, dv
 * are written, not accumulated; rows with lse -Infinity contribute nothing.
 *
 * One pipeline per (pass, D, Dv, mask or not). Dropout is not on the device yet.
 *
 * ```ts
 * attentionForward(ctx, out, lse, q, k, v, { B, H, Hkv, L, S, D, Dv, scale, causal: true, mask: null, ... });
 * ```
 */
import type { AttentionArgs } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, f32Bits } from "./context.js";
import { WebGPUUnsupportedError } from "./errors.js";
import { header } from "./wgsl.js";

/** AttentionArgs with the mask on the device. */
export type GpuAttentionArgs = Omit<AttentionArgs, "mask"> & { mask: GpuArray | null };

/** Query rows (threads) per workgroup of the forward and dq passes; keys per workgroup of the dk / dv pass. */
const BR = 64, BKV = 64, MAX_BLOCK = 32;

const FIELDS = ["B: u32", "H: u32", "Hkv: u32", "L: u32", "S: u32", "G: u32", "GL: u32", "blocks: u32", "groups: u32",
  "scale: f32", "causal: u32", "msB: u32", "msH: u32", "msL: u32"];

function check(op: string, a: GpuAttentionArgs, budget: number, perItem: number): number {
  if (a.dropoutP > 0) {
    throw new WebGPUUnsupportedError(op, "dropoutP", "0 (dropout in attention is not yet on webgpu)", String(a.dropoutP));
  }
  const n = Math.min(MAX_BLOCK, Math.floor(budget / perItem));
  if (n < 1) {
    throw new WebGPUUnsupportedError(op, "D + Dv", `at most ${budget - 2} (workgroup memory)`, String(a.D + a.Dv));
  }
  return n;
}

/** The parameter words after the array offsets; `blocks` is the number of workgroups per (b, kv head). */
function words(a: GpuAttentionArgs, blocks: number): number[] {
  const G = a.H / a.Hkv;
  return [a.B, a.H, a.Hkv, a.L, a.S, G, G * a.L, blocks, a.B * a.Hkv * blocks, f32Bits(a.scale), a.causal ? 1 : 0,
    a.maskStrideB, a.maskStrideH, a.maskStrideL];
}

/**
 * WGSL shared by the row-owning passes: a workgroup's (b, kv head), its rows r in [0, G L) with
 * their head h and position i, and keyEnd (past the last key any of its rows may see).
 */
const ROWS = /* wgsl */ `
  let g = groupIndex(wid, nwg);
  if (g >= p.groups) { return; }
  let bkv = g / p.blocks;
  let b = bkv / p.Hkv;
  let kvh = bkv % p.Hkv;
  let r0 = (g % p.blocks) * ${BR}u;
  let valid = r0 + t < p.GL;
  let r = min(r0 + t, p.GL - 1u);
  let h = kvh * p.G + r / p.L;
  let i = r % p.L;
  let row = (b * p.H + kvh * p.G) * p.L + r;
  let rLast = min(r0 + ${BR}u, p.GL) - 1u;
  var keyEnd = p.S;
  if (p.causal != 0u) {
    let maxI = select(p.L - 1u, rLast % p.L, r0 / p.L == rLast / p.L);
    keyEnd = min(p.S, maxI + 1u);
  }
  let kBase = p.o_k + bkv * p.S * D;
  let vBase = p.o_v + bkv * p.S * DV;`;

/** WGSL: score of query row (h, i) against key j from the dot product `qk`; false when masked. */
const scoreFn = (mask: boolean): string => /* wgsl */ `
fn score(qk: f32, b: u32, h: u32, i: u32, j: u32, s: ptr<function, f32>) -> bool {
  if (p.causal != 0u && j > i) { return false; }
  var v = qk * p.scale;
  ${mask ? `let mv = b_mask[p.o_mask + b * p.msB + h * p.msH + i * p.msL + j];
  if (isNegInf(mv)) { return false; }
  v += mv;` : ""}
  *s = v;
  return true;
}`;

const MAIN = "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32)";

const forwardSource = (D: number, Dv: number, BC: number, mask: boolean) => (): string => /* wgsl */ `
${header(["out", "lse"], ["q", "k", "v", ...(mask ? ["mask"] : [])], FIELDS)}
const D = ${D}u;
const DV = ${Dv}u;
const BC = ${BC}u;
var<workgroup> Ks: array<f32, ${BC * D}>;
var<workgroup> Vs: array<f32, ${BC * Dv}>;
${scoreFn(mask)}
@compute @workgroup_size(${BR})
${MAIN} {
${ROWS}
  var qr: array<f32, D>;
  for (var d = 0u; d < D; d++) { qr[d] = b_q[p.o_q + row * D + d]; }
  var acc: array<f32, DV>;
  var sc: array<f32, BC>;
  var m = LOWEST;
  var l = 0.0;
  var seen = false;
  for (var j0 = 0u; j0 < keyEnd; j0 += BC) {
    let nk = min(BC, keyEnd - j0);
    for (var e = t; e < nk * D; e += ${BR}u) { Ks[e] = b_k[kBase + j0 * D + e]; }
    for (var e = t; e < nk * DV; e += ${BR}u) { Vs[e] = b_v[vBase + j0 * DV + e]; }
    workgroupBarrier();
    if (valid) {
      // scores of the block, their max, and which keys are live (bit c)
      var live = 0u;
      var bm = LOWEST;
      for (var c = 0u; c < nk; c++) {
        var qk = 0.0;
        for (var d = 0u; d < D; d++) { qk = fma(qr[d], Ks[c * D + d], qk); }
        var s = 0.0;
        if (score(qk, b, h, i, j0 + c, &s)) {
          sc[c] = s;
          live |= 1u << c;
          bm = max(bm, s);
        }
      }
      if (live != 0u) {
        // online softmax: rescale what came before to the new max, add the block
        let mNew = max(m, bm);
        let alpha = select(0.0, exp(m - mNew), seen);
        seen = true;
        m = mNew;
        l *= alpha;
        for (var d = 0u; d < DV; d++) { acc[d] *= alpha; }
        for (var c = 0u; c < nk; c++) {
          if ((live & (1u << c)) == 0u) { continue; }
          let pr = exp(sc[c] - m);
          l += pr;
          for (var d = 0u; d < DV; d++) { acc[d] = fma(pr, Vs[c * DV + d], acc[d]); }
        }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    let oo = p.o_out + row * DV;
    if (seen) {
      let inv = 1.0 / l;
      for (var d = 0u; d < DV; d++) { b_out[oo + d] = acc[d] * inv; }
      b_lse[p.o_lse + row] = m + log(l);
    } else {
      for (var d = 0u; d < DV; d++) { b_out[oo + d] = 0.0; }
      b_lse[p.o_lse + row] = negInf();
    }
  }
}`;

/** out [B, H, L, Dv] and lse [B, H, L] of attention over q, k, v (see the file comment). */
export function attentionForward(ctx: KernelContext, out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray,
  a: GpuAttentionArgs): void {
  const BC = check("attentionForward", a, ctx.workgroupFloats, a.D + a.Dv);
  const G = a.H / a.Hkv, blocks = ceilDiv(G * a.L, BR);
  if (a.B * a.H * a.L === 0) return;
  const key = `attentionForward.D${a.D}.Dv${a.Dv}.BC${BC}${a.mask ? ".mask" : ""}`;
  const pipeline = ctx.pipeline(key, forwardSource(a.D, a.Dv, BC, !!a.mask));
  ctx.dispatch(key, pipeline, [out, lse], [q, k, v, ...(a.mask ? [a.mask] : [])], words(a, blocks), a.B * a.Hkv * blocks);
}

const STATS_WG = 64;

/** (1): stats [rows, 2] = (lse, dout . out) per query row. */
const statsSource = (Dv: number) => (): string => /* wgsl */ `
${header(["stats"], ["lse", "dout", "o"], ["rows: u32"])}
@compute @workgroup_size(${STATS_WG})
${MAIN} {
  let row = groupIndex(wid, nwg) * ${STATS_WG}u + t;
  if (row >= p.rows) { return; }
  var s = 0.0;
  for (var d = 0u; d < ${Dv}u; d++) { s = fma(b_dout[p.o_dout + row * ${Dv}u + d], b_o[p.o_o + row * ${Dv}u + d], s); }
  b_stats[p.o_stats + 2u * row] = b_lse[p.o_lse + row];
  b_stats[p.o_stats + 2u * row + 1u] = s;
}`;

/** (2): dk [B, Hkv, S, D] and dv [B, Hkv, S, Dv], a thread per key, query rows staged BQ at a time. */
const kvSource = (D: number, Dv: number, BQ: number, mask: boolean) => (): string => /* wgsl */ `
${header(["dk", "dv"], ["q", "k", "v", "dout", "stats", ...(mask ? ["mask"] : [])], FIELDS)}
const D = ${D}u;
const DV = ${Dv}u;
const BQ = ${BQ}u;
var<workgroup> Qs: array<f32, ${BQ * D}>;
var<workgroup> Os: array<f32, ${BQ * Dv}>;
var<workgroup> Ss: array<f32, ${BQ * 2}>;
${scoreFn(mask)}
@compute @workgroup_size(${BKV})
${MAIN} {
  let g = groupIndex(wid, nwg);
  if (g >= p.groups) { return; }
  let bkv = g / p.blocks;
  let b = bkv / p.Hkv;
  let kvh = bkv % p.Hkv;
  let jFirst = (g % p.blocks) * ${BKV}u;
  let j = min(jFirst + t, p.S - 1u);
  let valid = jFirst + t < p.S;
  var kr: array<f32, D>;
  var vr: array<f32, DV>;
  var dk: array<f32, D>;
  var dv: array<f32, DV>;
  for (var d = 0u; d < D; d++) { kr[d] = b_k[p.o_k + (bkv * p.S + j) * D + d]; }
  for (var d = 0u; d < DV; d++) { vr[d] = b_v[p.o_v + (bkv * p.S + j) * DV + d]; }
  // the G * L query rows of this kv head are contiguous from rowBase
  let rowBase = (b * p.H + kvh * p.G) * p.L;
  for (var r0 = 0u; r0 < p.GL; r0 += BQ) {
    let nq = min(BQ, p.GL - r0);
    if (p.causal != 0u) {
      let rLast = r0 + nq - 1u;
      let maxI = select(p.L - 1u, rLast % p.L, r0 / p.L == rLast / p.L);
      if (maxI < jFirst) { continue; }
    }
    for (var e = t; e < nq * D; e += ${BKV}u) { Qs[e] = b_q[p.o_q + (rowBase + r0) * D + e]; }
    for (var e = t; e < nq * DV; e += ${BKV}u) { Os[e] = b_dout[p.o_dout + (rowBase + r0) * DV + e]; }
    for (var e = t; e < nq * 2u; e += ${BKV}u) { Ss[e] = b_stats[p.o_stats + (rowBase + r0) * 2u + e]; }
    workgroupBarrier();
    if (valid) {
      for (var c = 0u; c < nq; c++) {
        let lse = Ss[2u * c];
        if (isNegInf(lse)) { continue; }
        let r = r0 + c;
        let h = kvh * p.G + r / p.L;
        let i = r % p.L;
        var qk = 0.0;
        for (var d = 0u; d < D; d++) { qk = fma(Qs[c * D + d], kr[d], qk); }
        var s = 0.0;
        if (!score(qk, b, h, i, j, &s)) { continue; }
        let pr = exp(s - lse);
        // undo out = P v: dv += p dout; dp = dout . v
        var dp = 0.0;
        for (var d = 0u; d < DV; d++) {
          let o = Os[c * DV + d];
          dv[d] = fma(pr, o, dv[d]);
          dp = fma(o, vr[d], dp);
        }
        // undo the softmax, then the scaled dot product
        let ds = pr * (dp - Ss[2u * c + 1u]) * p.scale;
        for (var d = 0u; d < D; d++) { dk[d] = fma(ds, Qs[c * D + d], dk[d]); }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var d = 0u; d < D; d++) { b_dk[p.o_dk + (bkv * p.S + j) * D + d] = dk[d]; }
    for (var d = 0u; d < DV; d++) { b_dv[p.o_dv + (bkv * p.S + j) * DV + d] = dv[d]; }
  }
}`;

/** (3): dq [B, H, L, D], a thread per query row, key blocks staged as in the forward. */
const qSource = (D: number, Dv: number, BC: number, mask: boolean) => (): string => /* wgsl */ `
${header(["dq"], ["q", "k", "v", "dout", "stats", ...(mask ? ["mask"] : [])], FIELDS)}
const D = ${D}u;
const DV = ${Dv}u;
const BC = ${BC}u;
var<workgroup> Ks: array<f32, ${BC * D}>;
var<workgroup> Vs: array<f32, ${BC * Dv}>;
${scoreFn(mask)}
@compute @workgroup_size(${BR})
${MAIN} {
${ROWS}
  var qr: array<f32, D>;
  var dor: array<f32, DV>;
  var dq: array<f32, D>;
  for (var d = 0u; d < D; d++) { qr[d] = b_q[p.o_q + row * D + d]; }
  for (var d = 0u; d < DV; d++) { dor[d] = b_dout[p.o_dout + row * DV + d]; }
  let lse = b_stats[p.o_stats + 2u * row];
  let delta = b_stats[p.o_stats + 2u * row + 1u];
  let live = valid && !isNegInf(lse);
  for (var j0 = 0u; j0 < keyEnd; j0 += BC) {
    let nk = min(BC, keyEnd - j0);
    for (var e = t; e < nk * D; e += ${BR}u) { Ks[e] = b_k[kBase + j0 * D + e]; }
    for (var e = t; e < nk * DV; e += ${BR}u) { Vs[e] = b_v[vBase + j0 * DV + e]; }
    workgroupBarrier();
    if (live) {
      for (var c = 0u; c < nk; c++) {
        var qk = 0.0;
        for (var d = 0u; d < D; d++) { qk = fma(qr[d], Ks[c * D + d], qk); }
        var s = 0.0;
        if (!score(qk, b, h, i, j0 + c, &s)) { continue; }
        let pr = exp(s - lse);
        var dp = 0.0;
        for (var d = 0u; d < DV; d++) { dp = fma(dor[d], Vs[c * DV + d], dp); }
        let ds = pr * (dp - delta) * p.scale;
        for (var d = 0u; d < D; d++) { dq[d] = fma(ds, Ks[c * D + d], dq[d]); }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var d = 0u; d < D; d++) { b_dq[p.o_dq + row * D + d] = dq[d]; }
  }
}`;

/** dq, dk, dv (written, not accumulated) from dout and the forward's out and lse (see the file comment). */
export function attentionBackward(ctx: KernelContext, dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray, q: GpuArray,
  k: GpuArray, v: GpuArray, out: GpuArray, lse: GpuArray, a: GpuAttentionArgs): void {
  const { B, H, Hkv, L, S, D, Dv } = a;
  const BC = check("attentionBackward", a, ctx.workgroupFloats, D + Dv);
  const BQ = check("attentionBackward", a, ctx.workgroupFloats, D + Dv + 2);
  const rows = B * H * L, G = H / Hkv;
  const inputs = (extra: GpuArray[]): GpuArray[] => [q, k, v, dout, ...extra, ...(a.mask ? [a.mask] : [])];
  const m = a.mask ? ".mask" : "";
  const stats = rows > 0 ? ctx.scratch(2 * rows) : null;
  if (stats) {
    const key = `attentionRowStats.Dv${Dv}`;
    ctx.dispatch(key, ctx.pipeline(key, statsSource(Dv)), [stats], [lse, dout, out], [rows], ceilDiv(rows, STATS_WG));
  }
  if (B * Hkv * S > 0) {
    if (stats) {
      const blocks = ceilDiv(S, BKV);
      const key = `attentionBackwardKV.D${D}.Dv${Dv}.BQ${BQ}${m}`;
      ctx.dispatch(key, ctx.pipeline(key, kvSource(D, Dv, BQ, !!a.mask)), [dk, dv], inputs([stats]), words(a, blocks), B * Hkv * blocks);
    } else {
      // no query rows: every key's gradient is 0 (zeros from a key-pass with no rows to visit)
      zero(ctx, dk, B * Hkv * S * D);
      zero(ctx, dv, B * Hkv * S * Dv);
    }
  }
  if (stats) {
    const blocks = ceilDiv(G * L, BR);
    const key = `attentionBackwardQ.D${D}.Dv${Dv}.BC${BC}${m}`;
    ctx.dispatch(key, ctx.pipeline(key, qSource(D, Dv, BC, !!a.mask)), [dq], inputs([stats]), words(a, blocks), B * Hkv * blocks);
    ctx.release(stats);
  }
}

const zeroSource = (): string => /* wgsl */ `
${header(["x"], [], ["n: u32"])}
@compute @workgroup_size(64)
${MAIN} {
  let e = groupIndex(wid, nwg) * 64u + t;
  if (e < p.n) { b_x[p.o_x + e] = 0.0; }
}`;

/** x[0 .. n) = 0. */
export function zero(ctx: KernelContext, x: GpuArray, n: number): void {
  if (n === 0) return;
  ctx.dispatch("zero", ctx.pipeline("zero", zeroSource), [x], [], [n], ceilDiv(n, 64));
}
