/**
 * The `qkv translate` and `qkv summarize` commands: run the shipped (or a given) model on text
 * from the arguments, a file or stdin; `train` and `eval` subcommands.
 *
 * ```sh
 * npx qkv translate "In the beginning was the Word."
 * npx qkv translate --file in.txt --beam 4
 * npx qkv translate eval --data data/translation-en-es/test.tsv --hyp-out hyps.txt   # last line: BLEU: …
 * npx qkv summarize train --minutes 20 --out runs/sum
 * ```
 */
import { Command, InvalidArgumentError } from "commander";
import { integerArg, positiveArg } from "../../cli/args.js";
import { anyOnDevice, withModelOnHost } from "../../backend/host-copies.js";
import { getBackend } from "../../backend/registry.js";
import { ValueError } from "../../tensor/errors.js";
import { averageCheckpointsInto } from "./average.js";
import { evaluateFile } from "./evaluate.js";
import { TextGenerator } from "./generator.js";
import type { TextTaskName } from "./model-file.js";
import { loadTextModelDir, readBounded, writeAtomic } from "./node-files.js";
import { textModelPage } from "../viz/pages.js";
import { TASKS } from "./tasks.js";
import { trainSeq2Seq } from "./train-seq2seq.js";
import { trainSpan } from "./train-span.js";


