/**
 * Scoring a text model on a TSV file: the input column is generated in batches (beam search or
 * the best span), the outputs are scored against the reference column with the task's metric,
 * and the hypotheses can be written (one per line, input order, atomically). A model on a device
 * generates there.
 *
 * ```ts
 * const r = await evaluateFile(bundle, TASKS.translate, "data/translation-en-es/test.tsv", { beam: 4 });
 * r.line; // "BLEU: 21.37"
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import { anyOnDevice } from "../../backend/host-copies.js";
import { ValueError } from "../../tensor/errors.js";
import { DEFAULT_BEAM, TextGenerator } from "./generator.js";
import type { TextModelBundle } from "./model-file.js";
import { readTsvFile, writeAtomic } from "./node-files.js";
import { formatScoreLine, scoreTask, type TextTask } from "./tasks.js";

export interface EvaluateOptions {
  /** Beam width (default DEFAULT_BEAM, on the host and on a device alike). */
  beam?: number;
  /** Write the outputs here, one per line in input order. */
  hypOut?: string;
  /** Rows per generation batch (default 64). */
  batchSize?: number;
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

export interface EvaluateResult {
  scores: Record<string, number>;
  /** The metric line (`BLEU: …` / `ROUGE-1: … ROUGE-2: … ROUGE-L: …`). */
  line: string;
  rows: number;
  seconds: number;
  hypotheses: string[];
}

export async function evaluateFile(bundle: TextModelBundle, task: TextTask, file: string, o: EvaluateOptions = {}): Promise<EvaluateResult> {
  if (bundle.task !== task.name) throw new ValueError(`qkv ${task.name} eval`, "model", `a ${task.name} model`, `a ${bundle.task} model`);
  const log = o.log ?? ((l: string) => console.log(l)), warn = o.warn ?? ((l: string) => console.error(l));
  const table = await readTsvFile(file, [task.srcColumn, task.tgtColumn]);
  if (table.rows.length === 0) throw new ValueError(`qkv ${task.name} eval`, "--data", "a TSV with at least one row", `no rows (${file})`);
  const t0 = performance.now();
  const gen = new TextGenerator(bundle);
  const src = table.rows.map((r) => r[task.srcColumn]!), refs = table.rows.map((r) => r[task.tgtColumn]!);
  const hyps: string[] = [];
  let truncated = 0;
  const chunk = 256;
  // a model on a device generates there (generateAsync: each step's ids or candidates read back)
  const onDevice = anyOnDevice(bundle.model.parameters());
  const opts = {
    beam: o.beam ?? DEFAULT_BEAM, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    onTruncate: () => { truncated++; },
  };
  for (let i = 0; i < src.length; i += chunk) {
    const part = src.slice(i, i + chunk);
    hyps.push(...(onDevice ? await gen.generateAsync(part, opts) : noGrad(() => gen.generate(part, opts))));
    log(`${Math.min(i + chunk, src.length)}/${src.length} rows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  if (truncated) warn(`warning: ${truncated} input${truncated > 1 ? "s were" : " was"} longer than the model takes and ${truncated > 1 ? "were" : "was"} truncated`);
  if (o.hypOut) await writeAtomic(o.hypOut, hyps.map((h) => h.replace(/[\r\n]+/g, " ")).join("\n") + "\n");
  const scores = scoreTask(task, hyps, refs);
  return { scores, line: formatScoreLine(task, scores), rows: src.length, seconds: (performance.now() - t0) / 1000, hypotheses: hyps };
}
