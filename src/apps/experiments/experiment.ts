/**
 * The shape of one experiment: a name (what `qkv experiments <name>` takes), the source
 * document's claim it tests, and a run that returns the report and its plots.
 *
 * ```ts
 * const out = await longRange.run({ quick: true, seeds: [0], log: console.log });
 * out.report.verdict; out.svgs["long-range.svg"];
 * ```
 */
import type { ExperimentOutput } from "./results.js";

export interface RunContext {
  /** Small sizes, for the tests and a first look (under 2 minutes for all four). */
  quick: boolean;
  /** The seeds to run (each one a full repetition: data, initialization). */
  seeds: number[];
  log: (line: string) => void;
}

export interface Experiment {
  name: string;
  title: string;
  /** The source document's claim or question, in its words (translated). */
  question: string;
  /** The seeds of a full run (quick runs take the first one or two). */
  defaultSeeds: number[];
  /** Time of a full run on the 2-core reference machine, minutes (an estimate, for the docs and --help). */
  fullMinutes: number;
  run(ctx: RunContext): Promise<ExperimentOutput>;
}
