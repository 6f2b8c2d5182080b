/**
 * The optimizers' updates on a device, in float32 with the backend's elementwise kernels (the host
 * updates run in float64): the same formulas as sgd.ts and adam.ts, each line one or two binary
 * kernels over the parameter's n elements, scalars as one-element arrays broadcast (stride 0).
 * The state (momentum, moments) is device tensors the optimizer keeps beside its host state. A
 * backend with fused updates (FusedOptimizerSteps: webgpu) runs each update as one kernel instead,
 * with the same numbers.
 *
 * ```ts
 * sgdStepsDevice([{ p, g, buf: null, first: true }], { lr: 0.1, weightDecay: 0, momentum: 0, dampening: 0, nesterov: false, maximize: false });
 * ```
 */
import type { AdamSharedArgs, AdamStepArgs, AnyBackend, BinaryOp, FusedOptimizerSteps, KernelArray, SgdStepArgs } from "../backend/backend.js";
import { arrayOf, backendOf } from "../backend/tensor-arrays.js";
import type { DeviceStore } from "../tensor/device.js";
import type { Tensor } from "../tensor/tensor.js";

/** One parameter's update: its backend, its size, scratch arrays and scalar arrays. */
class Update {
  private readonly scratch: KernelArray[] = [];
  private readonly flat: number[];

  constructor(readonly be: AnyBackend, readonly n: number) {
    this.flat = [n];
  }

  /** A scratch array of n elements, given back at `done()`. */
  tmp(): KernelArray {
    const a = this.be.alloc(this.n);
    this.scratch.push(a);
    return a;
  }

  /** A one-element array holding `v`, given back at `done()`. */
  scalar(v: number): KernelArray {
    const a = this.be.upload(Float32Array.of(v));
    this.scratch.push(a);
    return a;
  }

  /** out = a (op) b, all n elements. */
  op(op: BinaryOp, out: KernelArray, a: KernelArray, b: KernelArray): void {
    this.be.binary(op, out, a, b, this.flat, [1], [1]);
  }

  /** out = a (op) s, s a scalar. */
  opScalar(op: BinaryOp, out: KernelArray, a: KernelArray, s: number): void {
    this.be.binary(op, out, a, this.scalar(s), this.flat, [1], [0]);
  }

  /** g, or g * scale[0] in a scratch array when a scale is given (the gradient as the update reads it). */
  scaled(g: KernelArray, scale: Tensor | null): KernelArray {
    if (!scale) return g;
    const t = this.tmp();
    this.be.binary("mul", t, g, arrayOf(scale, this.be), this.flat, [1], [0]);
    return t;
  }

  /** Gives the scratch arrays back (the recorded kernels still see them). */
  done(): void {
    const store = this.be as unknown as DeviceStore<KernelArray & { length: number }>;
    for (const a of this.scratch) store.release(a);
  }
}

/** dst = (maximize ? -g : g) + decay * p: the gradient an update steps along, both optimizers' first step. */
function decayedGrad(u: Update, dst: KernelArray, G: KernelArray, P: KernelArray, maximize: boolean, decay: number): void {
  if (maximize) u.be.unary("neg", dst, G, u.n, 1);
  else u.opScalar("mul", dst, G, 1);
  if (decay !== 0) {
    const t = u.tmp();
    u.opScalar("mul", t, P, decay);
    u.op("add", dst, dst, t);
  }
}

export type SgdStepOptions = SgdStepArgs;

/** The backend's fused updates, when it has them (and they are not switched off for a comparison). */
function fusedOf(be: AnyBackend): FusedOptimizerSteps | null {
  const f = be as Partial<FusedOptimizerSteps>;
  return fusedSteps && typeof f.sgdSteps === "function" && typeof f.adamSteps === "function" ? (f as FusedOptimizerSteps) : null;
}

let fusedSteps = true;

/** Whether device updates use the backend's fused kernels where it has them (default true); returns the previous setting. For comparisons. */
export function useFusedOptimizerSteps(on: boolean): boolean {
  const was = fusedSteps;
  fusedSteps = on;
  return was;
}

/** One parameter's part of a device SGD step: the tensors; buf, its momentum buffer, `first` on its first use. */
export interface SgdDeviceItem {
  p: Tensor; g: Tensor; buf: Tensor | null; first: boolean;
}

/**
 * SGD updates of several parameters on one device (all with a momentum buffer or none), each
 * gradient read as g * scale[0] when `scale` (a one-element tensor there) is given: the backend's
 * batched kernel where it has one (a few dispatches for all), else sgdStepDevice each.
 */
export function sgdStepsDevice(items: readonly SgdDeviceItem[], o: SgdStepOptions, scale: Tensor | null = null): void {
  if (items.length === 0) return;
  const be = backendOf(items[0]!.p);
  const fused = fusedOf(be);
  if (!fused) {
    for (const it of items) sgdStepDevice(it.p, it.g, o, it.buf, it.first, scale);
    return;
  }
  fused.sgdSteps(items.map((it) => ({ p: arrayOf(it.p, be), g: arrayOf(it.g, be), buf: it.buf ? arrayOf(it.buf, be) : null, n: it.p.size, first: it.first })),
    o, scale ? arrayOf(scale, be) : null);
  for (const it of items) {
    it.p.deviceWritten();
    it.buf?.deviceWritten();
  }
}

