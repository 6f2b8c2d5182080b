/**
 * Fused attention on the device, FlashAttention-style, as Backend.attentionForward /
 * attentionBackward (layouts and options: AttentionArgs in ../backend.ts), fp32:
 * q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], out [B, H, L, Dv], lse [B, H, L]. q, k, v
 * and out (and dq, dk, dv, dout, which share their layouts) are read and written at their row
 * strides (qStrides ...: [sB, sH, sL], each row's D or Dv elements contiguous), so views of a packed
 * projection need no copies; lse and the backward's row statistics are dense.
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
 * Dropout (dropoutP > 0) keeps the probability of (row, key) where the js kernel does: the counter
 * seedStart + row S + j (row = (b H + h) L + i) in 64-bit arithmetic on two words, hashed as
 * dropout.ts does, so the mask is the js kernel's. Kept probabilities are scaled by 1 / (1 - p),
 * the row sum l (hence lse) stays the undropped softmax's; the backward takes dp = z (dout . v)
 * with z = 0 or 1 / (1 - p), dv += p z dout, and delta = dout . out of the dropped output.
 *
 * One pipeline per (pass, D, Dv, mask or not, dropout or not).
 *
 * ```ts
 * attentionForward(ctx, out, lse, q, k, v, { B, H, Hkv, L, S, D, Dv, scale, causal: true, mask: null, ... });
 * ```
 */
import type { AttentionArgs, RowStrides } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel, f32Bits } from "./context.js";
import { counterWords, DROP_BITS, dropThreshold } from "./dropout.js";
import { WebGPUUnsupportedError } from "./errors.js";
import { computeMain, header } from "./wgsl.js";

/** AttentionArgs with the mask on the device. */
export type GpuAttentionArgs = Omit<AttentionArgs, "mask"> & { mask: GpuArray | null };

/** Query rows (threads) per workgroup of the forward and dq passes; keys per workgroup of the dk / dv pass. */
const BR = 64, BKV = 64, MAX_BLOCK = 32;

const FIELDS = ["B: u32", "H: u32", "Hkv: u32", "L: u32", "S: u32", "G: u32", "GL: u32", "blocks: u32", "groups: u32",
  "scale: f32", "causal: u32", "msB: u32", "msH: u32", "msL: u32",
  "k0: u32", "k1: u32", "startLo: u32", "startHi: u32", "threshold: u32", "keep: f32",
  "qsB: u32", "qsH: u32", "qsL: u32", "ksB: u32", "ksH: u32", "ksL: u32", "vsB: u32", "vsH: u32", "vsL: u32",
  "osB: u32", "osH: u32", "osL: u32", "dqsB: u32", "dqsH: u32", "dqsL: u32", "dksB: u32", "dksH: u32", "dksL: u32",
  "dvsB: u32", "dvsH: u32", "dvsL: u32"];

/** The row strides of dq, dk and dv when they differ from q's, k's and v's (a gradient computed into a dense scratch array). */
export interface GradStrides { dq: RowStrides; dk: RowStrides; dv: RowStrides }

/** WGSL: the element offset of row (b, head, position) of q, k, v and out (the arrays' own offsets added by the caller). */
const OFFSETS = /* wgsl */ `
fn qOff(b: u32, h: u32, i: u32) -> u32 { return b * p.qsB + h * p.qsH + i * p.qsL; }
fn kOff(b: u32, h: u32, j: u32) -> u32 { return b * p.ksB + h * p.ksH + j * p.ksL; }
fn vOff(b: u32, h: u32, j: u32) -> u32 { return b * p.vsB + h * p.vsH + j * p.vsL; }
fn oOff(b: u32, h: u32, i: u32) -> u32 { return b * p.osB + h * p.osH + i * p.osL; }
fn dqOff(b: u32, h: u32, i: u32) -> u32 { return b * p.dqsB + h * p.dqsH + i * p.dqsL; }
fn dkOff(b: u32, h: u32, j: u32) -> u32 { return b * p.dksB + h * p.dksH + j * p.dksL; }
fn dvOff(b: u32, h: u32, j: u32) -> u32 { return b * p.dvsB + h * p.dvsH + j * p.dvsL; }`;

/** Which pipeline of a pass: with an additive mask, with dropout. */
interface Variant { mask: boolean; drop: boolean }

