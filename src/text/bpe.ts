/**
 * A byte-level BPE tokenizer, trained here and read or written as a Hugging Face `tokenizer.json`:
 * `tokenizers` loads what `toJSON()` writes and gives the same ids for any text (checked by
 * tools/interop/tokenizer_check.py), and `fromJSON` reads GPT-2-style byte-level BPE files.
 *
 * The pipeline, for each stretch of text between special tokens (which are matched first, on the
 * raw text, longest first, as `tokenizers` does):
 * 1. normalizer `Prepend(" ")`: a space goes before the stretch, so a text's first word is
 *    tokenized like the words inside it (`Hello` and ` Hello` give the same ids);
 * 2. pre-tokenizer `ByteLevel(add_prefix_space=false, use_regex=true)`: the GPT-2 pattern splits
 *    words, whose UTF-8 bytes become byte symbols;
 * 3. BPE merges by rank within each word (cached per word);
 * and decoding is `ByteLevel` then `Strip(" ", 1, 0)`, which removes that one added space.
 * Why not `ByteLevel(add_prefix_space=true)`: it adds the space only when the text does not
 * already start with one, so decoding cannot know whether to remove it (" x" and "x" encode
 * alike). The prepended space makes `decode(encode(text)) === text` for every text without
 * special tokens or lone surrogates, here and in `tokenizers`. No Unicode normalization (NFC) is
 * applied: text is encoded as given.
 *
 * ```ts
 * const tok = BpeTokenizer.train(sentences, { vocabSize: 8000 });
 * const ids = tok.encode("Y dijo Dios: Sea la luz: y fué la luz.");
 * tok.decode(ids);                                      // "Y dijo Dios: Sea la luz: y fué la luz."
 * const same = BpeTokenizer.fromJSON(tok.toJSON());    // the tokenizer.json text, and back
 * [tok.padId, tok.bosId, tok.eosId, tok.unkId];        // [0, 1, 2, 3]
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { learnMerges } from "./bpe-train.js";
import { BYTE_TO_CHAR, bytesToSymbols, preTokenize, symbolsToBytes } from "./byte-level.js";
import { MAX_TOKENIZER_ENTRIES, parseTokenizerJson, writeTokenizerJson, type BpeConfig } from "./tokenizer-json.js";

/** The special tokens a trained tokenizer gets by default, with ids 0, 1, 2, 3. */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = Object.freeze(["<pad>", "<s>", "</s>", "<unk>"]);

/** Options of `BpeTokenizer.train`. */
export interface BpeTrainOptions {
  /** Total tokens wanted: specials, the 256 byte symbols, then learned merges. */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged (default 2). */
  minFrequency?: number;
  /** Special tokens, ids 0.. in this order (default `<pad>`, `<s>`, `</s>`, `<unk>`). */
  specialTokens?: readonly string[];
}

/** Options of `BpeTokenizer.decode`. */
export interface BpeDecodeOptions {
  /** Leave special tokens out of the text (default true). */
  skipSpecialTokens?: boolean;
}

/** Words cached by `encode` before the cache is emptied. */
const CACHE_LIMIT = 200_000;
/** Pair keys in the merge table: first id times SHIFT plus second id. */
const SHIFT = 2 ** 21;
/** Heap keys in `mergeWord`: rank times POS plus position. */
const POS = 2 ** 32;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const utf8Lossy = new TextDecoder("utf-8", { fatal: false });

/** Byte-level BPE: train, encode, decode, and the Hugging Face `tokenizer.json` format. */
export class BpeTokenizer {
  /** Id of `<pad>`, or -1 when there is none (likewise `bosId` for `<s>`, `eosId` for `</s>`, `unkId` for `<unk>`). */
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  /** The special tokens, in id order. */
  readonly specialTokens: readonly string[];

  private readonly config: BpeConfig;
  private readonly ids = new Map<string, number>();
  private readonly special: Uint8Array; // 1 for special ids (skipped by decode)
  private readonly addedRe: RegExp | null;
  private readonly addedIds = new Map<string, number>();
  /** Merge table: pair key -> rank; `mergeResult[rank]` is the id the merge makes. */
  private readonly mergeOf = new Map<number, number>();
  private readonly mergeResult: Int32Array;
  private readonly byteIds: Int32Array; // byte -> id of its symbol
  private readonly cache = new Map<string, readonly number[]>();

  private constructor(config: BpeConfig) {
    this.config = config;
    config.tokens.forEach((t, i) => this.ids.set(t, i));
    this.special = new Uint8Array(config.tokens.length);
    for (const a of config.added) {
      this.addedIds.set(a.content, a.id);
      if (a.special) this.special[a.id] = 1;
    }
    const contents = [...this.addedIds.keys()].sort((x, y) => y.length - x.length || (x < y ? -1 : 1));
    this.addedRe = contents.length ? new RegExp(contents.map(escapeRe).join("|"), "g") : null;
    this.mergeResult = new Int32Array(config.merges.length);
    config.merges.forEach(([a, b], rank) => {
      this.mergeOf.set(this.ids.get(a)! * SHIFT + this.ids.get(b)!, rank);
      this.mergeResult[rank] = this.ids.get(a + b)!;
    });
    this.byteIds = Int32Array.from(BYTE_TO_CHAR, (c) => this.ids.get(c)!);
    this.specialTokens = Object.freeze(config.added.filter((a) => a.special).sort((x, y) => x.id - y.id).map((a) => a.content));
    const role = (t: string): number => (this.addedIds.has(t) ? this.ids.get(t)! : -1);
    this.padId = role("<pad>");
    this.bosId = role("<s>");
    this.eosId = role("</s>");
    this.unkId = role("<unk>");
  }

