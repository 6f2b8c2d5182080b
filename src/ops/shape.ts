/**
 * Shape ops: reshape, permute/transpose, expand, slice, indexSelect, concat/stack, split/chunk.
 * reshape shares the data (tensors are contiguous), and so does a slice that is one contiguous
 * block (unit step, along the first dim that is not 1); the others copy.
 *
 * ```ts
 * const heads = permute(reshape(x, [B, L, H, D]), [0, 2, 1, 3]); // [B, H, L, D]
 * const [q, k, v] = chunk(qkv, 3, -1);
 * ```
 */
import { noteView } from "../tensor/pool.js";
import { attach } from "../autograd/graph.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { broadcastStrides, broadcastsTo, normAxis, numel, sameShape, stridesOf, type Shape } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { stridedCopy } from "../backend/js/copy.js";
import { gatherIndices, gatherOnDevice, type GatherIndices } from "./gather.js";
import { arrayOf, backendOf, empty, emptyOn, emptyUninit, kernelsFor, sumToShape } from "./util.js";

/** Same data, new shape; one entry may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  expectTensor(x, "x", "reshape");
  const s = shape.slice();
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) throw new ShapeError("reshape", "shape", `a shape with ${x.size} elements`, fmtShape(shape));
    s[neg] = x.size / rest;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 0) || numel(s) !== x.size) {
    throw new ShapeError("reshape", "shape", `a shape with ${x.size} elements (input ${fmtShape(x.shape)})`, fmtShape(shape));
  }
  if (sameShape(s, x.shape)) return x;
  let out: Tensor;
  if (x.device !== null) out = new Tensor(null, s, x.dtype, x.device, x.store);
  else {
    out = new Tensor(x.data, s, x.dtype);
    noteView(x.data);
  }
  return attach(out, "reshape", [x], (g) => [reshape(g, x.shape)]);
}

export const flatten = (x: Tensor, startDim = 0): Tensor => {
  const d = normAxis(startDim, x.rank, "flatten", "startDim");
  return reshape(x, [...x.shape.slice(0, d), -1]);
};

/** Inserts a size-1 dim at `dim`. */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis(dim, x.rank + 1, "unsqueeze");
  const s = x.shape.slice();
  s.splice(d, 0, 1);
  return reshape(x, s);
}

/** Removes size-1 dims (all, or the given one). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis(dim, x.rank, "squeeze");
  if (x.shape[d] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

/** Reorders dims: out.shape[i] = x.shape[dims[i]]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  expectTensor(x, "x", "permute");
  const r = x.rank;
  const p = dims.map((d) => normAxis(d, r, "permute", "dims"));
  if (p.length !== r || new Set(p).size !== r) throw new ValueError("permute", "dims", `a permutation of ${r} dims`, `[${dims.join(", ")}]`);
  if (p.every((d, i) => d === i)) return x;
  const outShape = p.map((d) => x.shape[d]!);
  const out = emptyStrided(outShape, x.dtype);
  const inStr = stridesOf(x.shape);
  const st = p.map((d) => inStr[d]!); // input stride of each output dim
  if (out.size > 0) copyStrided(out, x, outShape, st);
  const inv = new Array<number>(r);
  p.forEach((d, i) => (inv[d] = i));
  return attach(out, "permute", [x], (g) => [permute(g, inv)]);
}

/** The output of a strided copy: where the backend of float tensors keeps its arrays, on the host otherwise. */
function emptyStrided(shape: readonly number[], dtype: Tensor["dtype"]): Tensor {
  return dtype === "float32" || dtype === "float64" ? emptyOn(kernelsFor(dtype), shape, dtype) : emptyUninit(shape, dtype);
}

