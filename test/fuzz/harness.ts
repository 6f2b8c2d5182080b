/**
 * The fuzz harness: named fast-check properties run with a seed and a budget (a number of runs,
 * or minutes), collecting findings instead of stopping at the first. A finding is any exception
 * that is not the typed error the target promises, a typed error that does not name what it
 * must, a wrong result, or a case that runs past its time limit.
 *
 * ```ts
 * const report = await runTargets(loaderTargets(dir), { seed: 1, runs: 50 });
 * report.findings; // [] when every input gave a typed error or a correct result
 * ```
 */
import fc from "fast-check";
import { QkvError } from "../../src/tensor/errors.js";

/** A property of one entry point. */
export interface FuzzTarget<T = unknown> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Runs one input; throws a Finding (or any error) when the entry point misbehaves. */
  check: (input: T) => Promise<void> | void;
  /** Relative share of the budget (default 1). */
  weight?: number;
}

/** Erases a target's input type, so targets of different inputs share one list. */
export function target<T>(t: FuzzTarget<T>): FuzzTarget {
  return { name: t.name, weight: t.weight ?? 1, arbitrary: t.arbitrary.map((x): unknown => x), check: (x) => t.check(x as T) };
}

/** A misbehaviour the check itself detected (as opposed to an exception escaping the entry point). */
export class Finding extends Error {}

export interface FuzzReport {
  /** Inputs tried, over all targets. */
  tried: number;
  findings: { target: string; seed: number; message: string; counterexample: string }[];
  /** Peak resident memory of this process, in MiB. */
  peakRssMiB: number;
  /** Per target: inputs tried. */
  perTarget: Record<string, number>;
}

export interface FuzzBudget {
  seed: number;
  /** Runs per target of weight 1. */
  runs?: number;
  /** Wall-clock budget for all targets together (runs are then unbounded). */
  minutes?: number;
  /** Largest time one input may take, in ms (default 5000): past it, the case is a finding. */
  maxCaseMs?: number;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message.slice(0, 300)}`;
  return `non-Error thrown: ${String(e).slice(0, 300)}`;
}

/**
 * Calls `run` and accepts a correct return or one of `allowed` (default: any QkvError) whose
 * message contains every string of `mustName`. Anything else throws a Finding.
 */
export async function expectTyped(run: () => unknown, opts: { allowed?: readonly (abstract new (...a: never[]) => QkvError)[]; mustName?: readonly string[] } = {}): Promise<"ok" | QkvError> {
  const allowed = opts.allowed ?? [QkvError];
  try {
    await run();
    return "ok";
  } catch (e) {
    if (e instanceof Finding) throw e;
    if (!allowed.some((c) => e instanceof c)) throw new Finding(`untyped or unexpected exception: ${describeError(e)}`);
    const err = e as QkvError;
    if (!err.arg) throw new Finding(`typed error without a field: ${err.message}`);
    for (const s of opts.mustName ?? []) {
      if (!err.message.includes(s)) throw new Finding(`error does not name ${JSON.stringify(s)}: ${err.message}`);
    }
    return err;
  }
}

function show(v: unknown): string {
  try {
    const s = fc.stringify(v);
    return s.length > 400 ? `${s.slice(0, 400)}... (${s.length} chars)` : s;
  } catch {
    return String(v);
  }
}

/** Runs each target's property under the budget; every failing property contributes one finding. */
export async function runTargets(targets: readonly FuzzTarget[], budget: FuzzBudget): Promise<FuzzReport> {
  const maxCaseMs = budget.maxCaseMs ?? 5000;
  const report: FuzzReport = { tried: 0, findings: [], peakRssMiB: 0, perTarget: {} };
  const total = targets.reduce((s, t) => s + (t.weight ?? 1), 0);
  const deadline = budget.minutes !== undefined ? Date.now() + budget.minutes * 60_000 : Infinity;
  let round = 0;
  // With a time budget, targets take turns in rounds (each with its own seed) until the deadline.
  do {
    for (const t of targets) {
      const seed = budget.seed + round * 7919 + targets.indexOf(t);
      const share = budget.minutes !== undefined ? Math.max(1000, (budget.minutes * 60_000 * (t.weight ?? 1)) / total / 10) : undefined;
      if (deadline - Date.now() < 1000) break;
      let tried = 0;
      const prop = fc.asyncProperty(t.arbitrary, async (input) => {
        tried++;
        const t0 = performance.now();
        await t.check(input);
        const ms = performance.now() - t0;
        if (ms > maxCaseMs) throw new Finding(`one input took ${ms.toFixed(0)} ms (limit ${maxCaseMs} ms)`);
      });
      const slice = share !== undefined ? Math.min(share, deadline - Date.now()) : undefined;
      const details = await fc.check(prop, {
        seed,
        numRuns: slice !== undefined ? 1_000_000_000 : Math.max(1, Math.round((budget.runs ?? 50) * (t.weight ?? 1))),
        ...(slice !== undefined ? { interruptAfterTimeLimit: slice, markInterruptAsFailure: false } : {}),
        endOnFailure: true,
      });
      report.tried += tried;
      report.perTarget[t.name] = (report.perTarget[t.name] ?? 0) + tried;
      // fast-check counts a time slice in which no input finished as a failure, without an input:
      // a finding only when the slice was longer than one case may take (an input that hangs)
      const emptySlice = details.failed && details.interrupted && details.counterexample === null;
      if (emptySlice && slice !== undefined && slice > maxCaseMs) {
        report.findings.push({ target: t.name, seed, message: `no input finished within ${slice.toFixed(0)} ms`, counterexample: "(unknown: the run was interrupted)" });
      } else if (details.failed && !emptySlice) {
        const err = details.errorInstance;
        report.findings.push({
          target: t.name,
          seed,
          message: err instanceof Finding ? err.message : describeError(err),
          counterexample: show(details.counterexample?.[0]),
        });
      }
    }
    round++;
  } while (budget.minutes !== undefined && Date.now() < deadline);
  report.peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  return report;
}
