/**
 * The dates dataset: a sequence-to-sequence task from a date written the way people write it
 * ("the 3rd of March 1999", "3/3/99", "Wednesday, March 3, 1999", ...) to its ISO form
 * `1999-03-03`, plus a character vocabulary to feed it to a model. Deterministic: the same seed
 * gives the same pairs on every platform (the counter-based Generator of tensor/rng.ts).
 *
 * Dates run from 1950-01-01 to 2049-12-31; two-digit years 50-99 are 19xx and 00-49 are 20xx.
 * Every source string has exactly one meaning: in all-numeric formats a slash with the year last
 * is US order (month/day/year), a dot is day.month.year, and a four-digit year first is always
 * followed by month then day (1999/03/03, 1999-03-03, 19990303).
 *
 * ```ts
 * const pairs = generateDatePairs(1000, 0); // [{ source: "3 Mar 1999", target: "1999-03-03" }, ...]
 * const vocab = CharVocab.fromStrings(pairs.flatMap((p) => [p.source, p.target]));
 * const ids = vocab.encode(pairs[0]!.source, { bos: true, eos: true, maxLen: 40 });
 * vocab.decode(ids); // pairs[0].source
 * const { train, test } = splitDates(0); // no test date appears in train, in any format
 * ```
 */
import { FormatError, ValueError } from "../tensor/errors.js";
import { Generator, uniformAt } from "../tensor/rng.js";

/** One example: a human-written date and its ISO form. */
export interface DatePair {
  source: string;
  target: string;
}

/** A calendar date; `weekday` 0 is Sunday. */
interface Ymd {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
  weekday: number;
}

const DAY_MS = 86_400_000;
const FIRST_DAY = Date.UTC(1950, 0, 1) / DAY_MS;
/** Number of days from 1950-01-01 to 2049-12-31 inclusive. */
export const DATE_COUNT = Date.UTC(2050, 0, 1) / DAY_MS - FIRST_DAY;

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const pad2 = (n: number): string => String(n).padStart(2, "0");
const yy = (y: number): string => pad2(y % 100);
const mon = (m: number): string => MONTHS[m - 1]!;
const mon3 = (m: number): string => mon(m).slice(0, 3);
const wday = (w: number): string => WEEKDAYS[w]!;

/** 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, ..., 31st. */
export function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** The formats, by name; each renders a date in its canonical casing. */
const FORMATS: Readonly<Record<string, (d: Ymd) => string>> = {
  "the Dth of Month YYYY": (d) => `the ${ordinal(d.day)} of ${mon(d.month)} ${d.year}`,
  "Month D, YYYY": (d) => `${mon(d.month)} ${d.day}, ${d.year}`,
  "Month Dth, YYYY": (d) => `${mon(d.month)} ${ordinal(d.day)}, ${d.year}`,
  "D Month YYYY": (d) => `${d.day} ${mon(d.month)} ${d.year}`,
  "D Mon YYYY": (d) => `${d.day} ${mon3(d.month)} ${d.year}`,
  "Mon D, YYYY": (d) => `${mon3(d.month)} ${d.day}, ${d.year}`,
  "Weekday, Month D, YYYY": (d) => `${wday(d.weekday)}, ${mon(d.month)} ${d.day}, ${d.year}`,
  "Wkd, D Mon YYYY": (d) => `${wday(d.weekday).slice(0, 3)}, ${d.day} ${mon3(d.month)} ${d.year}`,
  "Weekday the Dth of Month YYYY": (d) => `${wday(d.weekday)} the ${ordinal(d.day)} of ${mon(d.month)} ${d.year}`,
  "mon D YY": (d) => `${mon3(d.month).toLowerCase()} ${d.day} ${yy(d.year)}`,
  "D month YYYY": (d) => `${d.day} ${mon(d.month).toLowerCase()} ${d.year}`,
  "Month YYYY, the Dth": (d) => `${mon(d.month)} ${d.year}, the ${ordinal(d.day)}`,
  "M/D/YY": (d) => `${d.month}/${d.day}/${yy(d.year)}`,
  "MM/DD/YYYY": (d) => `${pad2(d.month)}/${pad2(d.day)}/${d.year}`,
  "DD.MM.YYYY": (d) => `${pad2(d.day)}.${pad2(d.month)}.${d.year}`,
  "D.M.YY": (d) => `${d.day}.${d.month}.${yy(d.year)}`,
  "YYYY/MM/DD": (d) => `${d.year}/${pad2(d.month)}/${pad2(d.day)}`,
  "YYYY-MM-DD": (d) => `${d.year}-${pad2(d.month)}-${pad2(d.day)}`,
  "YYYYMMDD": (d) => `${d.year}${pad2(d.month)}${pad2(d.day)}`,
};

