/**
 * Gradient sums of one backward pass. The engine owns the sums it allocates: nothing else refers to
 * them until they are handed out (to a backward function, or to a leaf's `.grad`), so further
 * contributions are added into them in place. A contribution the engine does not own (an op's
 * returned gradient, which the op may have given to several inputs) is never written.
 * A BlockGrad (zero outside one block, from slicing ops) is added into the sum's block only.
 *
 * ```ts
 * const sums = new GradSums();
 * let acc = sums.add(null, g1, x);   // g1 itself (not owned)
 * acc = sums.add(acc, g2, x);        // a new tensor g1 + g2 (owned)
 * acc = sums.add(acc, block, x);     // added in place
 * fn.backward(sums.release(acc));    // handed out: never written again
 * ```
 */
import type { Backend, Fill, KernelArray } from "../backend/backend.js";
import type { DeviceStore } from "../tensor/device.js";
import { arrayOf, backendOf as kernelsOf, copyTensor, emptyOn, fullOn } from "../backend/tensor-arrays.js";
import { hostBackend, jsBackend } from "../backend/registry.js";
import type { FloatArray } from "../tensor/dtype.js";
import { DeviceOpError, ShapeError, fmtShape } from "../tensor/errors.js";
import { numel, sameShape } from "../tensor/shape.js";
import { Tensor, type BlockGrad } from "../tensor/tensor.js";

/** Runs at least this long are added on the backend; shorter ones in a loop here. */
const BACKEND_RUN = 1024;

function backendOf(t: Tensor): Backend {
  return t.dtype === "float64" ? jsBackend : hostBackend();
}

/** out = a + b over whole tensors of one size (out may be a), where out's data lives. */
export function addTensors(out: Tensor, a: Tensor, b: Tensor): Tensor {
  if (out.size === 0) return out;
  const be = kernelsOf(out);
  be.binary("add", arrayOf(out, be), arrayOf(a, be), arrayOf(b, be), [out.size], [1], [1]);
  out.deviceWritten();
  return out;
}

/** A new zero tensor shaped like t (float32, or float64 for float64), where t's data lives. */
export function zerosLike(t: Tensor): Tensor {
  return fullOn(kernelsOf(t), t.shape, t.dtype === "float64" ? "float64" : "float32", 0);
}

/** A new tensor shaped like t whose every element the caller writes (not zero-filled). */
function uninitLike(t: Tensor): Tensor {
  return emptyOn(kernelsOf(t), t.shape, t.dtype === "float64" ? "float64" : "float32");
}

/** out[0:n] = a[0:n] + b[0:n] (views of float arrays). */
function addRun(be: Backend, out: FloatArray, a: FloatArray, b: FloatArray): void {
  const n = out.length;
  if (n >= BACKEND_RUN) {
    be.binary("add", out, a, b, [n], [1], [1]);
    return;
  }
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

/** Adds (or, into a zero tensor, copies) g's block into full, in place. */
function addBlock(full: Tensor, g: BlockGrad, copy: boolean): void {
  const { block, dim, start, step } = g;
  if (full.device !== null) {
    addBlockOnDevice(full, g);
    return;
  }
  if (block.device !== null) throw new DeviceOpError("backward", "gradient", block.store!.name, "a block gradient of a host tensor");
  const outer = numel(full.shape.slice(0, dim)), inner = numel(full.shape.slice(dim + 1));
  const nb = full.shape[dim]!, ns = block.shape[dim]!;
  const fd = full.data as FloatArray, bd = block.data as FloatArray;
  const be = backendOf(full);
  // with a unit step, one outer index's block is a single run of ns * inner elements
  const run = step === 1 ? ns * inner : inner, runs = step === 1 ? 1 : ns;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < runs; i++) {
      const pf = (o * nb + start + i * step) * inner, pb = (o * ns + i) * inner;
      const dst = fd.subarray(pf, pf + run), src = bd.subarray(pb, pb + run);
      if (copy) dst.set(src);
      else addRun(be, dst, dst, src);
    }
  }
}

