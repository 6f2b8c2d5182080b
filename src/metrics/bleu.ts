/**
 * BLEU as sacreBLEU 2.x computes it: `corpusBleu` equals `sacrebleu.corpus_bleu` and
 * `sentenceBleu` equals `sacrebleu.sentence_bleu` with their defaults (the mteval-v13a tokenizer,
 * case kept, "exp" smoothing, n-grams up to 4; effective order off for the corpus, on for a
 * sentence). Scores are in 0..100. References follow sacreBLEU's layout: one array per reference
 * *stream*, each holding one line per hypothesis (a plain `string[]` is a single stream).
 *
 * ```ts
 * const r = corpusBleu(["The cat sat on the mat."], ["The cat sat on a mat."]);
 * r.score;              // 48.89 (counts [6, 4, 2, 1] of totals [7, 6, 5, 4], bp 1)
 * formatBleu(r.score);  // "48.89"
 * sentenceBleu("the cat", ["the cat sat"]).score; // 60.65: orders 1-2 only, bp = exp(1 - 3/2)
 * tokenize13a('He said "no", 3.5-4 km.');       // 'He said " no " , 3.5 - 4 km .'
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { checkCorpus, checkOptionalBoolean, checkOptions, checkSameLength, checkString } from "./inputs.js";

/** How a line is split into words before counting n-grams. */
export type BleuTokenizer = "13a" | "none";

/** The smoothing methods of Chen and Cherry (2014) that sacreBLEU offers. */
export type BleuSmoothing = "exp" | "floor" | "add-k" | "none";

export interface BleuOptions {
  /** "13a" (default): mteval-v13a, as WMT and sacreBLEU; "none": split on whitespace only. */
  tokenize?: BleuTokenizer;
  /** Lower-case hypotheses and references first (default false). */
  lowercase?: boolean;
  /** Default "exp" (NIST: the k-th zero-match order counts as 1 / 2^k matches). */
  smoothMethod?: BleuSmoothing;
  /** The value for "floor" (default 0.1) and "add-k" (default 1); the others take none. */
  smoothValue?: number;
  /** Highest n-gram order (default 4). */
  maxNgramOrder?: number;
  /**
   * Average only the orders the hypotheses have n-grams of (sacreBLEU's `use_effective_order`).
   * Default false for `corpusBleu`, true for `sentenceBleu`, as in sacreBLEU.
   */
  effectiveOrder?: boolean;
}

/** A BLEU score and the statistics it comes from (sacreBLEU's `BLEUScore`). */
export interface BleuResult {
  /** BLEU in 0..100. */
  score: number;
  /** Modified n-gram precisions in 0..100, one per order (smoothed where smoothing applies). */
  precisions: number[];
  /** Brevity penalty in 0..1: exp(1 - refLen / sysLen) when sysLen < refLen, else 1. */
  bp: number;
  /** Hypothesis tokens, summed over the corpus. */
  sysLen: number;
  /** Reference tokens (per line, the reference length closest to the hypothesis's, ties to the shorter), summed. */
  refLen: number;
  /** Clipped n-gram matches per order (plus the added k for orders above 1 under "add-k", as sacreBLEU reports them). */
  counts: number[];
  /** Hypothesis n-grams per order (plus k for orders above 1 under "add-k"). */
  totals: number[];
}

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number | undefined> = { none: undefined, floor: 0.1, "add-k": 1, exp: undefined };
const TOKENIZERS: readonly BleuTokenizer[] = ["13a", "none"];

// Python's str.split()/rstrip() whitespace (str.isspace): JavaScript's \s lacks \x1c-\x1f and \x85 and adds \ufeff.
const PY_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPACES = new RegExp(`[${PY_SPACE}]+`, "u");
const PY_TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, "u");

/** Python's `line.split()`: runs of Unicode whitespace separate words, none are empty. */
function pySplit(line: string): string[] {
  return line.split(PY_SPACES).filter((w) => w.length > 0);
}