/**
 * p -= lr * d, d the (decayed, momentum-averaged) gradient g, read as g * scale[0] when `scale` (a
 * one-element tensor on p's device) is given; buf: the momentum buffer, `first` on its first use.
 * Composed from binary kernels.
 */
export function sgdStepDevice(p: Tensor, g: Tensor, o: SgdStepOptions, buf: Tensor | null, first: boolean, scale: Tensor | null = null): void {
  const be = backendOf(p);
  const u = new Update(be, p.size);
  const P = arrayOf(p, be), G = u.scaled(arrayOf(g, be), scale);
  const d = u.tmp();
  decayedGrad(u, d, G, P, o.maximize, o.weightDecay);
  if (buf) {
    const B = arrayOf(buf, be);
    if (first) u.opScalar("mul", B, d, 1);
    else {
      const t = u.tmp();
      u.opScalar("mul", B, B, o.momentum);
      u.opScalar("mul", t, d, 1 - o.dampening);
      u.op("add", B, B, t);
    }
    if (o.nesterov) {
      const t = u.tmp();
      u.opScalar("mul", t, B, o.momentum);
      u.op("add", d, d, t);
    } else u.opScalar("mul", d, B, 1);
    buf.deviceWritten();
  }
  u.opScalar("mul", d, d, o.lr);
  u.op("sub", P, P, d);
  p.deviceWritten();
  u.done();
}

export type AdamStepOptions = AdamStepArgs;

/** One parameter's part of a device Adam step: the tensors and its step's scalars. */
export interface AdamDeviceItem {
  p: Tensor; g: Tensor; m: Tensor; v: Tensor; vmax: Tensor | null; stepSize: number; bc2Sqrt: number;
}

/**
 * Adam / AdamW updates of several parameters on one device (all with vmax, for amsgrad, or none),
 * each gradient read as g * scale[0] when `scale` (a one-element tensor there) is given: the
 * backend's batched kernel where it has one (a few dispatches for all), else adamStepDevice each.
 */
export function adamStepsDevice(items: readonly AdamDeviceItem[], o: AdamSharedArgs, scale: Tensor | null = null): void {
  if (items.length === 0) return;
  const be = backendOf(items[0]!.p);
  const fused = fusedOf(be);
  if (!fused) {
    for (const it of items) adamStepDevice(it.p, it.g, it.m, it.v, it.vmax, { ...o, stepSize: it.stepSize, bc2Sqrt: it.bc2Sqrt }, scale);
    return;
  }
  fused.adamSteps(items.map((it) => ({
    p: arrayOf(it.p, be), g: arrayOf(it.g, be), m: arrayOf(it.m, be), v: arrayOf(it.v, be), vmax: it.vmax ? arrayOf(it.vmax, be) : null,
    n: it.p.size, stepSize: it.stepSize, bc2Sqrt: it.bc2Sqrt,
  })), o, scale ? arrayOf(scale, be) : null);
  for (const it of items) {
    for (const x of [it.p, it.m, it.v]) x.deviceWritten();
    it.vmax?.deviceWritten();
  }
}

/**
 * One Adam / AdamW update of p from g (read as g * scale[0] with a scale) with the moments m, v
 * (and vmax for amsgrad), composed from binary kernels: w = p decay; g' = ±g + l2 w;
 * m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'²; p = w - stepSize m / (sqrt(v) / bc2Sqrt + eps).
 */
export function adamStepDevice(p: Tensor, g: Tensor, m: Tensor, v: Tensor, vmax: Tensor | null, o: AdamStepOptions, scale: Tensor | null = null): void {
  const be = backendOf(p);
  const u = new Update(be, p.size);
  const P = arrayOf(p, be), G = u.scaled(arrayOf(g, be), scale), M = arrayOf(m, be), V = arrayOf(v, be);
  if (o.decay !== 1) u.opScalar("mul", P, P, o.decay);
  let gg = G;
  if (o.maximize || o.l2 !== 0) {
    gg = u.tmp();
    decayedGrad(u, gg, G, P, o.maximize, o.l2);
  }
  const t = u.tmp();
  u.opScalar("mul", M, M, o.b1);
  u.opScalar("mul", t, gg, 1 - o.b1);
  u.op("add", M, M, t);
  u.op("mul", t, gg, gg);
  u.opScalar("mul", t, t, 1 - o.b2);
  u.opScalar("mul", V, V, o.b2);
  u.op("add", V, V, t);
  let vv = V;
  if (vmax) {
    vv = arrayOf(vmax, be);
    u.op("maximum", vv, vv, V);
    vmax.deviceWritten();
  }
  const den = u.tmp();
  be.unary("sqrt", den, vv, p.size, 1);
  u.opScalar("div", den, den, o.bc2Sqrt);
  u.opScalar("add", den, den, o.eps);
  u.op("div", t, M, den);
  u.opScalar("mul", t, t, o.stepSize);
  u.op("sub", P, P, t);
  for (const x of [p, m, v]) x.deviceWritten();
  u.done();
}