/** out = x at `strides` per out dim: the backend's kernel for float tensors, the js walk otherwise. */
function copyStrided(out: Tensor, x: Tensor, outShape: readonly number[], strides: readonly number[]): void {
  if (x.dtype === "float32" || x.dtype === "float64") {
    const be = kernelsFor(x.dtype);
    be.stridedCopy(arrayOf(out, be), arrayOf(x, be), outShape, strides);
  } else stridedCopy(out.data, x.data, outShape, strides);
}

/** Swaps two dims. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normAxis(dim0, x.rank, "transpose", "dim0"), b = normAxis(dim1, x.rank, "transpose", "dim1");
  const p = x.shape.map((_, i) => i);
  p[a] = b;
  p[b] = a;
  return permute(x, p);
}

/** Broadcasts x to `shape` (a copy; -1 keeps a dim). */
export function expand(x: Tensor, shape: Shape): Tensor {
  expectTensor(x, "x", "expand");
  const off = shape.length - x.rank;
  const s = shape.map((d, i) => (d === -1 ? x.shape[i - off]! : d));
  if (off < 0 || !broadcastsTo(x.shape, s)) throw new ShapeError("expand", "shape", `a shape ${fmtShape(x.shape)} broadcasts to`, fmtShape(shape));
  if (sameShape(s, x.shape)) return x;
  const out = emptyStrided(s, x.dtype);
  if (out.size > 0) copyStrided(out, x, s, broadcastStrides(x.shape, s));
  return attach(out, "expand", [x], (g) => [sumToShape(g, x.shape)]);
}

/**
 * Copies between a narrow tensor and the block start, start + step, ... of `dim` of a big one,
 * both laid out as [outer, n, inner]: big -> small when !toBig, small -> big (assigning; the
 * block's elements are written once) when toBig. Runs are copied with TypedArray.set.
 */
function copyBlock(small: Tensor, big: Tensor, dim: number, start: number, step: number, toBig: boolean): void {
  const outer = numel(big.shape.slice(0, dim)), inner = numel(big.shape.slice(dim + 1));
  const nb = big.shape[dim]!, ns = small.shape[dim]!;
  const bd = big.data, sd = small.data;
  // with a unit step, one outer index's block is a single run of ns * inner elements
  const run = step === 1 ? ns * inner : inner, runs = step === 1 ? 1 : ns;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < runs; i++) {
      const pb = (o * nb + start + i * step) * inner, ps = (o * ns + i) * inner;
      if (toBig) bd.set(sd.subarray(ps, ps + run), pb);
      else sd.set(bd.subarray(pb, pb + run), ps);
    }
  }
}

/** x[..., start:end:step, ...] along `dim` (negative start/end count from the end, clamped as Python does). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  expectTensor(x, "x", "slice");
  const d = normAxis(dim, x.rank, "slice");
  const n = x.shape[d]!;
  if (!Number.isInteger(step) || step < 1) throw new ValueError("slice", "step", "a positive integer", String(step));
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clamp(start), e = clamp(end ?? n);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const shape = x.shape.slice();
  shape[d] = len;
  const inner = numel(x.shape.slice(d + 1));
  if (x.device !== null) return sliceOnDevice(x, d, s, len, step, shape, inner);
  // a contiguous block (unit step, no larger dim before `dim`) is a view sharing x's data
  const out = step === 1 && numel(x.shape.slice(0, d)) === 1
    ? new Tensor(x.data.subarray(s * inner, (s + len) * inner), shape, x.dtype)
    : empty(shape, x.dtype);
  if (out.data.buffer !== x.data.buffer) copyBlock(out, x, d, s, step, false);
  else noteView(x.data);
  // the gradient is g in the sliced block, zero elsewhere: handed to the engine as that block
  return attach(out, "slice", [x], (g) => [{ kind: "block", block: g, dim: d, start: s, step }]);
}

/**
 * slice of a device tensor: a contiguous block is a view of x's array (Backend.view), any other a
 * strided copy of the positions start, start + step, ... of `dim`, x seen as [outer, n, inner].
 */
