/**
 * Head pruning: switch attention heads off and see what accuracy survives. A head is switched off
 * by zeroing its columns of the output projection (head h owns the input columns h*D..(h+1)*D of
 * out_proj.weight), which removes exactly its contribution on every code path (batched, cached,
 * efficient kinds). `headRedundancy` follows Michel et al. (2019): score each head by the accuracy
 * lost when it alone is off, then switch heads off from the least to the most important and count
 * how many can go before accuracy drops by more than the tolerance.
 *
 * ```ts
 * const masker = new HeadMasker(model);
 * masker.set([0, 3]);            // heads 0 and 3 of the model's list (masker.heads) off
 * masker.set([]);                // all back on
 * const r = headRedundancy(masker, () => accuracyOf(model), 0.01);
 * r.prunable;                    // heads that went before the drop exceeded 1 point
 * ```
 */
import { MultiheadAttention } from "../../nn/multihead-attention.js";
import type { Module } from "../../nn/module.js";
import { ValueError } from "../../tensor/errors.js";

export interface HeadRef {
  /** The attention module's dotted name. */
  module: string;
  head: number;
}

export class HeadMasker {
  readonly heads: HeadRef[] = [];
  private readonly mods: { name: string; mha: MultiheadAttention; original: Float32Array }[] = [];

  constructor(model: Module) {
    for (const [name, m] of model.namedModules()) {
      if (!(m instanceof MultiheadAttention)) continue;
      this.mods.push({ name, mha: m, original: Float32Array.from(m.outProj.weight.data as Float32Array) });
      for (let h = 0; h < m.numHeads; h++) this.heads.push({ module: name, head: h });
    }
  }

  /** Switches off exactly the heads at these indices of `heads` (the others on). */
  set(off: Iterable<number>): void {
    const offSet = new Set(off);
    for (const i of offSet) {
      if (!Number.isInteger(i) || i < 0 || i >= this.heads.length) throw new ValueError("HeadMasker.set", "off", `indices in [0, ${this.heads.length})`, String(i));
    }
    let i = 0;
    for (const { mha, original } of this.mods) {
      const w = mha.outProj.weight.data as Float32Array; // [E, E]: out x in
      w.set(original);
      const E = mha.embedDim, D = mha.headDim;
      for (let h = 0; h < mha.numHeads; h++, i++) {
        if (!offSet.has(i)) continue;
        for (let r = 0; r < E; r++) w.fill(0, r * E + h * D, r * E + (h + 1) * D);
      }
    }
  }
}

export interface RedundancyResult {
  /** Accuracy with every head on. */
  base: number;
  /** Accuracy lost when each head alone is off (index of masker.heads). */
  importance: number[];
  /** Accuracy after switching off 1, 2, ... heads in order of importance (until the drop exceeded the tolerance, that step included). */
  curve: number[];
  /** Heads switched off before the drop exceeded the tolerance. */
  prunable: number;
  total: number;
}

/** Greedy pruning by single-head importance (see the file comment); leaves every head on. */
export function headRedundancy(masker: Pick<HeadMasker, "heads" | "set">, evaluate: () => number, tolerance = 0.01): RedundancyResult {
  const n = masker.heads.length;
  masker.set([]);
  const base = evaluate();
  const importance: number[] = [];
  for (let i = 0; i < n; i++) {
    masker.set([i]);
    importance.push(base - evaluate());
  }
  const order = importance.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  const curve: number[] = [];
  let prunable = 0;
  for (let k = 1; k <= n; k++) {
    masker.set(order.slice(0, k));
    const acc = evaluate();
    curve.push(acc);
    if (base - acc > tolerance + 1e-12) break;
    prunable = k;
  }
  masker.set([]);
  return { base, importance, curve, prunable, total: n };
}
