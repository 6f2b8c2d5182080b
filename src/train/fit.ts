/**
 * The training loop (browser-safe): for each step, take a batch, compute the loss, back-propagate,
 * optionally clip the gradient norm, update, advance the schedule; evaluate and checkpoint every
 * so many steps. Seeded runs are bit-for-bit reproducible, and a run resumed from a checkpoint
 * taken after step k gives exactly the losses of the uninterrupted run from k on.
 *
 * ```ts
 * manualSeed(0);
 * const model = new Linear(4, 1);
 * const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
 * const { losses } = await fit({
 *   model, optimizer,
 *   scheduler: new LRScheduler(optimizer, warmupCosine({ warmupSteps: 10, totalSteps: 100 })),
 *   batches: (step) => makeBatch(step),
 *   trainStep: ({ x, y }) => mseLoss(model.forward(x), y),
 *   steps: 100, clipNorm: 1, seed: 1,
 *   evalEvery: 25, evaluate: () => ({ valLoss: validate(model) }),
 * });
 * ```
 *
 * A model on a device (`model.toDevice(be)`, its backend active) trains there: the loss is read
 * with the gradient norm in one `readAll` after the update (the norm stays on the device until
 * then: `clipCoefficientTensor`, whose clipping coefficient the update reads the gradients scaled
 * by, `Optimizer.step`'s gradScale), so a step waits for the device once; with
 * `overlap: true` the next update is recorded before that wait, so the device and the host work
 * at once (step callbacks then run one update late; see the option). By default
 * (`evaluateOn: "host"`) `evaluate` runs on the host, on copies of the model's parameters and
 * buffers read back, with the host backend active (`withHostData`): it may use any op and read
 * any value. With `evaluateOn: "device"` it runs on the device with the model's own tensors,
 * nothing read back for it, and may be async, reading what it needs itself:
 *
 * ```ts
 * evaluateOn: "device",
 * evaluate: async () => {
 *   const pred = argmax(model.forward(valid.x), -1); // [N], on the device
 *   return { accuracy: accuracyOf(await pred.read(), valid.y.data) };
 * },
 * ```
 *
 * Checkpoints read the model and the optimizer's device state back (`captureTrainStateAsync`);
 * `resumeFrom` loads into the device model. A host model takes the synchronous path, unchanged.
 */
