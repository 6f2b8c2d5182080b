/**
 * Linear (kernelized) attention on the device, as Backend.linearAttentionForward /
 * linearAttentionBackward (LinearAttentionArgs in ../backend.ts), fp32:
 * fq [B, H, L, M], fk [B, Hkv, S, M], v [B, Hkv, S, Dv] -> out [B, H, L, Dv], den [B, H, L];
 * query head h reads kv head floor(h / (H / Hkv)).
 *
 * With v' = [v, 1] (E = Dv + 1 columns, so the denominator is the last column of the numerator):
 * num_i = sum_j (fq_i . fk_j) v'_j over all keys j, or j <= i (causal, L = S), out_i = num_i[:Dv] /
 * num_i[Dv]. The sequence is cut into chunks of C rows (C from the workgroup memory M + E floats a
 * row takes, at most 64). Forward: (1) v' ; (2) per chunk c of a kv head, the state
 * U_c = sum_{j in c} fk_j v'_j^T [M, E]; (3) the exclusive prefix over chunks (causal) or the total
 * (non-causal) in place; (4) a workgroup per chunk of query rows, a thread per row: num_i =
 * fq_i^T P_c plus, when causal, the keys j <= i of its own chunk staged in workgroup memory.
 *
 * Backward, with dN_i = [g_i / den_i, -(g_i . out_i) / den_i] (E columns): dfq_i = P_i dN_i, with
 * the same (recomputed) prefix states and chunk-local keys as the forward; dfk_j = Q_j v'_j and
 * dv_j = Q_j[:, :Dv]^T fk_j with the suffix sums Q_j = sum_{i >= j} fq_i dN_i^T over the G heads
 * that read the kv head (all i when non-causal): chunk states of fq and dN, their exclusive suffix
 * (or total), and a workgroup per chunk of keys adding the rows i >= j of its own chunk. No
 * per-position state is stored; dfq, dfk, dv are written, not accumulated. A zero denominator gives
 * num / 0 as the js kernel (NaN for 0 / 0).
 *
 * One pipeline per (pass, M, Dv, C).
 *
 * ```ts
 * linearAttentionForward(ctx, out, den, fq, fk, v, { B: 1, H: 2, Hkv: 2, L: 5, S: 5, M: 3, Dv: 4, causal: true });
 * ```
 */
import type { LinearAttentionArgs } from "../backend.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { WebGPUUnsupportedError } from "./errors.js";
import { computeMain, header } from "./wgsl.js";

/** Threads per workgroup; also the largest chunk. */
const WG = 64;

const FIELDS = ["B: u32", "H: u32", "Hkv: u32", "L: u32", "S: u32", "G: u32", "nk: u32", "nq: u32", "causal: u32"];

/** The sizes of one call: E = Dv + 1, C rows per chunk, nk / nq chunks of keys / query rows (at least 1). */
interface Plan { M: number; Dv: number; E: number; C: number; nk: number; nq: number; params: number[] }

function plan(ctx: KernelContext, op: string, a: LinearAttentionArgs): Plan {
  const E = a.Dv + 1;
  const C = Math.min(WG, Math.floor(ctx.workgroupFloats / (a.M + E)));
  if (C < 1) throw new WebGPUUnsupportedError(op, "M + Dv", `at most ${ctx.workgroupFloats - 1} (workgroup memory)`, String(a.M + a.Dv));
  const nk = Math.max(1, ceilDiv(a.S, C)), nq = Math.max(1, ceilDiv(a.L, C));
  return { M: a.M, Dv: a.Dv, E, C, nk, nq, params: [a.B, a.H, a.Hkv, a.L, a.S, a.H / a.Hkv, nk, nq, a.causal ? 1 : 0] };
}

/** A register array of n floats (WGSL has no empty arrays). */
const regs = (name: string, n: number): string => `var ${name}: array<f32, ${Math.max(1, n)}>;`;

/** WGSL: the sizes as constants. */
const sizes = (P: Plan): string => `const M = ${P.M}u;\nconst DV = ${P.Dv}u;\nconst E = ${P.E}u;\nconst C = ${P.C}u;`;

