/**
 * Reductions over dims with keepdim: sum, mean, var, max, min, argmax, argmin, logsumexp. On a device,
 * max / min / argmax / argmin / logsumexp run as one kernel each; indices there are an int32 tensor
 * whose device array holds float32 values (exact below 2^24), and `await i.read()` gives an Int32Array.
 *
 * ```ts
 * const m = mean(x, -1, { keepdim: true }); // [B, L, 1]
 * const v = variance(x, -1, { correction: 0 });
 * const i = argmax(logits, -1);             // int32
 * ```
 */
import { releaseTensor } from "../autograd/free-graph.js";
import { attach, noGrad } from "../autograd/graph.js";
import { normAxis, numel } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { ValueError } from "../tensor/errors.js";
import { expand, permute, reshape } from "./shape.js";
import { add, div, log, exp, mul, sub } from "./elementwise.js";
import { arrayOf, backendOf, empty, emptyOn, fdata, floatOf, fullOn, onesArray } from "./util.js";

export interface ReduceOptions {
  keepdim?: boolean;
}

type Dims = number | readonly number[] | undefined;

/** Normalized, sorted, unique reduced dims (all dims when undefined). */
function reducedDims(x: Tensor, dims: Dims, op: string): number[] {
  if (dims === undefined) return x.shape.map((_, i) => i);
  if (typeof dims !== "number" && !Array.isArray(dims)) throw new ValueError(op, "dim", "an integer or a list of integers", String(dims));
  const list = typeof dims === "number" ? [dims] : dims.slice();
  const r = [...new Set(list.map((d) => normAxis(d, x.rank, op)))].sort((a, b) => a - b);
  if (r.length !== list.length) throw new ValueError(op, "dim", "distinct dims", `[${list.join(", ")}]`);
  return r;
}

function keptShape(x: Tensor, red: number[]): number[] {
  return x.shape.map((s, i) => (red.includes(i) ? 1 : s));
}

function finalShape(x: Tensor, red: number[], keepdim: boolean): number[] {
  return keepdim ? keptShape(x, red) : x.shape.filter((_, i) => !red.includes(i));
}