import { backward } from "../autograd/backward.js";
import { freeGraph, releaseTensor } from "../autograd/free-graph.js";
import { noGrad, noGradAsync } from "../autograd/graph.js";
import { anyOnDevice, withModelOnHost } from "../backend/host-copies.js";
import { Module } from "../nn/module.js";
import { clipCoefficientTensor, clipGradNorm } from "../optim/clip.js";
import { Optimizer, type BaseOptions } from "../optim/optimizer.js";
import { LRScheduler } from "../optim/schedule.js";
import { ValueError } from "../tensor/errors.js";
import type { ArrayFor, DType } from "../tensor/dtype.js";
import { readAll } from "../tensor/read-all.js";
import { manualSeed, type Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { captureTrainState, captureTrainStateAsync, restoreTrainState, type EvalRecord, type TrainParts, type TrainState } from "./state.js";

/** What the step callbacks receive after each update. */
export interface StepInfo {
  /** Updates taken so far (1 after the first). */
  step: number;
  totalSteps: number;
  /** The step this call of fit started from (0, or the resumed step). */
  startStep: number;
  /** The loss of this update. */
  loss: number;
  /** Learning rate of the first parameter group used for this update. */
  lr: number;
  /** Total gradient norm before clipping (null without clipNorm). */
  gradNorm: number | null;
  /** Milliseconds since this call of fit started. */
  elapsedMs: number;
}

export type StepCallback = (info: StepInfo) => void | Promise<void>;

export interface FitOptions<B> {
  model: Module;
  optimizer: Optimizer<BaseOptions>;
  /** Advanced once after every update. */
  scheduler?: LRScheduler;
  /** Computes the scalar loss of a batch (with the graph recorded); `step` is 0-based. */
  trainStep: (batch: B, step: number) => Tensor;
  /** The batch of each step (0-based), or an iterable of batches (on resume, the first `k` are skipped). */
  batches: ((step: number) => B) | Iterable<B>;
  /** Total number of updates (including those before a resumed checkpoint). */
  steps: number;
  /**
   * Clip the total gradient 2-norm to this before each update. On a device the update reads each
   * gradient times the clipping coefficient (the same numbers), and `.grad` keeps the unclipped
   * values; on the host the gradients are clipped in place.
   */
  clipNorm?: number;
  /** Run `evaluate` after every `evalEvery` updates (and after the last). */
  evalEvery?: number;
  /**
   * Metrics of the model after `step` updates; runs in eval mode without gradient recording.
   * Synchronous with `evaluateOn: "host"` (a Promise is a ValueError); may be async (awaited,
   * recording off until it settles) with `evaluateOn: "device"`.
   */
  evaluate?: (step: number) => Record<string, number> | Promise<Record<string, number>>;
  /**
   * Where `evaluate` runs for a model on a device (default "host"):
   * - "host": on the host, on copies of the model's parameters and buffers read back (one
   *   batched read per evaluation), with the host backend active (`withHostData`); any op, any
   *   synchronous read (`t.data`).
   * - "device": with the model's own device tensors and the device backend active; nothing is
   *   read back for it, so device tensors it makes have no synchronous `data` (DeviceSyncError):
   *   it reads its results with `await t.read()` / `readAll`. Gradient recording is off from the
   *   call until its promise settles (`noGradAsync`); the flag is global, so anything else that
   *   runs during its awaits (a timer, another promise's continuation) runs without recording
   *   too. `model.eval()` before, `model.train()` after, as for "host".
   * On a model on the host both run on the host; "device" also lets `evaluate` be async.
   */
  evaluateOn?: "host" | "device";
  onStep?: StepCallback | readonly StepCallback[];
  onEval?: (record: EvalRecord) => void | Promise<void>;
  /** Call `checkpoint` after every `checkpointEvery` updates. */
  checkpointEvery?: number;
  /** Receives a copy of the state (e.g. to write it to a file); awaited before training goes on. */
  checkpoint?: (state: TrainState) => void | Promise<void>;
  /** Continue from this state (restores model, optimizer, scheduler, generators and history). */
  resumeFrom?: TrainState;
  /** Checked after each step (after its evaluation and checkpoint): true ends training there (e.g. a time budget). */
  stopWhen?: (info: StepInfo) => boolean;
  /** Seeds the default generator before the first step (ignored when resuming: the state's generators win). */
  seed?: number;
  /** Generators besides the default one whose positions go into checkpoints (e.g. a dropout generator). */
  generators?: Record<string, Generator>;
  /**
   * After each update, give the buffers of the step's intermediate tensors back to the buffer pool
   * (autograd/free-graph.ts): the next step reuses them instead of allocating. Reading a tensor of
   * the step's graph afterwards throws (trainStep's closures must not keep them). The parameters'
   * gradients go back too, at the next step's zeroGrad and at the end (`zeroGrad({ release: true })`):
   * callbacks and evaluate still see the step's `.grad`s, a reference kept past them throws. Default false.
   */
  freeGraph?: boolean;
  /**
   * On a device: record each update before waiting for the previous one's loss to come back, so
   * the device runs one update while the host records the next (instead of the two taking turns).
   * Step s's callbacks and stopWhen then run after update s + 1 is recorded: they see the
   * parameters and gradients of that later update, and a stop lands one update later (the
   * recorded one counts: finalStep is s + 2), and so does an error the device reports at the
   * read. Evaluations, checkpoints and the last step still wait for their own update, so they see
   * its state (a stop there lands at once), and the losses, norms and learning rates are those of
   * the run without it. Without freeGraph two updates' graphs are alive at once. Ignored on the
   * host. Default false.
   */
  overlap?: boolean;
}

export interface FitResult {
  /** Loss of every update from 0 (those before a resumed checkpoint come from its history). */
  losses: number[];
  evals: EvalRecord[];
  startStep: number;
  /** Updates taken in all (steps, or fewer when stopWhen ended the run). */
  finalStep: number;
  /**
   * A copy of the final state (as a checkpoint would hold it). A model trained on a device needs
   * its state read back first: use `readState()` (else DeviceSyncError).
   */
  state: () => TrainState;
  /** The final state after reading a device model's parameters and optimizer state back (on the host, `state()`). */
  readState: () => Promise<TrainState>;
}

function positiveInt(v: unknown, arg: string, zeroOk = false): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < (zeroOk ? 0 : 1)) {
    throw new ValueError("fit", arg, zeroOk ? "an integer >= 0" : "an integer >= 1", String(v));
  }
}

