/**
 * The `qkv demo` command (the dates app).
 *
 * ```sh
 * npx qkv demo --steps 1500 --seed 0 --out dates-attention.html
 * npx qkv demo --viz dates-viz.html          # also the head view / model view page
 * npx qkv --backend webgpu demo --eval-every 100   # held-out accuracy every 100 steps, decoded on the GPU
 * ```
 */
import { Command } from "commander";
import { integerArg } from "../../cli/args.js";
import { runDatesDemo } from "./demo.js";


export function registerDatesCommands(program: Command): void {
  program
    .command("demo")
    .description(
      "train a small encoder-decoder transformer to rewrite dates (\"the 3rd of March 1999\", \"3/3/99\", ...) into ISO form,\n" +
      "report exact-match accuracy on held-out dates, print examples, and write the cross-attention per head as HTML",
    )
    .option("--steps <n>", "training steps", integerArg("--steps"), 1000)
    .option("--seed <n>", "seed for data, initialization and dropout (same seed, same run)", integerArg("--seed", 0), 0)
    .option("--batch-size <n>", "examples per step", integerArg("--batch-size"), 64)
    .option("--test-size <n>", "held-out examples to evaluate", integerArg("--test-size"), 1000)
    .option("--out <path>", "where to write the attention report (HTML)", "qkv-demo-attention.html")
    .option("--viz <file.html>", "also write the interactive attention page (head view, model view, rollout) of the first held-out example")
    .option("--eval-every <n>", "report exact match on (up to) 200 held-out pairs every n steps (decoded on the device with --backend webgpu)", integerArg("--eval-every"))
    .action(async (o: { steps: number; seed: number; batchSize: number; testSize: number; out: string; viz?: string; evalEvery?: number }) => {
      await runDatesDemo({
        steps: o.steps, seed: o.seed, batchSize: o.batchSize, testSize: o.testSize, out: o.out,
        ...(o.viz ? { viz: o.viz } : {}), ...(o.evalEvery !== undefined ? { evalEvery: o.evalEvery } : {}),
      });
    });
}
