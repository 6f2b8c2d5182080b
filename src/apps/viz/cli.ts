/**
 * The `qkv viz` command: writes the interactive attention page (head view, model view, rollout and
 * flow, per-head statistics) of a text model directory on one input, or of the dates demo's model
 * (trained first, briefly by default).
 *
 * ```sh
 * npx qkv viz --model models/translate-en-es --text "In the beginning was the Word." --out viz.html
 * npx qkv viz --model runs/sum --text "..." --target "..."     # teacher forced on a given output
 * npx qkv viz --demo dates --steps 600 --text "3rd of March 1999" --out dates-viz.html
 * ```
 */
import { Command, InvalidArgumentError } from "commander";
import { runDatesDemo } from "../dates/demo.js";
import { loadTextModelDir, writeAtomic } from "../text/node-files.js";
import { textModelPage } from "./pages.js";

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
  return n;
};

interface VizCliOptions { model?: string; demo?: string; text?: string; target?: string; out: string; steps: number; seed: number }

export function registerVizCommands(program: Command): void {
  program
    .command("viz")
    .description("write the attention page (head view, model view, rollout and flow, per-head statistics) of a model on one input:\n" +
      "a text model directory (--model, e.g. models/translate-en-es or a training run's --out) or the dates demo (--demo dates)")
    .option("--model <path>", "text model directory (or its model.safetensors)")
    .option("--demo <name>", 'a demo model instead: "dates" (trained first, see --steps)')
    .option("--text <text>", "the input (dates demo: a date written any way; default: a held-out example)")
    .option("--target <text>", "seq2seq models: show the attention while writing this output (default: the model's greedy output)")
    .option("--steps <n>", "dates demo: training steps", int("--steps"), 600)
    .option("--seed <n>", "dates demo: seed", int("--seed"), 1)
    .option("--out <file.html>", "the page to write", "qkv-attention.html")
    .action(async (o: VizCliOptions) => {
      if ((o.model === undefined) === (o.demo === undefined)) throw new InvalidArgumentError("give either --model <dir> or --demo dates");
      if (o.demo !== undefined) {
        if (o.demo !== "dates") throw new InvalidArgumentError(`--demo must be "dates", got "${o.demo}"`);
        await runDatesDemo({ steps: o.steps, seed: o.seed, testSize: 200, out: null, viz: o.out, ...(o.text !== undefined ? { vizSource: o.text } : {}) });
        return;
      }
      if (o.text === undefined) throw new InvalidArgumentError("give the input with --text <text>");
      const bundle = await loadTextModelDir(o.model!);
      const html = textModelPage(bundle, o.text, { op: "qkv viz", textArg: "--text", ...(o.target !== undefined ? { target: o.target } : {}) });
      await writeAtomic(o.out, html);
      console.log(`attention of every layer and head: ${o.out}`);
    });
}
