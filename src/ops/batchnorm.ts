/**
 * Batch normalization over the channel dim 1 of x [B, C, ...] (torch.nn.functional.batch_norm).
 * On a host backend the js kernels run with float64 statistics; on a device backend its batch
 * norm kernels (float32 statistics; the running buffers, which must then be on the device, are
 * updated there in place).
 *
 * ```ts
 * const rm = zeros([C]), rv = ones([C]);
 * const y = batchNorm(x, rm, rv, weight, bias, { training: true }); // updates rm and rv in place
 * const z = batchNorm(x, rm, rv, weight, bias);                     // eval: the running statistics
 * ```
 */
import { attach } from "../autograd/graph.js";
import { batchNormBackward, batchNormForward, batchNormStats } from "../backend/js/batchnorm.js";
import type { AnyBackend, KernelArray } from "../backend/backend.js";
import type { DeviceBackend } from "../backend/tensor-arrays.js";
import type { DeviceArray } from "../tensor/device.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { numel } from "../tensor/shape.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { arrayOf, empty, emptyOn, fdata, floatOf, kernelsFor, sameFloat } from "./util.js";

export interface BatchNormOptions {
  /** Batch statistics and a running-buffer update (true), or the running statistics (false, the default as in torch). */
  training?: boolean;
  /** Weight of the new batch statistics in the running update (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel, x [B, C, ...]; runningMean,
 * runningVar, weight, bias [C] (each may be null). Training normalizes by the batch mean and
 * biased variance over B and the spatial dims and, when given, updates the running buffers in
 * place: r = (1 - momentum) r + momentum s, with the unbiased variance for runningVar. Eval
 * normalizes by the running buffers. The buffers get no gradient.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null,
  bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  const op = "batchNorm";
  expectTensor(x, "x", op);
  const dtype = floatOf(x, "x", op);
  if (x.rank < 2) throw new ShapeError(op, "x", "[B, C, ...]", fmtShape(x.shape));
  const B = x.shape[0]!, C = x.shape[1]!, S = numel(x.shape.slice(2));
  for (const [arg, t] of [["runningMean", runningMean], ["runningVar", runningVar], ["weight", weight], ["bias", bias]] as const) {
    if (!t) continue;
    expectTensor(t, arg, op);
    sameFloat(x, t, "x", arg, op);
    if (t.rank !== 1 || t.shape[0] !== C) throw new ShapeError(op, arg, `[${C}] (the channels of x ${fmtShape(x.shape)})`, fmtShape(t.shape));
  }
  const training = opts.training ?? false;
  if (typeof training !== "boolean") throw new ValueError(op, "training", "a boolean", String(training));
  const momentum = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  if (typeof momentum !== "number" || !Number.isFinite(momentum)) throw new ValueError(op, "momentum", "a finite number", String(momentum));
  if (typeof eps !== "number" || !(eps >= 0) || eps === Infinity) throw new ValueError(op, "eps", "a non-negative number", String(eps));
  if ((runningMean === null) !== (runningVar === null)) {
    throw new ValueError(op, runningMean ? "runningVar" : "runningMean", "a tensor when the other running buffer is given", "null");
  }
  if (!training && !runningMean) throw new ValueError(op, "runningMean", "the running buffers when not training", "null");
  const n = B * S;
  if (training && n <= 1) throw new ValueError(op, "x", "more than 1 value per channel when training", `${fmtShape(x.shape)}`);

  const be = kernelsFor(dtype);
  if (be.kind === "device") {
    return batchNormOnDevice(x, runningMean, runningVar, weight ?? null, bias ?? null, { training, momentum, eps }, be);
  }
  const mean = new Float64Array(C), invstd = new Float64Array(C);
  if (training) {
    const v = new Float64Array(C);
    batchNormStats(mean, v, fdata(x), B, C, S);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(v[c]! + eps);
    if (runningMean && runningVar) {
      const rm = fdata(runningMean), rv = fdata(runningVar);
      for (let c = 0; c < C; c++) {
        rm[c] = (1 - momentum) * rm[c]! + momentum * mean[c]!;
        rv[c] = (1 - momentum) * rv[c]! + momentum * v[c]! * (n / (n - 1));
      }
    }
  } else if (runningMean && runningVar) {
    mean.set(fdata(runningMean));
    const rv = fdata(runningVar);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(rv[c]! + eps);
  }
  const out = empty(x.shape, dtype);
  const w = weight ? fdata(weight) : null;
  batchNormForward(fdata(out), fdata(x), mean, invstd, w, bias ? fdata(bias) : null, B, C, S);
  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return attach(out, op, inputs, (g) => {
    const dx = x.requiresGrad ? empty(x.shape, dtype) : null;
    const dw = weight?.requiresGrad ? empty([C], dtype) : null;
    const db = bias?.requiresGrad ? empty([C], dtype) : null;
    batchNormBackward(dx ? fdata(dx) : null, dw ? fdata(dw) : null, db ? fdata(db) : null, fdata(g), fdata(x), mean, invstd, w,
      B, C, S, training);
    const r: (Tensor | null)[] = [dx];
    if (weight) r.push(dw);
    if (bias) r.push(db);
    return r;
  });
}

// ---- the device path: the backend's batch norm kernels on its arrays

/**
 * batchNorm on a device backend (arguments validated by batchNorm): statistics, the running
 * update and the normalization as kernels; the saved mean and variance [C] stay on the device
 * for the backward.
 */
function batchNormOnDevice(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null,
  o: { training: boolean; momentum: number; eps: number }, be: AnyBackend): Tensor {
  const op = "batchNorm";
  const B = x.shape[0]!, C = x.shape[1]!, S = numel(x.shape.slice(2));
  const { training, momentum, eps } = o;
  if (training && runningMean && runningVar) {
    // updated in place: they must live where the kernel writes
    for (const [arg, t] of [["runningMean", runningMean], ["runningVar", runningVar]] as const) {
      if (t.device === null || (t.store as unknown) !== be) {
        throw new ValueError(op, arg, `a buffer on the ${be.name} device (updated there in place when training)`,
          t.device === null ? "a host tensor" : `a tensor on the ${t.store!.name} device`);
      }
    }
  }
  let mean: KernelArray, variance: KernelArray; // [C]
  const temps: KernelArray[] = [];
  if (training) {
    mean = be.alloc(C);
    variance = be.alloc(C);
    temps.push(mean, variance);
    be.batchNormStats(mean, variance, arrayOf(x, be), B, C, S);
    if (runningMean && runningVar) {
      be.batchNormUpdate(arrayOf(runningMean, be), arrayOf(runningVar, be), mean, variance, C, momentum, (B * S) / (B * S - 1));
      runningMean.deviceWritten();
      runningVar.deviceWritten();
    }
  } else {
    // a snapshot of the running buffers, as the host path takes (a later update must not reach the backward)
    mean = be.alloc(C);
    variance = be.alloc(C);
    temps.push(mean, variance);
    be.stridedCopy(mean, arrayOf(runningMean!, be), [C], [1]);
    be.stridedCopy(variance, arrayOf(runningVar!, be), [C], [1]);
  }
  const out = emptyOn(be, x.shape, x.dtype);
  const w = weight ? arrayOf(weight, be) : null;
  be.batchNormForward(arrayOf(out, be), arrayOf(x, be), mean, variance, w, bias ? arrayOf(bias, be) : null, B, C, S, eps);
  const inputs: Tensor[] = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const rec = attach(out, op, inputs, (g) => {
    const dx = x.requiresGrad ? emptyOn(be, x.shape, x.dtype) : null;
    const dw = weight?.requiresGrad ? emptyOn(be, [C], x.dtype) : null;
    const db = bias?.requiresGrad ? emptyOn(be, [C], x.dtype) : null;
    be.batchNormBackward(dx ? arrayOf(dx, be) : null, dw ? arrayOf(dw, be) : null, db ? arrayOf(db, be) : null, arrayOf(g, be),
      arrayOf(x, be), mean, variance, w, B, C, S, eps, training);
    const r: (Tensor | null)[] = [dx];
    if (weight) r.push(dw);
    if (bias) r.push(db);
    return r;
  });
  // the batch statistics go back now when there is no backward; else when the graph is collected
  if (!rec.requiresGrad) for (const a of temps) (be as DeviceBackend).release(a as DeviceArray);
  return rec;
}
