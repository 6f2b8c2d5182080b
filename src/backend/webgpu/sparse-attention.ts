/**
 * Sparse attention on the device, as Backend.sparseAttentionForward / sparseAttentionBackward
 * (SparseAttentionArgs in ../backend.ts), fp32: q [B, H, L, D], k [B, Hkv, S, D],
 * v [B, Hkv, S, Dv] -> out [B, H, L, Dv], lse [B, H, L]; query head h reads kv head
 * floor(h / (H / Hkv)); softmax over each row's allowed keys only, never the L x S matrix.
 *
 * The pattern goes to the device as u32 words: rowLo [L], rowHi [L] and the spans [3 R] (and, for
 * the backward, its transpose: for each key j the query rows that may see it, colPtr [S + 1] and
 * the rows [nnz], built on the host once per pattern object and kept beside it). The words are
 * uploaded once per device and pattern object and kept while the pattern lives (a module reuses
 * its pattern for every call); a collected pattern gives them back to the pool.
 *
 * Forward: a thread per query row (b, h, i), its q row and output accumulator in registers, walks
 * the row's ranges with an online softmax (the accumulator rescaled when the max grows). A row with
 * no key gives out 0 and lse -Infinity. Backward, from lse: (1) per row, (lse, dout . out);
 * (2) a thread per key of a kv head walks the query rows that see it, in the G heads of the group,
 * undoing out = P v (dv += p dout) and the softmax (ds = p (dout . v - delta) scale; dk += ds q);
 * (3) a thread per query row walks its keys for dq += ds k. dq, dk, dv are written, not
 * accumulated; rows with lse -Infinity contribute nothing.
 *
 * One pipeline per (pass, D, Dv). Keys and query rows are read from device memory (no staging:
 * the rows of a workgroup see different keys).
 *
 * ```ts
 * sparseAttentionForward(ctx, out, lse, q, k, v, { B, H, Hkv, D, Dv, scale, pattern: windowPattern(L, S, 2) });
 * ```
 */
import type { SparseAttentionArgs, SparsePattern } from "../backend.js";
import { attentionRowStats, rowResult } from "./attention.js";
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel, f32Bits } from "./context.js";
import { computeMain, header } from "./wgsl.js";

/** A kernel context that can also upload (WebGPUKernels). */
export interface UploadContext extends KernelContext {
  upload(host: Float32Array): GpuArray;
}

/** Threads (query rows or keys) per workgroup. */
const WG = 64;

const FIELDS = ["B: u32", "H: u32", "Hkv: u32", "L: u32", "S: u32", "G: u32", "n: u32", "scale: f32",
  "spanAt: u32", "colAt: u32", "rowsAt: u32"];

/** The u32 words of a pattern (and its transpose, for the backward), by pattern object. */
const packed = new WeakMap<SparsePattern, { rows: Uint32Array; all: Uint32Array | null }>();

/** The transpose of p: colPtr [S + 1] and, for each key in order, the query rows that see it (ascending). */
function transpose(p: SparsePattern): { colPtr: Uint32Array; rows: Uint32Array } {
  const { L, S, rowLo, rowHi, spans } = p;
  const colPtr = new Uint32Array(S + 1);
  const each = (f: (i: number, j: number) => void): void => {
    for (let i = 0; i < L; i++) {
      for (let r = rowLo[i]!; r < rowHi[i]!; r++) {
        const e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
        for (let j = spans[3 * r]!; j < e; j += st) f(i, j);
      }
    }
  };
  each((_i, j) => { colPtr[j + 1]!++; });
  for (let j = 0; j < S; j++) colPtr[j + 1]! += colPtr[j]!;
  const rows = new Uint32Array(colPtr[S]!), next = colPtr.slice(0, S);
  each((i, j) => { rows[next[j]!++] = i; });
  return { colPtr, rows };
}

/**
 * The words of p: rowLo, rowHi, spans, then (withColumns) colPtr and the rows of the transpose;
 * `spanAt`, `colAt`, `rowsAt` are where each part starts.
 */