/** The names of the formats `generateDatePairs` draws from (uniformly). */
export const DATE_FORMATS: readonly string[] = Object.freeze(Object.keys(FORMATS));

/** Letter casing applied to a rendered date. */
export type DateCasing = "as-is" | "lower" | "upper";

function dateOfIndex(i: number): Ymd {
  const dt = new Date((FIRST_DAY + i) * DAY_MS);
  return { year: dt.getUTCFullYear(), month: dt.getUTCMonth() + 1, day: dt.getUTCDate(), weekday: dt.getUTCDay() };
}

function iso(d: Ymd): string {
  return `${d.year}-${pad2(d.month)}-${pad2(d.day)}`;
}

function applyCase(s: string, casing: DateCasing): string {
  return casing === "lower" ? s.toLowerCase() : casing === "upper" ? s.toUpperCase() : s;
}

/**
 * Renders the `index`-th date of the range (0 is 1950-01-01, DATE_COUNT - 1 is 2049-12-31) in a
 * named format and casing, with its ISO target.
 *
 * ```ts
 * formatDateIndex(17593, "Weekday, Month D, YYYY"); // { source: "Wednesday, March 3, 1999", target: "1999-03-03" }
 * ```
 */
export function formatDateIndex(index: number, format: string, casing: DateCasing = "as-is"): DatePair {
  const op = "formatDateIndex";
  if (!Number.isInteger(index) || index < 0 || index >= DATE_COUNT) throw new ValueError(op, "index", `an integer in [0, ${DATE_COUNT - 1}]`, String(index));
  const render = Object.hasOwn(FORMATS, format) ? FORMATS[format] : undefined;
  if (!render) throw new ValueError(op, "format", `one of DATE_FORMATS (${DATE_FORMATS.join(" | ")})`, JSON.stringify(format));
  if (casing !== "as-is" && casing !== "lower" && casing !== "upper") throw new ValueError(op, "casing", '"as-is", "lower" or "upper"', String(casing));
  const d = dateOfIndex(index);
  return { source: applyCase(render(d), casing), target: iso(d) };
}

/** The day index of an ISO date in the range, or -1. */
export function dateIndexOf(isoDate: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (!m) return -1;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const dt = new Date(t);
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return -1;
  const i = t / DAY_MS - FIRST_DAY;
  return i >= 0 && i < DATE_COUNT ? i : -1;
}

function checkSeed(op: string, seed: number): void {
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new ValueError(op, "seed", "a finite number", String(seed));
}

function checkCount(op: string, arg: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ValueError(op, arg, "a non-negative integer", String(n));
}

/**
 * Draws `n` pairs whose dates are `days[k]` for uniform k (all days when `days` is omitted).
 * Pair k uses counters 3k, 3k+1, 3k+2 of the draw, so a shorter draw is a prefix of a longer one.
 */
function drawPairs(gen: Generator, n: number, days?: Int32Array): DatePair[] {
  const { k0, k1, start } = gen.take(3 * n);
  const count = days ? days.length : DATE_COUNT;
  const out: DatePair[] = [];
  for (let k = 0; k < n; k++) {
    const pick = Math.floor(uniformAt(k0, k1, start + 3 * k) * count);
    const fmt = Math.floor(uniformAt(k0, k1, start + 3 * k + 1) * DATE_FORMATS.length);
    const u = uniformAt(k0, k1, start + 3 * k + 2);
    const index = days ? days[pick]! : pick;
    out.push(formatDateIndex(index, DATE_FORMATS[fmt]!, u < 0.7 ? "as-is" : u < 0.85 ? "lower" : "upper"));
  }
  return out;
}

/**
 * `n` (source, target) pairs: a uniform date of 1950-2049, a uniform format of DATE_FORMATS, and
 * the format's own casing (70%), all lower case (15%) or all upper case (15%). The same seed gives
 * the same pairs everywhere, and `generateDatePairs(n, seed)` is a prefix of
 * `generateDatePairs(n + m, seed)`.
 *
 * ```ts
 * generateDatePairs(3, 42).map((p) => `${p.source} -> ${p.target}`);
 * ```
 */
export function generateDatePairs(n: number, seed: number): DatePair[] {
  checkCount("generateDatePairs", "n", n);
  checkSeed("generateDatePairs", seed);
  return drawPairs(new Generator(seed), n);
}

