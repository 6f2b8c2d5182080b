/**
 * The CNN stem of a hybrid Vision Transformer (timm's HybridEmbed): a few convolution stages
 * whose feature map becomes the encoder's tokens — the "CNN + attention" combination. Each stage
 * is a 3x3 convolution (padding 1, no bias), BatchNorm2d, ReLU and a 2x2 max-pool, so s stages
 * reduce H and W by 2^s; a 1x1 convolution `proj` maps the last stage's channels to the token
 * width. Names: backbone.{i}.conv.weight, backbone.{i}.bn.{weight,bias,running_mean,running_var,
 * num_batches_tracked}, proj.{weight,bias}.
 *
 * ```ts
 * const stem = new ConvStem(1, [32, 64], 96);          // two stages: 28x28 -> 7x7
 * const tokens = stem.forward(randn([8, 1, 28, 28]));  // [8, 49, 96]
 * ```
 */
import { relu } from "../ops/elementwise.js";
import { maxPool2d } from "../ops/pool.js";
import { flatten, transpose } from "../ops/shape.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";
import { BatchNorm2d, Conv2d } from "./conv.js";
import { Module, ModuleList } from "./module.js";

/** One stage: conv 3x3 -> BatchNorm2d -> ReLU -> max-pool 2x2. */
export class ConvStage extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(inChannels: number, outChannels: number, opts: { generator?: Generator } = {}) {
    super();
    this.conv = this.registerModule("conv", new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false, ...opts }));
    this.bn = this.registerModule("bn", new BatchNorm2d(outChannels));
  }
  /** [B, C, H, W] -> [B, O, H / 2, W / 2] (floor) */
  forward(x: Tensor): Tensor {
    return maxPool2d(relu(this.bn.forward(this.conv.forward(x))), 2);
  }
}

/** Elements of a ConvStem's state dict (parameters and BatchNorm buffers). */
export function stemStateSize(inChannels: number, channels: readonly number[], dim: number): number {
  let n = 0, c = inChannels;
  for (const o of channels) {
    n += c * o * 9 + 4 * o + 1;
    c = o;
  }
  return n + c * dim + dim;
}

export class ConvStem extends Module {
  readonly backbone: ModuleList<ConvStage>;
  readonly proj: Conv2d;
  /** H and W are divided by this (2^stages). */
  readonly reduction: number;
  constructor(readonly inChannels: number, readonly channels: readonly number[], readonly dim: number, opts: { generator?: Generator } = {}) {
    super();
    if (!Array.isArray(channels) || channels.length === 0) throw new ValueError("ConvStem", "channels", "a non-empty list of stage widths", JSON.stringify(channels) ?? String(channels));
    const stages: ConvStage[] = [];
    let c = inChannels;
    for (const o of channels) {
      stages.push(new ConvStage(c, o, opts));
      c = o;
    }
    this.backbone = this.registerModule("backbone", new ModuleList(stages));
    this.proj = this.registerModule("proj", new Conv2d(c, dim, 1, opts));
    this.reduction = 2 ** channels.length;
  }
  /** x [B, C, H, W] -> tokens [B, (H / r) (W / r), E], r = 2^stages; H and W multiples of r. */
  forward(x: Tensor): Tensor {
    const op = "ConvStem.forward", r = this.reduction;
    expectTensor(x, "x", op);
    if (x.rank !== 4 || x.shape[1] !== this.inChannels || x.shape[2]! % r !== 0 || x.shape[3]! % r !== 0 || x.shape[2] === 0 || x.shape[3] === 0) {
      throw new ShapeError(op, "x", `[B, ${this.inChannels}, H, W] with H and W positive multiples of ${r}`, fmtShape(x.shape));
    }
    let h = x;
    for (const stage of this.backbone) h = stage.forward(h);
    return transpose(flatten(this.proj.forward(h), 2), 1, 2); // [B, E, h, w] -> [B, N, E]
  }
}
