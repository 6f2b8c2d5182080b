/**
 * The command-line training loop around `fit` that the applications share (Node): a progress bar,
 * validation every so many steps (logged, appended to outDir/log.jsonl, the model files rewritten
 * by the caller's `save`), checkpoints in outDir/checkpoints every so many steps (the last two
 * kept), a budget in steps and / or minutes, Ctrl-C (or SIGTERM) ending the run after the current
 * step, a final checkpoint and validation.
 *
 * When the active backend is a device backend (`qkv --backend webgpu`), the model moves there
 * (`Module.toDevice`) and trains there; validation runs there too when the caller gives
 * `evaluateOnDevice` (fit's `evaluateOn: "device"`: the model's own tensors, nothing read back for
 * it), else on the host on copies of its parameters (fit's `evaluate`, and the final one through
 * `withHostData`); the model files and checkpoints are written from parameters read back.
 *
 * ```ts
 * checkRunOptions("train", opts);
 * const resumeFrom = await resumeState(opts.outDir, opts.resume === true, log);
 * const r = await runTrainingLoop(opts, { model, optimizer, scheduler, batchAt, epochOf, lossOf, evaluate,
 *   save: (step, metrics) => saveMyModel(opts.outDir, model, { steps: step, ...metrics }), resumeFrom, log, t0 });
 * ```
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { noGrad, noGradAsync } from "../../autograd/graph.js";
import { anyOnDevice, withModelOnHost } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import type { Module } from "../../nn/module.js";
import type { Optimizer, BaseOptions } from "../../optim/optimizer.js";
import type { LRScheduler } from "../../optim/schedule.js";
import { ValueError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { fit, type StepInfo } from "../fit.js";
import type { TrainState } from "../state.js";
import { checkpointWriter, latestCheckpoint, loadCheckpoint } from "./checkpoint.js";
import { formatDuration, progressReporter } from "./progress.js";

export interface RunOptions {
  /** Where checkpoints/ and log.jsonl go. */
  outDir: string;
  /** Stop after this many updates in all (counting a resumed run's). */
  steps?: number;
  /** Stop after this many minutes of this invocation. */
  minutes?: number;
  seed?: number;
  /** Validate every this many steps (default 500), and at the end. */
  evalEvery?: number;
  /** Checkpoint every this many steps (default 200), and at the end. */
  checkpointEvery?: number;
  /** A plain progress line every this many steps when the output is not a terminal (default 50). */
  progressEvery?: number;
  /** Force the progress bar (true) or plain lines (false); default: whether stdout is a TTY. */
  tty?: boolean;
}

export interface RunParts<B> {
  model: Module;
  optimizer: Optimizer<BaseOptions>;
  scheduler: LRScheduler;
  batchAt: (step: number) => B;
  /** The pass over the data (0-based) that step `step` (0-based) belongs to. */
  epochOf: (step: number) => number;
  lossOf: (batch: B) => Tensor;
  /** Validation metrics (run in eval mode without gradients). */
  evaluate: () => Record<string, number>;
  /**
   * The same metrics of a model on a device, computed there (device backend active, reading its
   * results with `await read()` / `readAll`); used instead of `evaluate` when the model is on a
   * device. Without it a device model is validated on host copies.
   */
  evaluateOnDevice?: () => Promise<Record<string, number>>;
  /** Writes the model files after a validation at `step` updates. */
  save: (step: number, metrics: Record<string, number>) => Promise<void>;
  /** The model file `save` writes (named in the last line of the log). */
  modelFile: string;
  resumeFrom: TrainState | null;
  log: (line: string) => void;
  /** When the run started (performance.now()), for the times in the log. */
  t0: number;
}

export interface TrainResult {
  steps: number;
  seconds: number;
  lastEval: Record<string, number> | null;
}

/** Checks outDir, the named positive-integer and positive-number options, and the seed. */
export function checkRunOptions(op: string, opts: RunOptions, ints: readonly string[] = [], nums: readonly string[] = []): void {
  const o = opts as unknown as Record<string, unknown>;
  if (typeof o.outDir !== "string" || o.outDir === "") throw new ValueError(op, "outDir", "a directory path", String(o.outDir));
  for (const k of ["steps", "evalEvery", "checkpointEvery", "progressEvery", ...ints]) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v > 0)) throw new ValueError(op, k, "a positive integer", String(v));
  }
  for (const k of ["minutes", ...nums]) {
    const v = o[k];
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) throw new ValueError(op, k, "a positive number", String(v));
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ValueError(op, "seed", "an integer", String(o.seed));
}

