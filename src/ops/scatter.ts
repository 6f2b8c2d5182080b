/**
 * Segment ops over the rows of a tensor grouped by an int32 index (one segment id per row), the
 * building blocks of message passing on graphs: scatterAdd sums the rows of each segment,
 * segmentSoftmax normalizes within each segment (PyTorch Geometric's `scatter(..., reduce="sum")`
 * and `softmax(src, index, num_nodes=...)`). Gather rows with indexSelect(x, 0, index).
 * The index is an int32 host tensor; on a device backend the rows are grouped by segment on the
 * host (a CSR-style order, uploaded) and each segment is reduced by one device thread per trailing
 * element: deterministic, no atomics.
 *
 * ```ts
 * const target = tensor([1, 1, 0], { dtype: "int32" });    // edge -> target node
 * const alpha = segmentSoftmax(scores, target, 2);          // [3, H]: sums to 1 per node and head
 * const out = scatterAdd(messages, target, 2);              // [3, H, F] -> [2, H, F]
 * ```
 */
import { attach } from "../autograd/graph.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { numel } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import type { AnyBackend, KernelArray } from "../backend/backend.js";
import type { DeviceBackend } from "../backend/tensor-arrays.js";
import type { DeviceArray } from "../tensor/device.js";
import { arrayOf, empty, emptyOn, fdata, floatOf, fullOn, kernelsFor } from "./util.js";

/** Validates src [E, ...], index int32 [E] with values in [0, numSegments); returns the index data and the row width. */
function segmentArgs(op: string, src: Tensor, index: Tensor, numSegments: number): { id: Int32Array; inner: number } {
  expectTensor(src, "src", op);
  expectTensor(index, "index", op);
  floatOf(src, "src", op);
  if (index.dtype !== "int32") throw new DTypeError(op, "index", "int32", index.dtype);
  if (src.rank < 1) throw new ShapeError(op, "src", "[E, ...]", fmtShape(src.shape));
  const E = src.shape[0]!;
  if (index.rank !== 1 || index.shape[0] !== E) throw new ShapeError(op, "index", `[${E}] (one segment per row of src)`, fmtShape(index.shape));
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new ValueError(op, "numSegments", "a non-negative integer", String(numSegments));
  const id = index.data as Int32Array;
  for (const s of id) if (s < 0 || s >= numSegments) throw new ValueError(op, "index", `values in [0, ${numSegments})`, String(s));
  return { id, inner: numel(src.shape.slice(1)) };
}

/**
 * out[s] = sum of src[e] over the rows e with index[e] = s: src [E, ...], index int32 [E] ->
 * [numSegments, ...]; segments without rows are 0.
 */
export function scatterAdd(src: Tensor, index: Tensor, numSegments: number): Tensor {
  const op = "scatterAdd";
  const { id, inner } = segmentArgs(op, src, index, numSegments);
  const be = kernelsFor(src.dtype);
  if (be.kind === "device") return scatterAddOnDevice(src, id, inner, numSegments, be);
  const out = empty([numSegments, ...src.shape.slice(1)], src.dtype);
  const od = fdata(out), sd = fdata(src);
  for (let e = 0; e < id.length; e++) {
    const po = id[e]! * inner, ps = e * inner;
    for (let j = 0; j < inner; j++) od[po + j]! += sd[ps + j]!;
  }
  return attach(out, op, [src], (g) => {
    const dx = empty(src.shape, g.dtype);
    const d = fdata(dx), gd = fdata(g);
    for (let e = 0; e < id.length; e++) d.set(gd.subarray(id[e]! * inner, id[e]! * inner + inner), e * inner);
    return [dx];
  });
}

/**
 * Softmax of src [E, ...] over the rows of each segment, separately for every trailing element:
 * out[e] = exp(src[e] - m) / sum_{e': index[e'] = index[e]} exp(src[e'] - m), m the segment's max.
 * -> [E, ...]. A segment of one row gets 1.
 */
