/**
 * The two text applications as data: which columns hold the input and the output, where the data
 * and the shipped model live, length limits, and how outputs are scored (corpus BLEU, sacreBLEU
 * 13a, for translation; mean ROUGE-1/2/L F1 for summarization).
 *
 * ```ts
 * TASKS.translate.srcColumn;                     // "en"
 * scoreTask(TASKS.translate, hyps, refs).bleu;   // 0..100
 * formatScoreLine(TASKS.summarize, scores);      // "ROUGE-1: 38.10 ROUGE-2: 19.52 ROUGE-L: 35.04"
 * ```
 */
import { corpusBleu } from "../../metrics/bleu.js";
import { corpusRouge } from "../../metrics/rouge.js";
import type { TextTaskName } from "./model-file.js";
import { packageRoot } from "./paths.js";

export interface TextTask {
  name: TextTaskName;
  srcColumn: string;
  tgtColumn: string;
  /** The dataset directory that ships with the repository (train.tsv, valid.tsv, test.tsv). */
  dataDir: string;
  /** The shipped model's directory. */
  modelDir: string;
  /** Longest input and output in tokens; longer inputs are truncated with a warning. */
  maxSrcLen: number;
  maxTgtLen: number;
}

export const TASKS: Readonly<Record<TextTaskName, TextTask>> = Object.freeze({
  translate: {
    name: "translate", srcColumn: "en", tgtColumn: "es",
    dataDir: packageRoot("data/translation-en-es"), modelDir: packageRoot("models/translate-en-es"),
    maxSrcLen: 128, maxTgtLen: 160,
  },
  summarize: {
    name: "summarize", srcColumn: "description", tgtColumn: "synopsis",
    dataDir: packageRoot("data/summarization-debian"), modelDir: packageRoot("models/summarize-debian"),
    maxSrcLen: 256, maxTgtLen: 48,
  },
});

/** The task's metric on hypotheses against references. */
export function scoreTask(task: TextTask, hyps: string[], refs: string[]): Record<string, number> {
  if (task.name === "translate") return { bleu: corpusBleu(hyps, refs).score };
  const r = corpusRouge(hyps, refs);
  return { rouge1: r.rouge1, rouge2: r.rouge2, rougeL: r.rougeL };
}

/** The last line of an eval: `BLEU: 21.37` or `ROUGE-1: … ROUGE-2: … ROUGE-L: …` (two decimals). */
export function formatScoreLine(task: TextTask, s: Record<string, number>): string {
  if (task.name === "translate") return `BLEU: ${(s.bleu ?? 0).toFixed(2)}`;
  return `ROUGE-1: ${(s.rouge1 ?? 0).toFixed(2)} ROUGE-2: ${(s.rouge2 ?? 0).toFixed(2)} ROUGE-L: ${(s.rougeL ?? 0).toFixed(2)}`;
}