/** WGSL: `dst`[e] = `src` for e in [0, `n`), strided over the workgroup. */
const stage = (dst: string, n: string, src: string): string => `for (var e = t; e < ${n}; e += ${WG}u) { ${dst}[e] = ${src}; }`;

// ---------------------------------------------------------------------------------------------
// elementwise steps: v' = [v, 1] and the rows of dN

/** vp [R, E] = [v, 1] for v [R, Dv]. */
const augmentSource = (P: Plan) => (): string => /* wgsl */ `
${header(["vp"], ["v"], ["n: u32"])}
${sizes(P)}
${computeMain(WG)} {
  let x = groupIndex(wid, nwg) * ${WG}u + t;
  if (x >= p.n) { return; }
  let r = x / E;
  let e = x % E;
  if (e < DV) { b_vp[p.o_vp + x] = b_v[p.o_v + r * DV + e]; } else { b_vp[p.o_vp + x] = 1.0; }
}`;

/** dN [rows, E] = [g / den, -(g . out) / den] per row. */
const rowGradsSource = (P: Plan) => (): string => /* wgsl */ `
${header(["dn"], ["g", "o", "den"], ["n: u32"])}
${sizes(P)}
${computeMain(WG)} {
  let x = groupIndex(wid, nwg) * ${WG}u + t;
  if (x >= p.n) { return; }
  let inv = 1.0 / b_den[p.o_den + x];
  var go = 0.0;
  for (var e = 0u; e < DV; e++) {
    let g = b_g[p.o_g + x * DV + e];
    b_dn[p.o_dn + x * E + e] = g * inv;
    go = fma(g, b_o[p.o_o + x * DV + e], go);
  }
  b_dn[p.o_dn + x * E + DV] = -go * inv;
}`;

// ---------------------------------------------------------------------------------------------
// chunk states and their scan

/**
 * u [batches, nC, M, E]: per chunk of N rows, sum over its rows (in each of the Gs heads of a
 * batch: rows (batch Gs + g) N + i) of x_i y_i^T, x [*, M], y [*, E]. A workgroup per (batch,
 * chunk); each thread owns output elements and adds the heads' sums in turn.
 */
const statesSource = (P: Plan) => (): string => /* wgsl */ `
${header(["u"], ["x", "y"], ["batches: u32", "N: u32", "Gs: u32", "nC: u32"])}
${sizes(P)}
var<workgroup> Xs: array<f32, ${P.C * P.M || 1}>;
var<workgroup> Ys: array<f32, ${P.C * P.E}>;
${computeMain(WG)} {
  let gi = groupIndex(wid, nwg);
  if (gi >= p.batches * p.nC) { return; }
  let batch = gi / p.nC;
  let i0 = (gi % p.nC) * C;
  let n = min(C, p.N - min(i0, p.N));
  let uo = p.o_u + gi * M * E;
  for (var g = 0u; g < p.Gs; g++) {
    let base = (batch * p.Gs + g) * p.N + i0;
    ${stage("Xs", "n * M", "b_x[p.o_x + base * M + e]")}
    ${stage("Ys", "n * E", "b_y[p.o_y + base * E + e]")}
    workgroupBarrier();
    for (var o = t; o < M * E; o += ${WG}u) {
      let a = o / E;
      let c = o % E;
      var s = 0.0;
      for (var r = 0u; r < n; r++) { s = fma(Xs[r * M + a], Ys[r * E + c], s); }
      if (g == 0u) { b_u[uo + o] = s; } else { b_u[uo + o] += s; }
    }
    workgroupBarrier();
  }
}`;

/** In place over u [batches, nC, ae]: mode 0 the exclusive prefix over chunks, 1 the exclusive suffix, 2 the total (into chunk 0). */
const scanSource = (): string => /* wgsl */ `
${header(["u"], [], ["n: u32", "nC: u32", "ae: u32", "mode: u32"])}
${computeMain(WG)} {
  let x = groupIndex(wid, nwg) * ${WG}u + t;
  if (x >= p.n) { return; }
  let base = p.o_u + (x / p.ae) * p.nC * p.ae + x % p.ae;
  var run = 0.0;
  for (var k = 0u; k < p.nC; k++) {
    let c = select(k, p.nC - 1u - k, p.mode == 1u);
    let at = base + c * p.ae;
    let v = b_u[at];
    if (p.mode != 2u) { b_u[at] = run; }
    run += v;
  }
  if (p.mode == 2u) { b_u[base] = run; }
}`;

