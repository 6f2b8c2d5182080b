/**
 * The sequence classifiers the experiments compare, one class over four bodies: LSTM, GRU, a
 * transformer encoder with full attention, and the same encoder with an efficient attention
 * variant (attention/select.ts). Each reads ids [B, L] and classifies from the last position
 * (where the query token sits). `embed` and `head` are separate so that the gradient with respect
 * to each input position can be taken (gradient-flow experiment).
 *
 * Widths are chosen to match a parameter budget (`matchedConfig`): transformers by their width E
 * (a multiple of the head count, feed-forward 2E), recurrent nets by their hidden size.
 *
 * ```ts
 * const cfg = matchedConfig("lstm", { vocabSize: 17, classes: 8, maxLen: 64 }, 25_000);
 * const model = new SequenceClassifier(cfg);
 * const logits = model.forward(ids); // ids [B, L] -> [B, 8]
 * countParameters(model) === parameterCount(cfg); // true
 * ```
 */
import type { AttentionSpec } from "../../attention/select.js";
import { add } from "../../ops/elementwise.js";
import { reshape, slice } from "../../ops/shape.js";
import { Embedding, LayerNorm, Linear } from "../../nn/layers.js";
import { Module } from "../../nn/module.js";
import { sinusoidalPositionalEncoding } from "../../nn/positional.js";
import { GRU, LSTM } from "../../nn/rnn.js";
import { TransformerEncoder, TransformerEncoderLayer } from "../../nn/transformer.js";
import { ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";

/** The model families: recurrent (sequential over time) and attention (parallel over positions). */
export type ModelKind = "lstm" | "gru" | "transformer" | "linear" | "window";

export const modelKinds: readonly ModelKind[] = ["lstm", "gru", "transformer", "linear", "window"];

/** Display names for tables and legends. */
export const modelLabels: Record<ModelKind, string> = {
  lstm: "LSTM",
  gru: "GRU",
  transformer: "transformer (full attention)",
  linear: "transformer (linear attention)",
  window: "transformer (window 16)",
};

export const isRecurrent = (k: ModelKind): boolean => k === "lstm" || k === "gru";

/** The attention of each transformer kind. */
export function attentionOf(kind: ModelKind): AttentionSpec | undefined {
  if (kind === "linear") return { kind: "linear" };
  if (kind === "window") return { kind: "window", window: 16 };
  return undefined;
}

export interface ClassifierConfig {
  kind: ModelKind;
  vocabSize: number;
  classes: number;
  /** Transformers: the model width E. Recurrent nets: the hidden size. */
  width: number;
  /** Recurrent nets: the embedding size (their input size); transformers embed at E. Default 32. */
  embedDim?: number;
  /** Encoder layers (transformers; default 2) or stacked recurrent layers (default 1). */
  layers?: number;
  /** Attention heads (transformers; default 4). */
  heads?: number;
  /** Longest sequence (positions of the transformers). */
  maxLen: number;
}

export type TaskShape = Pick<ClassifierConfig, "vocabSize" | "classes" | "maxLen">;

const layersOf = (c: ClassifierConfig): number => c.layers ?? (isRecurrent(c.kind) ? 1 : 2);

export class SequenceClassifier extends Module {
  readonly embedding: Embedding;
  readonly rnn: LSTM | GRU | null = null;
  readonly encoder: TransformerEncoder | null = null;
  readonly out: Linear;
  private readonly pe: Tensor | null = null;

  constructor(readonly config: ClassifierConfig) {
    super();
    const { kind, vocabSize, classes, width } = config;
    const layers = layersOf(config);
    if (isRecurrent(kind)) {
      const e = config.embedDim ?? 32;
      this.embedding = this.registerModule("embedding", new Embedding(vocabSize, e));
      const opts = { batchFirst: true, numLayers: layers };
      this.rnn = this.registerModule("rnn", kind === "lstm" ? new LSTM(e, width, opts) : new GRU(e, width, opts));
    } else {
      const heads = config.heads ?? 4;
      if (width % heads !== 0 || width % 2 !== 0) throw new ValueError("SequenceClassifier", "width", `an even multiple of heads (${heads})`, String(width));
      this.embedding = this.registerModule("embedding", new Embedding(vocabSize, width));
      const attention = attentionOf(kind);
      const layer = new TransformerEncoderLayer(width, heads, {
        dimFeedforward: 2 * width, dropout: 0, batchFirst: true, normFirst: true, ...(attention ? { attention } : {}),
      });
      this.encoder = this.registerModule("encoder", new TransformerEncoder(layer, layers, { norm: new LayerNorm(width) }));
      this.pe = this.registerBuffer("pe", sinusoidalPositionalEncoding(config.maxLen, width));
    }
    this.out = this.registerModule("out", new Linear(width, classes));
  }

  /** ids [B, L] -> the inputs of the body [B, L, E] (token embeddings, plus positions for transformers). */
  embed(ids: Tensor): Tensor {
    const x = this.embedding.forward(ids); // [B, L, E]
    if (!this.pe) return x;
    const L = ids.shape[1]!;
    if (L > this.config.maxLen) throw new ValueError("SequenceClassifier.embed", "ids", `at most ${this.config.maxLen} positions`, `${L}`);
    return add(x, slice(this.pe, 0, 0, L)); // [B, L, E]
  }

  /** Body inputs [B, L, E] -> logits [B, classes] read at the last position. */
  head(x: Tensor): Tensor {
    const [B, L] = x.shape as [number, number, number];
    const h = this.rnn ? this.rnn.forward(x).output : this.encoder!.forward(x); // [B, L, W]
    const last = reshape(slice(h, 1, L - 1, L), [B, -1]); // [B, W]
    return this.out.forward(last); // [B, classes]
  }

  /** ids [B, L] -> logits [B, classes]. */
  forward(ids: Tensor): Tensor {
    return this.head(this.embed(ids));
  }
}

export function countParameters(m: Module): number {
  return m.parameters().reduce((s, p) => s + p.size, 0);
}

/** The number of parameters of a classifier with this config, without building it. */
export function parameterCount(c: ClassifierConfig): number {
  const W = c.width, layers = layersOf(c), out = W * c.classes + c.classes;
  if (isRecurrent(c.kind)) {
    const e = c.embedDim ?? 32, G = (c.kind === "lstm" ? 4 : 3) * W;
    let n = c.vocabSize * e + out;
    for (let l = 0; l < layers; l++) n += G * (l === 0 ? e : W) + G * W + 2 * G;
    return n;
  }
  const F = 2 * W;
  const layer = 4 * W * W + 4 * W + (W * F + F) + (F * W + W) + 4 * W;
  return c.vocabSize * W + layers * layer + 2 * W + out;
}

/**
 * The config of `kind` whose parameter count is closest to `target` (widths: transformers a
 * multiple of 2 x heads from 8, recurrent nets any size from 4).
 */
export function matchedConfig(kind: ModelKind, task: TaskShape, target: number, opts: { heads?: number; layers?: number; embedDim?: number } = {}): ClassifierConfig {
  const step = isRecurrent(kind) ? 1 : 2 * (opts.heads ?? 4);
  let best: ClassifierConfig | null = null, bestGap = Infinity;
  for (let w = Math.max(step, isRecurrent(kind) ? 4 : 8); w <= 2048; w += step) {
    const c: ClassifierConfig = { kind, ...task, width: w, ...opts };
    const gap = Math.abs(parameterCount(c) - target);
    if (gap < bestGap) [best, bestGap] = [c, gap];
    if (parameterCount(c) > target) break;
  }
  return best!;
}

/** The parameter count of the reference model: the 2-layer transformer of width `referenceWidth` for this task. */
export function referenceParameters(task: TaskShape, referenceWidth: number): number {
  return parameterCount({ kind: "transformer", ...task, width: referenceWidth });
}

/**
 * `kind` sized to the reference transformer's parameter count (for transformer kinds: the reference
 * itself; the number of heads does not change the count).
 */
export function matchedTo(kind: ModelKind, task: TaskShape, referenceWidth: number, opts: { heads?: number } = {}): ClassifierConfig {
  return matchedConfig(kind, task, referenceParameters(task, referenceWidth), isRecurrent(kind) ? {} : opts);
}