export function segmentSoftmax(src: Tensor, index: Tensor, numSegments: number): Tensor {
  const op = "segmentSoftmax";
  const { id, inner } = segmentArgs(op, src, index, numSegments);
  const be = kernelsFor(src.dtype);
  if (be.kind === "device") return segmentSoftmaxOnDevice(src, id, inner, numSegments, be);
  const sd = fdata(src);
  const mx = new Float64Array(numSegments * inner).fill(-Infinity);
  for (let e = 0; e < id.length; e++) {
    const pm = id[e]! * inner, ps = e * inner;
    for (let j = 0; j < inner; j++) if (sd[ps + j]! > mx[pm + j]!) mx[pm + j] = sd[ps + j]!;
  }
  const out = empty(src.shape, src.dtype);
  const od = fdata(out);
  const den = new Float64Array(numSegments * inner);
  for (let e = 0; e < id.length; e++) {
    const pm = id[e]! * inner, ps = e * inner;
    for (let j = 0; j < inner; j++) {
      const v = Math.exp(sd[ps + j]! - mx[pm + j]!);
      od[ps + j] = v;
      den[pm + j]! += v;
    }
  }
  for (let e = 0; e < id.length; e++) {
    const pm = id[e]! * inner, ps = e * inner;
    for (let j = 0; j < inner; j++) od[ps + j]! /= den[pm + j]!;
  }
  return attach(out, op, [src], (g) => {
    // dx[e] = y[e] (g[e] - sum_{e' in segment} g[e'] y[e'])
    const gd = fdata(g);
    const dot = new Float64Array(numSegments * inner);
    for (let e = 0; e < id.length; e++) {
      const pm = id[e]! * inner, ps = e * inner;
      for (let j = 0; j < inner; j++) dot[pm + j]! += gd[ps + j]! * od[ps + j]!;
    }
    const dx = empty(src.shape, g.dtype);
    const d = fdata(dx);
    for (let e = 0; e < id.length; e++) {
      const pm = id[e]! * inner, ps = e * inner;
      for (let j = 0; j < inner; j++) d[ps + j] = od[ps + j]! * (gd[ps + j]! - dot[pm + j]!);
    }
    return [dx];
  });
}

// ---- the device path: rows grouped by segment on the host, the backend's segment kernels

/** The rows of each segment in order (a counting sort of the ids): order [E], offsets [S + 1], the ids [E], as floats. */
function grouping(op: string, id: Int32Array, S: number): { order: Float32Array; offsets: Float32Array; index: Float32Array } {
  const E = id.length;
  if (E >= 2 ** 24 || S >= 2 ** 24) throw new ValueError(op, "index", "fewer than 2^24 rows and segments on a device", `${E} rows, ${S} segments`);
  const offsets = new Float32Array(S + 1);
  for (let e = 0; e < E; e++) offsets[id[e]! + 1]!++;
  for (let s = 0; s < S; s++) offsets[s + 1]! += offsets[s]!;
  const next = offsets.slice(0, S), order = new Float32Array(E);
  for (let e = 0; e < E; e++) order[next[id[e]!]!++] = e;
  return { order, offsets, index: Float32Array.from(id) };
}

/** Runs f on uploads of `arrays`, then gives them back (the work f recorded still sees them). */
function withUploads(be: AnyBackend, arrays: Float32Array[], f: (...a: KernelArray[]) => void): void {
  const up = arrays.map((a) => be.upload(a));
  f(...up);
  for (const a of up) (be as DeviceBackend).release(a as DeviceArray);
}

function scatterAddOnDevice(src: Tensor, id: Int32Array, inner: number, S: number, be: AnyBackend): Tensor {
  const E = id.length, shape = [S, ...src.shape.slice(1)];
  const g = grouping("scatterAdd", id, S);
  let out: Tensor;
  if (E === 0) out = fullOn(be, shape, src.dtype, 0);
  else {
    out = emptyOn(be, shape, src.dtype);
    withUploads(be, [g.order, g.offsets], (order, offsets) => be.segmentSum(arrayOf(out, be), arrayOf(src, be), order!, offsets!, S, inner));
  }
  return attach(out, "scatterAdd", [src], (grad) => {
    const dx = emptyOn(be, src.shape, grad.dtype);
    if (E > 0) withUploads(be, [g.index], (index) => be.segmentBroadcast(arrayOf(dx, be), arrayOf(grad, be), index!, E, inner));
    return [dx];
  });
}

function segmentSoftmaxOnDevice(src: Tensor, id: Int32Array, inner: number, S: number, be: AnyBackend): Tensor {
  const E = id.length;
  const g = grouping("segmentSoftmax", id, S);
  const out = emptyOn(be, src.shape, src.dtype);
  if (E > 0) withUploads(be, [g.order, g.offsets], (order, offsets) => be.segmentSoftmax(arrayOf(out, be), arrayOf(src, be), order!, offsets!, S, inner));
  return attach(out, "segmentSoftmax", [src], (grad) => {
    const dx = emptyOn(be, src.shape, grad.dtype);
    if (E > 0) {
      withUploads(be, [g.order, g.offsets], (order, offsets) =>
        be.segmentSoftmaxBackward(arrayOf(dx, be), arrayOf(out, be), arrayOf(grad, be), order!, offsets!, S, inner));
    }
    return [dx];
  });
}
