/**
 * The text applications from code (Node): the shipped translator and summarizer, or any model
 * directory written by `qkv translate train` / `qkv summarize train`.
 *
 * ```ts
 * const tr = await loadTranslator();                       // models/translate-en-es
 * tr.translate(["In the beginning was the Word."], { beam: 4 });
 * const sm = await loadSummarizer();
 * sm.summarize(["2048 puzzle is mathematics based puzzle game where ..."]);
 * ```
 */
import { ValueError } from "../../tensor/errors.js";
import { TextGenerator, type GenerateOptions } from "./generator.js";
import type { TextModelBundle, TextTaskName } from "./model-file.js";
import { loadTextModelDir } from "./node-files.js";
import { TASKS } from "./tasks.js";

function asList(texts: string | readonly string[], op: string): readonly string[] {
  const list = typeof texts === "string" ? [texts] : texts;
  if (!Array.isArray(list) || list.some((t) => typeof t !== "string")) throw new ValueError(op, "texts", "a string or an array of strings", String(texts));
  return list;
}

async function loadFor(task: TextTaskName, path: string | undefined, op: string): Promise<TextModelBundle> {
  const dir = path ?? TASKS[task].modelDir;
  const b = await loadTextModelDir(dir);
  if (b.task !== task) throw new ValueError(op, "path", `a ${task} model`, `a ${b.task} model (${dir})`);
  return b;
}

export class Translator {
  readonly generator: TextGenerator;
  constructor(readonly bundle: TextModelBundle) {
    this.generator = new TextGenerator(bundle);
  }
  /** English sentences -> Spanish, one output per input (beam 4 by default). */
  translate(texts: string | readonly string[], opts: GenerateOptions = {}): string[] {
    return this.generator.generate(asList(texts, "Translator.translate"), opts);
  }
}

export class Summarizer {
  readonly generator: TextGenerator;
  constructor(readonly bundle: TextModelBundle) {
    this.generator = new TextGenerator(bundle);
  }
  /** Long descriptions -> one-line synopses. */
  summarize(texts: string | readonly string[], opts: GenerateOptions = {}): string[] {
    return this.generator.generate(asList(texts, "Summarizer.summarize"), opts);
  }
}

/** The shipped EN→ES translator, or the model at `path` (a directory or its model.safetensors). */
export async function loadTranslator(path?: string): Promise<Translator> {
  return new Translator(await loadFor("translate", path, "loadTranslator"));
}

/** The shipped summarizer, or the model at `path`. */
export async function loadSummarizer(path?: string): Promise<Summarizer> {
  return new Summarizer(await loadFor("summarize", path, "loadSummarizer"));
}
