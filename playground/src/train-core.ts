/**
 * The model the page trains live: the dates task of `qkv demo` (a date written many ways ->
 * ISO 8601) on a small encoder-decoder transformer, one optimizer step per call, seeded. The
 * training worker (train-worker.ts) runs it in the tab; tools/playground/measure.ts runs the same
 * steps in Node to compare speeds. No DOM.
 *
 * ```ts
 * const t = new DatesTrainer();
 * for (let i = 0; i < 50; i++) t.step();           // the loss, per step
 * t.crossAttention("3 March 1999");                 // what the decoder looks at while writing
 * ```
 */
import { DateModel, flatLogits } from "../../src/apps/dates/model.js";
import { makeBatch } from "../../src/apps/dates/batches.js";
import { greedyDecode } from "../../src/apps/dates/decode.js";
import { CharVocab, generateDatePairs, splitDates, type DatePair } from "../../src/data/dates.js";
import { anyOnDevice, withModelOnHost } from "../../src/backend/host-copies.js";
import {
  AdamW, captureAttention, clipGradNorm, clipGradNormTensor, crossEntropy, freeGraph, manualSeed, noGrad, reshape,
  type AnyBackend,
} from "../../src/index.js";

export interface TrainConfig {
  seed: number;
  dModel: number;
  heads: number;
  /** Encoder and decoder layers each. */
  layers: number;
  batchSize: number;
  lr: number;
}

/** What the page trains: 1+1 layers, dModel 32, 4 heads, batches of 32. */
export const TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({ seed: 0, dModel: 32, heads: 4, layers: 1, batchSize: 32, lr: 5e-3 });

/** Training pairs drawn up front; the steps cycle through them. */
const TRAIN_PAIRS = 20_000;
/** Held-out pairs (dates never seen in training) for the accuracy readout. */
const TEST_PAIRS = 100;
/** Longest output, in characters (an ISO date has 10). */
const MAX_OUT = 12;
/** Longest input the model takes, in characters (its positions). */
export const MAX_DATE_CHARS = 40;

/** One cross-attention map per head of the last decoder layer: rows the output characters, cols the input's. */
export interface CrossAttention {
  source: string;
  output: string;
  rows: string[];
  cols: string[];
  heads: Float32Array[];
}

export class DatesTrainer {
  readonly config: TrainConfig;
  readonly vocab: CharVocab;
  readonly model: DateModel;
  readonly parameters: number;
  private readonly optimizer: AdamW;
  private readonly train: DatePair[];
  readonly test: DatePair[];
  steps = 0;

  constructor(config: Partial<TrainConfig> = {}) {
    const c = (this.config = { ...TRAIN_CONFIG, ...config });
    manualSeed(c.seed);
    const { train, test } = splitDates(c.seed, { trainSize: TRAIN_PAIRS, testSize: TEST_PAIRS });
    this.train = train;
    this.test = test;
    this.vocab = CharVocab.fromStrings(generateDatePairs(5000, c.seed + 1).flatMap((p) => [p.source, p.target]));
    this.model = new DateModel({ vocabSize: this.vocab.size, dModel: c.dModel, nhead: c.heads, layers: c.layers, dimFeedforward: 2 * c.dModel, dropout: 0, maxLen: 64 });
    this.parameters = this.model.parameters().reduce((s, p) => s + p.size, 0);
    this.optimizer = new AdamW(this.model.parameters(), { lr: c.lr, weightDecay: 0.01, betas: [0.9, 0.98] });
  }

  /** Whether the model's parameters are on a device (moved there by `toDevice`). */
  get onDevice(): boolean {
    return anyOnDevice(this.model.parameters());
  }

  /** Moves the model to the device backend `be` (the active one while it trains there); the optimizer's state is made there. */
  toDevice(be: AnyBackend): this {
    this.model.toDevice(be);
    return this;
  }

  /** The step's loss [] (recorded; on a device nothing is read yet). */
  private record(): ReturnType<typeof crossEntropy> {
    const B = this.config.batchSize, start = (this.steps * B) % (this.train.length - B + 1);
    const b = makeBatch(this.train.slice(start, start + B), this.vocab);
    this.model.train();
    this.optimizer.zeroGrad();
    const logits = this.model.forward(b.src, b.srcPad, b.tgtIn); // [B, T, V]
    const loss = crossEntropy(flatLogits(logits), reshape(b.tgtOut, [-1]), { ignoreIndex: this.vocab.padId, labelSmoothing: 0.05 });
    loss.backward();
    return loss;
  }

  /** One optimizer step on the next batch; returns its loss (cross-entropy, label smoothing 0.05). Host parameters. */
  step(): number {
    const loss = this.record();
    clipGradNorm(this.model.parameters(), 1);
    this.optimizer.step();
    this.steps++;
    const value = loss.data[0]!;
    freeGraph(loss); // the next step reuses this one's buffers
    return value;
  }

  /** `step` wherever the model is: on a device the step runs there (the clipping too) and only the loss is read back. */
  async stepAsync(): Promise<number> {
    if (!this.onDevice) return this.step();
    const loss = this.record();
    clipGradNormTensor(this.model.parameters(), 1);
    this.optimizer.step();
    this.steps++;
    const value = (await loss.read())[0]!;
    freeGraph(loss);
    return value;
  }

  /** `f` on the host: a device model's weights read back for it (the optimizer's state stays where it is). */
  private async onHost<R>(f: () => R): Promise<R> {
    return withModelOnHost(this.model, f);
  }

  /** `accuracy` wherever the model is. */
  accuracyAsync(): Promise<number> {
    return this.onHost(() => this.accuracy());
  }

  /** `crossAttention` wherever the model is. */
  crossAttentionAsync(source: string): Promise<CrossAttention> {
    return this.onHost(() => this.crossAttention(source));
  }

  /** Greedy outputs for `sources`. */
  translate(sources: readonly string[]): string[] {
    this.model.eval();
    const out = greedyDecode(this.model, makeBatch(sources.map((source) => ({ source, target: "" })), this.vocab), this.vocab, MAX_OUT);
    this.model.train();
    return out;
  }

  /** Exact-match accuracy on the held-out pairs. */
  accuracy(): number {
    const out = this.translate(this.test.map((p) => p.source));
    return out.filter((o, i) => o === this.test[i]!.target).length / this.test.length;
  }

  /** The last decoder layer's cross-attention while the model writes its output for `source` (at most MAX_DATE_CHARS characters). */
  crossAttention(source: string): CrossAttention {
    const output = this.translate([source])[0]!;
    const b = makeBatch([{ source, target: output }], this.vocab);
    this.model.eval();
    const { records } = noGrad(() => captureAttention(this.model, () => this.model.forward(b.src, b.srcPad, b.tgtIn)));
    this.model.train();
    const cross = records.filter((r) => r.kind === "cross").at(-1)!;
    const [, H, T, S] = cross.weights.shape as [number, number, number, number];
    const heads = Array.from({ length: H }, (_, h) => Float32Array.from(cross.weights.data.subarray(h * T * S, (h + 1) * T * S)));
    return { source, output, rows: [...Array.from(output), "<eos>"].slice(0, T).map((ch) => `writes ${ch}`), cols: Array.from(source), heads };
  }
}