/** For each input element, the index of its output element (reduced dims collapsed). */
function outIndex(x: Tensor, red: number[]): Int32Array {
  const kept = keptShape(x, red);
  const r = x.rank;
  const st = new Array<number>(r).fill(0);
  let acc = 1;
  for (let d = r - 1; d >= 0; d--) {
    st[d] = kept[d] === 1 ? 0 : acc;
    acc *= kept[d]!;
  }
  const map = new Int32Array(x.size);
  const idx = new Array<number>(r).fill(0);
  let p = 0;
  for (let i = 0; i < x.size; i++) {
    map[i] = p;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]!++;
      p += st[d]!;
      if (idx[d]! < x.shape[d]!) break;
      p -= st[d]! * x.shape[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

/** Sum over `dims` (all when omitted). */
export function sum(x: Tensor, dims?: Dims, opts: ReduceOptions = {}): Tensor {
  expectTensor(x, "x", "sum");
  const dtype = floatOf(x, "x", "sum");
  const red = reducedDims(x, dims, "sum");
  const kept = keptShape(x, red);
  const out = x.device !== null ? sumOnDevice(x, red, kept) : empty(kept, dtype);
  if (x.device !== null) {
    const res = attach(out, "sum", [x], (g) => [expand(reshape(g, kept), x.shape)]);
    return reshape(res, finalShape(x, red, opts.keepdim ?? false));
  }
  const od = fdata(out), xd = fdata(x);
  const last = x.rank - 1;
  if (red.length === 1 && red[0] === last) {
    const n = x.shape[last]!;
    for (let o = 0; o < od.length; o++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += xd[o * n + j]!;
      od[o] = s;
    }
  } else {
    const acc = new Float64Array(od.length);
    const map = outIndex(x, red);
    for (let i = 0; i < xd.length; i++) acc[map[i]!]! += xd[i]!;
    od.set(acc);
  }
  const res = attach(out, "sum", [x], (g) => [expand(reshape(g, kept), x.shape)]);
  return reshape(res, finalShape(x, red, opts.keepdim ?? false));
}

/**
 * The sum of a device tensor over `red` as a tensor of shape `kept` (not recorded): the reduced
 * dims moved last (a strided copy unless they already are), then one matrix-vector product
 * [R, n] @ ones [n] on the device.
 */
function sumOnDevice(x: Tensor, red: number[], kept: number[]): Tensor {
  const be = backendOf(x);
  const keptDims = x.shape.map((_, i) => i).filter((i) => !red.includes(i));
  const n = numel(red.map((d) => x.shape[d]!)), R = n === 0 ? numel(kept) : x.size / n;
  if (R === 0 || n === 0) return fullOn(be, kept, x.dtype, 0);
  // x itself when the reduced dims are last (no alias of x: freeGraph can still give x back), else
  // a copy with them moved last, given back once the product is recorded
  const order = [...keptDims, ...red];
  const xl = order.every((d, i) => d === i) ? x : noGrad(() => permute(x, order));
  const out = emptyOn(be, kept, x.dtype);
  be.matmul(arrayOf(out, be), arrayOf(xl, be), onesArray(be, x.dtype, n), 1, R, 1, n, false, false, 0, 0, false); // [R, n] @ [n, 1]
  if (xl !== x) releaseTensor(xl);
  return out;
}

/** Mean over `dims`. */
export function mean(x: Tensor, dims?: Dims, opts: ReduceOptions = {}): Tensor {
  const red = reducedDims(x, dims, "mean");
  const n = numel(red.map((d) => x.shape[d]!));
  return div(sum(x, red, opts), n);
}

/** Variance over `dims`; correction 1 (default, as torch.var) divides by N - 1. */
export function variance(x: Tensor, dims?: Dims, opts: ReduceOptions & { correction?: number } = {}): Tensor {
  const red = reducedDims(x, dims, "var");
  const n = numel(red.map((d) => x.shape[d]!));
  const c = opts.correction ?? 1;
  const m = mean(x, red, { keepdim: true });
  const d = sub(x, m);
  return div(sum(mul(d, d), red, opts), Math.max(n - c, 0));
}

function extreme(x: Tensor, dim: number, keepdim: boolean, op: "max" | "min"): { values: Tensor; indices: Tensor } {
  expectTensor(x, "x", op);
  const dtype = floatOf(x, "x", op);
  const d = normAxis(dim, x.rank, op);
  const n = x.shape[d]!;
  if (n === 0) throw new ValueError(op, "x", "a non-empty dim", "size 0");
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  const kept = keptShape(x, [d]);
  if (x.device !== null) {
    const { values, indices } = extremeOnDevice(x, outer, n, inner, kept, op);
    const shape = finalShape(x, [d], keepdim);
    return { values: reshape(values, shape), indices: reshape(indices, shape) };
  }
  const values = empty(kept, dtype), indices = empty(kept, "int32");
  const vd = fdata(values), id = indices.data as Int32Array, xd = fdata(x);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let best = xd[o * n * inner + j]!, bi = 0;
      for (let k = 1; k < n; k++) {
        const v = xd[(o * n + k) * inner + j]!;
        // NaN propagates, as in PyTorch
        if (Number.isNaN(best)) break;
        if (op === "max" ? v > best || Number.isNaN(v) : v < best || Number.isNaN(v)) { best = v; bi = k; }
      }
      vd[o * inner + j] = best;
      id[o * inner + j] = bi;
    }
  }
  const res = attach(values, op, [x], (g) => {
    const dx = empty(x.shape, g.dtype);
    const dd = fdata(dx), gd = fdata(g);
    for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) dd[(o * n + id[o * inner + j]!) * inner + j] = gd[o * inner + j]!;
    return [dx];
  });
  const shape = finalShape(x, [d], keepdim);
  return { values: reshape(res, shape), indices: reshape(indices, shape) };
}

