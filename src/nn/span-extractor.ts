/**
 * Extractive span selection: a pre-norm transformer encoder over the tokens of a text, with two
 * scores per position — where the answer span starts and where it ends (the SQuAD-style reader
 * of BERT). The summarization app uses it to pick the phrase of a description that best serves as
 * its synopsis. Parameter names: `embed.weight`, `encoder.layers.N.…`, `encoder.norm.…`,
 * `head.weight` [2, E], `head.bias` [2].
 *
 * ```ts
 * const m = new SpanExtractor({ vocabSize: 8000, dModel: 128, nhead: 4, layers: 3, dimFeedforward: 512, padId: 0 });
 * const { start, end } = m.forward(ids);              // ids int32 [B, N] -> [B, N] each
 * const best = m.bestSpans(ids, { maxSpan: 24 });      // [{ start, end }] (inclusive token indices)
 * const same = await m.bestSpansAsync(ids, { maxSpan: 24 }); // a model on a device: its scores read back once
 * ```
 */
import { noGrad, noGradAsync } from "../autograd/graph.js";
import { add, compare, mul, where } from "../ops/elementwise.js";
import { reshape, slice, squeeze } from "../ops/shape.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { runReadSteps, runReadStepsAsync, type ReadSteps } from "../tensor/read-steps.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { normal } from "./init.js";
import { Dropout, Embedding, LayerNorm, Linear } from "./layers.js";
import { Module } from "./module.js";
import { sinusoidalPositionalEncoding } from "./positional.js";
import { TransformerEncoder, TransformerEncoderLayer } from "./transformer.js";

export interface SpanConfig {
  vocabSize: number;
  dModel: number;
  nhead: number;
  layers: number;
  dimFeedforward: number;
  dropout?: number;
  /** Longest input in tokens (default 256). */
  maxLen?: number;
  padId: number;
}

const KEYS = ["vocabSize", "dModel", "nhead", "layers", "dimFeedforward", "dropout", "maxLen", "padId"] as const;

/** Checks a config (e.g. read from a model file) and fills in its defaults. */
export function resolveSpanConfig(c: unknown, op = "SpanExtractor"): Required<SpanConfig> {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ValueError(op, "config", "an object", String(c));
  const o = c as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new ValueError(op, "config", `only the keys ${KEYS.join(", ")}`, `unknown ${unknown.join(", ")}`);
  const int = (k: string, min: number, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ValueError(op, `config.${k}`, `an integer >= ${min}`, String(v));
    return v;
  };
  const dropout = o.dropout ?? 0.1;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new ValueError(op, "config.dropout", "a probability in [0, 1)", String(dropout));
  const r: Required<SpanConfig> = {
    vocabSize: int("vocabSize", 2), dModel: int("dModel", 1), nhead: int("nhead", 1), layers: int("layers", 1),
    dimFeedforward: int("dimFeedforward", 1), dropout, maxLen: int("maxLen", 1, 256), padId: int("padId", 0),
  };
  if (r.dModel % r.nhead !== 0) throw new ValueError(op, "config.dModel", `a multiple of nhead (${r.nhead})`, String(r.dModel));
  if (r.padId >= r.vocabSize) throw new ValueError(op, "config.padId", `an id below vocabSize (${r.vocabSize})`, String(r.padId));
  return r;
}

export class SpanExtractor extends Module {
  readonly config: Required<SpanConfig>;
  readonly embed: Embedding;
  readonly encoder: TransformerEncoder;
  readonly head: Linear;
  private readonly dropout: Dropout;
  private readonly pe: Tensor;

  constructor(config: SpanConfig, opts: { generator?: Generator } = {}) {
    super();
    const c = (this.config = resolveSpanConfig(config));
    const E = c.dModel, g = opts.generator;
    this.embed = this.registerModule("embed", new Embedding(c.vocabSize, E, { paddingIdx: c.padId, ...(g ? { generator: g } : {}) }));
    const w = normal([c.vocabSize, E], 0, Math.pow(E, -0.5), g);
    w.data.fill(0, c.padId * E, (c.padId + 1) * E);
    this.embed.weight.data.set(w.data);
    this.encoder = this.registerModule("encoder", new TransformerEncoder(new TransformerEncoderLayer(E, c.nhead, {
      dimFeedforward: c.dimFeedforward, dropout: c.dropout, batchFirst: true, normFirst: true, ...(g ? { generator: g } : {}),
    }), c.layers, { norm: new LayerNorm(E) }));
    this.head = this.registerModule("head", new Linear(E, 2, g ? { generator: g } : {}));
    this.dropout = this.registerModule("dropout", new Dropout(c.dropout, g));
    this.pe = this.registerBuffer("pe", sinusoidalPositionalEncoding(c.maxLen, E));
  }

