/**
 * Training state: everything needed to continue a run exactly where it stopped — the model's
 * state dict, the optimizer's state, the scheduler's step, the random generators' positions
 * (the default generator under "default", plus any named ones), and the history so far.
 * Captured tensors are copies, so training can go on while a checkpoint is written.
 *
 * ```ts
 * const state = captureTrainState({ model, optimizer, scheduler }, step);
 * // ... later, on freshly built objects:
 * restoreTrainState({ model, optimizer, scheduler }, state);
 * // a model (and so its optimizer state) on a device: read back first
 * const s = await captureTrainStateAsync({ model, optimizer, scheduler }, step);
 * ```
 *
 * A model trained on a device: `captureTrainState` needs its parameters and the optimizer's
 * device moments on the host, which takes a read (`Module.readState()`,
 * `Optimizer.readState()`); `captureTrainStateAsync` does those reads and then captures, and
 * captures at once on the host. The captured state is host tensors either way (the same file
 * format), and `restoreTrainState` loads it into a model on the host or on a device alike.
 */
import type { Module, StateDict } from "../nn/module.js";
import type { BaseOptions, Optimizer, OptimizerState } from "../optim/optimizer.js";
import type { LRScheduler, SchedulerState } from "../optim/schedule.js";
import { ValueError } from "../tensor/errors.js";
import { readAll } from "../tensor/read-all.js";
import { defaultGenerator, type Generator } from "../tensor/rng.js";

/** A generator's saved position (Generator.getState()). */
export type GeneratorState = ReturnType<Generator["getState"]>;

/** Evaluation metrics after `step` updates. */
export interface EvalRecord {
  step: number;
  metrics: Record<string, number>;
}

export interface TrainState {
  /** Updates taken. */
  step: number;
  /** Copies of the model's parameters and buffers. */
  model: StateDict;
  optimizer: OptimizerState;
  /** Absent when the run has no scheduler. */
  scheduler?: SchedulerState;
  /** Generator positions by name; "default" is the default generator. */
  rng: Record<string, GeneratorState>;
  /** Loss of every update so far (index = update number, 0-based). */
  losses: number[];
  evals: EvalRecord[];
}

/** The live objects of a run. */
export interface TrainParts {
  model: Module;
  optimizer: Optimizer<BaseOptions>;
  scheduler?: LRScheduler | null;
  /** Generators besides the default one whose positions are saved and restored (e.g. dropout's). */
  generators?: Record<string, Generator>;
}

function generatorsOf(parts: TrainParts, op: string): Map<string, Generator> {
  const gens = new Map<string, Generator>([["default", defaultGenerator]]);
  for (const [name, g] of Object.entries(parts.generators ?? {})) {
    if (name === "default") throw new ValueError(op, "generators", "names other than \"default\" (the default generator is always included)", name);
    gens.set(name, g);
  }
  return gens;
}

/** A copy of the run's state after `step` updates. */
export function captureTrainState(parts: TrainParts, step: number, history: { losses?: readonly number[]; evals?: readonly EvalRecord[] } = {}): TrainState {
  const model: StateDict = {};
  for (const [name, t] of Object.entries(parts.model.stateDict())) model[name] = t.clone();
  const rng: Record<string, GeneratorState> = {};
  for (const [name, g] of generatorsOf(parts, "captureTrainState")) rng[name] = g.getState();
  const state: TrainState = {
    step,
    model,
    optimizer: parts.optimizer.stateDict(),
    rng,
    losses: (history.losses ?? []).slice(),
    evals: (history.evals ?? []).map((e) => ({ step: e.step, metrics: { ...e.metrics } })),
  };
  if (parts.scheduler) state.scheduler = parts.scheduler.stateDict();
  return state;
}

/** captureTrainState after reading a device model's parameters and its optimizer's device state back (together: one batched read). */
export async function captureTrainStateAsync(parts: TrainParts, step: number, history: { losses?: readonly number[]; evals?: readonly EvalRecord[] } = {}): Promise<TrainState> {
  await readAll([...Object.values(parts.model.stateDict()), ...parts.optimizer.deviceStateTensors()]);
  return captureTrainState(parts, step, history);
}

/**
 * Loads a state into the live objects: model, optimizer, scheduler and generators. The
 * generators of the state and of `parts` must match by name, and a scheduler must be present in
 * both or neither (else resuming would not continue the same run).
 */
export function restoreTrainState(parts: TrainParts, state: TrainState): void {
  const op = "restoreTrainState";
  if (typeof state !== "object" || state === null) throw new ValueError(op, "state", "a TrainState", String(state));
  if (!Number.isInteger(state.step) || state.step < 0) throw new ValueError(op, "state.step", "an integer >= 0", String(state.step));
  if (!Array.isArray(state.losses) || state.losses.length !== state.step) {
    throw new ValueError(op, "state.losses", `${state.step} losses (one per update)`, String(Array.isArray(state.losses) ? state.losses.length : state.losses));
  }
  if (!!state.scheduler !== !!parts.scheduler) {
    throw new ValueError(op, "scheduler", state.scheduler ? "a scheduler (the state has one)" : "no scheduler (the state has none)", parts.scheduler ? "a scheduler" : "none");
  }
  const gens = generatorsOf(parts, op);
  const saved = Object.keys(state.rng ?? {}).sort(), live = [...gens.keys()].sort();
  if (saved.join("\n") !== live.join("\n")) throw new ValueError(op, "generators", `the state's generators [${saved.join(", ")}]`, `[${live.join(", ")}]`);
  parts.model.loadStateDict(state.model);
  parts.optimizer.loadStateDict(state.optimizer);
  if (parts.scheduler && state.scheduler) parts.scheduler.loadStateDict(state.scheduler);
  for (const [name, g] of gens) g.setState(state.rng[name]!);
}