export interface SplitOptions {
  /** Pairs drawn from the training dates (default 10000). */
  trainSize?: number;
  /** Pairs drawn from the held-out dates (default 1000). */
  testSize?: number;
  /** Share of the calendar days held out for testing (default 0.1). */
  testFraction?: number;
}

/**
 * Train and test pairs with disjoint dates: a seeded shuffle of all days holds out
 * `testFraction` of them, and test pairs are drawn only from those, train pairs only from the
 * rest, so no test date appears in training under any format or casing.
 *
 * ```ts
 * const { train, test } = splitDates(7, { trainSize: 20000, testSize: 2000 });
 * ```
 */
export function splitDates(seed: number, opts: SplitOptions = {}): { train: DatePair[]; test: DatePair[] } {
  const op = "splitDates";
  checkSeed(op, seed);
  const trainSize = opts.trainSize ?? 10000;
  const testSize = opts.testSize ?? 1000;
  const testFraction = opts.testFraction ?? 0.1;
  checkCount(op, "trainSize", trainSize);
  checkCount(op, "testSize", testSize);
  if (typeof testFraction !== "number" || !(testFraction > 0 && testFraction < 1)) {
    throw new ValueError(op, "testFraction", "a number in (0, 1)", String(testFraction));
  }
  const gen = new Generator(seed);
  // Fisher-Yates shuffle of the day indices.
  const days = Int32Array.from({ length: DATE_COUNT }, (_, i) => i);
  const u = new Float64Array(DATE_COUNT);
  gen.fillUniform(u);
  for (let i = DATE_COUNT - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(u[i]! * (i + 1)));
    const t = days[i]!;
    days[i] = days[j]!;
    days[j] = t;
  }
  const nTest = Math.max(1, Math.min(DATE_COUNT - 1, Math.round(DATE_COUNT * testFraction)));
  const testDays = days.subarray(0, nTest);
  const trainDays = days.subarray(nTest);
  const train = drawPairs(gen, trainSize, trainDays);
  const test = drawPairs(gen, testSize, testDays);
  return { train, test };
}

/** The serialized form of a CharVocab. */
export interface CharVocabJSON {
  specials: string[];
  chars: string[];
}

export interface EncodeOptions {
  /** Prepend the `<bos>` id. */
  bos?: boolean;
  /** Append the `<eos>` id. */
  eos?: boolean;
  /** Pad with `<pad>` to this length; longer sequences are an error unless `truncate`. */
  maxLen?: number;
  /** Cut sequences longer than `maxLen` instead of throwing. */
  truncate?: boolean;
}

const DEFAULT_SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"];

/**
 * A character vocabulary: the special tokens first (ids 0..k-1), then every character seen, in
 * code point order (so the same strings give the same ids everywhere). Characters are Unicode
 * code points; unknown ones encode as `<unk>`. The roles pad/bos/eos/unk are found by the names
 * `<pad>`, `<bos>`, `<eos>`, `<unk>` among the specials (id -1 when absent).
 *
 * ```ts
 * const v = CharVocab.fromStrings(["1999-03-03", "March 3, 1999"]);
 * v.encode("1999", { bos: true, eos: true }); // [1, ..., 2]
 * v.decode(v.encode("1999", { eos: true, maxLen: 8 })); // "1999"
 * CharVocab.fromJSON(JSON.parse(JSON.stringify(v))).size === v.size; // true
 * ```
 */
export class CharVocab {
  readonly specials: readonly string[];
  readonly chars: readonly string[];
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  private readonly ids: Map<string, number>;
  /** The ids of the ASCII characters by code (-1: not in the vocabulary), encode's fast path. */
  private readonly ascii = new Int32Array(128).fill(-1);

  private constructor(specials: string[], chars: string[], op: string, err: typeof ValueError | typeof FormatError) {
    const seen = new Set<string>();
    specials.forEach((s, i) => {
      if (typeof s !== "string" || s.length === 0) throw new err(op, `specials[${i}]`, "a non-empty string", JSON.stringify(s) ?? String(s));
      if (seen.has(s)) throw new err(op, `specials[${i}]`, "unique special tokens", `a duplicate ${JSON.stringify(s)}`);
      seen.add(s);
    });
    const ids = new Map<string, number>();
    chars.forEach((c, i) => {
      if (typeof c !== "string" || [...c].length !== 1) throw new err(op, `chars[${i}]`, "a single character", JSON.stringify(c) ?? String(c));
      if (ids.has(c)) throw new err(op, `chars[${i}]`, "unique characters", `a duplicate ${JSON.stringify(c)}`);
      ids.set(c, specials.length + i);
    });
    this.specials = Object.freeze(specials.slice());
    this.chars = Object.freeze(chars.slice());
    this.ids = ids;
    for (const [c, id] of ids) if (c.length === 1 && c.charCodeAt(0) < 128) this.ascii[c.charCodeAt(0)] = id;
    this.padId = specials.indexOf("<pad>");
    this.bosId = specials.indexOf("<bos>");
    this.eosId = specials.indexOf("<eos>");
    this.unkId = specials.indexOf("<unk>");
  }