/**
 * Adds g's block into `full` on full's device (full is zero when it is a new sum). A contiguous
 * block (unit step, nothing before `dim`) is one add into a view of full; any other is placed by a
 * product with a 0/1 matrix, P [nb, ns] @ block as [ns, outer * inner] (one 1 per row at most, so
 * exact for finite gradients), then added whole.
 */
function addBlockOnDevice(full: Tensor, g: BlockGrad): void {
  const { block, dim, start, step } = g;
  if (block.size === 0) return;
  const be = kernelsOf(full);
  const outer = numel(full.shape.slice(0, dim)), inner = numel(full.shape.slice(dim + 1));
  const nb = full.shape[dim]!, ns = block.shape[dim]!;
  const F = arrayOf(full, be), Bk = arrayOf(block, be);
  if (step === 1 && outer === 1) {
    const region = be.view(F, start * inner, ns * inner);
    be.binary("add", region, region, Bk, [ns * inner], [1], [1]);
  } else {
    const M = outer * inner;
    const bp = be.alloc(ns * M); // block [outer, ns, inner] -> [ns, outer, inner]
    be.stridedCopy(bp, Bk, [ns, outer, inner], [inner, ns * inner, 1]);
    const P = new Float32Array(nb * ns);
    for (let k = 0; k < ns; k++) P[(start + k * step) * ns + k] = 1;
    const Pa = be.upload(P), dp = be.alloc(nb * M);
    be.matmul(dp, Pa, bp, 1, nb, M, ns, false, false, 0, 0, false); // [nb, ns] @ [ns, M]
    const dense = be.alloc(full.size); // [nb, outer, inner] -> [outer, nb, inner]
    be.stridedCopy(dense, dp, [outer, nb, inner], [inner, M, 1]);
    be.binary("add", F, F, dense, [full.size], [1], [1]);
    for (const a of [bp, Pa, dp, dense]) full.store!.release(a);
  }
  full.deviceWritten();
}

/** Throws unless g fits `like` (the input it is the gradient of). */
export function checkGradShape(g: Tensor | BlockGrad, like: Tensor, op: string, k: number): void {
  if (g instanceof Tensor) {
    if (!sameShape(g.shape, like.shape)) throw new ShapeError(`backward(${op})`, `grad of input ${k}`, fmtShape(like.shape), fmtShape(g.shape));
    return;
  }
  const b = g.block;
  const ok = b.rank === like.rank && g.dim >= 0 && g.dim < like.rank && g.step >= 1 && g.start >= 0 &&
    b.shape.every((d, i) => (i === g.dim ? g.start + (d - 1) * g.step < like.shape[i]! || d === 0 : d === like.shape[i]));
  if (!ok) {
    throw new ShapeError(`backward(${op})`, `grad of input ${k}`, `a block of ${fmtShape(like.shape)}`,
      `${fmtShape(b.shape)} at ${g.start} step ${g.step} of dim ${g.dim}`);
  }
}

/** Whether g's block is one run of the full tensor (unit step, nothing before its dim) on a device: its element range, else null. */
function deviceRun(full: Tensor, g: BlockGrad): [number, number] | null {
  if (full.device === null || g.step !== 1 || numel(full.shape.slice(0, g.dim)) !== 1 || g.block.size === 0) return null;
  const inner = numel(full.shape.slice(g.dim + 1));
  return [g.start * inner, (g.start + g.block.shape[g.dim]!) * inner];
}

/** The runs [a, b) of `rs` that hold an element. */
const nonEmpty = (rs: [number, number][]): [number, number][] => rs.filter((r) => r[1] > r[0]);

