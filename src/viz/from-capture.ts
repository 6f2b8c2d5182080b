/**
 * Captured attention (interpret/capture.ts) as the data of an attention page: records grouped by
 * role (the dotted name with its layer index replaced, e.g. "encoder.layers.*.self_attn"), one
 * view layer per module, the heads of batch row `b`; for each self-attention group of at least one
 * layer over one sequence, its rollout and (for inputs up to `flowMaxTokens`) its flow, and
 * per-head statistics.
 *
 * ```ts
 * const { records } = captureAttention(model, () => model.forward(src, tgtIn));
 * const html = attentionPageHtml(pageDataFromCapture(records, {
 *   title: "translation", labels: (r) => r.name.startsWith("encoder.") ? { rows: srcToks, cols: srcToks }
 *     : r.kind === "cross" ? { rows: tgtToks, cols: srcToks } : { rows: tgtToks, cols: tgtToks },
 * }));
 * ```
 */
import type { AttentionRecord } from "../interpret/capture.js";
import { headStats } from "../interpret/head-stats.js";
import { attentionFlow, attentionRollout, headMean } from "../interpret/rollout.js";
import { ValueError } from "../tensor/errors.js";
import type { AttentionPageData, ViewGroup, ViewMatrix } from "./attention-view.js";

export interface PageFromCaptureOptions {
  title: string;
  subtitle?: string;
  /** Token labels of a record's queries (rows) and keys (cols). */
  labels: (r: AttentionRecord) => { rows: string[]; cols: string[] };
  /** Batch row to show (default 0). */
  b?: number;
  /** Which call of each module to show (default 0: the first). */
  call?: number;
  /** Attention flow only up to this many tokens (default 48: n² max-flow problems). */
  flowMaxTokens?: number;
}

/** "decoder.layers.3.self_attn" -> "decoder.layers.*.self_attn". */
export const groupKey = (name: string): string => name.replace(/(^|\.)(\d+)(?=\.|$)/g, "$1*");

export function pageDataFromCapture(records: readonly AttentionRecord[], o: PageFromCaptureOptions): AttentionPageData {
  const op = "pageDataFromCapture";
  const b = o.b ?? 0, call = o.call ?? 0;
  const chosen = records.filter((r) => r.kind !== "graph" && r.call === call);
  if (!chosen.length) throw new ValueError(op, "records", `sequence attention records of call ${call}`, `none among ${records.length} records`);
  const groups = new Map<string, ViewGroup & { recs: AttentionRecord[] }>();
  for (const r of chosen) {
    const [B, H, L, S] = r.weights.shape as [number, number, number, number];
    if (b < 0 || b >= B) throw new ValueError(op, "b", `a batch row in [0, ${B})`, String(b));
    const lab = o.labels(r);
    if (!Array.isArray(lab?.rows) || lab.rows.length !== L) throw new ValueError(op, "labels", `${L} query labels for ${r.name} (its weights are [${r.weights.shape.join(", ")}])`, `${lab?.rows?.length} labels`);
    if (!Array.isArray(lab.cols) || lab.cols.length !== S) throw new ValueError(op, "labels", `${S} key labels for ${r.name} (its weights are [${r.weights.shape.join(", ")}])`, `${lab.cols?.length} labels`);
    const key = groupKey(r.name) || "attention";
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: `${key} (${r.kind === "cross" ? "cross-attention" : "self-attention"})`, rows: lab.rows, cols: lab.cols, layers: [], recs: [] }));
    if (g.rows.length !== L || g.cols.length !== S) throw new ValueError(op, "records", `the same [L, S] across ${key}`, `[${L}, ${S}] in ${r.name}`);
    const heads: Float32Array[] = [];
    for (let h = 0; h < H; h++) heads.push(Float32Array.from(r.weights.data.subarray(((b * H + h) * L) * S, ((b * H + h + 1) * L) * S), Number));
    g.layers.push({ name: r.name, heads });
    g.recs.push(r);
  }
  const matrices: ViewMatrix[] = [];
  const stats: { layer: string; heads: ReturnType<typeof headStats> }[] = [];
  for (const [key, g] of groups) {
    for (const r of g.recs) stats.push({ layer: r.name, heads: headStats(r.weights, { cross: r.kind === "cross" }) });
    const n = g.rows.length;
    if (g.recs[0]!.kind !== "self" || g.cols.length !== n) continue;
    const layers = g.recs.map((r) => headMean(r.weights, b));
    matrices.push({ name: `rollout of ${key} (${layers.length} layers, residual as rownorm(W + I))`, rows: g.rows, cols: g.cols, values: attentionRollout(layers, n) });
    if (n <= (o.flowMaxTokens ?? 48)) matrices.push({ name: `attention flow of ${key}`, rows: g.rows, cols: g.cols, values: attentionFlow(layers, n) });
  }
  return {
    title: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}),
    groups: [...groups.values()].map(({ name, rows, cols, layers }) => ({ name, rows, cols, layers })),
    matrices, stats,
  };
}
