/**
 * Functional layers and losses: dropout, embedding, crossEntropy, nllLoss, mseLoss.
 *
 * ```ts
 * const h = dropout(x, 0.1, { training: true });
 * const e = embedding(ids, weight);                   // ids int32 [B, L] -> [B, L, E]
 * const loss = crossEntropy(logits, targets, { ignoreIndex: 0, labelSmoothing: 0.1 });
 * ```
 */
import { attach, noGrad } from "../autograd/graph.js";
import type { KernelArray } from "../backend/backend.js";
import type { DeviceStore } from "../tensor/device.js";
import { gatherIndices, gatherOnDevice } from "./gather.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { mean, sum } from "./reduce.js";
import { mul, sub } from "./elementwise.js";
import { logSoftmax } from "./softmax.js";
import { arrayOf, backendFor, backendOf, checkDropoutP, empty, emptyOn, fdata, floatOf, sameFloat } from "./util.js";
import { toDevice } from "../backend/tensor-arrays.js";

export interface DropoutOptions {
  training?: boolean;
  generator?: Generator;
}

/** Zeroes each element with probability p and scales the rest by 1/(1-p); identity when not training. */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  expectTensor(x, "x", "dropout");
  floatOf(x, "x", "dropout");
  checkDropoutP(p, "dropout");
  if (!(opts.training ?? true) || p === 0) return x;
  const { k0, k1, start } = (opts.generator ?? defaultGenerator).take(x.size);
  if (x.device !== null) return dropoutOnDevice(x, p, k0, k1, start);
  const be = backendFor(x.dtype);
  const out = empty(x.shape, x.dtype);
  be.dropout(fdata(out), fdata(x), x.size, p, k0, k1, start);
  return attach(out, "dropout", [x], (g) => {
    // the same counters give the same mask: dropout of the gradient is the backward
    const dx = empty(x.shape, g.dtype);
    backendFor(g.dtype).dropout(fdata(dx), fdata(g), g.size, p, k0, k1, start);
    return [dx];
  });
}

/** dropout of a device tensor: the backend's kernel with the same counters forward and backward (the js kernel's mask). */
function dropoutOnDevice(x: Tensor, p: number, k0: number, k1: number, start: number): Tensor {
  const be = backendOf(x);
  const out = emptyOn(be, x.shape, x.dtype);
  be.dropout(arrayOf(out, be), arrayOf(x, be), x.size, p, k0, k1, start);
  return attach(out, "dropout", [x], (g) => {
    const dx = emptyOn(be, x.shape, g.dtype);
    be.dropout(arrayOf(dx, be), arrayOf(g, be), g.size, p, k0, k1, start);
    return [dx];
  });
}

function intData(t: Tensor, arg: string, op: string): Int32Array {
  expectTensor(t, arg, op);
  if (t.dtype !== "int32") throw new DTypeError(op, arg, "int32", t.dtype);
  return t.data as Int32Array;
}

/**
 * Rows of `weight` [V, E] picked by int32 `indices` of any shape -> [...indices.shape, E]. The
 * indices may live on weight's device (e.g. argmax's): the gather reads them there, checks their
 * range on the device and an index outside it is reported by the next read (ops/gather.ts).
 */