/** Writes g's block (one run: deviceRun) into full's elements [a, b), replacing what was there. */
function writeRun(full: Tensor, g: BlockGrad, a: number, b: number): void {
  const be = kernelsOf(full);
  be.stridedCopy(be.view(arrayOf(full, be), a, b - a), arrayOf(g.block, be), [b - a], [1]);
  full.deviceWritten();
}

/** Zeros full's elements [a, b) on its device. */
function zeroRun(full: Tensor, a: number, b: number): void {
  const be = kernelsOf(full), region = be.view(arrayOf(full, be), a, b - a);
  const f = be as Partial<Fill>;
  if (typeof f.fill === "function") f.fill(region, b - a, 0);
  else {
    const z = be.upload(new Float32Array(b - a));
    be.stridedCopy(region, z, [b - a], [1]);
    (full.store as DeviceStore<KernelArray & { length: number }>).release(z);
  }
  full.deviceWritten();
}

export class GradSums {
  private readonly owned = new Set<Tensor>();
  /**
   * Sums on a device begun from a block that is one run of the tensor (a slice's gradient): made
   * without zero-filling, the runs [a, b) no block has written yet. A later block in one of them
   * is written there too; anything else (another block, a whole gradient, handing the sum out)
   * zeroes them first. Two slices that tile a tensor (a packed projection's q and kv rows) so
   * write its gradient in two copies, with no fill.
   */
  private readonly unwritten = new Map<Tensor, [number, number][]>();

  /** A new owned sum: zero, or uninitialized when the caller writes all of it. */
  private fresh(like: Tensor, zero = true): Tensor {
    const t = zero ? zerosLike(like) : uninitLike(like);
    this.owned.add(t);
    return t;
  }

  /** acc + g, where acc (null: nothing yet) sums gradients of `like`; in place when owned. */
  add(acc: Tensor | null, g: Tensor | BlockGrad, like: Tensor): Tensor {
    if (!(g instanceof Tensor)) {
      const run = deviceRun(like, g);
      if (acc === null) {
        if (run) {
          const t = this.fresh(like, false);
          writeRun(t, g, run[0], run[1]);
          this.unwritten.set(t, nonEmpty([[0, run[0]], [run[1], t.size]]));
          return t;
        }
        const t = this.fresh(like);
        addBlock(t, g, true);
        return t;
      }
      const gaps = this.unwritten.get(acc);
      const k = run && gaps ? gaps.findIndex(([a, b]) => a <= run[0] && run[1] <= b) : -1;
      if (run && gaps && k >= 0) {
        writeRun(acc, g, run[0], run[1]);
        const [a, b] = gaps[k]!;
        gaps.splice(k, 1, ...nonEmpty([[a, run[0]], [run[1], b]]));
        return acc;
      }
      const t = this.owned.has(acc) ? this.settled(acc) : this.copy(acc);
      addBlock(t, g, false);
      return t;
    }
    if (acc === null) return g;
    return addTensors(this.owned.has(acc) ? this.settled(acc) : this.fresh(acc, false), acc, g);
  }

  /** t with the runs no block wrote zeroed (see `unwritten`). */
  private settled(t: Tensor): Tensor {
    const gaps = this.unwritten.get(t);
    if (gaps) {
      for (const [a, b] of gaps) zeroRun(t, a, b);
      this.unwritten.delete(t);
    }
    return t;
  }

  private copy(t: Tensor): Tensor {
    if (t.device !== null) {
      const d = copyTensor(t);
      this.owned.add(d);
      return d;
    }
    const c = this.fresh(t, false);
    (c.data as FloatArray).set(t.data as FloatArray);
    return c;
  }

  /** Hands a sum out to a backward function: the engine never writes it again. */
  release(t: Tensor): Tensor {
    this.settled(t);
    this.owned.delete(t);
    return t;
  }

  /** A tensor for a leaf's `.grad`: the sum itself when owned (handed out), else a copy. */
  take(t: Tensor): Tensor {
    this.settled(t);
    if (this.owned.delete(t)) return t;
    return copyTensor(t);
  }
}