function check(op: string, a: GpuAttentionArgs, budget: number, perItem: number): number {
  const n = Math.min(MAX_BLOCK, Math.floor(budget / perItem));
  if (n < 1) {
    throw new WebGPUUnsupportedError(op, "D + Dv", `at most ${budget - 2} (workgroup memory)`, String(a.D + a.Dv));
  }
  return n;
}

/** The parameter words after the array offsets; `blocks` is the number of workgroups per (b, kv head). */
function words(a: GpuAttentionArgs, blocks: number, grads: GradStrides | undefined): number[] {
  const G = a.H / a.Hkv;
  const drop = a.dropoutP > 0;
  return [a.B, a.H, a.Hkv, a.L, a.S, G, G * a.L, blocks, a.B * a.Hkv * blocks, f32Bits(a.scale), a.causal ? 1 : 0,
    a.maskStrideB, a.maskStrideH, a.maskStrideL,
    a.seedK0 >>> 0, a.seedK1 >>> 0, ...counterWords(drop ? a.seedStart : 0), dropThreshold(a.dropoutP),
    f32Bits(drop ? 1 / (1 - a.dropoutP) : 1), ...a.qStrides, ...a.kStrides, ...a.vStrides, ...a.oStrides,
    ...(grads?.dq ?? a.qStrides), ...(grads?.dk ?? a.kStrides), ...(grads?.dv ?? a.vStrides)];
}

/** `names` followed by "mask" when there is one. */
const withMask = <T>(names: T[], mask: T | null | false): T[] => (mask ? [...names, mask] : names);

/**
 * One pass of the forward or backward over `blocks` workgroups per (b, kv head); its pipeline is
 * keyed by the pass, the head dims, the staged block (`BC32`, `BQ16`), whether there is a mask and
 * whether there is dropout.
 */
function dispatchPass(ctx: KernelContext, pass: string, block: string, source: (v: Variant) => () => string,
  outputs: GpuArray[], inputs: GpuArray[], a: GpuAttentionArgs, blocks: number, grads?: GradStrides, more: number[] = []): void {
  const v: Variant = { mask: !!a.mask, drop: a.dropoutP > 0 };
  const key = `${pass}.D${a.D}.Dv${a.Dv}.${block}${v.mask ? ".mask" : ""}${v.drop ? ".drop" : ""}`;
  dispatchKernel(ctx, key, source(v), outputs, withMask(inputs, a.mask), [...words(a, blocks, grads), ...more], a.B * a.Hkv * blocks);
}

/**
 * The opening shared by the passes: the header over `outputs` and `inputs` (and the mask), D, DV,
 * the block size constant `block` = n, the workgroup arrays `staged` ([name, floats]), the score
 * function (and with dropout `kept`) and main over `wg` threads, down to the workgroup's (b, kv
 * head): bkv, b and kvh.
 */
const prelude = (outputs: string[], inputs: string[], v: Variant, D: number, Dv: number, block: [string, number],
  staged: [string, number][], wg: number, more: string[] = []): string => /* wgsl */ `
${header(outputs, withMask(inputs, v.mask && "mask"), [...FIELDS, ...more])}
${OFFSETS}
const D = ${D}u;
const DV = ${Dv}u;
const ${block[0]} = ${block[1]}u;
${staged.map(([name, n]) => `var<workgroup> ${name}: array<f32, ${n}>;`).join("\n")}
${scoreFn(v.mask)}${v.drop ? KEPT : ""}
${computeMain(wg)} {
  let g = groupIndex(wid, nwg);
  if (g >= p.groups) { return; }
  let bkv = g / p.blocks;
  let b = bkv / p.Hkv;
  let kvh = bkv % p.Hkv;`;

/** WGSL: `dst`[e] = `src` for e in [0, `n`), strided over the `wg` threads. */
const stage = (dst: string, n: string, src: string, wg: number): string =>
  `for (var e = t; e < ${n}; e += ${wg}u) { ${dst}[e] = ${src}; }`;

