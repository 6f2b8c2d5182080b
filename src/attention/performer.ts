/**
 * Performer attention (FAVOR+): positive orthogonal random features
 *   phi(x) = exp(w_r · x' − |x'|² / 2) / sqrt(m),  x' = x · sqrt(scale),
 * so that E[phi(q)·phi(k)] = exp(scale · q·k), then linear attention over phi (causal through the
 * prefix scan). The m feature vectors w_r come in blocks of D mutually orthogonal directions
 * (Gram-Schmidt of a Gaussian matrix) with norms of Gaussian vectors, seeded; `redraw()` draws the
 * next set from the same stream. For stability each query row subtracts its max logit and the keys
 * of a head subtract their common max (both cancel in the normalization, exactly).
 *
 * ```ts
 * const f = new PerformerFeatures(8, 64, 0);                   // D = 8, m = 64, seed 0
 * const { output } = performerAttention(q, k, v, { features: f }); // ≈ scaledDotProductAttention
 * f.redraw();
 * ```
 */
import { favorFeaturesOp } from "../ops/favor-features.js";
import type { FloatDType } from "../tensor/dtype.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { canonQKV, intAtLeast, scaleOf } from "./canon.js";
import { featureAttention } from "./linear.js";
import type { AttentionResult } from "./sdpa.js";

/** m random feature directions [m, D], float64, in orthogonal blocks of D. */
export function orthogonalFeatures(m: number, D: number, gen: Generator): Float64Array {
  const w = new Float64Array(m * D);
  const g = new Float64Array(D * D), norms = new Float64Array(D);
  for (let b0 = 0; b0 < m; b0 += D) {
    gen.fillNormal(g);
    // modified Gram-Schmidt over the rows of g
    for (let r = 0; r < D; r++) {
      for (let p = 0; p < r; p++) {
        let d = 0;
        for (let c = 0; c < D; c++) d += g[r * D + c]! * g[p * D + c]!;
        for (let c = 0; c < D; c++) g[r * D + c]! -= d * g[p * D + c]!;
      }
      let n = 0;
      for (let c = 0; c < D; c++) n += g[r * D + c]! ** 2;
      n = Math.sqrt(n) || 1;
      for (let c = 0; c < D; c++) g[r * D + c]! /= n;
    }
    // row norms distributed as those of Gaussian vectors (chi with D degrees of freedom)
    const rows = Math.min(D, m - b0);
    for (let r = 0; r < rows; r++) {
      const x = new Float64Array(D);
      gen.fillNormal(x);
      let n = 0;
      for (let c = 0; c < D; c++) n += x[c]! ** 2;
      norms[r] = Math.sqrt(n);
      for (let c = 0; c < D; c++) w[(b0 + r) * D + c] = g[r * D + c]! * norms[r]!;
    }
  }
  return w;
}

/** The random features of a Performer layer: m directions for head size D, seeded; redraw() resamples. */
export class PerformerFeatures {
  /** [m, D] float64. */
  omega: Tensor;
  private readonly gen: Generator;
  private cache: Tensor | null = null;

  constructor(readonly headDim: number, readonly numFeatures: number, seed = 0) {
    intAtLeast("PerformerFeatures", "headDim", headDim, 1);
    intAtLeast("PerformerFeatures", "numFeatures", numFeatures, 1);
    this.gen = new Generator(intAtLeast("PerformerFeatures", "seed", seed, 0));
    this.omega = this.draw();
  }

  private draw(): Tensor {
    return new Tensor(orthogonalFeatures(this.numFeatures, this.headDim, this.gen), [this.numFeatures, this.headDim], "float64");
  }

  /** Draws the next set of features from the seeded stream. */
  redraw(): void {
    this.omega = this.draw();
    this.cache = null;
  }

  /** omega in `dtype`. */
  omegaAs(dtype: FloatDType): Tensor {
    if (dtype === "float64") return this.omega;
    if (!this.cache || this.cache.dtype !== dtype) this.cache = new Tensor(Float32Array.from(this.omega.data), this.omega.shape, dtype);
    return this.cache;
  }
}

/** phi(x) [..., N, m] for x [..., N, D]; queries stabilize per row, keys per matrix (ops/favor-features.ts). */
export function favorFeatures(x: Tensor, omega: Tensor, scale: number, isQuery: boolean): Tensor {
  return favorFeaturesOp(x, omega, scale, isQuery);
}

export interface PerformerOptions {
  features: PerformerFeatures;
  causal?: boolean;
  /** The softmax scale approximated; default 1/sqrt(D). */
  scale?: number;
  /** Also return the approximate weights [..., L, S] (O(L·S)). */
  needWeights?: boolean;
}

export function performerAttention(q: Tensor, k: Tensor, v: Tensor, opts: PerformerOptions): AttentionResult {
  const op = "performerAttention";
  const c = canonQKV(op, q, k, v);
  const f = opts.features;
  if (!(f instanceof PerformerFeatures)) throw new ValueError(op, "features", "a PerformerFeatures", String(f));
  if (f.headDim !== c.D) throw new ShapeError(op, "features", `features for head size ${c.D}`, fmtShape([f.numFeatures, f.headDim]));
  const s = scaleOf(op, opts.scale, c.D);
  if (!(s > 0)) throw new ValueError(op, "scale", "a positive number", String(s));
  const omega = f.omegaAs(q.dtype as FloatDType);
  const fq = favorFeatures(q, omega, s, true), fk = favorFeatures(k, omega, s, false);
  return featureAttention(op, fq, fk, v, { ...c, D: f.numFeatures }, opts.causal ?? false, opts.needWeights ?? false);
}