function words(p: SparsePattern, withColumns: boolean): { data: Uint32Array; spanAt: number; colAt: number; rowsAt: number } {
  let entry = packed.get(p);
  if (!entry) {
    const rows = new Uint32Array(2 * p.L + p.spans.length);
    rows.set(p.rowLo, 0);
    rows.set(p.rowHi, p.L);
    rows.set(p.spans, 2 * p.L);
    entry = { rows, all: null };
    packed.set(p, entry);
  }
  const spanAt = 2 * p.L, colAt = entry.rows.length;
  if (!withColumns) return { data: entry.rows, spanAt, colAt, rowsAt: colAt };
  if (!entry.all) {
    const { colPtr, rows } = transpose(p);
    entry.all = new Uint32Array(colAt + colPtr.length + rows.length);
    entry.all.set(entry.rows, 0);
    entry.all.set(colPtr, colAt);
    entry.all.set(rows, colAt + colPtr.length);
  }
  return { data: entry.all, spanAt, colAt, rowsAt: colAt + p.S + 1 };
}

/** A pattern's words on one device: rows only, and with the transpose (each uploaded once, when first needed). */
interface OnDevice { rows: GpuArray | null; all: GpuArray | null }

/** The device copies, by context and pattern (patterns are immutable, and a module reuses its own). */
const copies = new WeakMap<UploadContext, WeakMap<SparsePattern, OnDevice>>();

/** A collected pattern gives its device copies back to the pool. */
const reclaim = new FinalizationRegistry<{ ctx: UploadContext; copy: OnDevice }>(({ ctx, copy }) => {
  if (copy.rows) ctx.release(copy.rows);
  if (copy.all) ctx.release(copy.all);
});

/**
 * The pattern on the device (its u32 words through a float32 view: the upload copies the bits),
 * uploaded on first use and kept while the pattern lives, and the parameter words before `n`.
 */
function upload(ctx: UploadContext, a: SparseAttentionArgs, withColumns: boolean): { pat: GpuArray; params: (n: number) => number[] } {
  const { B, H, Hkv, pattern: p } = a;
  const w = words(p, withColumns);
  let byPattern = copies.get(ctx);
  if (!byPattern) copies.set(ctx, (byPattern = new WeakMap()));
  let copy = byPattern.get(p);
  if (!copy) {
    byPattern.set(p, (copy = { rows: null, all: null }));
    reclaim.register(p, { ctx, copy });
  }
  const key = withColumns ? "all" : "rows";
  const pat = copy[key] ?? (copy[key] = ctx.upload(new Float32Array(w.data.buffer, w.data.byteOffset, w.data.length)));
  return { pat, params: (n) => [B, H, Hkv, p.L, p.S, H / Hkv, n, f32Bits(a.scale), w.spanAt, w.colAt, w.rowsAt] };
}

/** The header over `outputs` and `inputs` (the pattern `pat` last, as u32 words), D, DV and main down to the thread's index `x`. */
const prelude = (outputs: string[], inputs: string[], D: number, Dv: number): string => /* wgsl */ `
${header(outputs, [...inputs, "pat"], FIELDS).replace("b_pat: array<f32>", "b_pat: array<u32>")}
const D = ${D}u;
const DV = ${Dv}u;
${computeMain(WG)} {
  let x = groupIndex(wid, nwg) * ${WG}u + t;
  if (x >= p.n) { return; }`;

/** WGSL: the query row x = (b, h, i), its kv head's bases kBase / vBase, and its ranges [r0, r1). */
const ROW = /* wgsl */ `
  let i = x % p.L;
  let bh = x / p.L;
  let kvh = (bh / p.H) * p.Hkv + (bh % p.H) / p.G;
  let kBase = p.o_k + kvh * p.S * D;
  let vBase = p.o_v + kvh * p.S * DV;
  let r0 = b_pat[p.o_pat + i];
  let r1 = b_pat[p.o_pat + p.L + i];`;