// mteval-v13a's language-dependent rules, in order (sacreBLEU's TokenizerRegexp).
const RULES_13A: readonly [RegExp, string][] = [
  // every ASCII symbol except period, comma, dash, apostrophe: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
  [/([{-~[-`\x20-&(-+:-@/])/gu, " $1 "],
  // period and comma, unless preceded by a digit
  [/([^0-9])([.,])/gu, "$1 $2 "],
  // period and comma, unless followed by a digit
  [/([.,])([^0-9])/gu, " $1 $2"],
  // dash when preceded by a digit
  [/([0-9])(-)/gu, "$1 $2 "],
];

/**
 * The mteval-v13a tokenizer as sacreBLEU's `Tokenizer13a` applies it: drops `<skipped>`, joins
 * `-\n` line breaks, turns other newlines into spaces, unescapes `&quot; &amp; &lt; &gt;`, splits
 * off ASCII symbols, splits periods and commas except between digits and dashes after a digit,
 * and collapses whitespace. Returns the tokens joined by single spaces.
 */
export function tokenize13a(line: string): string {
  checkString(line, "line", "tokenize13a");
  return tokenize13aUnchecked(line);
}

function tokenize13aUnchecked(line: string): string {
  let s = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (s.includes("&")) s = s.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  s = ` ${s} `;
  for (const [re, repl] of RULES_13A) s = s.replace(re, repl);
  return pySplit(s).join(" ");
}

interface Resolved {
  tokenize: BleuTokenizer;
  lowercase: boolean;
  smoothMethod: BleuSmoothing;
  smoothValue: number | undefined;
  maxNgramOrder: number;
  effectiveOrder: boolean;
}

function resolve(opts: BleuOptions | undefined, op: string, effectiveDefault: boolean): Resolved {
  checkOptions(opts, op);
  const o = opts ?? {};
  const tokenize = o.tokenize ?? "13a";
  if (!TOKENIZERS.includes(tokenize)) throw new ValueError(op, "opts.tokenize", '"13a" or "none"', String(tokenize));
  const smoothMethod = o.smoothMethod ?? "exp";
  if (!Object.hasOwn(SMOOTH_DEFAULTS, smoothMethod)) {
    throw new ValueError(op, "opts.smoothMethod", '"exp", "floor", "add-k" or "none"', String(smoothMethod));
  }
  if (o.smoothValue !== undefined && (typeof o.smoothValue !== "number" || !Number.isFinite(o.smoothValue) || o.smoothValue < 0)) {
    throw new ValueError(op, "opts.smoothValue", "a finite number >= 0", String(o.smoothValue));
  }
  const maxNgramOrder = o.maxNgramOrder ?? 4;
  if (!Number.isSafeInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new ValueError(op, "opts.maxNgramOrder", "a positive integer", String(maxNgramOrder));
  }
  checkOptionalBoolean(o.lowercase, "opts.lowercase", op);
  checkOptionalBoolean(o.effectiveOrder, "opts.effectiveOrder", op);
  return {
    tokenize,
    lowercase: o.lowercase ?? false,
    smoothMethod,
    smoothValue: o.smoothValue ?? SMOOTH_DEFAULTS[smoothMethod],
    maxNgramOrder,
    effectiveOrder: o.effectiveOrder ?? effectiveDefault,
  };
}

/** Lower-cases (if asked), right-strips and tokenizes one line into words. */
function words(line: string, o: Resolved): string[] {
  let s = o.lowercase ? line.toLowerCase() : line;
  s = s.replace(PY_TRAILING_SPACE, "");
  return pySplit(o.tokenize === "13a" ? tokenize13aUnchecked(s) : s);
}

/** Counts of every n-gram, one map per order 1..N; keys are the words joined by a space (words hold none). */
function ngramCounts(ws: readonly string[], N: number): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= N; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= ws.length; i++) {
      const key = ws.slice(i, i + n).join(" ");
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

/** Length of the reference closest to the hypothesis; on a tie, the shorter one. */
function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let bestDiff = -1;
  let best = -1;
  for (const r of refLens) {
    const diff = Math.abs(hypLen - r);
    if (bestDiff === -1 || diff < bestDiff) {
      bestDiff = diff;
      best = r;
    } else if (diff === bestDiff && r < best) {
      best = r;
    }
  }
  return best;
}

/** Corpus statistics: sysLen, refLen, then matches and totals per order, summed over lines. */
interface Stats {
  sysLen: number;
  refLen: number;
  correct: number[];
  total: number[];
}

function corpusStats(hyps: readonly string[], streams: readonly (readonly string[])[], o: Resolved): Stats {
  const N = o.maxNgramOrder;
  const st: Stats = { sysLen: 0, refLen: 0, correct: new Array<number>(N).fill(0), total: new Array<number>(N).fill(0) };
  for (let i = 0; i < hyps.length; i++) {
    // reference n-gram counts: per n-gram, the most any one reference has
    const refMax: Map<string, number>[] = [];
    const refLens: number[] = [];
    for (const stream of streams) {
      const ws = words(stream[i]!, o);
      refLens.push(ws.length);
      const counts = ngramCounts(ws, N);
      for (let n = 0; n < N; n++) {
        const into = refMax[n] ?? new Map<string, number>();
        refMax[n] = into;
        for (const [g, c] of counts[n]!) into.set(g, Math.max(into.get(g) ?? 0, c));
      }
    }
    const hw = words(hyps[i]!, o);
    st.sysLen += hw.length;
    st.refLen += closestRefLen(hw.length, refLens);
    const hypCounts = ngramCounts(hw, N);
    for (let n = 0; n < N; n++) {
      const ref = refMax[n]!;
      for (const [g, c] of hypCounts[n]!) {
        st.total[n]! += c;
        st.correct[n]! += Math.min(c, ref.get(g) ?? 0);
      }
    }
  }
  return st;
}

/** sacreBLEU's `my_log`: log, with log(0) floored to -9999999999. */
function floorLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/** sacreBLEU's `BLEU.compute_bleu`, operation for operation. */
function computeBleu(st: Stats, o: Resolved): BleuResult {
  const { sysLen, refLen } = st;
  const correct = st.correct.slice();
  const total = st.total.slice();
  const N = o.maxNgramOrder;
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(N).fill(0);
  if (!correct.some((c) => c !== 0)) return { score: 0, precisions, bp, sysLen, refLen, counts: correct, totals: total };
  let smoothMteval = 1;
  let effOrder = N;
  for (let n = 1; n <= N; n++) {
    if (o.smoothMethod === "add-k" && n > 1) {
      correct[n - 1]! += o.smoothValue!;
      total[n - 1]! += o.smoothValue!;
    }
    const c = correct[n - 1]!;
    const t = total[n - 1]!;
    if (t === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (c === 0) {
      if (o.smoothMethod === "exp") {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * t);
      } else if (o.smoothMethod === "floor") {
        precisions[n - 1] = (100 * o.smoothValue!) / t;
      }
    } else {
      precisions[n - 1] = (100 * c) / t;
    }
  }
  let logSum = 0;
  for (let n = 0; n < effOrder; n++) logSum += floorLog(precisions[n]!);
  const score = bp * Math.exp(logSum / effOrder);
  return { score, precisions, bp, sysLen, refLen, counts: correct, totals: total };
}

/**
 * Corpus BLEU, equal to `sacrebleu.corpus_bleu(hypotheses, references)`: n-gram matches and
 * lengths are summed over all lines before the precisions and the brevity penalty are taken.
 *
 * @param hypotheses N system outputs, one line each (detokenized text).
 * @param references N reference lines (one reference each), or an array of K reference streams of
 *   N lines each (sacreBLEU's layout: `references[k][i]` is the k-th reference of line i).
 */
export function corpusBleu(hypotheses: string[], references: string[] | string[][], opts?: BleuOptions): BleuResult {
  const op = "corpusBleu";
  checkCorpus(hypotheses, "hypotheses", op);
  const o = resolve(opts, op, false);
  if (!Array.isArray(references) || references.length === 0) {
    throw new ValueError(op, "references", "a non-empty array of strings or of reference streams", references === null ? "null" : Array.isArray(references) ? "[]" : typeof references);
  }
  let streams: string[][];
  if (references.every((r: unknown) => Array.isArray(r))) {
    streams = references as string[][];
    streams.forEach((s, k) => {
      checkCorpus(s, `references[${k}]`, op, true);
      checkSameLength(hypotheses.length, s, `references[${k}]`, op);
    });
  } else {
    checkCorpus(references, "references", op);
    checkSameLength(hypotheses.length, references, "references", op);
    streams = [references];
  }
  return computeBleu(corpusStats(hypotheses, streams, o), o);
}

/**
 * Sentence BLEU, equal to `sacrebleu.sentence_bleu(hypothesis, references)`: BLEU of a one-line
 * corpus, with effective order on by default (orders without hypothesis n-grams are left out).
 *
 * @param hypothesis one system output.
 * @param references its reference, or several (the closest length sets the brevity penalty).
 */
export function sentenceBleu(hypothesis: string, references: string | string[], opts?: BleuOptions): BleuResult {
  const op = "sentenceBleu";
  checkString(hypothesis, "hypothesis", op);
  const refs = typeof references === "string" ? [references] : references;
  checkCorpus(refs, "references", op);
  const o = resolve(opts, op, true);
  return computeBleu(corpusStats([hypothesis], refs.map((r) => [r]), o), o);
}

/**
 * A score with two decimals, as sacreBLEU prints it (Python's `f"{score:.2f}"`: the decimal
 * nearest the exact binary value, an exact tie going to the even digit).
 */
export function formatBleu(score: number): string {
  if (typeof score !== "number" || Number.isNaN(score)) throw new ValueError("formatBleu", "score", "a number", String(score));
  // An exact tie at two decimals is a multiple of 1/8 that is not one of 1/4 (x.125, x.375, ...):
  // toFixed breaks it upwards, Python to the even digit. Multiplying by 8 or 4 is exact.
  if (Number.isInteger(score * 8) && !Number.isInteger(score * 4) && Math.abs(score) < 2 ** 40) {
    const hundredths = score * 100; // exact: an odd multiple of 0.5
    const down = Math.floor(hundredths);
    return ((down % 2 === 0 ? down : down + 1) / 100).toFixed(2);
  }
  return score.toFixed(2);
}
