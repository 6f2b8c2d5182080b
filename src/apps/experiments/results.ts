/**
 * What every experiment hands back, and the summaries it uses: mean and spread over seeds, tables
 * of numbers, plots. The runner writes it as `<name>.json` (the raw results, next to the plots) and
 * docs/experiments.md is generated from those files alone.
 *
 * ```ts
 * spread([0.5, 0.7, 0.6]); // { mean: 0.6, std: 0.1, min: 0.5, max: 0.7, n: 3 }
 * fmtSpread(spread([0.5, 0.7, 0.6]), (v) => pct(v)); // "60.0 ± 10.0"
 * ```
 */

/** Mean, sample standard deviation (0 for one value), extremes and count of a list of numbers. */
export interface Spread {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n };
}

/** A table of the report: column titles and rows of cells. */
export interface Table {
  caption?: string;
  columns: string[];
  rows: (string | number)[][];
}

/** A plot: the SVG file (beside the JSON) and what it shows. */
export interface Plot {
  file: string;
  caption: string;
}

/** One experiment's results as written to `<name>.json`. */
export interface ExperimentReport {
  name: string;
  title: string;
  /** The claim or question of the source document, in its words (translated). */
  question: string;
  /** How the experiment is set up (markdown). */
  setup: string;
  plots: Plot[];
  tables: Table[];
  /** One or two sentences: where the claim holds and where it does not (derived from the numbers). */
  verdict: string;
  quick: boolean;
  seeds: number[];
  backend: string;
  /** Wall time of the experiment, s. */
  seconds: number;
  /** CPU time of the process over the experiment (all threads), s: comparable across loaded and idle machines. */
  cpuSeconds: number;
  /** When the experiment finished (ISO 8601). */
  finished: string;
  /** Every number behind the tables and plots. */
  data: unknown;
}

/** What an experiment's run returns: its report (without the bookkeeping the runner adds) and the SVG text of each plot. */
export interface ExperimentOutput {
  report: Omit<ExperimentReport, "name" | "title" | "question" | "quick" | "backend" | "seconds" | "cpuSeconds" | "finished">;
  svgs: Record<string, string>;
}

/** 0.1234 -> "12.3" (percent, one decimal). */
export const pct = (v: number): string => (Number.isFinite(v) ? (100 * v).toFixed(1) : "–");

/** A number with 3 significant digits, in exponent form below 0.001 ("–" when not finite). */
export const sig3 = (v: number): string => {
  if (!Number.isFinite(v)) return "–";
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2).replace("e-", "e−");
  return String(Number(v.toPrecision(3)));
};

/** "mean ± std" with `f` formatting both. */
export const fmtSpread = (s: Spread, f: (v: number) => string = sig3): string => (s.n > 1 ? `${f(s.mean)} ± ${f(s.std)}` : f(s.mean));