/** Largest input read from a file or stdin (bytes). */
const MAX_INPUT_BYTES = 64 * 2 ** 20;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin) {
    const b = c as Buffer;
    n += b.length;
    if (n > MAX_INPUT_BYTES) throw new ValueError("qkv", "stdin", `at most ${MAX_INPUT_BYTES} bytes`, "more");
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The input lines: the words of the command line as one text, else the file's or stdin's lines. */
async function inputs(cmd: string, words: string[], file: string | undefined): Promise<string[]> {
  if (words.length && file) throw new ValueError(cmd, "--file", "either text arguments or --file", "both");
  if (words.length) return [words.join(" ")];
  const text = file ? (await readBounded(file, MAX_INPUT_BYTES, cmd)).toString("utf8") : process.stdin.isTTY ? "" : await readStdin();
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  if (!lines.some((l) => l.trim() !== "")) throw new ValueError(cmd, file ? "--file" : "text", "some text to work on", file ? `an empty file (${file})` : "nothing (give text, --file or stdin)");
  return lines;
}

interface TrainCliOptions {
  data?: string; out: string; steps?: number; minutes?: number; resume?: boolean; init?: string; seed: number;
}

function addTask(program: Command, name: TextTaskName, what: { run: string; output: string; metric: string }): void {
  const task = TASKS[name];
  const cmd = program.command(name).description(what.run);
  cmd.command("run", { isDefault: true })
    .description(`${what.output} text (the default: \`qkv ${name} "..."\` is \`qkv ${name} run "..."\`)`)
    .argument("[text...]", "the text (else --file or stdin, one input per line)")
    .option("--file <path>", "read inputs from this file, one per line")
    .option("--model <path>", "model directory (or its model.safetensors)", task.modelDir)
    .option("--beam <n>", "beam width (1 = greedy)", integerArg("--beam"), 4)
    .option("--viz <file.html>", "also write the attention page (head view, model view, rollout) of the first input")
    .action(async (words: string[], o: { file?: string; model: string; beam: number; viz?: string }) => {
      const lines = await inputs(`qkv ${name}`, words, o.file);
      const gen = new TextGenerator(await loadTextModelDir(o.model));
      if (gen.bundle.task !== name) throw new ValueError(`qkv ${name}`, "--model", `a ${name} model`, `a ${gen.bundle.task} model (${o.model})`);
      const model = gen.bundle.model;
      model.toDevice(getBackend()); // a no-op on a CPU backend
      const onDevice = anyOnDevice(model.parameters());
      const opts = {
        beam: o.beam,
        onTruncate: (i: number, n: number, kept: number) => console.error(`warning: input ${i + 1} has ${n} tokens; the model reads the first ${kept}`),
      };
      const outs = onDevice ? await gen.generateAsync(lines, opts) : gen.generate(lines, opts);
      if (o.viz) {
        // the attention page runs the model on the host (a device model's weights read back for it)
        const page = (): string => textModelPage(gen.bundle, lines[0]!, { op: `qkv ${name}`, target: outs[0]!, clipTarget: true });
        await writeAtomic(o.viz, await withModelOnHost(model, page));
      }
      for (const line of outs) console.log(line);
    });
  cmd.command("eval")
    .description(`${what.output} for the ${task.srcColumn} column of a TSV (header with ${task.srcColumn} and ${task.tgtColumn}) and print ${what.metric} as the last line`)
    .requiredOption("--data <file.tsv>", "the TSV to score")
    .option("--model <path>", "model directory (or its model.safetensors)", task.modelDir)
    .option("--beam <n>", "beam width (1 = greedy)", integerArg("--beam"), 4)
    .option("--hyp-out <path>", "write the outputs here, one per line in input order")
    .action(async (o: { data: string; model: string; beam: number; hypOut?: string }) => {
      const bundle = await loadTextModelDir(o.model);
      bundle.model.toDevice(getBackend()); // a no-op on a CPU backend
      const r = await evaluateFile(bundle, task, o.data, { beam: o.beam, ...(o.hypOut ? { hypOut: o.hypOut } : {}) });
      console.log(`${r.rows} rows in ${r.seconds.toFixed(1)} s${o.hypOut ? `; outputs in ${o.hypOut}` : ""}`);
      console.log(r.line);
    });
  cmd.command("average")
    .description("write a model whose weights are the mean of several checkpoints of one run (e.g. the last two)")
    .requiredOption("--run <dir>", "the training run's output directory (its model files give the config and tokenizer)")
    .requiredOption("--out <dir>", "where to write model.safetensors and tokenizer.json")
    .argument("<checkpoints...>", "checkpoint files of that run")
    .action(async (checkpoints: string[], o: { run: string; out: string }) => {
      await averageCheckpointsInto(o.run, checkpoints, o.out);
      console.log(`averaged ${checkpoints.length} checkpoints into ${o.out}`);
    });
  cmd.command("train")
    .description(`train a ${name} model from the data (checkpoints and resume; the same seed gives the same run)`)
    .option("--data <dir>", "directory with train.tsv and valid.tsv", task.dataDir)
    .option("--out <dir>", "output directory (model.safetensors, tokenizer.json, checkpoints/, log.jsonl)", `runs/${name}`)
    .option("--steps <n>", "stop after this many updates in all", integerArg("--steps"))
    .option("--minutes <m>", "stop after this many minutes", positiveArg("--minutes"))
    .option("--resume", "continue from the latest checkpoint in --out")
    .option("--init <dir>", "start from this model's weights and tokenizer (fresh optimizer)")
    .option("--seed <n>", "seed for data order, initialization and dropout", integerArg("--seed", 0), 0)
    .action(async (o: TrainCliOptions) => {
      if (o.steps === undefined && o.minutes === undefined) throw new InvalidArgumentError("give a budget: --steps <n> and/or --minutes <m>");
      const common = {
        outDir: o.out, seed: o.seed, ...(o.data ? { dataDir: o.data } : {}), ...(o.steps !== undefined ? { steps: o.steps } : {}),
        ...(o.minutes !== undefined ? { minutes: o.minutes } : {}), ...(o.resume ? { resume: true } : {}), ...(o.init ? { init: o.init } : {}),
      };
      if (name === "translate") await trainSeq2Seq({ task, ...common });
      else await trainSpan({ task, ...common });
    });
}

/** Adds `translate` and `summarize` to the program. */
export function registerTextCommands(program: Command): void {
  addTask(program, "translate", {
    run: "translate English to Spanish with the shipped model (or --model): text arguments, --file or stdin, one translation per line;\n" +
      "subcommands: train, eval",
    output: "translate", metric: "BLEU: <score> (corpus sacreBLEU, 13a)",
  });
  addTask(program, "summarize", {
    run: "write a one-line synopsis of a long description with the shipped model (or --model): text arguments, --file or stdin;\n" +
      "subcommands: train, eval",
    output: "summarize", metric: "ROUGE-1: <f> ROUGE-2: <f> ROUGE-L: <f> (mean F1 x 100)",
  });
}