function sliceOnDevice(x: Tensor, d: number, start: number, len: number, step: number, shape: number[], inner: number): Tensor {
  const be = backendOf(x), xa = arrayOf(x, be);
  const outer = numel(x.shape.slice(0, d)), n = x.shape[d]!;
  let out: Tensor;
  if (step === 1 && outer === 1) out = new Tensor(null, shape, x.dtype, be.view(xa, start * inner, len * inner), x.store);
  else {
    out = emptyOn(be, shape, x.dtype);
    const from = be.view(xa, start * inner, x.size - start * inner);
    if (out.size > 0) be.stridedCopy(arrayOf(out, be), from, [outer, len, inner], [n * inner, step * inner, 1]);
  }
  return attach(out, "slice", [x], (g) => [{ kind: "block", block: g, dim: d, start, step }]);
}

/**
 * concat on the device (the active backend; host tensors among the pieces are uploaded), out seen
 * as [outer, N, inner]: with nothing before `dim` each piece is copied into a view of out;
 * otherwise each piece goes, permuted to [n, outer, inner], into a view of a [N, outer, inner]
 * scratch array that one strided copy then permutes back.
 */
function concatOnDevice(tensors: readonly Tensor[], d: number, shape: number[]): Tensor {
  const be = kernelsFor(tensors[0]!.dtype);
  const outer = numel(shape.slice(0, d)), inner = numel(shape.slice(d + 1)), N = shape[d]!;
  const out = emptyOn(be, shape, tensors[0]!.dtype);
  if (out.size === 0) return out;
  const O = arrayOf(out, be);
  const P = outer === 1 ? O : be.alloc(out.size);
  let start = 0;
  for (const t of tensors) {
    const n = t.shape[d]!;
    if (n > 0) be.stridedCopy(be.view(P, start * outer * inner, n * outer * inner), arrayOf(t, be), [n, outer, inner], [inner, n * inner, 1]);
    start += n;
  }
  if (P !== O) {
    be.stridedCopy(O, P, [outer, N, inner], [inner, outer * inner, 1]);
    (out.store as unknown as { release(a: unknown): void }).release(P);
  }
  return out;
}

/** dst[pd … pd + n) = src[ps … ps + n) for arrays of one element type. */
function copyRun(dst: Tensor["data"], src: Tensor["data"], pd: number, ps: number, n: number): void {
  (dst as Float32Array).set((src as Float32Array).subarray(ps, ps + n), pd);
}

/**
 * Picks entries of `dim` by 1-D int32 indices: out.shape[dim] = indices.length. The indices are a
 * list, a host tensor, or a tensor on x's device (e.g. argmax's), which the gather reads there:
 * its range is checked on the device and an index outside it is reported by the next read
 * (ops/gather.ts).
 */
export function indexSelect(x: Tensor, dim: number, indices: Tensor | readonly number[]): Tensor {
  expectTensor(x, "x", "indexSelect");
  const d = normAxis(dim, x.rank, "indexSelect");
  let where: GatherIndices;
  if (Array.isArray(indices)) where = { kind: "host", ids: Int32Array.from(indices as number[]) };
  else {
    const idx = indices as Tensor;
    expectTensor(idx, "indices", "indexSelect");
    if (idx.dtype !== "int32") throw new DTypeError("indexSelect", "indices", "int32", idx.dtype);
    if (idx.rank !== 1) throw new ShapeError("indexSelect", "indices", "[N]", fmtShape(idx.shape));
    where = gatherIndices("indexSelect", idx, x, "x");
  }
  const n = x.shape[d]!;
  if (where.kind === "host") {
    for (const i of where.ids) if (i < 0 || i >= n) throw new ValueError("indexSelect", "indices", `values in [0, ${n})`, String(i));
  }
  const shape = x.shape.slice();
  shape[d] = where.kind === "host" ? where.ids.length : where.m;
  const outer = numel(x.shape.slice(0, d)), inner = numel(x.shape.slice(d + 1));
  if (x.device !== null) return gatherOnDevice("indexSelect", x, where, shape, outer, n, inner);
  const id = (where as { ids: Int32Array }).ids; // x on the host: gatherIndices gave host indices or threw
  const out = empty(shape, x.dtype);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < id.length; k++) {
      const ps = (o * n + id[k]!) * inner, pd = (o * id.length + k) * inner;
      copyRun(out.data, x.data, pd, ps, inner);
    }
  }
  return attach(out, "indexSelect", [x], (g) => {
    const dx = empty(x.shape, g.dtype);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < id.length; k++) {
        const ps = (o * n + id[k]!) * inner, pd = (o * id.length + k) * inner;
        for (let j = 0; j < inner; j++) dx.data[ps + j]! += g.data[pd + j]!;
      }
    }
    return [dx];
  });
}

