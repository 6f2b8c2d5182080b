/**
 * The BPE merge learner: given word counts over an alphabet, repeatedly joins the most frequent
 * adjacent pair. Pair counts are kept up to date incrementally: a pair→words index says which
 * words a merge touches, only the pairs next to each merged occurrence change, and a max-heap with
 * lazy deletion (a popped entry whose count is stale is pushed back with the current count) finds
 * the next pair, so a merge costs the size of the words it touches, not of the corpus.
 *
 * Ties are broken by the pair's ids (smaller first id, then smaller second id: alphabet symbols in
 * their order, then older tokens first), so the result depends only on the word counts.
 *
 * ```ts
 * const { merges } = learnMerges(new Map([["abab", 3], ["ab", 1]]), ["a", "b"], { maxTokens: 4, minFrequency: 2 });
 * merges; // [["a", "b"], ["ab", "ab"]]
 * ```
 */

/** Pair keys: first id times SHIFT plus second id (ids stay below SHIFT). */
const SHIFT = 2 ** 21;

/** Largest number of tokens the learner can make. */
export const MAX_LEARNED_TOKENS = SHIFT;

/** A max-heap of (count, pair key): larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    let i = this.keys.length;
    this.counts.push(count);
    this.keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    this.swap(0, n - 1);
    this.counts.pop();
    this.keys.pop();
    const m = n - 1;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < m && this.above(l, best)) best = l;
      if (r < m && this.above(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

/** Options of `learnMerges`. */
export interface LearnOptions {
  /** Stop when the alphabet plus the learned tokens reach this many tokens. */
  maxTokens: number;
  /** Stop when the most frequent pair occurs fewer times than this (at least 1). */
  minFrequency: number;
}

/** What `learnMerges` learned: every token (the alphabet first) and the merges in rank order. */
export interface Learned {
  tokens: string[];
  merges: [string, string][];
}

/**
 * Learns BPE merges from `words` (each word a string of alphabet symbols, one UTF-16 unit each,
 * with its count). A merge whose concatenation is already a token reuses that token, as
 * `tokenizers` does, so there can be more merges than learned tokens. Trusts its input: the
 * caller validated it.
 */
export function learnMerges(words: ReadonlyMap<string, number>, alphabet: readonly string[], opts: LearnOptions): Learned {
  const tokens = alphabet.slice();
  const index = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const seqs: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of words) {
    if (w.length < 2 || c <= 0) continue; // no pair: never changes
    const seq = new Array<number>(w.length);
    for (let i = 0; i < w.length; i++) {
      const id = index.get(w[i]!);
      if (id === undefined) throw new Error(`learnMerges: ${JSON.stringify(w[i])} is not in the alphabet`);
      seq[i] = id;
    }
    seqs.push(seq);
    freq.push(c);
  }

  const counts = new Map<number, number>();
  const where = new Map<number, number[]>(); // pair -> words that held it (maybe no longer)
  for (let wi = 0; wi < seqs.length; wi++) {
    const seq = seqs[wi]!;
    const f = freq[wi]!;
    for (let i = 0; i + 1 < seq.length; i++) {
      const key = seq[i]! * SHIFT + seq[i + 1]!;
      counts.set(key, (counts.get(key) ?? 0) + f);
      const list = where.get(key);
      if (list === undefined) where.set(key, [wi]);
      else if (list[list.length - 1] !== wi) list.push(wi);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of counts) heap.push(c, key);

  const merges: [string, string][] = [];
  const minFrequency = Math.max(1, opts.minFrequency);
  while (tokens.length < opts.maxTokens) {
    const top = heap.pop();
    if (top === undefined) break;
    const [count, key] = top;
    const actual = counts.get(key) ?? 0;
    if (count !== actual) {
      if (actual > 0) heap.push(actual, key);
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(key / SHIFT);
    const b = key - a * SHIFT;
    const joined = tokens[a]! + tokens[b]!;
    let x = index.get(joined);
    if (x === undefined) {
      x = tokens.length;
      tokens.push(joined);
      index.set(joined, x);
    }
    merges.push([tokens[a]!, tokens[b]!]);

    // replace every occurrence, left to right, and move the counts of the pairs around each one
    const touched = new Map<number, number>(); // new pair -> last word added to its list
    const add = (k: number, delta: number, wi: number): void => {
      const c = (counts.get(k) ?? 0) + delta;
      if (c === 0) counts.delete(k);
      else counts.set(k, c);
      if (delta > 0 && touched.get(k) !== wi) {
        touched.set(k, wi);
        const list = where.get(k);
        if (list === undefined) where.set(k, [wi]);
        else list.push(wi);
      }
    };
    for (const wi of where.get(key) ?? []) {
      const seq = seqs[wi]!;
      let at = -1;
      for (let i = 0; i + 1 < seq.length; i++) {
        if (seq[i] === a && seq[i + 1] === b) {
          at = i;
          break;
        }
      }
      if (at < 0) continue; // the index entry went stale
      const f = freq[wi]!;
      const out = seq.slice(0, at);
      for (let i = at; i < seq.length;) {
        if (i + 1 < seq.length && seq[i] === a && seq[i + 1] === b) {
          if (out.length > 0) {
            const p = out[out.length - 1]!;
            add(p * SHIFT + a, -f, wi);
            add(p * SHIFT + x, f, wi);
          }
          out.push(x);
          i += 2;
          if (i < seq.length) {
            const n = seq[i]!;
            add(b * SHIFT + n, -f, wi);
            add(x * SHIFT + n, f, wi);
          }
        } else {
          out.push(seq[i++]!);
        }
      }
      seqs[wi] = out;
    }
    counts.delete(key);
    where.delete(key);
    for (const k of touched.keys()) {
      const c = counts.get(k);
      if (c !== undefined && c > 0) heap.push(c, k);
    }
  }
  return { tokens, merges };
}