/** u [batches, nC, M, E] = the chunk states of x, y (see statesSource), then scanned by `mode`. */
function states(ctx: KernelContext, P: Plan, u: GpuArray, x: GpuArray, y: GpuArray, batches: number, N: number, Gs: number,
  nC: number, mode: number): void {
  const key = `linearAttentionStates.M${P.M}.Dv${P.Dv}.C${P.C}`;
  dispatchKernel(ctx, key, statesSource(P), [u], [x, y], [batches, N, Gs, nC], batches * nC);
  const n = batches * P.M * P.E;
  dispatchKernel(ctx, "linearAttentionScan", scanSource, [u], [], [n, nC, P.M * P.E, mode], ceilDiv(n, WG));
}

// ---------------------------------------------------------------------------------------------
// the row passes: out / den (forward) and dfq (backward)

/**
 * WGSL opening a pass with a workgroup per chunk of C query rows of one head (bh, c) and a thread
 * per row: i (clamped into the chunk; `valid` says whether it is real), its row, the kv head bkv,
 * the offset `so` of the state it reads (its chunk's when causal, else the total), and, when
 * causal, the chunk's keys staged in Ks [C, M] and Vs [C, E] (v' rows).
 */
const rowPrelude = (P: Plan, outputs: string[], first: string): string => /* wgsl */ `
${header(outputs, [first, "u", "fk", "vp"], FIELDS)}
${sizes(P)}
var<workgroup> Ks: array<f32, ${P.C * P.M || 1}>;
var<workgroup> Vs: array<f32, ${P.C * P.E}>;
${computeMain(WG)} {
  let gi = groupIndex(wid, nwg);
  if (gi >= p.B * p.H * p.nq) { return; }
  let bh = gi / p.nq;
  let c = gi % p.nq;
  let bkv = (bh / p.H) * p.Hkv + (bh % p.H) / p.G;
  let i0 = c * C;
  let n = min(C, p.L - i0);
  let valid = t < n;
  let row = bh * p.L + i0 + min(t, n - 1u);
  let so = p.o_u + (bkv * p.nk + select(0u, c, p.causal != 0u)) * M * E;
  let causal = p.causal != 0u;
  if (causal) {
    // L = S: the keys of chunk c are the rows of chunk c
    let kb = bkv * p.S + i0;
    ${stage("Ks", "n * M", "b_fk[p.o_fk + kb * M + e]")}
    ${stage("Vs", "n * E", "b_vp[p.o_vp + kb * E + e]")}
  }
  workgroupBarrier();
  if (!valid) { return; }`;

const forwardRowsSource = (P: Plan) => (): string => /* wgsl */ `
${rowPrelude(P, ["out", "den"], "fq")}
  ${regs("xr", P.M)}
  ${regs("num", P.E)}
  for (var m = 0u; m < M; m++) { xr[m] = b_fq[p.o_fq + row * M + m]; }
  // fq_i^T P: the keys of earlier chunks (causal) or all keys
  for (var m = 0u; m < M; m++) {
    let f = xr[m];
    for (var e = 0u; e < E; e++) { num[e] = fma(f, b_u[so + m * E + e], num[e]); }
  }
  if (causal) {
    for (var j = 0u; j <= t; j++) {
      var a = 0.0;
      for (var m = 0u; m < M; m++) { a = fma(xr[m], Ks[j * M + m], a); }
      for (var e = 0u; e < E; e++) { num[e] = fma(a, Vs[j * E + e], num[e]); }
    }
  }
  let den = num[DV];
  b_den[p.o_den + row] = den;
  let inv = 1.0 / den;
  // num / 0 as in JavaScript: NaN for 0 / 0, else an infinity of the quotient's sign
  let denNeg = (bitcast<u32>(den) >> 31u) == 1u;
  for (var e = 0u; e < DV; e++) {
    var o = num[e] * inv;
    if (den == 0.0) { o = select(select(posInf(), negInf(), (num[e] < 0.0) != denNeg), nanF(), num[e] == 0.0); }
    b_out[p.o_out + row * DV + e] = o;
  }
}`;

