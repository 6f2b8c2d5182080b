/**
 * Learning-rate schedules: functions from a step count to a multiplier of each group's base lr,
 * and the LRScheduler that applies one to an optimizer (torch.optim.lr_scheduler.LambdaLR
 * semantics). Step `s` is the number of optimizer updates already taken, so the update number
 * `s` (0-based) runs with `baseLr * schedule(s)`. The warm-up follows the common convention of
 * Hugging Face's `get_cosine_schedule_with_warmup` / `get_inverse_sqrt_schedule`:
 * `s / warmupSteps` during warm-up (0 for the very first update).
 *
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 3e-4 });
 * const sched = new LRScheduler(opt, warmupCosine({ warmupSteps: 100, totalSteps: 1000, minLr: 0.1 }));
 * for (...) { opt.zeroGrad(); backward(loss); opt.step(); sched.step(); }
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { BaseOptions, Optimizer } from "./optimizer.js";

/** Step count -> multiplier of the base learning rate. */
export type Schedule = (step: number) => number;

function checkSteps(v: unknown, arg: string, op: string, min: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ValueError(op, arg, `an integer >= ${min}`, String(v));
}

/** Multiplier 1 at every step. */
export function constant(): Schedule {
  return () => 1;
}

/** Linear warm-up `s / warmupSteps` (multiplier 1 from `warmupSteps` on when `warmupSteps` is 0). */
function warm(s: number, warmupSteps: number): number {
  return s / warmupSteps;
}

/**
 * Linear warm-up over `warmupSteps`, then cosine decay from 1 to `minLr` at `totalSteps`, then
 * `minLr`. `minLr` is a fraction of each group's base lr (default 0).
 *
 *     s < warmupSteps:  s / warmupSteps
 *     otherwise:        minLr + (1 - minLr) * 0.5 * (1 + cos(pi * min(1, (s - warmupSteps) / (totalSteps - warmupSteps))))
 */
export function warmupCosine(opts: { warmupSteps: number; totalSteps: number; minLr?: number }): Schedule {
  const op = "warmupCosine";
  const { warmupSteps, totalSteps } = opts;
  const minLr = opts.minLr ?? 0;
  checkSteps(warmupSteps, "warmupSteps", op, 0);
  checkSteps(totalSteps, "totalSteps", op, 1);
  if (totalSteps <= warmupSteps) throw new ValueError(op, "totalSteps", `an integer > warmupSteps (${warmupSteps})`, String(totalSteps));
  if (typeof minLr !== "number" || !(minLr >= 0 && minLr <= 1)) throw new ValueError(op, "minLr", "a fraction of the base lr in [0, 1]", String(minLr));
  return (s) => {
    if (s < warmupSteps) return warm(s, warmupSteps);
    const progress = Math.min(1, (s - warmupSteps) / (totalSteps - warmupSteps));
    return minLr + (1 - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/**
 * Linear warm-up over `warmupSteps`, then decay as the inverse square root of the step
 * (the "Noam" schedule of "Attention Is All You Need", normalized to peak at 1):
 *
 *     s < warmupSteps:  s / warmupSteps
 *     otherwise:        sqrt(warmupSteps / s)       (1 at s = warmupSteps)
 */
export function warmupInverseSqrt(opts: { warmupSteps: number }): Schedule {
  const { warmupSteps } = opts;
  checkSteps(warmupSteps, "warmupSteps", "warmupInverseSqrt", 1);
  return (s) => (s < warmupSteps ? warm(s, warmupSteps) : Math.sqrt(warmupSteps / s));
}

/** A scheduler's saved state: the step count and the base lr of each group. */
export interface SchedulerState {
  step: number;
  baseLrs: number[];
}

/**
 * Sets each group's `lr` to `baseLr * schedule(step)`. The base lrs are the groups' lrs when the
 * scheduler is made; construction applies `schedule(0)`, and each `step()` (called after
 * `optimizer.step()`) advances by one.
 */
export class LRScheduler {
  readonly baseLrs: number[];
  /** Number of `step()` calls (= optimizer updates taken). */
  stepCount = 0;

  constructor(readonly optimizer: Optimizer<BaseOptions>, readonly schedule: Schedule) {
    if (typeof schedule !== "function") throw new ValueError("LRScheduler", "schedule", "a function step -> multiplier", String(schedule));
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** The current lr of each group. */
  get lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  step(): void {
    this.stepCount++;
    this.apply();
  }

  private apply(): void {
    const f = this.schedule(this.stepCount);
    if (!Number.isFinite(f) || f < 0) throw new ValueError("LRScheduler", "schedule", "a finite multiplier >= 0", `${f} at step ${this.stepCount}`);
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i]! * f;
    });
  }

  stateDict(): SchedulerState {
    return { step: this.stepCount, baseLrs: this.baseLrs.slice() };
  }

  /** Restores the step count and base lrs and sets the groups' lrs accordingly. */
  loadStateDict(s: SchedulerState): void {
    const op = "LRScheduler.loadStateDict";
    if (typeof s !== "object" || s === null) throw new ValueError(op, "state", "{ step, baseLrs }", String(s));
    checkSteps(s.step, "step", op, 0);
    if (!Array.isArray(s.baseLrs) || s.baseLrs.length !== this.baseLrs.length || !s.baseLrs.every((x) => typeof x === "number" && x >= 0)) {
      throw new ValueError(op, "baseLrs", `${this.baseLrs.length} numbers >= 0`, JSON.stringify(s.baseLrs));
    }
    this.stepCount = s.step;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.apply();
  }
}