/** WGSL: `s` = the score of query row (h, i) against key `j`, from the dot product of `q(d)` and `k(d)`; `then` when unmasked. */
const scoreOf = (q: string, k: string, j: string, then: string): string => /* wgsl */ `
        var qk = 0.0;
        for (var d = 0u; d < D; d++) { qk = fma(${q}, ${k}, qk); }
        var s = 0.0;
        if (${then === "continue" ? `!score(qk, b, h, i, ${j}, &s)) { continue; }` : `score(qk, b, h, i, ${j}, &s)) {${then}`}`;

/**
 * WGSL shared by the row-owning passes after the prelude: the workgroup's rows r in [0, G L) with
 * their head h and position i, keyEnd (past the last key any of its rows may see), and the row of
 * q in qr.
 */
const ROWS = /* wgsl */ `
  let r0 = (g % p.blocks) * ${BR}u;
  let valid = r0 + t < p.GL;
  let r = min(r0 + t, p.GL - 1u);
  let h = kvh * p.G + r / p.L;
  let i = r % p.L;
  let row = (b * p.H + kvh * p.G) * p.L + r;
  let rLast = min(r0 + ${BR}u, p.GL) - 1u;
  var keyEnd = p.S;
  if (p.causal != 0u) {
    keyEnd = min(p.S, lastQuery(r0, rLast) + 1u);
  }
  var qr: array<f32, D>;
  let qAt = p.o_q + qOff(b, h, i);
  for (var d = 0u; d < D; d++) { qr[d] = b_q[qAt + d]; }`;

/** WGSL: the loop of a row-owning pass over key blocks staged in Ks / Vs, `body` on each where `cond`. */
const keyBlocks = (cond: string, body: string): string => /* wgsl */ `
  for (var j0 = 0u; j0 < keyEnd; j0 += BC) {
    let nk = min(BC, keyEnd - j0);
    ${stage("Ks", "nk * D", "b_k[p.o_k + kOff(b, kvh, j0 + e / D) + e % D]", BR)}
    ${stage("Vs", "nk * DV", "b_v[p.o_v + vOff(b, kvh, j0 + e / DV) + e % DV]", BR)}
    workgroupBarrier();
    if (${cond}) {${body}
    }
    workgroupBarrier();
  }`;

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
}
/** The last query position among rows r0 ..= rLast (causal: past it no key is seen). */
fn lastQuery(r0: u32, rLast: u32) -> u32 { return select(p.L - 1u, rLast % p.L, r0 / p.L == rLast / p.L); }`;

/**
 * WGSL: whether dropout keeps query row `row` ((b H + h) L + i) against key j: the js kernel's
 * counter seedStart + row S + j as two words (row S by 16-bit halves), hashed by dropout.ts's dropBits.
 */
const KEPT = /* wgsl */ `
${DROP_BITS}
fn kept(row: u32, j: u32) -> bool {
  let a0 = row & 0xffffu;
  let a1 = row >> 16u;
  let b0 = p.S & 0xffffu;
  let b1 = p.S >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  var lo = (p00 & 0xffffu) | (mid << 16u);
  var hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  lo += j;
  hi += select(0u, 1u, lo < j);
  lo += p.startLo;
  hi += p.startHi + select(0u, 1u, lo < p.startLo);
  return dropBits(lo, hi, p.k0, p.k1) >= p.threshold;
}`;

/**
 * WGSL that ends the online softmax of query row `row` (m, l, seen and acc [DV] of the forward
 * kernels here and in sparse-attention.ts): out row (from element `outAt`) = acc inv and lse =
 * m + log(l), `inv` being 1 / l (keep / l with dropout); a row that saw no key gets zeros and lse
 * -Infinity.
 */
export const rowResult = (row: string, outAt: string, inv: string): string => /* wgsl */ `
  let oo = ${outAt};
  if (seen) {
    let inv = ${inv};
    for (var d = 0u; d < DV; d++) { b_out[oo + d] = acc[d] * inv; }
    b_lse[p.o_lse + ${row}] = m + log(l);
  } else {
    for (var d = 0u; d < DV; d++) { b_out[oo + d] = 0.0; }
    b_lse[p.o_lse + ${row}] = negInf();
  }`;

const forwardSource = (D: number, Dv: number, BC: number) => (v: Variant) => (): string => /* wgsl */ `
${prelude(["out", "lse"], ["q", "k", "v"], v, D, Dv, ["BC", BC], [["Ks", BC * D], ["Vs", BC * Dv]], BR)}
${ROWS}
  var acc: array<f32, DV>;
  var sc: array<f32, BC>;
  var m = LOWEST;
  var l = 0.0;
  var seen = false;