/** WGSL: `body` for each allowed key j of the row (ranges [r0, r1)), with qk its dot product with the row `q(d)`. */
const eachKey = (q: string, body: string): string => /* wgsl */ `
  for (var r = r0; r < r1; r++) {
    let sp = p.o_pat + p.spanAt + 3u * r;
    let e = b_pat[sp + 1u];
    let st = max(b_pat[sp + 2u], 1u);
    for (var j = b_pat[sp]; j < e; j += st) {
      var qk = 0.0;
      for (var d = 0u; d < D; d++) { qk = fma(${q}, b_k[kBase + j * D + d], qk); }${body}
    }
  }`;

/** A register array of n floats (WGSL has no empty arrays). */
const regs = (name: string, n: number): string => `var ${name}: array<f32, ${Math.max(1, n)}>;`;

const forwardSource = (D: number, Dv: number) => (): string => /* wgsl */ `
${prelude(["out", "lse"], ["q", "k", "v"], D, Dv)}
${ROW}
  ${regs("qr", D)}
  ${regs("acc", Dv)}
  for (var d = 0u; d < D; d++) { qr[d] = b_q[p.o_q + x * D + d]; }
  var m = LOWEST;
  var l = 0.0;
  var seen = false;
${eachKey("qr[d]", /* wgsl */ `
      let s = qk * p.scale;
      if (s > m) {
        // online softmax: a new max rescales what came before
        let alpha = select(0.0, exp(m - s), seen);
        l *= alpha;
        for (var d = 0u; d < DV; d++) { acc[d] *= alpha; }
        m = s;
      }
      seen = true;
      let pr = exp(s - m);
      l += pr;
      for (var d = 0u; d < DV; d++) { acc[d] = fma(pr, b_v[vBase + j * DV + d], acc[d]); }`)}
${rowResult("x", "p.o_out + x * DV", "1.0 / l")}
}`;

/** out [B, H, L, Dv] and lse [B, H, L] of sparse attention over q, k, v (see the file comment). */
export function sparseAttentionForward(ctx: UploadContext, out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray,
  a: SparseAttentionArgs): void {
  const rows = a.B * a.H * a.pattern.L;
  if (rows === 0) return;
  const { pat, params } = upload(ctx, a, false);
  dispatchKernel(ctx, `sparseAttentionForward.D${a.D}.Dv${a.Dv}`, forwardSource(a.D, a.Dv), [out, lse], [q, k, v, pat], params(rows),
    ceilDiv(rows, WG));
}

/** (2): dk [B, Hkv, S, D] and dv [B, Hkv, S, Dv], a thread per key x = (b, kv head, j). */
const kvSource = (D: number, Dv: number) => (): string => /* wgsl */ `
${prelude(["dk", "dv"], ["q", "k", "v", "dout", "stats"], D, Dv)}
  let j = x % p.S;
  let bkv = x / p.S;
  let b = bkv / p.Hkv;
  let kvh = bkv % p.Hkv;
  ${regs("kr", D)}
  ${regs("vr", Dv)}
  ${regs("dk", D)}
  ${regs("dv", Dv)}
  for (var d = 0u; d < D; d++) { kr[d] = b_k[p.o_k + x * D + d]; }
  for (var d = 0u; d < DV; d++) { vr[d] = b_v[p.o_v + x * DV + d]; }
  // the query rows that see key j, in each of the G heads that read this kv head
  let c0 = b_pat[p.o_pat + p.colAt + j];
  let c1 = b_pat[p.o_pat + p.colAt + j + 1u];
  for (var g = 0u; g < p.G; g++) {
    let rowBase = (b * p.H + kvh * p.G + g) * p.L;
    for (var c = c0; c < c1; c++) {
      let row = rowBase + b_pat[p.o_pat + p.rowsAt + c];
      let lse = b_stats[p.o_stats + 2u * row];
      if (isNegInf(lse)) { continue; }
      let qo = p.o_q + row * D;
      let go = p.o_dout + row * DV;
      var qk = 0.0;
      for (var d = 0u; d < D; d++) { qk = fma(b_q[qo + d], kr[d], qk); }
      let pr = exp(qk * p.scale - lse);
      // undo out = P v: dv += p dout; dp = dout . v
      var dp = 0.0;
      for (var d = 0u; d < DV; d++) {
        let o = b_dout[go + d];
        dv[d] = fma(pr, o, dv[d]);
        dp = fma(o, vr[d], dp);
      }
      // undo the softmax, then the scaled dot product
      let ds = pr * (dp - b_stats[p.o_stats + 2u * row + 1u]) * p.scale;
      for (var d = 0u; d < D; d++) { dk[d] = fma(ds, b_q[qo + d], dk[d]); }
    }
  }
  for (var d = 0u; d < D; d++) { b_dk[p.o_dk + x * D + d] = dk[d]; }
  for (var d = 0u; d < DV; d++) { b_dv[p.o_dv + x * DV + d] = dv[d]; }
}`;