export function embedding(indices: Tensor, weight: Tensor, opts: { paddingIdx?: number } = {}): Tensor {
  expectTensor(indices, "indices", "embedding");
  if (indices.dtype !== "int32") throw new DTypeError("embedding", "indices", "int32", indices.dtype);
  expectTensor(weight, "weight", "embedding");
  floatOf(weight, "weight", "embedding");
  if (weight.rank !== 2) throw new ShapeError("embedding", "weight", "[V, E]", fmtShape(weight.shape));
  const [V, E] = [weight.shape[0]!, weight.shape[1]!];
  const where = gatherIndices("embedding", indices, weight, "weight");
  if (where.kind === "host") {
    const ids = where.ids;
    for (let k = 0; k < ids.length; k++) {
      const i = ids[k]!;
      if (i < 0 || i >= V) throw new ValueError("embedding", "indices", `values in [0, ${V})`, String(i));
    }
  }
  const pad = opts.paddingIdx;
  // the gather on the device; backward dweight [V, E], each row the sum of its ids' gradient rows in order, the padding row none
  if (weight.device !== null) return gatherOnDevice("embedding", weight, where, [...indices.shape, E], 1, V, E, pad);
  const id = (where as { ids: Int32Array }).ids; // weight on the host: gatherIndices gave host indices or threw
  const out = empty([...indices.shape, E], weight.dtype);
  const od = fdata(out), wd = fdata(weight);
  for (let n = 0; n < id.length; n++) od.set(wd.subarray(id[n]! * E, id[n]! * E + E), n * E);
  return attach(out, "embedding", [weight], (g) => {
    const dw = empty(weight.shape, g.dtype);
    const d = fdata(dw), gd = fdata(g);
    for (let n = 0; n < id.length; n++) {
      const r = id[n]!;
      if (r === pad) continue; // the padding row gets no gradient
      for (let e = 0; e < E; e++) d[r * E + e]! += gd[n * E + e]!;
    }
    return [dw];
  });
}

export type Reduction = "mean" | "sum" | "none";

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * Negative log-likelihood of log-probabilities [N, C] (or [C]) at int32 targets [N] (or []),
 * with label smoothing eps: (1 - eps) (-lp[y]) + eps mean_c(-lp[c]). `mean` averages over
 * non-ignored targets (0 when every target is ignored, where PyTorch gives NaN).
 */
export function nllLoss(logProbs: Tensor, target: Tensor, opts: CrossEntropyOptions = {}, op = "nllLoss"): Tensor {
  expectTensor(logProbs, "input", op);
  floatOf(logProbs, "input", op);
  const td = intData(target, "target", op);
  const unbatched = logProbs.rank === 1;
  if (logProbs.rank !== 2 && !unbatched) throw new ShapeError(op, "input", "[N, C] or [C]", fmtShape(logProbs.shape));
  const N = unbatched ? 1 : logProbs.shape[0]!, C = logProbs.shape[logProbs.rank - 1]!;
  const expT = unbatched ? [] : [N];
  if (!sameShape(target.shape, expT)) throw new ShapeError(op, "target", fmtShape(expT), fmtShape(target.shape));
  const ignore = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new ValueError(op, "labelSmoothing", "a number in [0, 1]", String(eps));
  const reduction = opts.reduction ?? "mean";
  if (!["mean", "sum", "none"].includes(reduction)) throw new ValueError(op, "reduction", '"mean", "sum" or "none"', JSON.stringify(reduction));
  for (const y of td) if (y !== ignore && (y < 0 || y >= C)) throw new ValueError(op, "target", `class indices in [0, ${C}) or ignoreIndex ${ignore}`, String(y));
  if (logProbs.device !== null) return nllOnDevice(logProbs, td, N, C, ignore, eps, reduction, op);
  const lp = fdata(logProbs);
  const per = empty(expT, logProbs.dtype);
  const pd = fdata(per);
  let count = 0;
  for (let n = 0; n < N; n++) {
    const y = td[n]!;
    if (y === ignore) continue;
    count++;
    let s = 0;
    if (eps > 0) for (let c = 0; c < C; c++) s += lp[n * C + c]!;
    pd[n] = -(1 - eps) * lp[n * C + y]! - (eps / C) * s;
  }
  const perRec = attach(per, op, [logProbs], (g) => {
    const dx = empty(logProbs.shape, g.dtype);
    const d = fdata(dx), gd = fdata(g);
    for (let n = 0; n < N; n++) {
      const y = td[n]!;
      if (y === ignore) continue;
      const gn = gd[n]!;
      if (eps > 0) d.fill(-(eps / C) * gn, n * C, n * C + C);
      d[n * C + y]! += -(1 - eps) * gn;
    }
    return [dx];
  });
  if (reduction === "none") return perRec;
  const total = sum(perRec);
  return reduction === "sum" ? total : mul(total, 1 / Math.max(count, 1));
}

