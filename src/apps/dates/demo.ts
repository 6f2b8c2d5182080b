/**
 * `qkv demo`: trains a small encoder-decoder transformer to rewrite dates written many ways
 * ("the 3rd of March 1999", "3/3/99", "March 3, 1999") into ISO form, reports exact-match accuracy
 * on held-out dates, prints a few examples, and writes the decoder's cross-attention per head as a
 * self-contained HTML page. On a device backend (`qkv --backend webgpu`) the model trains on the
 * device (every op it uses has a device kernel), and the held-out accuracy reported every
 * `evalEvery` steps decodes there too (fit's `evaluateOn: "device"`: each decoding step's ids come
 * back in one batched read, no parameter); the final decoding and the reports run on the host, on
 * copies of its parameters.
 *
 * ```ts
 * const r = await runDatesDemo({ steps: 1200, seed: 0, out: "dates-attention.html" });
 * r.exactMatch; // e.g. 0.98
 * ```
 */
import { writeFileSync, renameSync } from "node:fs";
import { noGrad } from "../../autograd/graph.js";
import { anyOnDevice, withModelOnHost } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import { CharVocab, generateDatePairs, splitDates, type DatePair } from "../../data/dates.js";
import { crossEntropy } from "../../ops/functional.js";
import { reshape } from "../../ops/shape.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler, warmupCosine } from "../../optim/schedule.js";
import { ValueError } from "../../tensor/errors.js";
import { manualSeed } from "../../tensor/rng.js";
import { fit, type StepCallback } from "../../train/fit.js";
import { progressReporter } from "../../train/node/progress.js";
import type { EvalRecord } from "../../train/state.js";
import { attentionReportHtml, type ReportHead } from "../../viz/heatmap.js";
import { datesPage } from "../viz/pages.js";
import { makeBatch, type Batch } from "./batches.js";
import { greedyDecode, greedyDecodeAsync } from "./decode.js";
import { DateModel, flatLogits } from "./model.js";

export interface DatesDemoOptions {
  steps?: number;
  seed?: number;
  batchSize?: number;
  testSize?: number;
  /** Path of the HTML attention report (null: none). */
  out?: string | null;
  /** Also write the interactive attention page (head view, model view, rollout) of one example here. */
  viz?: string;
  /** The source shown by `viz` (default: the first held-out example). */
  vizSource?: string;
  dModel?: number;
  layers?: number;
  /** Write progress and examples here (default stdout). */
  log?: (line: string) => void;
  /** Force the progress bar on or off (default: when stdout is a TTY). */
  tty?: boolean;
  /** Called after every training step, after the progress line (bench/demo.ts counts a step's GPU commands with it). */
  onStep?: StepCallback;
  /** Peak learning rate (default 6e-3). */
  lr?: number;
  /** On a device, record each update before the last one's loss comes back (fit's `overlap`; default true). */
  overlap?: boolean;
  /** Report held-out accuracy on 200 pairs (or all, when fewer) every this many steps (default: never); on a device, decoded there. */
  evalEvery?: number;
}

export interface DatesDemoResult {
  exactMatch: number;
  seconds: number;
  trainSeconds: number;
  steps: number;
  /** The training loss of every step. */
  losses: number[];
  /** The held-out exact match every `evalEvery` steps (`metrics.exactMatch`; none without evalEvery). */
  evals: EvalRecord[];
  examples: { source: string; target: string; output: string }[];
  reportPath: string | null;
  vizPath: string | null;
}