const dfqRowsSource = (P: Plan) => (): string => /* wgsl */ `
${rowPrelude(P, ["dfq"], "dn")}
  ${regs("xr", P.E)}
  ${regs("acc", P.M)}
  for (var e = 0u; e < E; e++) { xr[e] = b_dn[p.o_dn + row * E + e]; }
  // P dN_i
  for (var m = 0u; m < M; m++) {
    var s = 0.0;
    for (var e = 0u; e < E; e++) { s = fma(b_u[so + m * E + e], xr[e], s); }
    acc[m] = s;
  }
  if (causal) {
    for (var j = 0u; j <= t; j++) {
      var b = 0.0;
      for (var e = 0u; e < E; e++) { b = fma(xr[e], Vs[j * E + e], b); }
      for (var m = 0u; m < M; m++) { acc[m] = fma(b, Ks[j * M + m], acc[m]); }
    }
  }
  for (var m = 0u; m < M; m++) { b_dfq[p.o_dfq + row * M + m] = acc[m]; }
}`;

// ---------------------------------------------------------------------------------------------
// the key pass: dfk, dv

/**
 * A workgroup per chunk of C keys of one kv head (bkv, c), a thread per key j: the suffix state Q
 * of the chunks after c (causal) or the total, then, when causal, the query rows i >= j of chunk c
 * in each of the G heads, staged in Qs [C, M] (fq) and Ns [C, E] (dN).
 */
const keysSource = (P: Plan) => (): string => /* wgsl */ `
${header(["dfk", "dv"], ["w", "fk", "vp", "fq", "dn"], FIELDS)}
${sizes(P)}
var<workgroup> Qs: array<f32, ${P.C * P.M || 1}>;
var<workgroup> Ns: array<f32, ${P.C * P.E}>;
${computeMain(WG)} {
  let gi = groupIndex(wid, nwg);
  if (gi >= p.B * p.Hkv * p.nk) { return; }
  let bkv = gi / p.nk;
  let c = gi % p.nk;
  let j0 = c * C;
  let n = min(C, p.S - j0);
  let valid = t < n;
  let tj = min(t, n - 1u);
  let key = bkv * p.S + j0 + tj;
  ${regs("fkr", P.M)}
  ${regs("vpr", P.E)}
  ${regs("dfk", P.M)}
  ${regs("dv", P.E)}
  for (var m = 0u; m < M; m++) { fkr[m] = b_fk[p.o_fk + key * M + m]; }
  for (var e = 0u; e < E; e++) { vpr[e] = b_vp[p.o_vp + key * E + e]; }
  // Q v'_j and Q^T fk_j
  let so = p.o_w + (bkv * p.nq + select(0u, c, p.causal != 0u)) * M * E;
  for (var m = 0u; m < M; m++) {
    var s = 0.0;
    let f = fkr[m];
    for (var e = 0u; e < E; e++) {
      let q = b_w[so + m * E + e];
      s = fma(q, vpr[e], s);
      dv[e] = fma(q, f, dv[e]);
    }
    dfk[m] = s;
  }
  if (p.causal != 0u) {
    // L = S: the query rows of chunk c, in each head of the group
    for (var g = 0u; g < p.G; g++) {
      let rb = ((bkv / p.Hkv) * p.H + (bkv % p.Hkv) * p.G + g) * p.L + j0;
      workgroupBarrier();
      ${stage("Qs", "n * M", "b_fq[p.o_fq + rb * M + e]")}
      ${stage("Ns", "n * E", "b_dn[p.o_dn + rb * E + e]")}
      workgroupBarrier();
      if (valid) {
        for (var i = t; i < n; i++) {
          var a = 0.0;
          for (var m = 0u; m < M; m++) { a = fma(Qs[i * M + m], fkr[m], a); }
          var b = 0.0;
          for (var e = 0u; e < E; e++) { b = fma(Ns[i * E + e], vpr[e], b); }
          for (var m = 0u; m < M; m++) { dfk[m] = fma(b, Qs[i * M + m], dfk[m]); }
          for (var e = 0u; e < DV; e++) { dv[e] = fma(a, Ns[i * E + e], dv[e]); }
        }
      }
    }
  }
  if (valid) {
    for (var m = 0u; m < M; m++) { b_dfk[p.o_dfk + key * M + m] = dfk[m]; }
    for (var e = 0u; e < DV; e++) { b_dv[p.o_dv + key * DV + e] = dv[e]; }
  }
}`;

