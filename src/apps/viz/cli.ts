/**
 * The `qkv viz` command: writes the interactive attention page (head view, model view, rollout and
 * flow, per-head statistics) of a text model directory on one input, or of the dates demo's model
 * (trained first, briefly by default); with `--image`, the image view (rollout, attention ×
 * gradient and every layer × head over the patches) of an image classifier directory on one PNG.
 *
 * ```sh
 * npx qkv viz --model models/translate-en-es --text "In the beginning was the Word." --out viz.html
 * npx qkv viz --model runs/sum --text "..." --target "..."     # teacher forced on a given output
 * npx qkv viz --demo dates --steps 600 --text "3rd of March 1999" --out dates-viz.html
 * npx qkv viz --model models/classify-mnist --image digit.png --out digit-viz.html   # image view of a classifier
 * ```
 */
import { Command, InvalidArgumentError } from "commander";
import { integerArg } from "../../cli/args.js";
import { classifierAttentionPage } from "../classify/viz.js";
import { loadClassifierDir } from "../classify/node-files.js";
import { readPngImage } from "../classify/png.js";
import { runDatesDemo } from "../dates/demo.js";
import { loadTextModelDir, writeAtomic } from "../text/node-files.js";
import { textModelPage } from "./pages.js";


interface VizCliOptions { model?: string; demo?: string; text?: string; image?: string; target?: string; gradient: boolean; out: string; steps: number; seed: number }

export function registerVizCommands(program: Command): void {
  program
    .command("viz")
    .description("write the attention page (head view, model view, rollout and flow, per-head statistics) of a model on one input:\n" +
      "a text model directory (--model, e.g. models/translate-en-es or a training run's --out) or the dates demo (--demo dates);\n" +
      "with --image, the image view of an image classifier directory (e.g. models/classify-mnist)")
    .option("--model <path>", "text model or image classifier directory (or its model.safetensors)")
    .option("--demo <name>", 'a demo model instead: "dates" (trained first, see --steps)')
    .option("--text <text>", "the input (dates demo: a date written any way; default: a held-out example)")
    .option("--image <file.png>", "image classifiers: the PNG image (the model's size, e.g. 28 x 28)")
    .option("--no-gradient", "image classifiers: leave out attention × gradient (of the predicted class's logit)")
    .option("--target <text>", "seq2seq models: show the attention while writing this output (default: the model's greedy output)")
    .option("--steps <n>", "dates demo: training steps", integerArg("--steps"), 600)
    .option("--seed <n>", "dates demo: seed", integerArg("--seed", 0), 1)
    .option("--out <file.html>", "the page to write", "qkv-attention.html")
    .action(async (o: VizCliOptions) => {
      if ((o.model === undefined) === (o.demo === undefined)) throw new InvalidArgumentError("give either --model <dir> or --demo dates");
      if (o.demo !== undefined) {
        if (o.demo !== "dates") throw new InvalidArgumentError(`--demo must be "dates", got "${o.demo}"`);
        await runDatesDemo({ steps: o.steps, seed: o.seed, testSize: 200, out: null, viz: o.out, ...(o.text !== undefined ? { vizSource: o.text } : {}) });
        return;
      }
      if (o.image !== undefined) {
        if (o.text !== undefined) throw new InvalidArgumentError("give either --text (text models) or --image (image classifiers)");
        const op = "qkv viz";
        const bundle = await loadClassifierDir(o.model!);
        const [H, W] = bundle.model.config.imageSize;
        const { pixels } = await readPngImage(o.image, [H, W], op);
        await writeAtomic(o.out, classifierAttentionPage(bundle, pixels, { op, source: o.image, gradient: o.gradient }));
        console.log(`attention of every layer and head over the image: ${o.out}`);
        return;
      }
      if (o.text === undefined) throw new InvalidArgumentError("give the input with --text <text> (or --image <file.png> for an image classifier)");
      const bundle = await loadTextModelDir(o.model!);
      const html = textModelPage(bundle, o.text, { op: "qkv viz", textArg: "--text", ...(o.target !== undefined ? { target: o.target } : {}) });
      await writeAtomic(o.out, html);
      console.log(`attention of every layer and head: ${o.out}`);
    });
}
