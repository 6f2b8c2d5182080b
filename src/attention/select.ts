/**
 * One option selects the attention variant: `efficientAttention(q, k, v, spec)` dispatches to the
 * exact full attention, the exact sparse variants (window, dilated, longformer, bigbird, block),
 * the low-rank ones (linformer, nystrom) or the linear ones (linear, performer).
 * Window sizes of window/dilated/longformer are in tokens, bigbird's window and numGlobal in blocks.
 * `causal` (query i sees keys j <= i) exists for every kind but linformer and nystrom; attention/causal.ts
 * maps a spec onto its causal form.
 *
 * ```ts
 * const q = randn([1, 8, 4096, 64]), k = randn([1, 8, 4096, 64]), v = randn([1, 8, 4096, 64]);
 * const { output } = efficientAttention(q, k, v, { kind: "window", window: 128, causal: true });
 * const { output: o2 } = efficientAttention(q, k, v, { kind: "performer", features: 256, seed: 0 });
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { bigbirdAttention } from "./bigbird.js";
import { blockSparseAttention } from "./block-sparse.js";
import { canonQKV } from "./canon.js";
import { longformerAttention } from "./global.js";
import { linearAttention } from "./linear.js";
import { linformerAttention } from "./linformer.js";
import { nystromAttention } from "./nystrom.js";
import { PerformerFeatures, performerAttention } from "./performer.js";
import { scaledDotProductAttention, type AttentionResult } from "./sdpa.js";
import { dilatedWindowAttention, windowAttention } from "./window.js";

export type AttentionSpec =
  | { kind: "full"; causal?: boolean }
  | { kind: "window"; window: number; causal?: boolean }
  | { kind: "dilated"; window: number; dilation: number; causal?: boolean }
  | { kind: "longformer"; window: number; numGlobal: number; causal?: boolean }
  | { kind: "bigbird"; window: number; numGlobal: number; numRandom: number; blockSize: number; seed: number; causal?: boolean }
  | { kind: "block"; layout: Tensor; blockSize: number; causal?: boolean }
  | { kind: "linformer"; k: number }
  | { kind: "nystrom"; landmarks: number }
  | { kind: "linear"; causal?: boolean }
  | { kind: "performer"; features: number; seed: number; causal?: boolean };

export type AttentionKind = AttentionSpec["kind"];

export const attentionKinds: readonly AttentionKind[] = [
  "full", "window", "dilated", "longformer", "bigbird", "block", "linformer", "nystrom", "linear", "performer",
];

export interface EfficientAttentionOptions {
  /** Score scale; default 1/sqrt(D). (Not used by linear.) */
  scale?: number;
  /** Also return the weights (exact or approximate; O(L·S) memory). */
  needWeights?: boolean;
  /** Linformer's projections [k, S'] (required for kind "linformer"). */
  E?: Tensor;
  F?: Tensor;
  /** Performer's random features (default: drawn from spec.seed). */
  features?: PerformerFeatures;
}

/** True for the variants that compute exactly what full attention with their mask computes. */
export function isExact(spec: AttentionSpec): boolean {
  return ["full", "window", "dilated", "longformer", "bigbird", "block"].includes(spec.kind);
}

export function efficientAttention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec, opts: EfficientAttentionOptions = {}): AttentionResult {
  const op = "efficientAttention";
  const common = { ...(opts.scale !== undefined ? { scale: opts.scale } : {}), needWeights: opts.needWeights ?? false };
  switch (spec.kind) {
    case "full": return scaledDotProductAttention(q, k, v, { ...common, isCausal: spec.causal ?? false });
    case "window": return windowAttention(q, k, v, { ...common, window: spec.window, causal: spec.causal ?? false });
    case "dilated": return dilatedWindowAttention(q, k, v, { ...common, window: spec.window, dilation: spec.dilation, causal: spec.causal ?? false });
    case "longformer": return longformerAttention(q, k, v, { ...common, window: spec.window, numGlobal: spec.numGlobal, causal: spec.causal ?? false });
    case "bigbird": return bigbirdAttention(q, k, v, { ...common, ...spec });
    case "block": return blockSparseAttention(q, k, v, { ...common, layout: spec.layout, blockSize: spec.blockSize, causal: spec.causal ?? false });
    case "linformer": {
      if (!opts.E || !opts.F) throw new ValueError(op, "opts.E/opts.F", "Linformer projections [k, S]", "none");
      if (opts.E.shape[0] !== spec.k) throw new ValueError(op, "spec.k", `the rows of E (${opts.E.shape[0]})`, String(spec.k));
      return linformerAttention(q, k, v, opts.E, opts.F, common);
    }
    case "nystrom": return nystromAttention(q, k, v, { ...common, landmarks: spec.landmarks });
    case "linear": return linearAttention(q, k, v, { causal: spec.causal ?? false, needWeights: common.needWeights });
    case "performer": {
      const features = opts.features ?? new PerformerFeatures(canonQKV(op, q, k, v).D, spec.features, spec.seed);
      return performerAttention(q, k, v, { ...common, features, causal: spec.causal ?? false });
    }
    default: {
      const bad: { kind?: unknown } = spec;
      throw new ValueError(op, "spec.kind", attentionKinds.join(" | "), String(bad.kind));
    }
  }
}