${keyBlocks("valid", /* wgsl */ `
      // scores of the block, their max, and which keys are live (bit c)
      var live = 0u;
      var bm = LOWEST;
      for (var c = 0u; c < nk; c++) {${scoreOf("qr[d]", "Ks[c * D + d]", "j0 + c", `
          sc[c] = s;
          live |= 1u << c;
          bm = max(bm, s);
        }`)}
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
          l += pr;${v.drop ? `
          if (!kept(row, j0 + c)) { continue; } // dropped: in l, not in acc` : ""}
          for (var d = 0u; d < DV; d++) { acc[d] = fma(pr, Vs[c * DV + d], acc[d]); }
        }
      }`)}
  if (valid) {${rowResult("row", "p.o_out + oOff(b, h, i)", v.drop ? "p.keep / l" : "1.0 / l")}
  }
}`;

/** out [B, H, L, Dv] and lse [B, H, L] of attention over q, k, v (see the file comment). */
export function attentionForward(ctx: KernelContext, out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray,
  a: GpuAttentionArgs): void {
  const BC = check("attentionForward", a, ctx.workgroupFloats, a.D + a.Dv);
  const G = a.H / a.Hkv, blocks = ceilDiv(G * a.L, BR);
  if (a.B * a.H * a.L === 0) return;
  dispatchPass(ctx, "attentionForward", `BC${BC}`, forwardSource(a.D, a.Dv, BC), [out, lse], [q, k, v], a, blocks);
}

const STATS_WG = 64;

/** (1): stats [rows, 2] = (lse, dout . out) per query row ((b H + h) L + i; dout and out at the strides sB, sH, sL). */
const statsSource = (Dv: number) => (): string => /* wgsl */ `
${header(["stats"], ["lse", "dout", "o"], ["rows: u32", "H: u32", "L: u32", "sB: u32", "sH: u32", "sL: u32"])}
${computeMain(STATS_WG)} {
  let row = groupIndex(wid, nwg) * ${STATS_WG}u + t;
  if (row >= p.rows) { return; }
  let at = (row / (p.H * p.L)) * p.sB + ((row / p.L) % p.H) * p.sH + (row % p.L) * p.sL;
  var s = 0.0;
  for (var d = 0u; d < ${Dv}u; d++) { s = fma(b_dout[p.o_dout + at + d], b_o[p.o_o + at + d], s); }
  b_stats[p.o_stats + 2u * row] = b_lse[p.o_lse + row];
  b_stats[p.o_stats + 2u * row + 1u] = s;
}`;

/**
 * (1) of this backward and of sparse-attention.ts's: stats [rows, 2] = (lse, dout . out) of lse
 * [rows] and dout, out [B, H, L, Dv] at the row strides `st` (rows = B H L).
 */
export function attentionRowStats(ctx: KernelContext, stats: GpuArray, lse: GpuArray, dout: GpuArray, out: GpuArray, rows: number,
  H: number, L: number, Dv: number, st: readonly [number, number, number]): void {
  dispatchKernel(ctx, `attentionRowStats.Dv${Dv}`, statsSource(Dv), [stats], [lse, dout, out], [rows, H, L, ...st], ceilDiv(rows, STATS_WG));
}

/** The inputs of the backward passes (2) and (3), before the mask. */
const BACKWARD_INPUTS = ["q", "k", "v", "dout", "stats"];

/**
 * (2): dk [B, Hkv, S, D] and dv [B, Hkv, S, Dv], a thread per key, query rows staged BQ at a time.
 * `oneBuffer`: dk and dv are arrays in one buffer (the interleaved gradients of a packed
 * projection), bound once whole as dkv and reached at their offsets dkAt and dvAt (WebGPU binds a
 * buffer written through overlapping windows only once).
 */