  /**
   * Trains a tokenizer on `texts`: the specials (ids 0..), the 256 byte symbols (in byte order),
   * then merges of the most frequent adjacent pair within pre-tokenized words until `vocabSize`
   * tokens (fewer when no pair occurs `minFrequency` times). The same texts, in any order, give
   * the same tokenizer.
   */
  static train(texts: Iterable<string>, opts: BpeTrainOptions): BpeTokenizer {
    const op = "BpeTokenizer.train";
    if (typeof opts !== "object" || opts === null) throw new ValueError(op, "opts", "{ vocabSize, minFrequency?, specialTokens? }", String(opts));
    const specials = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
    if (!Array.isArray(specials)) throw new ValueError(op, "specialTokens", "an array of strings", String(specials));
    const seen = new Set<string>();
    specials.forEach((s: unknown, i) => {
      if (typeof s !== "string" || s.length === 0) throw new ValueError(op, `specialTokens[${i}]`, "a non-empty string", JSON.stringify(s) ?? String(s));
      if (seen.has(s)) throw new ValueError(op, `specialTokens[${i}]`, "unique special tokens", `a duplicate ${JSON.stringify(s)}`);
      seen.add(s);
    });
    const min = specials.length + 256;
    const { vocabSize, minFrequency = 2 } = opts;
    if (!Number.isInteger(vocabSize) || vocabSize < min || vocabSize > MAX_TOKENIZER_ENTRIES) {
      throw new ValueError(op, "vocabSize", `an integer in [${min}, ${MAX_TOKENIZER_ENTRIES}] (specials + 256 bytes at least)`, String(vocabSize));
    }
    if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new ValueError(op, "minFrequency", "an integer >= 1", String(minFrequency));
    if (texts === null || typeof (texts as Partial<Iterable<string>>)[Symbol.iterator] !== "function") {
      throw new ValueError(op, "texts", "an iterable of strings", String(texts));
    }

    const base: BpeConfig = {
      tokens: [...specials, ...BYTE_TO_CHAR],
      merges: [],
      added: specials.map((content, id) => ({ id, content, special: true, inVocab: true })),
      normalizer: [{ type: "Prepend", prepend: " " }],
      addPrefixSpace: false,
      useRegex: true,
      trimOffsets: true,
      strip: { content: " ", start: 1, stop: 0 },
      postProcessor: false,
      unkToken: null,
      fuseUnk: false,
      ignoreMerges: false,
    };
    // count words exactly as encode splits them
    const splitter = new BpeTokenizer(base);
    const raw = new Map<string, number>();
    let n = 0;
    for (const text of texts) {
      if (typeof text !== "string") throw new ValueError(op, `texts[${n}]`, "a string", typeof text);
      splitter.split(text, () => {}, (word) => raw.set(word, (raw.get(word) ?? 0) + 1));
      n++;
    }
    const words = new Map<string, number>();
    for (const [word, c] of raw) {
      const sym = bytesToSymbols(word);
      words.set(sym, (words.get(sym) ?? 0) + c);
    }
    const learned = learnMerges(words, BYTE_TO_CHAR, { maxTokens: vocabSize - specials.length, minFrequency });
    return new BpeTokenizer({ ...base, tokens: [...specials, ...learned.tokens], merges: learned.merges });
  }

  /**
   * Reads a Hugging Face `tokenizer.json` (byte-level BPE), validating every field; a FormatError
   * names `source` and the field. Merges may be `[["a", "b"], ...]` or `["a b", ...]`.
   */
  static fromJSON(text: string, source = "tokenizer.json"): BpeTokenizer {
    return new BpeTokenizer(parseTokenizerJson(text, source));
  }

  /** The `tokenizer.json` text (Hugging Face format; merges as pairs). Note: a string, not an object. */
  toJSON(): string {
    return writeTokenizerJson(this.config);
  }

  /** Number of ids (specials included). */
  get vocabSize(): number {
    return this.config.tokens.length;
  }

  /** The merges in rank order, as pairs of tokens. */
  get merges(): readonly (readonly [string, string])[] {
    return this.config.merges;
  }

  /** The id of a token (a byte-symbol string such as `Ġthe`, or a special), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id. */
  idToToken(id: number): string {
    const t = Number.isInteger(id) ? this.config.tokens[id] : undefined;
    if (t === undefined) throw new ValueError("BpeTokenizer.idToToken", "id", `an integer in [0, ${this.vocabSize - 1}]`, String(id));
    return t;
  }