  /** A vocabulary of every character of `strings`, after `specials`. */
  static fromStrings(strings: Iterable<string>, specials: string[] = DEFAULT_SPECIALS): CharVocab {
    const op = "CharVocab.fromStrings";
    if (!Array.isArray(specials)) throw new ValueError(op, "specials", "an array of strings", String(specials));
    const set = new Set<string>();
    for (const s of strings) {
      if (typeof s !== "string") throw new ValueError(op, "strings", "strings only", typeof s);
      for (const ch of s) set.add(ch);
    }
    const chars = [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharVocab(specials.slice(), chars, op, ValueError);
  }

  /** A vocabulary from `toJSON()` output (a FormatError when malformed). */
  static fromJSON(json: unknown): CharVocab {
    const op = "CharVocab.fromJSON";
    if (typeof json !== "object" || json === null) throw new FormatError(op, "json", "{ specials: string[], chars: string[] }", String(json));
    const { specials, chars } = json as Record<string, unknown>;
    if (!Array.isArray(specials)) throw new FormatError(op, "specials", "an array of strings", typeof specials);
    if (!Array.isArray(chars)) throw new FormatError(op, "chars", "an array of single characters", typeof chars);
    return new CharVocab(specials as string[], chars as string[], op, FormatError);
  }

  /** Number of ids (specials plus characters). */
  get size(): number {
    return this.specials.length + this.chars.length;
  }

  /** The id of a character or special token (undefined when absent). */
  idOf(token: string): number | undefined {
    const s = this.specials.indexOf(token);
    return s >= 0 ? s : this.ids.get(token);
  }

  /** The token (special or character) of an id. */
  tokenOf(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new ValueError("CharVocab.tokenOf", "id", `an integer in [0, ${this.size - 1}]`, String(id));
    return id < this.specials.length ? this.specials[id]! : this.chars[id - this.specials.length]!;
  }

  /** Ids of the characters of `s`, optionally wrapped in bos/eos and padded to `maxLen`. */
  encode(s: string, opts: EncodeOptions = {}): number[] {
    const op = "CharVocab.encode";
    if (typeof s !== "string") throw new ValueError(op, "s", "a string", typeof s);
    const need = (id: number, name: string): number => {
      if (id < 0) throw new ValueError(op, "opts", `a vocabulary with a ${name} token`, `specials ${JSON.stringify(this.specials)}`);
      return id;
    };
    const out: number[] = [];
    if (opts.bos) out.push(need(this.bosId, "<bos>"));
    const ascii = this.ascii;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        // past ASCII: by code point, through the map
        for (const ch of s.slice(i)) out.push(this.ids.get(ch) ?? need(this.unkId, "<unk>"));
        break;
      }
      const id = ascii[c]!;
      out.push(id >= 0 ? id : need(this.unkId, "<unk>"));
    }
    if (opts.eos) out.push(need(this.eosId, "<eos>"));
    if (opts.maxLen !== undefined) {
      const maxLen = opts.maxLen;
      if (!Number.isSafeInteger(maxLen) || maxLen < 0) throw new ValueError(op, "maxLen", "a non-negative integer", String(maxLen));
      if (out.length > maxLen) {
        if (!opts.truncate) throw new ValueError(op, "maxLen", `at least ${out.length} (the encoded length of ${JSON.stringify(s)})`, String(maxLen));
        out.length = maxLen;
      }
      if (out.length < maxLen) {
        const pad = need(this.padId, "<pad>");
        while (out.length < maxLen) out.push(pad);
      }
    }
    return out;
  }

  /** The string of `ids`: stops at `<eos>`, skips `<pad>` and `<bos>`; other specials appear as their text. */
  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === this.eosId) break;
      if (id === this.padId || id === this.bosId) continue;
      if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new ValueError("CharVocab.decode", `ids[${i}]`, `an integer in [0, ${this.size - 1}]`, String(id));
      s += this.tokenOf(id);
    }
    return s;
  }

  /** `{ specials, chars }`, for JSON.stringify and fromJSON. */
  toJSON(): CharVocabJSON {
    return { specials: this.specials.slice(), chars: this.chars.slice() };
  }
}