/** Max over one dim, with the (first) index of the max. */
export function max(x: Tensor, dim: number, opts: ReduceOptions = {}): { values: Tensor; indices: Tensor } {
  return extreme(x, dim, opts.keepdim ?? false, "max");
}

/** Min over one dim, with the (first) index of the min. */
export function min(x: Tensor, dim: number, opts: ReduceOptions = {}): { values: Tensor; indices: Tensor } {
  return extreme(x, dim, opts.keepdim ?? false, "min");
}

/** Index of the max over one dim (int32). */
export function argmax(x: Tensor, dim: number, opts: ReduceOptions = {}): Tensor {
  return extreme(x, dim, opts.keepdim ?? false, "max").indices;
}

/** Index of the min over one dim (int32). */
export function argmin(x: Tensor, dim: number, opts: ReduceOptions = {}): Tensor {
  return extreme(x, dim, opts.keepdim ?? false, "min").indices;
}

/**
 * max / min over n of a device tensor x [outer, n, inner] with one kernel: values (recorded:
 * the gradient goes to the index) and indices [kept], an int32 tensor whose device array holds the
 * indices as float32 values (exact below 2^24; `await indices.read()` gives an Int32Array).
 */
function extremeOnDevice(x: Tensor, outer: number, n: number, inner: number, kept: number[], op: "max" | "min"): { values: Tensor; indices: Tensor } {
  const be = backendOf(x);
  const values = emptyOn(be, kept, "float32"), idx = emptyOn(be, kept, "float32");
  const ia = arrayOf(idx, be);
  be.extreme(arrayOf(values, be), ia, arrayOf(x, be), outer, n, inner, op);
  const indices = new Tensor(null, kept, "int32", idx.device, idx.store);
  const res = attach(values, op, [x], (g) => {
    const dx = emptyOn(be, x.shape, "float32");
    be.extremeBackward(arrayOf(dx, be), arrayOf(g, be), ia, outer, n, inner);
    return [dx];
  });
  return { values: res, indices };
}

/**
 * logsumexp of a device tensor over dim d with one kernel; the gradient is g exp(x - out), made
 * with the elementwise kernels. out [kept]
 */
function logsumexpOnDevice(x: Tensor, d: number): Tensor {
  const be = backendOf(x);
  const n = x.shape[d]!;
  if (n === 0) throw new ValueError("logsumexp", "x", "a non-empty dim", "size 0");
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  const out = emptyOn(be, keptShape(x, [d]), "float32");
  be.logsumexp(arrayOf(out, be), arrayOf(x, be), outer, n, inner);
  const lse = out.detach();
  return attach(out, "logsumexp", [x], (g) => [mul(exp(sub(x.detach(), lse)), g)]);
}

/** log(sum(exp(x))) over one dim, stable. */
export function logsumexp(x: Tensor, dim: number, opts: ReduceOptions = {}): Tensor {
  expectTensor(x, "x", "logsumexp");
  if (x.device !== null) {
    floatOf(x, "x", "logsumexp");
    const d = normAxis(dim, x.rank, "logsumexp");
    const r = logsumexpOnDevice(x, d);
    return opts.keepdim ? r : reshape(r, finalShape(x, [d], false));
  }
  const m = max(x, dim, { keepdim: true }).values.detach();
  // a row of only -Infinity shifts by 0, so it stays -Infinity instead of NaN
  const safe = m.clone();
  const sd = fdata(safe);
  for (let i = 0; i < sd.length; i++) if (!Number.isFinite(sd[i]!)) sd[i] = 0;
  const r = add(log(sum(exp(sub(x, safe)), dim, { keepdim: true })), safe);
  return opts.keepdim ? r : reshape(r, finalShape(x, [normAxis(dim, x.rank, "logsumexp")], false));
}
