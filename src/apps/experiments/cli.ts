/**
 * The `qkv experiments` command: the source document's claims about self-attention and recurrent
 * networks as reproducible experiments, and docs/experiments.md regenerated from their results.
 *
 * ```sh
 * npx qkv experiments                      # all four (under an hour on 2 cores)
 * npx qkv experiments long-range --seeds 0,1
 * npx qkv experiments --quick --out /tmp/exp
 * ```
 */
import { Command, InvalidArgumentError } from "commander";
import { experimentNames, experiments } from "./registry.js";
import { runExperiments } from "./run.js";

function seedList(v: string): number[] {
  const seeds = v.split(",").map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new InvalidArgumentError(`--seeds must be non-negative integers separated by commas, got "${v}"`);
  return seeds;
}

export function registerExperimentsCommands(program: Command): void {
  program
    .command("experiments")
    .description(
      "run the source document's claims as experiments — long-range dependencies, parallelism, gradient flow (self-attention\n" +
      "against LSTM / GRU) and the number of heads — writing plots (SVG), raw results (JSON) and the report docs/experiments.md",
    )
    .argument("[name...]", `experiments to run (default all): ${experiments.map((e) => `${e.name} (~${e.fullMinutes} min)`).join(", ")}`)
    .option("--quick", "small sizes and one seed: checks that everything runs (under 2 minutes), not a result")
    .option("--out <dir>", "directory of the plots and JSON; the report goes beside it as <dir>.md", "docs/experiments")
    .option("--seeds <list>", "seeds for every experiment, e.g. 0,1,2 (default: each experiment's own)", seedList)
    .action(async (names: string[], o: { quick?: boolean; out: string; seeds?: number[] }) => {
      for (const n of names) if (!experimentNames().includes(n)) throw new InvalidArgumentError(`unknown experiment "${n}"; one of ${experimentNames().join(", ")}`);
      await runExperiments({ names, quick: o.quick ?? false, out: o.out, ...(o.seeds ? { seeds: o.seeds } : {}) });
    });
}
