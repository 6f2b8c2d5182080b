/**
 * Words and tokens for extractive span selection: a text's whitespace words, each encoded on its
 * own (with the byte-level tokenizer's leading space, which makes the concatenation equal to
 * encoding the whole text), so every token knows its word; and the oracle span — the run of words
 * whose ROUGE-L F1 against the reference is highest — that training teaches the model to find.
 *
 * ```ts
 * const w = wordTokens(tokenizer, "2048 puzzle is mathematics based puzzle game where ...", 256);
 * w.ids; w.wordOf; // token ids, and the word index of each token
 * oracleSpan(w.words, "mathematics based puzzle game", 24); // { first: 3, last: 6, f: 1 }
 * ```
 */
import { rougeTokenize } from "../../metrics/rouge.js";
import type { BpeTokenizer } from "../../text/bpe.js";

export interface WordTokens {
  words: string[];
  ids: number[];
  /** Word index of each token. */
  wordOf: number[];
  /** Whether the text was cut to fit maxTokens. */
  truncated: boolean;
}

/** Encodes `text` word by word, keeping at most `maxTokens` tokens (whole words only). */
export function wordTokens(tok: BpeTokenizer, text: string, maxTokens: number): WordTokens {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const ids: number[] = [], wordOf: number[] = [];
  let truncated = false;
  for (let i = 0; i < words.length; i++) {
    const t = tok.encode(words[i]!);
    if (ids.length + t.length > maxTokens) {
      truncated = true;
      words.length = i;
      break;
    }
    for (const id of t) {
      ids.push(id);
      wordOf.push(i);
    }
  }
  return { words, ids, wordOf, truncated };
}

function lcs(a: readonly string[], b: readonly string[]): number {
  if (!a.length || !b.length) return 0;
  let prev = new Int32Array(b.length + 1), cur = new Int32Array(b.length + 1);
  for (const x of a) {
    for (let j = 0; j < b.length; j++) cur[j + 1] = x === b[j] ? prev[j]! + 1 : Math.max(prev[j + 1]!, cur[j]!);
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** The run of at most `maxWords` words with the best ROUGE-L F1 against `reference` (ties: the earliest, then the shortest). */
export function oracleSpan(words: readonly string[], reference: string, maxWords: number): { first: number; last: number; f: number } {
  const ref = rougeTokenize(reference);
  const wt = words.map((w) => rougeTokenize(w));
  let best = { first: 0, last: 0, f: 0 };
  for (let i = 0; i < words.length; i++) {
    const acc: string[] = [];
    for (let j = i; j < Math.min(words.length, i + maxWords); j++) {
      acc.push(...wt[j]!);
      const l = lcs(acc, ref);
      if (l === 0) continue;
      const p = l / acc.length, r = l / ref.length, f = (2 * p * r) / (p + r);
      if (f > best.f + 1e-12) best = { first: i, last: j, f };
    }
  }
  return best;
}

/** The words first … last as the output text, without trailing punctuation. */
export function spanText(words: readonly string[], first: number, last: number): string {
  return words.slice(first, last + 1).join(" ").replace(/[\s.,;:!?]+$/u, "");
}