  /** The ids of `text`; special tokens written in the text (`</s>`) become their ids, as in `tokenizers`. */
  encode(text: string): number[] {
    if (typeof text !== "string") throw new ValueError("BpeTokenizer.encode", "text", "a string", typeof text);
    const out: number[] = [];
    this.split(
      text,
      (id) => out.push(id),
      (word) => {
        let ids = this.cache.get(word);
        if (ids === undefined) {
          ids = this.mergeWord(word);
          if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
          this.cache.set(word, ids);
        }
        for (const id of ids) out.push(id);
      },
    );
    return out;
  }

  /**
   * The text of `ids`: tokens joined, byte symbols turned back into UTF-8 (invalid sequences
   * become U+FFFD), then the decoder's strip (one leading space for a trained tokenizer).
   */
  decode(ids: readonly number[], opts: BpeDecodeOptions = {}): string {
    const op = "BpeTokenizer.decode";
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new ValueError(op, "ids", "an array of token ids", String(ids));
    const skip = opts.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const t = Number.isInteger(id) ? this.config.tokens[id] : undefined;
      if (t === undefined) throw new ValueError(op, `ids[${i}]`, `an integer in [0, ${this.vocabSize - 1}]`, String(id));
      if (!(skip && this.special[id] === 1)) tokens.push(t);
    }
    let text = utf8Lossy.decode(symbolsToBytes(tokens));
    const strip = this.config.strip;
    if (strip !== null) {
      const chars = [...text];
      let from = 0;
      while (from < strip.start && from < chars.length && chars[from] === strip.content) from++;
      let to = chars.length;
      while (chars.length - to < strip.stop && to > from && chars[to - 1] === strip.content) to--;
      if (from > 0 || to < chars.length) text = chars.slice(from, to).join("");
    }
    return text;
  }

  /**
   * Splits text as `tokenizers` does: added tokens first (longest match at the leftmost
   * position), then each stretch between them is normalized and pre-tokenized into words.
   */
  private split(text: string, onAdded: (id: number) => void, onWord: (word: string) => void): void {
    const stretch = (s: string): void => {
      for (const step of this.config.normalizer) {
        if (step.type === "NFC") s = s.normalize("NFC");
        else if (s.length > 0) s = step.prepend + s;
      }
      if (s.length === 0) return;
      if (this.config.addPrefixSpace && !s.startsWith(" ")) s = ` ${s}`;
      if (this.config.useRegex) for (const w of preTokenize(s)) onWord(w);
      else onWord(s);
    };
    const re = this.addedRe === null ? null : new RegExp(this.addedRe);
    if (re === null) return stretch(text);
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      stretch(text.slice(last, m.index));
      onAdded(this.addedIds.get(m[0])!);
      last = m.index + m[0].length;
    }
    stretch(text.slice(last));
  }

  /**
   * The ids of one word, merged as `tokenizers`' BPE does: a min-heap of (rank, position) over a
   * linked list of symbols; an entry whose pair has changed since it was pushed is skipped.
   */
  private mergeWord(word: string): number[] {
    const sym = bytesToSymbols(word);
    if (this.config.ignoreMerges) {
      const whole = this.ids.get(sym);
      if (whole !== undefined) return [whole];
    }
    const n = sym.length;
    const c = new Int32Array(n);
    for (let i = 0; i < n; i++) c[i] = this.ids.get(sym[i]!)!;
    if (n < 2) return Array.from(c);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap: number[] = []; // rank * POS + pos, smallest first
    const push = (key: number): void => {
      let i = heap.length;
      heap.push(key);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p]! <= key) break;
        heap[i] = heap[p]!;
        i = p;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap.pop()!;
      const m = heap.length;
      if (m > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= m) break;
          const r = l + 1;
          const child = r < m && heap[r]! < heap[l]! ? r : l;
          if (heap[child]! >= last) break;
          heap[i] = heap[child]!;
          i = child;
        }
        heap[i] = last;
      }
      return top;
    };
    const pairAt = (pos: number): void => {
      const nx = next[pos]!;
      const rank = this.mergeOf.get(c[pos]! * SHIFT + c[nx]!);
      if (rank !== undefined) push(rank * POS + pos);
    };
    for (let i = 0; i + 1 < n; i++) pairAt(i);
    while (heap.length > 0) {
      const key = pop();
      const pos = key % POS;
      const rank = (key - pos) / POS;
      if (!alive[pos]) continue;
      const nx = next[pos]!;
      if (nx < 0) continue;
      // stale entry: the pair here now merges into another token (or not at all)
      const now = this.mergeOf.get(c[pos]! * SHIFT + c[nx]!);
      const newId = this.mergeResult[rank]!;
      if (now === undefined || this.mergeResult[now] !== newId) continue;
      c[pos] = newId;
      alive[nx] = 0;
      const after = next[nx]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      if (prev[pos]! >= 0) pairAt(prev[pos]!);
      if (after >= 0) pairAt(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(c[i]!);
    return out;
  }
}