function validate<B>(o: FitOptions<B>): void {
  if (typeof o !== "object" || o === null) throw new ValueError("fit", "options", "an options object", String(o));
  if (!(o.model instanceof Module)) throw new ValueError("fit", "model", "a Module", String(o.model));
  if (!(o.optimizer instanceof Optimizer)) throw new ValueError("fit", "optimizer", "an Optimizer", String(o.optimizer));
  if (o.scheduler !== undefined && !(o.scheduler instanceof LRScheduler)) throw new ValueError("fit", "scheduler", "an LRScheduler", String(o.scheduler));
  if (o.scheduler && o.scheduler.optimizer !== o.optimizer) throw new ValueError("fit", "scheduler", "a scheduler of the given optimizer", "a scheduler of another optimizer");
  if (typeof o.trainStep !== "function") throw new ValueError("fit", "trainStep", "a function (batch, step) => loss", String(o.trainStep));
  const b: unknown = o.batches;
  if (typeof b !== "function" && !(typeof b === "object" && b !== null && Symbol.iterator in b)) {
    throw new ValueError("fit", "batches", "a function step => batch or an iterable of batches", String(b));
  }
  positiveInt(o.steps, "steps", true);
  if (o.clipNorm !== undefined && !(typeof o.clipNorm === "number" && o.clipNorm > 0)) throw new ValueError("fit", "clipNorm", "a number > 0", String(o.clipNorm));
  if (o.evalEvery !== undefined) {
    positiveInt(o.evalEvery, "evalEvery");
    if (typeof o.evaluate !== "function") throw new ValueError("fit", "evaluate", "a function (with evalEvery)", String(o.evaluate));
  }
  for (const flag of ["freeGraph", "overlap"] as const) {
    const v: unknown = o[flag];
    if (v !== undefined && typeof v !== "boolean") throw new ValueError("fit", flag, "true or false", typeof v === "string" ? JSON.stringify(v) : String(v));
  }
  const on: unknown = o.evaluateOn;
  if (on !== undefined && on !== "host" && on !== "device") {
    throw new ValueError("fit", "evaluateOn", '"host" or "device"', typeof on === "string" ? JSON.stringify(on) : String(on));
  }
  if (o.checkpointEvery !== undefined) {
    positiveInt(o.checkpointEvery, "checkpointEvery");
    if (typeof o.checkpoint !== "function") throw new ValueError("fit", "checkpoint", "a function (with checkpointEvery)", String(o.checkpoint));
  }
  if (o.stopWhen !== undefined && typeof o.stopWhen !== "function") throw new ValueError("fit", "stopWhen", "a function (info) => boolean", String(o.stopWhen));
  if (o.seed !== undefined && !(typeof o.seed === "number" && Number.isFinite(o.seed))) throw new ValueError("fit", "seed", "a finite number", String(o.seed));
  if (o.resumeFrom && o.resumeFrom.step > o.steps) throw new ValueError("fit", "resumeFrom", `a state at step <= steps (${o.steps})`, `step ${o.resumeFrom.step}`);
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** Runs the training loop; resolves with the loss curve and the evaluation history. */
export async function fit<B>(opts: FitOptions<B>): Promise<FitResult> {
  validate(opts);
  const { model, optimizer, scheduler, trainStep, steps } = opts;
  const parts: TrainParts = { model, optimizer, scheduler: scheduler ?? null, generators: opts.generators ?? {} };
  const callbacks: readonly StepCallback[] = opts.onStep === undefined ? [] : typeof opts.onStep === "function" ? [opts.onStep] : opts.onStep;
  const batches = opts.batches;
  let next: (step: number) => B;
  if (typeof batches === "function") next = batches;
  else {
    const it = batches[Symbol.iterator]();
    let taken = 0;
    next = () => {
      const r = it.next();
      if (r.done) throw new ValueError("fit", "batches", `at least ${steps} batches`, `${taken}`);
      taken++;
      return r.value;
    };
    // the batches the checkpointed run already used; skipped before the generators are restored,
    // so that drawing them does not move the restored positions
    for (let s = 0; s < (opts.resumeFrom?.step ?? 0); s++) next(s);
  }

  let losses: number[] = [];
  let evals: EvalRecord[] = [];
  let start = 0;
  if (opts.resumeFrom) {
    restoreTrainState(parts, opts.resumeFrom);
    start = opts.resumeFrom.step;
    losses = opts.resumeFrom.losses.slice();
    evals = opts.resumeFrom.evals.map((e) => ({ step: e.step, metrics: { ...e.metrics } }));
  } else if (opts.seed !== undefined) manualSeed(opts.seed);

  const t0 = now();
  const params = optimizer.params();
  const onDevice = anyOnDevice(params);
  model.train();
  let finalStep = start;

  /** What one update recorded: on a device, the read of its loss (and norm) in flight. */
  interface Recorded { s: number; lr: number; loss: Tensor; norm: Tensor | null; read: Promise<ArrayFor[DType][]> | null; lossValue: number; gradNorm: number | null }

  /** Step s's update, recorded (on a device: its loss and norm read, not waited for). */
  const record = (s: number): Recorded => {
    const batch = next(s);
    // the previous update's gradients are fit's own: with freeGraph their memory goes back too
    optimizer.zeroGrad({ release: opts.freeGraph === true && s > start });
    const loss = trainStep(batch, s);
    if (!(loss instanceof Tensor) || loss.size !== 1) {
      throw new ValueError("fit", "trainStep", "a one-element loss tensor", loss instanceof Tensor ? `shape [${loss.shape.join(", ")}] at step ${s}` : `${String(loss)} at step ${s}`);
    }
    if (!loss.requiresGrad) throw new ValueError("fit", "trainStep", "a loss that depends on the parameters (requires grad)", `a constant loss at step ${s}`);
    let r: Recorded;
    if (loss.device === null) {
      const lossValue = loss.item();
      backward(loss);
      const gradNorm = opts.clipNorm !== undefined ? clipGradNorm(params, opts.clipNorm) : null;
      const lr = optimizer.paramGroups[0]!.lr;
      optimizer.step();
      r = { s, lr, loss, norm: null, read: null, lossValue, gradNorm };
    } else {
      backward(loss);
      // the clipping's coefficient goes into the update, which reads each gradient scaled by it
      const clip = opts.clipNorm !== undefined ? clipCoefficientTensor(params, opts.clipNorm) : null;
      const norm = clip ? clip.norm : null;
      const lr = optimizer.paramGroups[0]!.lr;
      optimizer.step({ submit: false, gradScale: clip?.coef }); // the read below submits the update with its copies
      if (clip) releaseTensor(clip.coef);
      // one wait for the device per step: the loss and the norm after the update was recorded (the
      // copies are recorded by this call, so the graph's arrays may go back before it resolves)
      const read = readAll(norm ? [loss, norm] : [loss]);
      read.catch(() => undefined); // awaited in finish; a run that throws before then leaves it unhandled otherwise
      r = { s, lr, loss, norm, read, lossValue: NaN, gradNorm: null };
    }
    if (opts.freeGraph) freeGraph(loss);
    scheduler?.step();
    return r;
  };

  /** The rest of a recorded update: its values, callbacks, evaluation and checkpoint; true when stopWhen ends the run. */
  const finish = async (r: Recorded): Promise<boolean> => {
    if (r.read) {
      const [l, n] = await r.read;
      r.lossValue = Number(l![0]);
      r.gradNorm = n ? Number(n[0]) : null;
      // on a device, the loss and the norm (read above) are fit's own: their arrays go back too
      if (opts.freeGraph) {
        releaseTensor(r.loss);
        if (r.norm) releaseTensor(r.norm);
      }
    }
    losses.push(r.lossValue);
    const done = r.s + 1;
    const info: StepInfo = { step: done, totalSteps: steps, startStep: start, loss: r.lossValue, lr: r.lr, gradNorm: r.gradNorm, elapsedMs: now() - t0 };
    for (const cb of callbacks) await cb(info);
    if (evalDue(done)) {
      const evaluate = opts.evaluate!;
      const run = (): Record<string, number> => {
        model.eval();
        try {
          const m = noGrad(() => evaluate(done));
          if (m instanceof Promise) {
            m.catch(() => undefined); // not awaited: its own rejection would go unhandled
            throw new ValueError("fit", "evaluate", 'metrics, not a Promise (an async evaluate needs evaluateOn "device")', `a Promise at step ${done}`);
          }
          return m;
        } finally {
          model.train();
        }
      };
      // on the device: the model's own tensors, the active (device) backend, awaited with recording off
      const runOnDevice = async (): Promise<Record<string, number>> => {
        model.eval();
        try {
          return await noGradAsync(() => evaluate(done));
        } finally {
          model.train();
        }
      };
      const metrics = opts.evaluateOn === "device" ? await runOnDevice()
        : await withModelOnHost(model, run);
      const record: EvalRecord = { step: done, metrics: { ...metrics } };
      evals.push(record);
      await opts.onEval?.(record);
    }
    if (checkpointDue(done)) {
      const history = { losses, evals };
      await opts.checkpoint!(onDevice ? await captureTrainStateAsync(parts, done, history) : captureTrainState(parts, done, history));
    }
    finalStep = done;
    return opts.stopWhen?.(info) === true;
  };
  const evalDue = (done: number): boolean => !!opts.evaluate && opts.evalEvery !== undefined && (done % opts.evalEvery === 0 || done === steps);
  const checkpointDue = (done: number): boolean => !!opts.checkpoint && opts.checkpointEvery !== undefined && done % opts.checkpointEvery === 0;

  // with overlap, a device update's rest waits until the next update is recorded (not past an
  // evaluation, a checkpoint or the last step, which see the state after their own update)
  let waiting: Recorded | null = null;
  for (let s = start; s < steps; s++) {
    let r: Recorded;
    try {
      r = record(s);
    } catch (e) {
      // the update before was taken: its values and callbacks first, then the error
      if (waiting) await finish(waiting);
      throw e;
    }
    if (waiting) {
      const w = waiting;
      waiting = null;
      if (await finish(w)) {
        await finish(r); // recorded already: it counts
        break;
      }
    }
    const done = s + 1;
    if (opts.overlap === true && r.read && done < steps && !evalDue(done) && !checkpointDue(done)) waiting = r;
    else if (await finish(r)) break;
  }
  optimizer.zeroGrad({ release: opts.freeGraph === true && finalStep > start });
  return {
    losses, evals, startStep: start, finalStep,
    state: () => captureTrainState(parts, finalStep, { losses, evals }),
    readState: () => captureTrainStateAsync(parts, finalStep, { losses, evals }),
  };
}
