/**
 * What the text trainers share: their common options (budget, resume, output directory), the
 * tokenizer of a run (the init model's, the resumed run's, or a new one), and the loop around
 * `fit` of train/node/loop.ts — progress, validation every so many steps (logged, appended to
 * log.jsonl, model files rewritten), checkpoints every so many steps (the last two kept), a time
 * budget, a final checkpoint and validation.
 *
 * ```ts
 * const run = await prepareRun(opts);   // opts.task, opts.outDir, …: data, tokenizer, resume state
 * const result = await runTraining(opts, run, { model, optimizer, scheduler, bundle, batchAt, epochOf, lossOf, evaluate, evaluateOnDevice });
 * ```
 */
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Module } from "../../nn/module.js";
import type { AdamW } from "../../optim/adam.js";
import { warmupInverseSqrt, type LRScheduler, type Schedule } from "../../optim/schedule.js";
import { ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { BpeTokenizer } from "../../text/bpe.js";
import { checkRunOptions, resumeState, runTrainingLoop, type TrainResult } from "../../train/node/loop.js";
import type { TrainState } from "../../train/state.js";
import type { TextModelBundle } from "./model-file.js";
import { loadTextModelDir, readBounded, readTsvFile, saveTextModelDir, writeAtomic } from "./node-files.js";
import type { TextTask } from "./tasks.js";
import type { TsvTable } from "../../data/tsv.js";

export interface TrainCommonOptions {
  task: TextTask;
  /** The model's sizes (each trainer has its own defaults). */
  dModel?: number;
  nhead?: number;
  layers?: number;
  dimFeedforward?: number;
  dropout?: number;
  /** Directory with train.tsv and valid.tsv (default: the task's). */
  dataDir?: string;
  outDir: string;
  /** Stop after this many updates in all (counting a resumed run's). */
  steps?: number;
  /** Stop after this many minutes of this invocation. */
  minutes?: number;
  /** Continue from the latest checkpoint in outDir/checkpoints. */
  resume?: boolean;
  /** Start from the weights (and tokenizer) of this model directory, with a fresh optimizer. */
  init?: string;
  seed?: number;
  vocabSize?: number;
  maxTokens?: number;
  lr?: number;
  warmup?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  log?: (line: string) => void;
  tty?: boolean;
}

export type { TrainResult };

export interface PreparedRun {
  /** The training and validation splits (the task's two columns). */
  train: TsvTable;
  valid: TsvTable;
  tokenizer: BpeTokenizer;
  init: TextModelBundle | null;
  /** Updates the init model had (its info.steps), 0 otherwise: the schedule continues from there. */
  initSteps: number;
  resumeFrom: TrainState | null;
  log: (line: string) => void;
  t0: number;
}

/** Checks the common options and the named integer options of a trainer. */
export function checkTrainOptions<O extends TrainCommonOptions>(opts: O, ints: readonly (keyof O & string)[] = []): void {
  checkRunOptions("train", opts, ["vocabSize", "maxTokens", "warmup", ...ints], ["lr"]);
  if (opts.steps === undefined && opts.minutes === undefined) throw new ValueError("train", "steps", "--steps or --minutes (a budget)", "neither");
}

/**
 * The run's data (train.tsv and valid.tsv of the data directory), tokenizer (written to
 * outDir/tokenizer.json: the resumed run's, the init model's, or a new one trained on both columns
 * of the training split), init model and resume state.
 */
export async function prepareRun(o: TrainCommonOptions): Promise<PreparedRun> {
  const log = o.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const task = o.task, dataDir = o.dataDir ?? task.dataDir;
  const train = await readTsvFile(join(dataDir, "train.tsv"), [task.srcColumn, task.tgtColumn]);
  const valid = await readTsvFile(join(dataDir, "valid.tsv"), [task.srcColumn, task.tgtColumn]);
  await mkdir(o.outDir, { recursive: true });
  const tokPath = join(o.outDir, "tokenizer.json");
  let tokenizer: BpeTokenizer, init: TextModelBundle | null = null, initSteps = 0;
  const resumeFrom = await resumeState(o.outDir, o.resume === true, log);
  if (resumeFrom && await stat(tokPath).then(() => true, () => false)) {
    tokenizer = BpeTokenizer.fromJSON((await readBounded(tokPath, 128 * 2 ** 20, "train")).toString("utf8"), tokPath);
  } else if (o.init) {
    init = await loadTextModelDir(o.init);
    tokenizer = init.tokenizer;
    const st = init.info?.steps;
    initSteps = typeof st === "number" && Number.isInteger(st) && st > 0 ? st : 0;
    log(`starting from the weights of ${o.init}${initSteps ? ` (trained ${initSteps} steps: the learning-rate schedule continues from there)` : ""}`);
  } else {
    const tt = performance.now();
    tokenizer = BpeTokenizer.train(train.rows.flatMap((r) => [r[task.srcColumn]!, r[task.tgtColumn]!]), { vocabSize: o.vocabSize ?? 8000 });
    log(`tokenizer: byte-level BPE, ${tokenizer.vocabSize} tokens, trained in ${((performance.now() - tt) / 1000).toFixed(1)} s`);
  }
  await writeAtomic(tokPath, tokenizer.toJSON());
  return { train, valid, tokenizer, init, initSteps, resumeFrom, log, t0 };
}

export interface TrainingParts<B> {
  model: Module;
  optimizer: AdamW;
  scheduler: LRScheduler;
  bundle: TextModelBundle;
  batchAt: (step: number) => B;
  epochOf: (step: number) => number;
  lossOf: (batch: B) => Tensor;
  /** Validation metrics (run in eval mode without gradients). */
  evaluate: () => Record<string, number>;
  /** The same metrics of a model on a device, computed there (train/node/loop.ts's `evaluateOnDevice`). */
  evaluateOnDevice?: () => Promise<Record<string, number>>;
}

/**
 * Warm-up then inverse square root of the step, continuing `offset` steps in (a run started from
 * a trained model); such a run re-warms over its first 200 steps, since its optimizer starts afresh.
 */
export function textSchedule(warmupSteps: number, offset: number): Schedule {
  const base = warmupInverseSqrt({ warmupSteps });
  return offset > 0 ? (s) => base(s + offset) * Math.min(1, (s + 1) / 200) : base;
}

/** Runs fit with progress, validation, checkpoints and the budget (train/node/loop.ts); saves the model files. */
export async function runTraining<B>(o: TrainCommonOptions, run: PreparedRun, p: TrainingParts<B>): Promise<TrainResult> {
  return runTrainingLoop(o, {
    ...p, resumeFrom: run.resumeFrom, log: run.log, t0: run.t0, modelFile: join(o.outDir, "model.safetensors"),
    // steps in all, counting the init model's, so that a run started from this model continues the schedule
    save: (step, metrics) => saveTextModelDir(o.outDir, { ...p.bundle, info: { steps: run.initSteps + step, ...metrics } }),
  });
}
