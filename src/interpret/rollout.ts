/**
 * Attention rollout and attention flow (Abnar & Zuidema 2020, "Quantifying Attention Flow in
 * Transformers") over a stack of self-attention layers, and the head average they start from.
 *
 * Residual convention: each layer's (head-averaged) weights W [n, n] become
 * A = rownorm(W + I), the residual connection as an identity added to the attention, rows
 * renormalized to sum 1 (for rows of W that sum to 1 this is 0.5 W + 0.5 I). Rows of W that are
 * all zero (fully masked queries) become the identity row.
 * - rollout: R = A_L · … · A_2 · A_1; R[i, j] is how much the top-layer position i draws from
 *   input token j.
 * - flow: the layered graph with nodes (l, i), l = 0..L, and an edge (l, i) -> (l - 1, j) of
 *   capacity A_l[i, j]; F[i, j] is the value of a maximum flow from (L, i) to (0, j), each row then
 *   divided by its sum (as the reference implementation does; `normalize: false` keeps the raw
 *   values).
 *
 * ```ts
 * const layers = records.filter((r) => r.name.startsWith("encoder.")).map((r) => headMean(r.weights)); // [n, n] each
 * const R = attentionRollout(layers, n); // Float64Array [n, n], rows sum to 1
 * const F = attentionFlow(layers, n);    // Float64Array [n, n]
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { FlowNetwork } from "./maxflow.js";

/** Head average of weights [B, H, L, S] at batch row `b`: Float64Array [L, S]. */
export function headMean(weights: Tensor, b = 0): Float64Array {
  const op = "headMean";
  if (weights.rank !== 4) throw new ValueError(op, "weights", "[B, H, L, S]", `[${weights.shape.join(", ")}]`);
  const [B, H, L, S] = weights.shape as [number, number, number, number];
  if (!Number.isInteger(b) || b < 0 || b >= B) throw new ValueError(op, "b", `a batch index in [0, ${B})`, String(b));
  const out = new Float64Array(L * S);
  for (let h = 0; h < H; h++) {
    const base = (b * H + h) * L * S;
    for (let i = 0; i < L * S; i++) out[i]! += Number(weights.data[base + i]) / H;
  }
  return out;
}

function checkLayers(op: string, layers: readonly ArrayLike<number>[], n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new ValueError(op, "n", "a positive integer", String(n));
  if (!Array.isArray(layers) || layers.length === 0) throw new ValueError(op, "layers", "a non-empty array of [n, n] matrices", Array.isArray(layers) ? "[]" : typeof layers);
  layers.forEach((w, l) => {
    if (w === null || typeof w !== "object" || w.length !== n * n) {
      throw new ValueError(op, `layers[${l}]`, `n x n = ${n * n} values (a square self-attention map)`, w && typeof w === "object" ? `${w.length} values` : typeof w);
    }
  });
}

/** rownorm(W + I) of one layer (or W with rows renormalized when `residual` is false). */
export function residualAttention(w: ArrayLike<number>, n: number, residual = true): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const v = Number(w[i * n + j]) + (residual && i === j ? 1 : 0);
      a[i * n + j] = v;
      s += v;
    }
    if (s > 0) for (let j = 0; j < n; j++) a[i * n + j]! /= s;
    else a[i * n + i] = 1;
  }
  return a;
}

/** A [n, n] · B [n, n]. */
function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return c;
}

export interface RolloutOptions {
  /** Add the identity for the residual connection before renormalizing (default true). */
  residual?: boolean;
}

/**
 * Attention rollout of layers (first layer first), each [n, n] row-major head-averaged weights:
 * R = A_L · … · A_1 with A_l = rownorm(W_l + I). Returns [n, n] row-major.
 */
export function attentionRollout(layers: readonly ArrayLike<number>[], n: number, opts: RolloutOptions = {}): Float64Array {
  checkLayers("attentionRollout", layers, n);
  let r = residualAttention(layers[0]!, n, opts.residual ?? true);
  for (let l = 1; l < layers.length; l++) r = matmul(residualAttention(layers[l]!, n, opts.residual ?? true), r, n);
  return r;
}

export interface FlowOptions extends RolloutOptions {
  /** Divide each row by its sum (default true). */
  normalize?: boolean;
}

/**
 * Attention flow of layers (first layer first), each [n, n]: F[i, j] = max-flow from position i
 * of the top layer to input token j through the layered graph of capacities A_l = rownorm(W_l + I).
 * n² max-flow problems over (L + 1) n nodes: meant for short inputs (a few dozen tokens).
 */
export function attentionFlow(layers: readonly ArrayLike<number>[], n: number, opts: FlowOptions = {}): Float64Array {
  checkLayers("attentionFlow", layers, n);
  const L = layers.length;
  const g = new FlowNetwork((L + 1) * n);
  layers.forEach((w, l) => {
    const a = residualAttention(w, n, opts.residual ?? true);
    // node (l, i) is l * n + i; layer l + 1's position i reads layer l's position j with capacity a[i, j]
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (a[i * n + j]! > 0) g.addEdge((l + 1) * n + i, l * n + j, a[i * n + j]!);
  });
  const f = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      f[i * n + j] = g.maxFlow(L * n + i, j);
      s += f[i * n + j]!;
    }
    if ((opts.normalize ?? true) && s > 0) for (let j = 0; j < n; j++) f[i * n + j]! /= s;
  }
  return f;
}
