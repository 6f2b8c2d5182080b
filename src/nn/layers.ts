/**
 * Basic layers with PyTorch's parameter names and initialization: Linear, LayerNorm, Embedding,
 * Dropout.
 *
 * ```ts
 * const lin = new Linear(8, 4);            // weight [4, 8], bias [4]
 * const y = lin.forward(randn([2, 8]));    // [2, 4]
 * ```
 */
import { checkDropoutP } from "../ops/util.js";
import { dropout } from "../ops/functional.js";
import { embedding } from "../ops/functional.js";
import { linear } from "../ops/matmul.js";
import { addLayerNorm, layerNorm } from "../ops/norm.js";
import { ValueError } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import type { Tensor } from "../tensor/tensor.js";
import { linearDefault, normal, onesParam, zerosParam } from "./init.js";
import { Module } from "./module.js";

function positiveInt(v: number, arg: string, op: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; generator?: Generator } = {}) {
    super();
    positiveInt(inFeatures, "inFeatures", "Linear");
    positiveInt(outFeatures, "outFeatures", "Linear");
    this.weight = this.registerParameter("weight", linearDefault([outFeatures, inFeatures], inFeatures, opts.generator));
    this.bias = this.registerParameter("bias", opts.bias ?? true ? linearDefault([outFeatures], inFeatures, opts.generator) : null);
  }
  /** [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | readonly number[], readonly opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape.slice();
    this.normalizedShape.forEach((d) => positiveInt(d, "normalizedShape", "LayerNorm"));
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter("weight", affine ? onesParam(this.normalizedShape) : null);
    this.bias = this.registerParameter("bias", affine && (opts.bias ?? true) ? zerosParam(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
  /** x + r and forward(x + r), a residual add and the norm after it: one kernel where the backend has it (ops/norm.ts's addLayerNorm). */
  addAndForward(x: Tensor, r: Tensor): { sum: Tensor; out: Tensor } {
    return addLayerNorm(x, r, this.normalizedShape, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly opts: { paddingIdx?: number; generator?: Generator } = {}) {
    super();
    positiveInt(numEmbeddings, "numEmbeddings", "Embedding");
    positiveInt(embeddingDim, "embeddingDim", "Embedding");
    const w = normal([numEmbeddings, embeddingDim], 0, 1, opts.generator);
    const p = opts.paddingIdx;
    if (p !== undefined) {
      if (!Number.isInteger(p) || p < -numEmbeddings || p >= numEmbeddings) {
        throw new ValueError("Embedding", "paddingIdx", `an integer in [${-numEmbeddings}, ${numEmbeddings})`, String(p));
      }
      const row = p < 0 ? p + numEmbeddings : p;
      w.data.fill(0, row * embeddingDim, (row + 1) * embeddingDim);
      this.opts = { ...opts, paddingIdx: row };
    }
    this.weight = this.registerParameter("weight", w);
  }
  /** int32 ids [...] -> [..., embeddingDim] */
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight, this.opts.paddingIdx !== undefined ? { paddingIdx: this.opts.paddingIdx } : {});
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly generator?: Generator) {
    super();
    checkDropoutP(p, "Dropout");
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, ...(this.generator ? { generator: this.generator } : {}) });
  }
}
