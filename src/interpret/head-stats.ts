/**
 * Which heads look where: per-head statistics of attention weights [B, H, L, S], averaged over the
 * batch and the query rows (rows whose weights are all zero, i.e. fully masked, are left out).
 * - entropy: -Σ_j w_ij ln w_ij in nats (0: one key; ln S: uniform);
 * - meanDistance: Σ_j w_ij |p_i - j| in positions, with query i at key position p_i = i + S - L
 *   (queries are the last L positions: self-attention, and decoding rows after a KV cache); null
 *   for cross-attention;
 * - self / previous / next / first: the weight on key p_i, p_i - 1, p_i + 1 and 0 (the first
 *   three null for cross-attention);
 * - maxWeight: the mean of each row's largest weight.
 *
 * ```ts
 * const stats = headStats(record.weights, { cross: record.kind === "cross" });
 * stats[0]; // { head: 0, entropy: 0.91, meanDistance: 1.4, self: 0.2, previous: 0.6, next: 0.05, first: 0.1, maxWeight: 0.62 }
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

export interface HeadStats {
  head: number;
  entropy: number;
  meanDistance: number | null;
  self: number | null;
  previous: number | null;
  next: number | null;
  first: number;
  maxWeight: number;
}

/** Per-head statistics of weights [B, H, L, S]; `cross` marks queries and keys from different sequences. */
export function headStats(weights: Tensor, opts: { cross?: boolean } = {}): HeadStats[] {
  if (weights.rank !== 4) throw new ValueError("headStats", "weights", "[B, H, L, S]", `[${weights.shape.join(", ")}]`);
  const [B, H, L, S] = weights.shape as [number, number, number, number];
  const cross = opts.cross ?? false;
  const d = weights.data;
  const out: HeadStats[] = [];
  for (let h = 0; h < H; h++) {
    let rows = 0, ent = 0, dist = 0, self = 0, prev = 0, next = 0, first = 0, mx = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        const base = ((b * H + h) * L + i) * S;
        const p = i + S - L;
        let sum = 0, e = 0, dd = 0, m = 0;
        for (let j = 0; j < S; j++) {
          const w = Number(d[base + j]);
          if (!(w > 0)) continue;
          sum += w;
          e -= w * Math.log(w);
          dd += w * Math.abs(p - j);
          if (w > m) m = w;
        }
        if (!(sum > 0)) continue;
        rows++;
        ent += e;
        dist += dd;
        mx += m;
        first += Number(d[base]);
        if (p >= 0 && p < S) self += Number(d[base + p]);
        if (p - 1 >= 0 && p - 1 < S) prev += Number(d[base + p - 1]);
        if (p + 1 < S && p + 1 >= 0) next += Number(d[base + p + 1]);
      }
    }
    const n = Math.max(rows, 1);
    out.push({
      head: h, entropy: ent / n, meanDistance: cross ? null : dist / n, self: cross ? null : self / n, previous: cross ? null : prev / n,
      next: cross ? null : next / n, first: first / n, maxWeight: mx / n,
    });
  }
  return out;
}
