/**
 * ROUGE-N and ROUGE-L as Google's `rouge-score` package computes them with its default tokenizer
 * and no stemming (`RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)`): text is
 * lower-cased and every run of `[a-z0-9]` is a token (anything else separates tokens and is
 * dropped, so non-ASCII letters vanish). ROUGE-N counts clipped n-gram overlaps; ROUGE-L takes
 * the longest common subsequence of the two token lists. `corpusRouge` averages the per-pair F1
 * (x100), as summarization papers and the dataset READMEs report it.
 *
 * ```ts
 * const s = sentenceRouge("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog");
 * s.rouge1.fmeasure; // 0.7059 (6 shared unigrams: p 6/8, r 6/9)
 * s.rougeL.fmeasure; // 0.5882 (LCS "the quick brown jumps the": p 5/8, r 5/9)
 * corpusRouge(["a b c"], ["a b d"]); // { rouge1: 66.67, rouge2: 50, rougeL: 66.67, pairs: 1 }
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { checkCorpus, checkSameLength, checkString } from "./inputs.js";

/** Precision, recall and F1 of one hypothesis against one reference, each in 0..1. */
export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** ROUGE-1, ROUGE-2 and ROUGE-L of one pair. */
export interface RougeScores {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

/** Mean F1 over the pairs of a corpus, x100. */
export interface CorpusRouge {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  /** How many pairs were averaged. */
  pairs: number;
}

/** rouge-score's default tokenizer without a stemmer: lower-case, then the runs of [a-z0-9]. */
export function rougeTokenize(text: string): string[] {
  checkString(text, "text", "rougeTokenize");
  return tokens(text);
}

function tokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/** rouge-score's `scoring.fmeasure`. */
function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngrams(ts: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= ts.length; i++) {
    const key = ts.slice(i, i + n).join(" "); // tokens hold no space
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

function scoreNgrams(hyp: readonly string[], ref: readonly string[], n: number): RougeScore {
  const h = ngrams(hyp, n);
  const r = ngrams(ref, n);
  let overlap = 0;
  let refCount = 0;
  for (const [g, c] of r) {
    overlap += Math.min(c, h.get(g) ?? 0);
    refCount += c;
  }
  const hypCount = Math.max(0, hyp.length - n + 1);
  const precision = overlap / Math.max(hypCount, 1);
  const recall = overlap / Math.max(refCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Length of the longest common subsequence, by the usual table, one row at a time. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      row[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    }
    [prev, row] = [row, prev];
  }
  return prev[b.length]!;
}

function scoreLcs(hyp: readonly string[], ref: readonly string[]): RougeScore {
  if (hyp.length === 0 || ref.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(ref, hyp);
  const precision = lcs / hyp.length;
  const recall = lcs / ref.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * ROUGE-N of one pair, equal to rouge-score's `rouge{n}`: clipped n-gram overlap over the
 * hypothesis n-grams (precision) and over the reference n-grams (recall); 0 where either has none.
 */
export function rougeN(hypothesis: string, reference: string, n: number): RougeScore {
  const op = "rougeN";
  checkString(hypothesis, "hypothesis", op);
  checkString(reference, "reference", op);
  if (!Number.isSafeInteger(n) || n < 1) throw new ValueError(op, "n", "a positive integer", String(n));
  return scoreNgrams(tokens(hypothesis), tokens(reference), n);
}

/** ROUGE-L of one pair, equal to rouge-score's `rougeL`: LCS length over each side's token count. */
export function rougeL(hypothesis: string, reference: string): RougeScore {
  const op = "rougeL";
  checkString(hypothesis, "hypothesis", op);
  checkString(reference, "reference", op);
  return scoreLcs(tokens(hypothesis), tokens(reference));
}

/**
 * ROUGE-1, ROUGE-2 and ROUGE-L of one pair, equal to
 * `RougeScorer(["rouge1", "rouge2", "rougeL"]).score(reference, hypothesis)` (note that
 * rouge-score takes the reference, its "target", first).
 */
export function sentenceRouge(hypothesis: string, reference: string): RougeScores {
  const op = "sentenceRouge";
  checkString(hypothesis, "hypothesis", op);
  checkString(reference, "reference", op);
  return pairScores(tokens(hypothesis), tokens(reference));
}

function pairScores(h: readonly string[], r: readonly string[]): RougeScores {
  return { rouge1: scoreNgrams(h, r, 1), rouge2: scoreNgrams(h, r, 2), rougeL: scoreLcs(h, r) };
}

/**
 * Mean ROUGE-1/2/L F1 over N hypothesis/reference pairs, x100 (each pair scored by
 * `sentenceRouge`, then 100 * sum / N).
 *
 * @param hypotheses N system outputs.
 * @param references N references, one per hypothesis.
 */
export function corpusRouge(hypotheses: string[], references: string[]): CorpusRouge {
  const op = "corpusRouge";
  checkCorpus(hypotheses, "hypotheses", op);
  checkCorpus(references, "references", op);
  checkSameLength(hypotheses.length, references, "references", op);
  let r1 = 0;
  let r2 = 0;
  let rl = 0;
  for (let i = 0; i < hypotheses.length; i++) {
    const s = pairScores(tokens(hypotheses[i]!), tokens(references[i]!));
    r1 += s.rouge1.fmeasure;
    r2 += s.rouge2.fmeasure;
    rl += s.rougeL.fmeasure;
  }
  const N = hypotheses.length;
  return { rouge1: (100 * r1) / N, rouge2: (100 * r2) / N, rougeL: (100 * rl) / N, pairs: N };
}