/**
 * nllLoss of log-probabilities on a device: the targets go there as float32 ids (-1 for an ignored
 * one; N values, uploaded once for the forward and the backward, and given back with the graph,
 * or at the store's next flush when nothing is recorded); a kernel gives the rows' losses, another
 * their gradient. With eps = 0 the rows are exactly the host loop's.
 */
function nllOnDevice(lp: Tensor, td: Int32Array, N: number, C: number, ignore: number, eps: number, reduction: Reduction, op: string): Tensor {
  const be = backendOf(lp);
  const idv = new Float32Array(N);
  let count = 0;
  for (let n = 0; n < N; n++) {
    const y = td[n]!;
    if (y === ignore) idv[n] = -1;
    else {
      idv[n] = y;
      count++;
    }
  }
  const ids = toDevice(new Tensor(idv, [N], "float32"), be); // uploaded once, read by the forward and the backward
  const store = ids.store as DeviceStore<KernelArray & { length: number }>;
  // the ids go back with the graph (freeGraph: saved), or at the next flush when nothing was recorded
  const kept = (r: Tensor): Tensor => {
    if (r.gradFn === null) store.releaseAtFlush(arrayOf(ids, be));
    return r;
  };
  const keep = 1 - eps, spread = eps / C;
  const per = emptyOn(be, lp.shape.slice(0, -1), "float32"); // [N] (or [] unbatched)
  be.nllForward(arrayOf(per, be), arrayOf(lp, be), arrayOf(ids, be), N, C, keep, spread);
  // the rows' gradient from g [N], or from the reduced loss's one g times its scale (1 / count for
  // the mean): one kernel, the bits of the scaled gradient broadcast to the rows first
  const rowsGrad = (gScale: number, gStride: 0 | 1) => (g: Tensor): Tensor[] => {
    const dx = emptyOn(be, lp.shape, "float32");
    be.nllBackward(arrayOf(dx, be), arrayOf(g, be), arrayOf(ids, be), N, C, keep, spread, gScale, gStride);
    return [dx];
  };
  if (reduction === "none") return kept(attach(per, op, [lp], rowsGrad(1, 1), [ids]));
  const scale = reduction === "sum" ? 1 : 1 / Math.max(count, 1);
  const out = noGrad(() => {
    const total = sum(per);
    if (reduction === "sum") return total;
    const mean = mul(total, scale);
    store.releaseAtFlush(arrayOf(total, be));
    return mean;
  });
  store.releaseAtFlush(arrayOf(per, be)); // nothing holds them after the kernels recorded
  return kept(attach(out, op, [lp], rowsGrad(scale, 0), [ids]));
}

/** Cross-entropy of logits [N, C] (or [C]) against int32 class targets [N] (as F.cross_entropy). */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  expectTensor(logits, "input", "crossEntropy");
  if (logits.rank !== 1 && logits.rank !== 2) throw new ShapeError("crossEntropy", "input", "[N, C] or [C]", fmtShape(logits.shape));
  return nllLoss(logSoftmax(logits, -1), target, opts, "crossEntropy");
}

/** Mean (or sum, or none) of squared differences. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  expectTensor(input, "input", "mseLoss");
  expectTensor(target, "target", "mseLoss");
  sameFloat(input, target, "input", "target", "mseLoss");
  if (!sameShape(input.shape, target.shape)) throw new ShapeError("mseLoss", "target", fmtShape(input.shape), fmtShape(target.shape));
  const d = sub(input, target);
  const sq = mul(d, d);
  const r = opts.reduction ?? "mean";
  return r === "none" ? sq : r === "sum" ? sum(sq) : mean(sq);
}