/** The latest checkpoint of outDir/checkpoints when resuming (null, with a note, when there is none). */
export async function resumeState(outDir: string, resume: boolean, log: (line: string) => void): Promise<TrainState | null> {
  if (!resume) return null;
  const dir = join(outDir, "checkpoints");
  const last = await latestCheckpoint(dir).catch(() => null);
  if (!last) {
    log(`no checkpoint in ${dir}: starting a new run`);
    return null;
  }
  const state = await loadCheckpoint(last);
  log(`resuming from ${last} (step ${state.step})`);
  return state;
}

const fmtMetrics = (m: Record<string, number>): string => Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(k.endsWith("Loss") ? 4 : 2)}`).join(", ");

/** Runs fit with progress, validation, checkpoints and the budget; `save` writes the model files. */
export async function runTrainingLoop<B>(o: RunOptions, p: RunParts<B>): Promise<TrainResult> {
  const { log, t0 } = p;
  p.model.toDevice(getBackend()); // a no-op on a host backend
  const onDevice = anyOnDevice(p.model.parameters());
  const evaluateOnDevice = onDevice ? p.evaluateOnDevice : undefined;
  const budgetMs = o.minutes !== undefined ? o.minutes * 60_000 : Infinity;
  const totalSteps = o.steps ?? Number.MAX_SAFE_INTEGER;
  const progress = progressReporter({ label: "train", every: o.progressEvery ?? 50, ...(o.tty !== undefined ? { tty: o.tty } : {}) });
  const writer = checkpointWriter(join(o.outDir, "checkpoints"), { keep: 2 });
  let lastEval: Record<string, number> | null = null;
  const record = async (step: number, metrics: Record<string, number>): Promise<void> => {
    lastEval = metrics;
    const seconds = (performance.now() - t0) / 1000;
    log(`step ${step} (epoch ${p.epochOf(Math.max(0, step - 1)) + 1}, ${formatDuration(seconds)}): ${fmtMetrics(metrics)}`);
    await appendFile(join(o.outDir, "log.jsonl"), JSON.stringify({ step, seconds: Math.round(seconds), ...metrics }) + "\n");
    if (onDevice) await p.model.readState();
    await p.save(step, metrics);
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
  // Ctrl-C (or SIGTERM) ends the run after the current step (on a device, after the one recorded after it unless
  // the current one validates or checkpoints), with its checkpoint, validation and model files
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
      batches: p.batchAt, trainStep: p.lossOf, onStep, freeGraph: true,
      // on a device, the next update is recorded while this one's loss comes back (a stop then lands one update later)
      overlap: true,
      evalEvery: o.evalEvery ?? 500,
      ...(evaluateOnDevice ? { evaluateOn: "device" as const, evaluate: () => evaluateOnDevice() } : { evaluate: () => p.evaluate() }),
      onEval: async (r) => {
        progress.pause();
        await record(r.step, r.metrics);
      },
      checkpointEvery: o.checkpointEvery ?? 200,
      checkpoint: writer,
      stopWhen: (info) => interrupted || info.elapsedMs >= budgetMs,
      ...(p.resumeFrom ? { resumeFrom: p.resumeFrom } : {}),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress.stop();
  await writer(onDevice ? await result.readState() : result.state());
  if (result.evals.at(-1)?.step !== result.finalStep) {
    const final = (): Record<string, number> => {
      p.model.eval();
      try {
        return noGrad(() => p.evaluate());
      } finally {
        p.model.train();
      }
    };
    const finalOnDevice = async (): Promise<Record<string, number>> => {
      p.model.eval();
      try {
        return await noGradAsync(evaluateOnDevice!);
      } finally {
        p.model.train();
      }
    };
    await record(result.finalStep, evaluateOnDevice ? await finalOnDevice()
      : await withModelOnHost(p.model, final));
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`trained to step ${result.finalStep} in ${formatDuration(seconds)}; model: ${p.modelFile}`);
  return { steps: result.finalStep, seconds, lastEval };
}