const kvSource = (D: number, Dv: number, BQ: number, oneBuffer: boolean) => (v: Variant) => (): string => /* wgsl */ `
${prelude(oneBuffer ? ["dkv"] : ["dk", "dv"], BACKWARD_INPUTS, v, D, Dv, ["BQ", BQ], [["Qs", BQ * D], ["Os", BQ * Dv], ["Ss", BQ * 2]], BKV,
  oneBuffer ? ["dkAt: u32", "dvAt: u32"] : [])}
  let jFirst = (g % p.blocks) * ${BKV}u;
  let j = min(jFirst + t, p.S - 1u);
  let valid = jFirst + t < p.S;
  var kr: array<f32, D>;
  var vr: array<f32, DV>;
  var dk: array<f32, D>;
  var dv: array<f32, DV>;
  let kAt = kOff(b, kvh, j);
  let vAt = vOff(b, kvh, j);
  for (var d = 0u; d < D; d++) { kr[d] = b_k[p.o_k + kAt + d]; }
  for (var d = 0u; d < DV; d++) { vr[d] = b_v[p.o_v + vAt + d]; }
  // the G * L query rows of this kv head: row r is (head kvh G + r / L, position r % L), numbered from rowBase
  let rowBase = (b * p.H + kvh * p.G) * p.L;
  for (var r0 = 0u; r0 < p.GL; r0 += BQ) {
    let nq = min(BQ, p.GL - r0);
    if (p.causal != 0u && lastQuery(r0, r0 + nq - 1u) < jFirst) { continue; }
    ${stage("Qs", "nq * D", "b_q[p.o_q + qOff(b, kvh * p.G + (r0 + e / D) / p.L, (r0 + e / D) % p.L) + e % D]", BKV)}
    ${stage("Os", "nq * DV", "b_dout[p.o_dout + oOff(b, kvh * p.G + (r0 + e / DV) / p.L, (r0 + e / DV) % p.L) + e % DV]", BKV)}
    ${stage("Ss", "nq * 2u", "b_stats[p.o_stats + (rowBase + r0) * 2u + e]", BKV)}
    workgroupBarrier();
    if (valid) {
      for (var c = 0u; c < nq; c++) {
        let lse = Ss[2u * c];
        if (isNegInf(lse)) { continue; }
        let r = r0 + c;
        let h = kvh * p.G + r / p.L;
        let i = r % p.L;${scoreOf("Qs[c * D + d]", "kr[d]", "j", "continue")}
        let pr = exp(s - lse);${v.drop ? `
        let z = select(0.0, p.keep, kept(rowBase + r, j)); // the forward's dropout of (row, j)
        let pz = pr * z;` : ""}
        // undo out = P v: dv += p dout; dp = dout . v${v.drop ? " (times z)" : ""}
        var dp = 0.0;
        for (var d = 0u; d < DV; d++) {
          let o = Os[c * DV + d];
          dv[d] = fma(${v.drop ? "pz" : "pr"}, o, dv[d]);
          dp = fma(o, vr[d], dp);
        }${v.drop ? `
        dp *= z;` : ""}
        // undo the softmax, then the scaled dot product
        let ds = pr * (dp - Ss[2u * c + 1u]) * p.scale;
        for (var d = 0u; d < D; d++) { dk[d] = fma(ds, Qs[c * D + d], dk[d]); }
      }
    }
    workgroupBarrier();
  }
  if (valid) {${oneBuffer ? `
    let dkAt = p.o_dkv + p.dkAt + dkOff(b, kvh, j);
    let dvAt = p.o_dkv + p.dvAt + dvOff(b, kvh, j);
    for (var d = 0u; d < D; d++) { b_dkv[dkAt + d] = dk[d]; }
    for (var d = 0u; d < DV; d++) { b_dkv[dvAt + d] = dv[d]; }` : `
    let dkAt = p.o_dk + dkOff(b, kvh, j);
    let dvAt = p.o_dv + dvOff(b, kvh, j);
    for (var d = 0u; d < D; d++) { b_dk[dkAt + d] = dk[d]; }
    for (var d = 0u; d < DV; d++) { b_dv[dvAt + d] = dv[d]; }`}
  }
}`;

/** (3): dq [B, H, L, D], a thread per query row, key blocks staged as in the forward. */
const qSource = (D: number, Dv: number, BC: number) => (v: Variant) => (): string => /* wgsl */ `
${prelude(["dq"], BACKWARD_INPUTS, v, D, Dv, ["BC", BC], [["Ks", BC * D], ["Vs", BC * Dv]], BR)}
${ROWS}
  var dor: array<f32, DV>;
  var dq: array<f32, D>;
  let oAt = p.o_dout + oOff(b, h, i);
  for (var d = 0u; d < DV; d++) { dor[d] = b_dout[oAt + d]; }
  let lse = b_stats[p.o_stats + 2u * row];
  let delta = b_stats[p.o_stats + 2u * row + 1u];
  let live = valid && !isNegInf(lse);
${keyBlocks("live", /* wgsl */ `
      for (var c = 0u; c < nk; c++) {${scoreOf("qr[d]", "Ks[c * D + d]", "j0 + c", "continue")}
        let pr = exp(s - lse);
        var dp = 0.0;
        for (var d = 0u; d < DV; d++) { dp = fma(dor[d], Vs[c * DV + d], dp); }${v.drop ? `
        dp *= select(0.0, p.keep, kept(row, j0 + c));` : ""}
        let ds = pr * (dp - delta) * p.scale;
        for (var d = 0u; d < D; d++) { dq[d] = fma(ds, Ks[c * D + d], dq[d]); }
      }`)}
  if (valid) {
    let dqAt = p.o_dq + dqOff(b, h, i);
    for (var d = 0u; d < D; d++) { b_dq[dqAt + d] = dq[d]; }
  }
}`;

