/**
 * Text in, text out with a text model: translation and generative summarization through batched
 * beam (or greedy) search with the KV cache; extractive summarization through the best span.
 * Inputs longer than the model takes are truncated, and `onTruncate` hears of each one.
 * Written once as read steps (`generateSteps`): `generate` runs it on the host, `generateAsync`
 * with a model on a device (greedy decoding there, only each step's ids read back; a span model's
 * scores read back once per batch).
 *
 * ```ts
 * const gen = new TextGenerator(await loadTextModelDir("models/translate-en-es"));
 * gen.generate(["In the beginning was the Word."], { beam: 4 }); // ["En el principio era el Verbo."]
 * await new TextGenerator(deviceBundle).generateAsync(sentences); // greedy, decoded on the device
 * ```
 */
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import { Seq2SeqTransformer } from "../../nn/seq2seq.js";
import { SpanExtractor } from "../../nn/span-extractor.js";
import { beamSteps } from "../../seq2seq/search.js";
import { ValueError } from "../../tensor/errors.js";
import { runReadSteps, runReadStepsAsync, type ReadSteps } from "../../tensor/read-steps.js";
import { Tensor } from "../../tensor/tensor.js";
import type { TextModelBundle } from "./model-file.js";
import { spanText, wordTokens } from "./span-data.js";

export interface GenerateOptions {
  /** Beam width (default DEFAULT_BEAM, 4; generateAsync: 1; 1 = greedy). Ignored by span models. */
  beam?: number;
  /** GNMT length penalty alpha (default 0.6). */
  lengthPenalty?: number;
  /** Sentences per batch (default 64). */
  batchSize?: number;
  /**
   * Span models: a prior on the span's length in words, -weight * |ln(words / target)| added to
   * its score (default { weight: 1, words: 8 }, chosen on the validation split; weight 0 = none).
   */
  spanLengthPrior?: { weight: number; words: number };
  /** Called with the index of each input that was cut to the model's length. */
  onTruncate?: (index: number, tokens: number, kept: number) => void;
}

/** Longest extracted span in words. */
export const MAX_SPAN_WORDS = 24;

/** The beam width `generate` uses when none is given. */
export const DEFAULT_BEAM = 4;

/** The span-length prior of summarization (chosen on the validation split; docs/applications.md). */
export const DEFAULT_SPAN_LENGTH_PRIOR = Object.freeze({ weight: 1, words: 8 });

export class TextGenerator {
  constructor(readonly bundle: TextModelBundle) {
    if (!(bundle.model instanceof Seq2SeqTransformer) && !(bundle.model instanceof SpanExtractor)) {
      throw new ValueError("TextGenerator", "bundle.model", "a Seq2SeqTransformer or SpanExtractor", String(bundle.model));
    }
  }

  /** One output per input, in input order (a model on the host). */
  generate(texts: readonly string[], opts: GenerateOptions = {}): string[] {
    return noGrad(() => runReadSteps(this.steps("TextGenerator.generate", texts, opts)));
  }

  /**
   * `generate` by a model on a device (or the host), run there: translation decodes greedily by
   * default here (beam 1), each step's ids [B] read back every 1, 2, 4, then 8 steps; with beam > 1
   * each step's 2K best log-probabilities and tokens of each hypothesis are read back once (`topk` on
   * the device) and the hypotheses kept on the host; a
   * span model's start and end scores [B, N] are read back once per batch. Nothing else is read,
   * no parameter.
   */
  async generateAsync(texts: readonly string[], opts: GenerateOptions = {}): Promise<string[]> {
    return noGradAsync(() => runReadStepsAsync(this.steps("TextGenerator.generateAsync", texts, { ...opts, beam: opts.beam ?? 1 })));
  }

  /**
   * `generate` as read steps (tensor/read-steps.ts): each decoding step yields its ids [B] (greedy)
   * or each hypothesis's 2K best log-probabilities and tokens (beam search), each span batch its start and end scores
   * [B, N], and is given them back read; run it with recording off.
   */
  generateSteps(texts: readonly string[], opts: GenerateOptions = {}): ReadSteps<string[]> {
    return this.steps("TextGenerator.generateSteps", texts, opts);
  }

