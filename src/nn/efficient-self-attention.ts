/**
 * EfficientSelfAttention: multi-head self-attention whose attention is chosen by one spec
 * (see attention/select.ts): q/k/v/out projections (`q_proj`, `k_proj`, `v_proj`, `out_proj`),
 * plus Linformer's `E` and `F` [k, maxLen] when selected, or a Performer's random features
 * (`redraw()` resamples them).
 *
 * ```ts
 * const attn = new EfficientSelfAttention(64, 8, { kind: "window", window: 64 });
 * const { output } = attn.forward(randn([2, 4096, 64])); // [2, 4096, 64]
 * ```
 */
import { PerformerFeatures } from "../attention/performer.js";
import type { AttentionResult } from "../attention/sdpa.js";
import { efficientAttention, type AttentionSpec } from "../attention/select.js";
import { permute, reshape } from "../ops/shape.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { expectTensor, type Tensor } from "../tensor/tensor.js";
import { normal } from "./init.js";
import { Linear } from "./layers.js";
import { Module } from "./module.js";

export interface EfficientSelfAttentionOptions {
  /** Longest sequence (required by Linformer: E, F are [k, maxLen]). */
  maxLen?: number;
  bias?: boolean;
  generator?: Generator;
}

export class EfficientSelfAttention extends Module {
  readonly headDim: number;
  qProj: Linear;
  kProj: Linear;
  vProj: Linear;
  outProj: Linear;
  E: Tensor | null = null;
  F: Tensor | null = null;
  features: PerformerFeatures | null = null;

  constructor(readonly dModel: number, readonly nHeads: number, readonly spec: AttentionSpec, opts: EfficientSelfAttentionOptions = {}) {
    super();
    const op = "EfficientSelfAttention";
    for (const [arg, v] of [["dModel", dModel], ["nHeads", nHeads]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
    }
    if (dModel % nHeads !== 0) throw new ValueError(op, "dModel", `a multiple of nHeads (${nHeads})`, String(dModel));
    this.headDim = dModel / nHeads;
    const lin = { bias: opts.bias ?? true, ...(opts.generator ? { generator: opts.generator } : {}) };
    this.qProj = this.registerModule("q_proj", new Linear(dModel, dModel, lin));
    this.kProj = this.registerModule("k_proj", new Linear(dModel, dModel, lin));
    this.vProj = this.registerModule("v_proj", new Linear(dModel, dModel, lin));
    this.outProj = this.registerModule("out_proj", new Linear(dModel, dModel, lin));
    if (spec.kind === "linformer") {
      const n = opts.maxLen;
      if (n === undefined || !Number.isInteger(n) || n < 1) throw new ValueError(op, "opts.maxLen", "a positive integer (Linformer's E, F are [k, maxLen])", String(n));
      // N(0, 1/k), as the Linformer paper
      this.E = this.registerParameter("E", normal([spec.k, n], 0, 1 / Math.sqrt(spec.k), opts.generator));
      this.F = this.registerParameter("F", normal([spec.k, n], 0, 1 / Math.sqrt(spec.k), opts.generator));
    }
    if (spec.kind === "performer") this.features = new PerformerFeatures(this.headDim, spec.features, spec.seed);
  }

  /** Draws new Performer features (no-op for the other variants). */
  redraw(): void {
    this.features?.redraw();
  }

  /** x [B, L, dModel] or [L, dModel] -> output of the same shape; weights [B, H, L, *] when asked. */
  forward(x: Tensor, opts: { needWeights?: boolean } = {}): AttentionResult {
    const op = "EfficientSelfAttention.forward";
    expectTensor(x, "x", op);
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== this.dModel) {
      throw new ShapeError(op, "x", `[B, L, ${this.dModel}] or [L, ${this.dModel}]`, fmtShape(x.shape));
    }
    const unbatched = x.rank === 2;
    const B = unbatched ? 1 : x.shape[0]!, L = x.shape[x.rank - 2]!;
    const H = this.nHeads, Dh = this.headDim;
    const heads = (t: Tensor): Tensor => permute(reshape(t, [B, L, H, Dh]), [0, 2, 1, 3]); // [B, H, L, Dh]
    const q = heads(this.qProj.forward(x)), k = heads(this.kProj.forward(x)), v = heads(this.vProj.forward(x));
    const r = efficientAttention(q, k, v, this.spec, {
      needWeights: opts.needWeights ?? false,
      ...(this.E && this.F ? { E: this.E, F: this.F } : {}),
      ...(this.features ? { features: this.features } : {}),
    });
    const merged = reshape(permute(r.output, [0, 2, 1, 3]), unbatched ? [L, this.dModel] : [B, L, this.dModel]);
    return { output: this.outProj.forward(merged), weights: r.weights };
  }
}