/** Joins tensors along an existing dim. */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ValueError("concat", "tensors", "a non-empty array of tensors", String(tensors));
  const first = tensors[0]!;
  tensors.forEach((t, i) => expectTensor(t, `tensors[${i}]`, "concat"));
  const d = normAxis(dim, first.rank, "concat");
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new DTypeError("concat", `tensors[${i}]`, first.dtype, t.dtype);
    if (t.rank !== first.rank || t.shape.some((s, j) => j !== d && s !== first.shape[j])) {
      const exp = first.shape.map((s, j) => (j === d ? "*" : String(s)));
      throw new ShapeError("concat", `tensors[${i}]`, `[${exp.join(", ")}]`, fmtShape(t.shape));
    }
  });
  const sizes = tensors.map((t) => t.shape[d]!);
  const shape = first.shape.slice();
  shape[d] = sizes.reduce((a, b) => a + b, 0);
  let out: Tensor;
  if (tensors.some((t) => t.device !== null)) out = concatOnDevice(tensors, d, shape);
  else {
    out = empty(shape, first.dtype);
    let start = 0;
    for (const t of tensors) {
      copyBlock(t, out, d, start, 1, true);
      start += t.shape[d]!;
    }
  }
  return attach(out, "concat", tensors, (g) => {
    let s = 0;
    return tensors.map((t) => {
      const part = slice(g, d, s, s + t.shape[d]!);
      s += t.shape[d]!;
      return part;
    });
  });
}

/** Joins tensors of one shape along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ValueError("stack", "tensors", "a non-empty array of tensors", String(tensors));
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    expectTensor(t, `tensors[${i}]`, "stack");
    if (!sameShape(t.shape, first.shape)) throw new ShapeError("stack", `tensors[${i}]`, fmtShape(first.shape), fmtShape(t.shape));
  });
  const d = normAxis(dim, first.rank + 1, "stack");
  return concat(tensors.map((t) => unsqueeze(t, d)), d);
}

/** Splits along `dim` into pieces of `size` (the last may be smaller) or of the given sizes. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  expectTensor(x, "x", "split");
  const d = normAxis(dim, x.rank, "split");
  const n = x.shape[d]!;
  let parts: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes < 1) throw new ValueError("split", "sizes", "a positive integer", String(sizes));
    parts = [];
    for (let s = 0; s < n; s += sizes) parts.push(Math.min(sizes, n - s));
  } else {
    parts = sizes.slice();
    if (parts.reduce((a, b) => a + b, 0) !== n || parts.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ValueError("split", "sizes", `non-negative sizes summing to ${n}`, `[${parts.join(", ")}]`);
    }
  }
  let s = 0;
  return parts.map((p) => {
    const t = slice(x, d, s, s + p);
    s += p;
    return t;
  });
}

/** Splits into `chunks` pieces along `dim` (as torch.chunk). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks < 1) throw new ValueError("chunk", "chunks", "a positive integer", String(chunks));
  const d = normAxis(dim, x.rank, "chunk");
  return split(x, Math.ceil(x.shape[d]! / chunks), d);
}
