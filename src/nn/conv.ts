/**
 * Image layers with PyTorch's names, buffers and initialization: Conv2d, MaxPool2d, AvgPool2d,
 * AdaptiveAvgPool2d, BatchNorm2d. Inputs are NCHW.
 *
 * ```ts
 * const conv = new Conv2d(3, 16, 3, { padding: 1 });  // weight [16, 3, 3, 3], bias [16]
 * const bn = new BatchNorm2d(16);                     // running_mean, running_var, num_batches_tracked
 * const y = new MaxPool2d(2).forward(relu(bn.forward(conv.forward(x)))); // [B, 3, 32, 32] -> [B, 16, 16, 16]
 * ```
 */
import { batchNorm } from "../ops/batchnorm.js";
import { pair, type IntPair } from "../ops/conv-args.js";
import { conv2d, type Conv2dOptions } from "../ops/conv.js";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, type AvgPool2dOptions, type MaxPool2dOptions } from "../ops/pool.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { kaimingUniform, linearDefault, onesParam, zerosParam } from "./init.js";
import { Module } from "./module.js";

function positiveInt(v: number, arg: string, op: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
}

export interface Conv2dModuleOptions extends Conv2dOptions {
  /** A learnable bias [outChannels] (default true). */
  bias?: boolean;
  generator?: Generator;
}

/**
 * nn.Conv2d: weight [O, C / groups, kH, kW] from kaiming_uniform(a = sqrt(5)) (U(±1/sqrt(fan_in)),
 * fan_in = C / groups * kH * kW), bias [O] from U(±1/sqrt(fan_in)).
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: [number, number];
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: IntPair, readonly opts: Conv2dModuleOptions = {}) {
    super();
    const op = "Conv2d";
    positiveInt(inChannels, "inChannels", op);
    positiveInt(outChannels, "outChannels", op);
    this.kernelSize = pair(kernelSize, "kernelSize", op, 1);
    const groups = opts.groups ?? 1;
    positiveInt(groups, "groups", op);
    if (inChannels % groups !== 0) throw new ValueError(op, "groups", `a divisor of inChannels ${inChannels}`, String(groups));
    if (outChannels % groups !== 0) throw new ValueError(op, "groups", `a divisor of outChannels ${outChannels}`, String(groups));
    const [sH, sW] = pair(opts.stride ?? 1, "stride", op, 1);
    pair(opts.dilation ?? 1, "dilation", op, 1);
    const p = opts.padding ?? 0;
    if (p === "same" && (sH !== 1 || sW !== 1)) throw new ValueError(op, "padding", '"same" with stride 1 only', `"same" with stride [${sH}, ${sW}]`);
    if (p !== "same" && p !== "valid") pair(p, "padding", op, 0);
    const [kH, kW] = this.kernelSize;
    const fanIn = (inChannels / groups) * kH * kW;
    this.weight = this.registerParameter("weight", kaimingUniform([outChannels, inChannels / groups, kH, kW], Math.sqrt(5), opts.generator));
    this.bias = this.registerParameter("bias", opts.bias ?? true ? linearDefault([outChannels], fanIn, opts.generator) : null);
  }
  /** [B, C, H, W] -> [B, O, oH, oW] */
  forward(x: Tensor): Tensor {
    const { stride, padding, dilation, groups } = this.opts;
    return conv2d(x, this.weight, this.bias, { stride, padding, dilation, groups });
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: IntPair, readonly opts: MaxPool2dOptions = {}) {
    super();
    pair(kernelSize, "kernelSize", "MaxPool2d", 1);
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: IntPair, readonly opts: AvgPool2dOptions = {}) {
    super();
    pair(kernelSize, "kernelSize", "AvgPool2d", 1);
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.opts);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | readonly [number | null, number | null]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  /** Running-update weight (default 0.1); null: a cumulative average (1 / num_batches_tracked). */
  momentum?: number | null;
  /** Learnable weight (ones) and bias (zeros), default true. */
  affine?: boolean;
  /** Keep running_mean / running_var / num_batches_tracked buffers (default true); without them eval uses batch statistics. */
  trackRunningStats?: boolean;
}

/**
 * nn.BatchNorm2d over x [B, C, H, W]: in training, batch statistics (biased variance) and an update
 * of running_mean / running_var (unbiased variance) and num_batches_tracked; in eval, the running ones.
 */
export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  constructor(readonly numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super();
    const op = "BatchNorm2d";
    positiveInt(numFeatures, "numFeatures", op);
    this.eps = opts.eps ?? 1e-5;
    if (!(this.eps >= 0) || this.eps === Infinity) throw new ValueError(op, "eps", "a non-negative number", String(this.eps));
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (this.momentum !== null && !Number.isFinite(this.momentum)) throw new ValueError(op, "momentum", "a finite number or null", String(this.momentum));
    const affine = opts.affine ?? true, track = opts.trackRunningStats ?? true;
    this.weight = this.registerParameter("weight", affine ? onesParam([numFeatures]) : null);
    this.bias = this.registerParameter("bias", affine ? zerosParam([numFeatures]) : null);
    this.runningMean = this.registerBuffer("running_mean", track ? zerosParam([numFeatures]) : null);
    this.runningVar = this.registerBuffer("running_var", track ? onesParam([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer("num_batches_tracked", track ? new Tensor(new Int32Array(1), [], "int32") : null);
  }
  /** [B, C, H, W] -> [B, C, H, W] */
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || x.rank !== 4 || x.shape[1] !== this.numFeatures) {
      throw new ShapeError("BatchNorm2d", "x", `[B, ${this.numFeatures}, H, W]`, x instanceof Tensor ? fmtShape(x.shape) : typeof x);
    }
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      const d = this.numBatchesTracked.data;
      d[0] = Number(d[0] ?? 0) + 1;
      momentum = this.momentum ?? 1 / Number(d[0]);
    }
    const useBatch = this.training || !this.runningMean;
    const keep = !this.training || this.numBatchesTracked !== null;
    return batchNorm(x, keep ? this.runningMean : null, keep ? this.runningVar : null, this.weight, this.bias,
      { training: useBatch, momentum, eps: this.eps });
  }
}