function writeAtomicSync(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function checkInt(v: number, arg: string, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ValueError("qkv demo", arg, `an integer >= ${min}`, String(v));
}

/** The share of `outputs` equal to their pair's target. */
function exactMatch(pairs: DatePair[], outputs: string[]): { acc: number; outputs: string[] } {
  const ok = outputs.filter((o, i) => o === pairs[i]!.target).length;
  return { acc: ok / Math.max(pairs.length, 1), outputs };
}

/** Exact-match accuracy of greedy decoding over `pairs`, in chunks. */
function evaluate(model: DateModel, pairs: DatePair[], vocab: CharVocab, chunk = 250): { acc: number; outputs: string[] } {
  model.eval();
  const outputs: string[] = [];
  for (let i = 0; i < pairs.length; i += chunk) outputs.push(...greedyDecode(model, makeBatch(pairs.slice(i, i + chunk), vocab), vocab, 12));
  model.train();
  return exactMatch(pairs, outputs);
}

/** `evaluate` of a model on a device, decoded there: each decoding step's ids read back (one batched read), nothing else. */
async function evaluateOnDevice(model: DateModel, pairs: DatePair[], vocab: CharVocab, chunk = 250): Promise<{ acc: number; outputs: string[] }> {
  model.eval();
  const outputs: string[] = [];
  for (let i = 0; i < pairs.length; i += chunk) outputs.push(...await greedyDecodeAsync(model, makeBatch(pairs.slice(i, i + chunk), vocab), vocab, 12));
  model.train();
  return exactMatch(pairs, outputs);
}

/** Cross-attention of the last decoder layer, per head, for each example (teacher-forced on its output). */
function crossAttention(model: DateModel, pairs: DatePair[], outputs: string[], vocab: CharVocab): ReportHead[][] {
  return noGrad(() => {
    model.eval();
    model.decoder.setCaptureAttention(true);
    const sections: ReportHead[][] = [];
    pairs.forEach((p, n) => {
      const out = outputs[n]!;
      const b: Batch = makeBatch([{ source: p.source, target: out }], vocab);
      model.forward(b.src, b.srcPad, b.tgtIn);
      const w = model.decoder.crossAttentionWeights().at(-1); // [1, H, T, S]
      if (!w) return;
      const [, H, T, S] = w.shape as [number, number, number, number];
      // row t is the step that writes output character t (the last one writes <eos>)
      const rowLabels = [...Array.from(out), "<eos>"].slice(0, T).map((c) => `writes ${c}`);
      const colLabels = Array.from(p.source);
      const heads: ReportHead[] = [];
      for (let h = 0; h < H; h++) {
        heads.push({ label: `head ${h + 1}`, weights: w.data.slice(h * T * S, (h + 1) * T * S), rows: T, cols: S, rowLabels, colLabels });
      }
      sections.push(heads);
    });
    model.decoder.setCaptureAttention(false);
    model.train();
    return sections;
  });
}

export async function runDatesDemo(opts: DatesDemoOptions = {}): Promise<DatesDemoResult> {
  const steps = opts.steps ?? 1000, seed = opts.seed ?? 0, batchSize = opts.batchSize ?? 64, testSize = opts.testSize ?? 1000;
  const dModel = opts.dModel ?? 64, layers = opts.layers ?? 1;
  checkInt(steps, "steps", 1);
  checkInt(batchSize, "batchSize", 1);
  checkInt(testSize, "testSize", 1);
  checkInt(dModel, "dModel", 4);
  checkInt(layers, "layers", 1);
  if (dModel % 4 !== 0) throw new ValueError("qkv demo", "dModel", "a multiple of 4 (4 heads)", String(dModel));
  if (!Number.isInteger(seed)) throw new ValueError("qkv demo", "seed", "an integer", String(seed));
  const vizLen = opts.vizSource === undefined ? 1 : Array.from(opts.vizSource).length;
  if (vizLen < 1 || vizLen > 64) throw new ValueError("qkv demo", "--text", "1 to 64 characters (the model's positions)", `${vizLen} characters`);
  const log = opts.log ?? ((l: string) => console.log(l));
  const out = opts.out === undefined ? "qkv-demo-attention.html" : opts.out;
  const t0 = performance.now();

  manualSeed(seed);
  const { train, test } = splitDates(seed, { trainSize: steps * batchSize, testSize });
  const vocab = CharVocab.fromStrings(generateDatePairs(5000, seed + 1).flatMap((p) => [p.source, p.target]));
  const model = new DateModel({ vocabSize: vocab.size, dModel, nhead: 4, layers, dimFeedforward: 2 * dModel, dropout: 0 });
  // on a device backend (qkv --backend webgpu) the model trains there; a no-op on a CPU backend
  model.toDevice(getBackend());
  const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
  log(`qkv demo: dates -> ISO 8601, a ${layers}+${layers}-layer transformer (dModel ${dModel}, 4 heads, ${nParams.toLocaleString("en-US")} parameters)`);
  log(`backend ${getBackend().name}; ${train.length.toLocaleString("en-US")} training pairs, ${test.length} held-out pairs (dates never seen in training)`);

  const optimizer = new AdamW(model.parameters(), { lr: opts.lr ?? 6e-3, weightDecay: 0.01, betas: [0.9, 0.98] });
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps, minLr: 0.02 }));
  let losses: number[] = [], evals: EvalRecord[] = [];
  // on a device the periodic evaluation decodes there (fit awaits it); on the host as before
  const held = test.slice(0, 200);
  const periodic = anyOnDevice(model.parameters())
    ? { evaluateOn: "device" as const, evaluate: async () => ({ exactMatch: (await evaluateOnDevice(model, held, vocab)).acc }) }
    : { evaluate: () => ({ exactMatch: evaluate(model, held, vocab).acc }) };
  const progress = progressReporter({ label: "train", ...(opts.tty !== undefined ? { tty: opts.tty } : {}) });
  try {
    ({ losses, evals } = await fit<Batch>({
      model, optimizer, scheduler, steps, seed, clipNorm: 1, freeGraph: true, overlap: opts.overlap ?? true,
      batches: (s) => makeBatch(train.slice(s * batchSize, (s + 1) * batchSize), vocab),
      trainStep: (b) => crossEntropy(flatLogits(model.forward(b.src, b.srcPad, b.tgtIn)), reshape(b.tgtOut, [-1]), { ignoreIndex: vocab.padId, labelSmoothing: 0.05 }),
      onStep: opts.onStep ? [progress, opts.onStep] : progress,
      ...(opts.evalEvery ? {
        evalEvery: opts.evalEvery,
        ...periodic,
        onEval: (r: { step: number; metrics: Record<string, number> }) => log(`step ${r.step}: exact match ${(100 * (r.metrics.exactMatch ?? 0)).toFixed(1)}% (${held.length} held-out pairs)`),
      } : {}),
    }));
  } finally {
    progress.stop();
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  // the held-out accuracy decodes where the model is; the attention reports (a few examples) run on
  // the host, on copies of a device model's parameters
  const final = anyOnDevice(model.parameters()) ? await evaluateOnDevice(model, test, vocab) : evaluate(model, test, vocab);
  const args: ReportArgs = { test, final, vocab, out, opts, log, t0, trainSeconds, steps, losses, evals };
  if (out === null && !opts.viz) return report(model, args);
  return withModelOnHost(model, () => report(model, args));
}

