/**
 * Causal attention variants for decoders: `causalForm` maps a spec onto its causal form (query i
 * sees keys j <= i) or refuses the kinds that have none (linformer, nystrom: their compressed keys
 * mix every position); `cachedAttention` runs the exact sparse kinds for T new queries after
 * `past` cached positions (token-by-token decoding), the same rows as the causal pass over all
 * past + T positions would give.
 *
 * ```ts
 * const spec = causalForm({ kind: "window", window: 64 }, "myDecoder", "attention"); // causal: true
 * const { output } = cachedAttention(q, k, v, spec, past); // q [B, H, T, D], k, v [B, H, past + T, D]
 * ```
 */
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { bigbirdPattern } from "./bigbird.js";
import { checkLowerTriangular } from "./block-sparse.js";
import { canonQKV, intAtLeast } from "./canon.js";
import { longformerPattern } from "./global.js";
import type { AttentionResult } from "./sdpa.js";
import type { AttentionKind, AttentionSpec } from "./select.js";
import { sparseAttention, type SparsePattern } from "./sparse.js";
import { dilatedWindowPattern, windowPattern } from "./window.js";

/** The kinds with a causal form. */
export const causalKinds: readonly AttentionKind[] = ["full", "window", "dilated", "longformer", "bigbird", "block", "linear", "performer"];

/** The efficient kinds `cachedAttention` runs (full attention with a cache is a masked sdpa). */
export const cachedKinds: readonly AttentionKind[] = ["window", "dilated", "longformer", "bigbird"];

/**
 * `spec` with `causal: true`. Throws a ValueError (op, arg, got) for linformer and nystrom, and for
 * a block layout with a block above the diagonal.
 */
export function causalForm(spec: AttentionSpec, op: string, arg: string, got?: string): AttentionSpec {
  switch (spec.kind) {
    case "block":
      if (spec.layout.rank === 2) checkLowerTriangular(op, `${arg}.layout`, spec.layout);
      return { ...spec, causal: true };
    case "full": case "window": case "dilated": case "longformer": case "bigbird": case "linear": case "performer":
      return { ...spec, causal: true };
    default:
      throw new ValueError(op, arg, `an attention kind with a causal form (${causalKinds.join(" | ")})`, got ?? JSON.stringify(spec.kind));
  }
}

/**
 * Causal attention of L new queries at positions past .. past + L - 1 over the S = past + L keys
 * so far, for the kinds of `cachedKinds`: q [B, H, L, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv]
 * -> output [B, H, L, Dv] (weights [B, H, L, S] with needWeights). Exact, O(L · keys per row).
 */
export function cachedAttention(q: Tensor, k: Tensor, v: Tensor, spec: AttentionSpec, past: number,
  opts: { needWeights?: boolean } = {}, op = "cachedAttention"): AttentionResult {
  const c = canonQKV(op, q, k, v);
  intAtLeast(op, "past", past, 0);
  if (c.S !== past + c.L) throw new ShapeError(op, "k", `S = past + L = ${past + c.L} keys`, fmtShape(k.shape));
  let pattern: SparsePattern;
  switch (spec.kind) {
    case "window":
      pattern = windowPattern(c.L, c.S, intAtLeast(op, "spec.window", spec.window, 0), true, past);
      break;
    case "dilated":
      pattern = dilatedWindowPattern(c.L, c.S, intAtLeast(op, "spec.window", spec.window, 0), intAtLeast(op, "spec.dilation", spec.dilation, 1), true, past);
      break;
    case "longformer":
      pattern = longformerPattern(c.L, c.S, intAtLeast(op, "spec.window", spec.window, 0), intAtLeast(op, "spec.numGlobal", spec.numGlobal, 0), true, past);
      break;
    case "bigbird":
      pattern = bigbirdPattern(c.L, c.S, { ...spec, causal: true }, past);
      break;
    default:
      throw new ValueError(op, "spec.kind", `a kind with cached decoding (${cachedKinds.join(" | ")})`, JSON.stringify(spec.kind));
  }
  return sparseAttention(q, k, v, pattern, { needWeights: opts.needWeights ?? false }, op);
}