// ---------------------------------------------------------------------------------------------

/** v' = [v, 1] for the R = B Hkv S key rows, in a scratch array. */
function augment(ctx: KernelContext, P: Plan, v: GpuArray, R: number): GpuArray {
  const vp = ctx.scratch(Math.max(1, R * P.E));
  if (R > 0) dispatchKernel(ctx, `linearAttentionAugment.Dv${P.Dv}`, augmentSource(P), [vp], [v], [R * P.E], ceilDiv(R * P.E, WG));
  return vp;
}

/** out [B, H, L, Dv] and den [B, H, L] of linear attention over fq, fk, v (see the file comment). */
export function linearAttentionForward(ctx: KernelContext, out: GpuArray, den: GpuArray, fq: GpuArray, fk: GpuArray, v: GpuArray,
  a: LinearAttentionArgs): void {
  const P = plan(ctx, "linearAttentionForward", a);
  const rows = a.B * a.H * a.L, R = a.B * a.Hkv * a.S;
  if (rows === 0) return;
  const vp = augment(ctx, P, v, R);
  const u = ctx.scratch(a.B * a.Hkv * P.nk * P.M * P.E || 1);
  states(ctx, P, u, fk, vp, a.B * a.Hkv, a.S, 1, P.nk, a.causal ? 0 : 2);
  dispatchKernel(ctx, `linearAttentionForwardRows.M${P.M}.Dv${P.Dv}.C${P.C}`, forwardRowsSource(P), [out, den], [fq, u, fk, vp],
    P.params, a.B * a.H * P.nq);
  ctx.release(u);
  ctx.release(vp);
}

/** dfq, dfk, dv (written, not accumulated) from dout and the forward's out and den (see the file comment). */
export function linearAttentionBackward(ctx: KernelContext, dfq: GpuArray, dfk: GpuArray, dv: GpuArray, dout: GpuArray, fq: GpuArray,
  fk: GpuArray, v: GpuArray, out: GpuArray, den: GpuArray, a: LinearAttentionArgs): void {
  const P = plan(ctx, "linearAttentionBackward", a);
  const rows = a.B * a.H * a.L, R = a.B * a.Hkv * a.S, batches = a.B * a.Hkv;
  if (rows === 0 && R === 0) return;
  const vp = augment(ctx, P, v, R);
  const dn = ctx.scratch(Math.max(1, rows * P.E));
  if (rows > 0) dispatchKernel(ctx, `linearAttentionRowGrads.Dv${P.Dv}`, rowGradsSource(P), [dn], [dout, out, den], [rows], ceilDiv(rows, WG));
  if (rows > 0) {
    // dfq from the forward's states
    const u = ctx.scratch(batches * P.nk * P.M * P.E || 1);
    states(ctx, P, u, fk, vp, batches, a.S, 1, P.nk, a.causal ? 0 : 2);
    dispatchKernel(ctx, `linearAttentionDfqRows.M${P.M}.Dv${P.Dv}.C${P.C}`, dfqRowsSource(P), [dfq], [dn, u, fk, vp], P.params,
      a.B * a.H * P.nq);
    ctx.release(u);
  }
  if (R > 0) {
    // dfk, dv from the suffix states of fq and dN over the G heads of each kv head
    const w = ctx.scratch(batches * P.nq * P.M * P.E || 1);
    states(ctx, P, w, fq, dn, batches, a.L, a.H / a.Hkv, P.nq, a.causal ? 1 : 2);
    dispatchKernel(ctx, `linearAttentionKeys.M${P.M}.Dv${P.Dv}.C${P.C}`, keysSource(P), [dfk, dv], [w, fk, vp, fq, dn], P.params,
      batches * P.nk);
    ctx.release(w);
  }
  ctx.release(dn);
  ctx.release(vp);
}