  /** ids int32 [B, N] -> start and end scores [B, N] each (padding positions at -Infinity). */
  forward(ids: Tensor): { start: Tensor; end: Tensor } {
    const op = "SpanExtractor.forward";
    expectTensor(ids, "ids", op);
    if (ids.dtype !== "int32") throw new DTypeError(op, "ids", "int32", ids.dtype);
    if (ids.rank !== 2) throw new ShapeError(op, "ids", "[B, N]", fmtShape(ids.shape));
    const [B, N] = ids.shape as [number, number];
    if (N > this.config.maxLen) throw new ShapeError(op, "ids", `at most ${this.config.maxLen} positions (maxLen)`, fmtShape(ids.shape));
    const pad = compare("eq", ids, this.config.padId); // [B, N]
    const x = this.dropout.forward(add(mul(this.embed.forward(ids), Math.sqrt(this.config.dModel)), slice(this.pe, 0, 0, N))); // [B, N, E]
    const h = this.encoder.forward(x, { srcKeyPaddingMask: pad }); // [B, N, E]
    const s = reshape(this.head.forward(h), [B, N, 2]); // [B, N, 2]
    const start = where(pad, -Infinity, squeeze(slice(s, 2, 0, 1), 2)); // [B, N]
    const end = where(pad, -Infinity, squeeze(slice(s, 2, 1, 2), 2)); // [B, N]
    return { start, end };
  }

  /**
   * The best span of each row: argmax of start[i] + end[j] (+ bonus(b, i, j)) over
   * i <= j < i + maxSpan, where `canStart` / `canEnd` (per row, per position) allow it (e.g. word
   * boundaries). A model on the host.
   */
  bestSpans(ids: Tensor, opts: SpanSearchOptions = {}): SpanChoice[] {
    checkMaxSpan("SpanExtractor.bestSpans", opts);
    return noGrad(() => runReadSteps(this.bestSpanSteps(ids, opts)));
  }

  /**
   * `bestSpans` of a model on a device (or the host), scored there: the start and end scores
   * [B, N] come back in one batched read, nothing else; the search over spans runs on the host.
   */
  bestSpansAsync(ids: Tensor, opts: SpanSearchOptions = {}): Promise<SpanChoice[]> {
    checkMaxSpan("SpanExtractor.bestSpansAsync", opts);
    return noGradAsync(() => runReadStepsAsync(this.bestSpanSteps(ids, opts)));
  }

  /**
   * `bestSpans` as read steps (tensor/read-steps.ts): yields the start and end scores [B, N] once
   * and is given them back read; run it with recording off.
   */
  *bestSpanSteps(ids: Tensor, opts: SpanSearchOptions = {}): ReadSteps<SpanChoice[]> {
    const maxSpan = checkMaxSpan("SpanExtractor.bestSpans", opts);
    const { start, end } = this.forward(ids); // [B, N] each
    const [B, N] = ids.shape as [number, number];
    const [sd, ed] = yield [start, end]; // [B, N] each, read together
    const out: SpanChoice[] = [];
    for (let b = 0; b < B; b++) {
      let best = { start: 0, end: 0, score: -Infinity };
      for (let i = 0; i < N; i++) {
        const si = sd![b * N + i]!;
        if (si === -Infinity || (opts.canStart && !opts.canStart(b, i))) continue;
        for (let j = i; j < Math.min(N, i + maxSpan); j++) {
          const ej = ed![b * N + j]!;
          if (ej === -Infinity || (opts.canEnd && !opts.canEnd(b, j))) continue;
          const sc = si + ej + (opts.bonus ? opts.bonus(b, i, j) : 0);
          if (sc > best.score) best = { start: i, end: j, score: sc };
        }
      }
      out.push(best);
    }
    return out;
  }
}

export interface SpanSearchOptions {
  /** Longest span in tokens (default 32). */
  maxSpan?: number;
  canStart?: (b: number, i: number) => boolean;
  canEnd?: (b: number, j: number) => boolean;
  /** Added to start[i] + end[j] (e.g. a prior on the span's length). */
  bonus?: (b: number, i: number, j: number) => number;
}

/** A row's best span: inclusive token indices and its score (-Infinity when no span is allowed). */
export interface SpanChoice {
  start: number;
  end: number;
  score: number;
}

function checkMaxSpan(op: string, opts: SpanSearchOptions): number {
  const maxSpan = opts.maxSpan ?? 32;
  if (!Number.isInteger(maxSpan) || maxSpan < 1) throw new ValueError(op, "maxSpan", "a positive integer", String(opts.maxSpan));
  return maxSpan;
}