/**
 * dq, dk, dv (written, not accumulated) from dout and the forward's out and lse (see the file
 * comment); `grads`: their row strides where they are not q's, k's and v's. `dkv`: dk and dv are
 * arrays in this one buffer, bound whole once (their windows overlap: the interleaved gradients of
 * a packed projection).
 */
export function attentionBackward(ctx: KernelContext, dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray, q: GpuArray,
  k: GpuArray, v: GpuArray, out: GpuArray, lse: GpuArray, a: GpuAttentionArgs, grads?: GradStrides, dkv?: GpuArray): void {
  const { B, H, Hkv, L, S, D, Dv } = a;
  const BC = check("attentionBackward", a, ctx.workgroupFloats, D + Dv);
  const BQ = check("attentionBackward", a, ctx.workgroupFloats, D + Dv + 2);
  const rows = B * H * L, G = H / Hkv;
  const stats = rows > 0 ? ctx.scratch(2 * rows) : null;
  if (stats) {
    attentionRowStats(ctx, stats, lse, dout, out, rows, H, L, Dv, a.oStrides);
  }
  if (B * Hkv * S > 0) {
    if (stats) {
      if (dkv) {
        dispatchPass(ctx, "attentionBackwardKV", `BQ${BQ}.dkv`, kvSource(D, Dv, BQ, true), [dkv], [q, k, v, dout, stats], a, ceilDiv(S, BKV), grads,
          [dk.offset - dkv.offset, dv.offset - dkv.offset]);
      } else {
        dispatchPass(ctx, "attentionBackwardKV", `BQ${BQ}`, kvSource(D, Dv, BQ, false), [dk, dv], [q, k, v, dout, stats], a, ceilDiv(S, BKV), grads);
      }
    } else {
      // no query rows: every key's gradient is 0
      zeroRows(ctx, dk, B, Hkv, S, D, grads?.dk ?? a.kStrides);
      zeroRows(ctx, dv, B, Hkv, S, Dv, grads?.dv ?? a.vStrides);
    }
  }
  if (stats) {
    dispatchPass(ctx, "attentionBackwardQ", `BC${BC}`, qSource(D, Dv, BC), [dq], [q, k, v, dout, stats], a, ceilDiv(G * L, BR), grads);
    ctx.release(stats);
  }
}

const denseZeroSource = (): string => /* wgsl */ `
${header(["x"], [], ["n: u32"])}
${computeMain(64)} {
  let e = groupIndex(wid, nwg) * 64u + t;
  if (e < p.n) { b_x[p.o_x + e] = 0.0; }
}`;

/** x[0 .. n) = 0. */
export function zero(ctx: KernelContext, x: GpuArray, n: number): void {
  if (n === 0) return;
  dispatchKernel(ctx, "zero", denseZeroSource, [x], [], [n], ceilDiv(n, 64));
}

const zeroSource = (): string => /* wgsl */ `
${header(["x"], [], ["n: u32", "H: u32", "S: u32", "D: u32", "sB: u32", "sH: u32", "sL: u32"])}
${computeMain(64)} {
  let e = groupIndex(wid, nwg) * 64u + t;
  if (e >= p.n) { return; }
  let r = e / p.D;
  b_x[p.o_x + (r / (p.H * p.S)) * p.sB + ((r / p.S) % p.H) * p.sH + (r % p.S) * p.sL + e % p.D] = 0.0;
}`;

/** The rows of x [B, H, S, D] at row strides `st` set to 0 (only their own elements). */
export function zeroRows(ctx: KernelContext, x: GpuArray, B: number, H: number, S: number, D: number, st: readonly [number, number, number]): void {
  const n = B * H * S * D;
  if (n === 0) return;
  dispatchKernel(ctx, "zeroRows", zeroSource, [x], [], [n, H, S, D, ...st], ceilDiv(n, 64));
}