/** (3): dq [B, H, L, D], a thread per query row walking its keys. */
const qSource = (D: number, Dv: number) => (): string => /* wgsl */ `
${prelude(["dq"], ["q", "k", "v", "dout", "stats"], D, Dv)}
${ROW}
  ${regs("qr", D)}
  ${regs("gr", Dv)}
  ${regs("dq", D)}
  let lse = b_stats[p.o_stats + 2u * x];
  let delta = b_stats[p.o_stats + 2u * x + 1u];
  if (!isNegInf(lse)) {
    for (var d = 0u; d < D; d++) { qr[d] = b_q[p.o_q + x * D + d]; }
    for (var d = 0u; d < DV; d++) { gr[d] = b_dout[p.o_dout + x * DV + d]; }
${eachKey("qr[d]", /* wgsl */ `
      let pr = exp(qk * p.scale - lse);
      var dp = 0.0;
      for (var d = 0u; d < DV; d++) { dp = fma(gr[d], b_v[vBase + j * DV + d], dp); }
      let ds = pr * (dp - delta) * p.scale;
      for (var d = 0u; d < D; d++) { dq[d] = fma(ds, b_k[kBase + j * D + d], dq[d]); }`)}
  }
  for (var d = 0u; d < D; d++) { b_dq[p.o_dq + x * D + d] = dq[d]; }
}`;

/** dq, dk, dv (written, not accumulated) from dout and the forward's out and lse (see the file comment). */
export function sparseAttentionBackward(ctx: UploadContext, dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray, q: GpuArray,
  k: GpuArray, v: GpuArray, out: GpuArray, lse: GpuArray, a: SparseAttentionArgs): void {
  const { B, H, Hkv, D, Dv } = a;
  const rows = B * H * a.pattern.L, keys = B * Hkv * a.pattern.S;
  if (rows === 0 && keys === 0) return;
  const { pat, params } = upload(ctx, a, true);
  const stats = ctx.scratch(Math.max(1, 2 * rows));
  // (1): stats [rows, 2] = (lse, dout . out) per query row, as the fused backward's
  if (rows > 0) attentionRowStats(ctx, stats, lse, dout, out, rows, H, a.pattern.L, Dv, [H * a.pattern.L * Dv, a.pattern.L * Dv, Dv]);
  // with no query rows, every key sees none: the key pass writes zeros
  if (keys > 0) {
    dispatchKernel(ctx, `sparseAttentionBackwardKV.D${D}.Dv${Dv}`, kvSource(D, Dv), [dk, dv], [q, k, v, dout, stats, pat], params(keys),
      ceilDiv(keys, WG));
  }
  if (rows > 0) {
    dispatchKernel(ctx, `sparseAttentionBackwardQ.D${D}.Dv${Dv}`, qSource(D, Dv), [dq], [q, k, v, dout, stats, pat], params(rows),
      ceilDiv(rows, WG));
  }
  ctx.release(stats);
}
