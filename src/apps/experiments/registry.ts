/**
 * The experiments, in the order of the report.
 *
 * ```ts
 * experimentNames(); // ["long-range", "parallelism", "gradient-flow", "heads"]
 * ```
 */
import type { Experiment } from "./experiment.js";
import { gradientFlow } from "./gradient-flow.js";
import { heads } from "./heads.js";
import { longRange } from "./long-range.js";
import { parallelism } from "./parallelism.js";

export const experiments: readonly Experiment[] = [longRange, parallelism, gradientFlow, heads];

export function experimentNames(): string[] {
  return experiments.map((e) => e.name);
}