interface ReportArgs {
  /** The held-out pairs and the model's greedy outputs for them, with their exact match. */
  test: DatePair[]; final: { acc: number; outputs: string[] }; vocab: CharVocab; out: string | null; opts: DatesDemoOptions; log: (line: string) => void;
  t0: number; trainSeconds: number; steps: number; losses: number[]; evals: EvalRecord[];
}

/** Held-out accuracy, examples, the attention report and page of a trained model. */
function report(model: DateModel, { test, final, vocab, out, opts, log, t0, trainSeconds, steps, losses, evals }: ReportArgs): DatesDemoResult {
  const { acc, outputs } = final;
  const examples = test.slice(0, 8).map((p, i) => ({ source: p.source, target: p.target, output: outputs[i]! }));
  log("");
  for (const e of examples) log(`  ${e.output === e.target ? "✓" : "✗"} ${JSON.stringify(e.source).padEnd(34)} -> ${e.output}${e.output === e.target ? "" : `   (expected ${e.target})`}`);

  const shown = test.slice(0, 3);
  if (out !== null) {
    const sections = crossAttention(model, shown, outputs.slice(0, 3), vocab).map((heads, i) => ({
      title: `${JSON.stringify(shown[i]!.source)} → ${outputs[i]!}`,
      heads,
    }));
    const html = attentionReportHtml(sections, { title: "qkv demo: where the decoder looks in the input while writing each character (cross-attention, last layer, per head)" });
    writeAtomicSync(out, html);
    log("");
    log(`cross-attention of ${shown.length} examples, per head: ${out}`);
  }
  if (opts.viz) {
    const source = opts.vizSource ?? test[0]!.source;
    const output = opts.vizSource === undefined ? outputs[0]! : evaluate(model, [{ source, target: "" }], vocab).outputs[0]!;
    writeAtomicSync(opts.viz, datesPage(model, vocab, source, output, { op: "qkv demo", textArg: "--text" }));
    log(`attention of every layer and head (head view, model view, rollout) for ${JSON.stringify(source)} -> ${output}: ${opts.viz}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`trained ${steps} steps in ${trainSeconds.toFixed(1)} s; total ${seconds.toFixed(1)} s`);
  log(`exact match: ${(acc * 100).toFixed(1)}%`);
  return { exactMatch: acc, seconds, trainSeconds, steps, losses, evals, examples, reportPath: out, vizPath: opts.viz ?? null };
}