  /** `generateSteps`, its bad input named as `op`'s. */
  private *steps(op: string, texts: readonly string[], opts: GenerateOptions): ReadSteps<string[]> {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) throw new ValueError(op, "texts", "an array of strings", String(texts));
    const bs = opts.batchSize ?? 64;
    if (!Number.isInteger(bs) || bs < 1) throw new ValueError(op, "batchSize", "a positive integer", String(opts.batchSize));
    const pr = opts.spanLengthPrior;
    if (pr !== undefined && !(pr.weight >= 0 && pr.words > 0)) throw new ValueError(op, "spanLengthPrior", "{ weight >= 0, words > 0 }", JSON.stringify(pr));
    const m = this.bundle.model;
    m.eval();
    return m instanceof Seq2SeqTransformer ? yield* this.seq2seq(m, texts, opts, bs) : yield* this.spans(m as SpanExtractor, texts, opts, bs);
  }

  private *seq2seq(m: Seq2SeqTransformer, texts: readonly string[], o: GenerateOptions, bs: number): ReadSteps<string[]> {
    const tok = this.bundle.tokenizer, max = m.config.maxLen;
    const enc = texts.map((t, i) => {
      const ids = tok.encode(t);
      if (ids.length > max) o.onTruncate?.(i, ids.length, max);
      return ids.slice(0, max);
    });
    // similar lengths together; results go back to input order
    const order = enc.map((_, i) => i).sort((a, b) => enc[a]!.length - enc[b]!.length);
    const out = new Array<string>(texts.length).fill("");
    const so = { bosId: tok.bosId, eosId: tok.eosId, maxLen: max, banned: [tok.padId, tok.bosId, ...(tok.unkId >= 0 ? [tok.unkId] : [])] };
    for (let i = 0; i < order.length; i += bs) {
      const idx = order.slice(i, i + bs).filter((j) => enc[j]!.length > 0);
      if (!idx.length) continue;
      const S = Math.max(...idx.map((j) => enc[j]!.length));
      const src = new Int32Array(idx.length * S).fill(tok.padId);
      idx.forEach((j, b) => src.set(enc[j]!, b * S));
      const t = new Tensor(src, [idx.length, S], "int32");
      const beam = o.beam ?? DEFAULT_BEAM;
      // outputs stay near their input's length: at most 2 S + 10 tokens
      const lim = { ...so, maxLen: Math.min(max, 2 * S + 10), maxLens: idx.map((j) => Math.min(max, 2 * enc[j]!.length + 10)) };
      const res = yield* beamSteps(m, t, { ...lim, beam, lengthPenalty: o.lengthPenalty ?? 0.6 }); // beam 1: greedySteps
      idx.forEach((j, b) => { out[j] = tok.decode(res[b]!).trim(); });
    }
    return out;
  }

  private *spans(m: SpanExtractor, texts: readonly string[], o: GenerateOptions, bs: number): ReadSteps<string[]> {
    const tok = this.bundle.tokenizer, max = m.config.maxLen;
    const out = new Array<string>(texts.length).fill("");
    for (let i = 0; i < texts.length; i += bs) {
      const chunk = texts.slice(i, i + bs).map((t, k) => {
        const w = wordTokens(tok, t, max);
        if (w.truncated) o.onTruncate?.(i + k, tok.encode(t).length, w.ids.length);
        return w;
      });
      const live = chunk.map((w, k) => ({ w, k })).filter(({ w }) => w.ids.length > 0);
      if (!live.length) continue;
      const N = Math.max(...live.map(({ w }) => w.ids.length));
      const ids = new Int32Array(live.length * N).fill(tok.padId);
      live.forEach(({ w }, b) => ids.set(w.ids, b * N));
      const prior = o.spanLengthPrior ?? DEFAULT_SPAN_LENGTH_PRIOR;
      const words = (b: number, i: number, j: number): number => live[b]!.w.wordOf[j]! - live[b]!.w.wordOf[i]! + 1;
      const best = yield* m.bestSpanSteps(new Tensor(ids, [live.length, N], "int32"), {
        maxSpan: 3 * MAX_SPAN_WORDS,
        bonus: (b, i, j) => {
          const n = words(b, i, j);
          return n > MAX_SPAN_WORDS ? -Infinity : prior.weight > 0 ? -prior.weight * Math.abs(Math.log(n / prior.words)) : 0;
        },
        canStart: (b, p) => { const wo = live[b]!.w.wordOf; return p < wo.length && (p === 0 || wo[p - 1] !== wo[p]); },
        canEnd: (b, p) => { const wo = live[b]!.w.wordOf; return p < wo.length && (p === wo.length - 1 || wo[p + 1] !== wo[p]); },
      });
      live.forEach(({ w, k }, b) => {
        const s = best[b]!;
        out[i + k] = Number.isFinite(s.score) ? spanText(w.words, w.wordOf[s.start]!, w.wordOf[s.end]!) : "";
      });
    }
    return out;
  }
}
