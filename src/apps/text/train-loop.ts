/**
 * What the text trainers share: their common options (budget, resume, output directory), the
 * tokenizer of a run (the init model's, the resumed run's, or a new one), and the loop around
 * `fit` — progress, validation every so many steps (logged, appended to log.jsonl, model files
 * rewritten), checkpoints every so many steps (the last two kept), a time budget, a final
 * checkpoint and validation.
 *
 * ```ts
 * const run = await prepareRun(opts);   // opts.task, opts.outDir, …: data, tokenizer, resume state
 * const result = await runTraining(opts, run, { model, optimizer, scheduler, bundle, batchAt, epochOf, lossOf, evaluate });
 * ```
 */
import { appendFile, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { noGrad } from "../../autograd/graph.js";
import type { Module } from "../../nn/module.js";
import type { AdamW } from "../../optim/adam.js";
import { warmupInverseSqrt, type LRScheduler, type Schedule } from "../../optim/schedule.js";
import { ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { BpeTokenizer } from "../../text/bpe.js";
import { fit, type StepInfo } from "../../train/fit.js";
import { checkpointWriter, latestCheckpoint, loadCheckpoint } from "../../train/node/checkpoint.js";
import { formatDuration, progressReporter } from "../../train/node/progress.js";
import type { TrainState } from "../../train/state.js";
import type { TextModelBundle } from "./model-file.js";
import { loadTextModelDir, readBounded, readTsvFile, saveTextModelDir, writeAtomic } from "./node-files.js";
import type { TextTask } from "./tasks.js";
import type { TsvTable } from "../../data/tsv.js";

export interface TrainCommonOptions {
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

export interface TrainResult {
  steps: number;
  seconds: number;
  lastEval: Record<string, number> | null;
}

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
  const op = "train";
  const o = opts as TrainCommonOptions & Record<string, unknown>;
  if (typeof o.outDir !== "string" || o.outDir === "") throw new ValueError(op, "outDir", "a directory path", String(o.outDir));
  for (const k of ["steps", "vocabSize", "maxTokens", "warmup", "evalEvery", "checkpointEvery", ...ints]) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v > 0)) throw new ValueError(op, k, "a positive integer", String(v));
  }
  for (const k of ["minutes", "lr"] as const) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) throw new ValueError(op, k, "a positive number", String(v));
  }
  if (o.steps === undefined && o.minutes === undefined) throw new ValueError(op, "steps", "--steps or --minutes (a budget)", "neither");
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ValueError(op, "seed", "an integer", String(o.seed));
}

/**
 * The run's data (train.tsv and valid.tsv of the data directory), tokenizer (written to
 * outDir/tokenizer.json: the resumed run's, the init model's, or a new one trained on both columns
 * of the training split), init model and resume state.
 */
export async function prepareRun(o: TrainCommonOptions & { task: TextTask }): Promise<PreparedRun> {
  const log = o.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const task = o.task, dataDir = o.dataDir ?? task.dataDir;
  const train = await readTsvFile(join(dataDir, "train.tsv"), [task.srcColumn, task.tgtColumn]);
  const valid = await readTsvFile(join(dataDir, "valid.tsv"), [task.srcColumn, task.tgtColumn]);
  await mkdir(o.outDir, { recursive: true });
  const tokPath = join(o.outDir, "tokenizer.json");
  let tokenizer: BpeTokenizer, init: TextModelBundle | null = null, resumeFrom: TrainState | null = null, initSteps = 0;
  const ckptDir = join(o.outDir, "checkpoints");
  if (o.resume) {
    const last = await latestCheckpoint(ckptDir).catch(() => null);
    if (last) {
      resumeFrom = await loadCheckpoint(last);
      log(`resuming from ${last} (step ${resumeFrom.step})`);
    } else log(`no checkpoint in ${ckptDir}: starting a new run`);
  }
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
}

const fmtMetrics = (m: Record<string, number>): string => Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(k.endsWith("Loss") ? 4 : 2)}`).join(", ");

/**
 * Warm-up then inverse square root of the step, continuing `offset` steps in (a run started from
 * a trained model); such a run re-warms over its first 200 steps, since its optimizer starts afresh.
 */
export function textSchedule(warmupSteps: number, offset: number): Schedule {
  const base = warmupInverseSqrt({ warmupSteps });
  return offset > 0 ? (s) => base(s + offset) * Math.min(1, (s + 1) / 200) : base;
}

/** Runs fit with progress, validation, checkpoints and the budget; saves the model files. */
export async function runTraining<B>(o: TrainCommonOptions, run: PreparedRun, p: TrainingParts<B>): Promise<TrainResult> {
  const { log, t0 } = run;
  const budgetMs = o.minutes !== undefined ? o.minutes * 60_000 : Infinity;
  const totalSteps = o.steps ?? Number.MAX_SAFE_INTEGER;
  const progress = progressReporter({ label: "train", every: 50, ...(o.tty !== undefined ? { tty: o.tty } : {}) });
  const writer = checkpointWriter(join(o.outDir, "checkpoints"), { keep: 2 });
  let lastEval: Record<string, number> | null = null;
  const record = async (step: number, metrics: Record<string, number>): Promise<void> => {
    lastEval = metrics;
    const seconds = (performance.now() - t0) / 1000;
    log(`step ${step} (epoch ${p.epochOf(Math.max(0, step - 1)) + 1}, ${formatDuration(seconds)}): ${fmtMetrics(metrics)}`);
    await appendFile(join(o.outDir, "log.jsonl"), JSON.stringify({ step, seconds: Math.round(seconds), ...metrics }) + "\n");
    // steps in all, counting the init model's, so that a run started from this model continues the schedule
    await saveTextModelDir(o.outDir, { ...p.bundle, info: { steps: run.initSteps + step, ...metrics } });
  };
  // with a time budget only, the bar's total is the steps the budget allows at the current rate
  const report = o.steps !== undefined ? progress : (info: StepInfo): void => {
    const rate = Math.max(1, info.step - info.startStep) / Math.max(1, info.elapsedMs);
    progress({ ...info, totalSteps: info.step + Math.max(1, Math.round((budgetMs - info.elapsedMs) * rate)) });
  };
  // one turn of the event loop per step, so that a signal's handler runs between steps
  const onStep = async (info: StepInfo): Promise<void> => {
    report(info);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  // Ctrl-C (or SIGTERM) ends the run after the current step, with its checkpoint, validation and model files
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("stopping after this step (again to quit at once)");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let result;
  try {
    result = await fit<B>({
      model: p.model, optimizer: p.optimizer, scheduler: p.scheduler, steps: totalSteps, seed: o.seed ?? 0, clipNorm: 1,
      batches: p.batchAt, trainStep: p.lossOf, onStep,
      evalEvery: o.evalEvery ?? 500,
      evaluate: () => p.evaluate(),
      onEval: async (r) => {
        progress.pause();
        await record(r.step, r.metrics);
      },
      checkpointEvery: o.checkpointEvery ?? 200,
      checkpoint: writer,
      stopWhen: (info) => interrupted || info.elapsedMs >= budgetMs,
      ...(run.resumeFrom ? { resumeFrom: run.resumeFrom } : {}),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress.stop();
  await writer(result.state());
  if (result.evals.at(-1)?.step !== result.finalStep) {
    p.model.eval();
    const m = noGrad(() => p.evaluate());
    p.model.train();
    await record(result.finalStep, m);
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`trained to step ${result.finalStep} in ${formatDuration(seconds)}; model: ${join(o.outDir, "model.safetensors")}`);
  return { steps: result.finalStep, seconds, lastEval };
}
