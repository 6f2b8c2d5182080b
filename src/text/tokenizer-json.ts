/**
 * The Hugging Face `tokenizer.json` format for byte-level BPE: a bounded, validating reader and a
 * writer. Reading refuses, with a FormatError naming the source and the field, anything that would
 * make our encoding differ from `tokenizers`' (truncation, padding, dropout, other models,
 * normalizers or pre-tokenizers, added tokens matched after normalization) and any malformed entry
 * (wrong types, duplicate or out-of-range ids, merges of tokens not in the vocabulary).
 *
 * ```ts
 * const config = parseTokenizerJson(await readFile("tokenizer.json", "utf8"), "tokenizer.json");
 * writeTokenizerJson(config) === text; // for files written by writeTokenizerJson
 * ```
 */
import { parseJsonBounded } from "../io/json.js";
import { FormatError } from "../tensor/errors.js";
import { BYTE_TO_CHAR } from "./byte-level.js";

/** Largest `tokenizer.json` text read, in UTF-16 code units (32 Mi; GPT-2's file is 1.4 M). */
export const MAX_TOKENIZER_JSON_CHARS = 32 * 2 ** 20;

/** Most tokens (vocabulary plus added) and most merges a file may hold. */
export const MAX_TOKENIZER_ENTRIES = 2 ** 20;

/** A text normalization step, applied before pre-tokenization to each stretch between added tokens. */
export type NormalizerStep = { type: "NFC" } | { type: "Prepend"; prepend: string };

/** A token matched on the raw text before anything else (a special token such as `<s>`). */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Also an entry of the model's vocabulary (as the specials a trainer adds are). */
  inVocab: boolean;
}

/** The validated content of a byte-level BPE `tokenizer.json`. */
export interface BpeConfig {
  /** Every token by id (model vocabulary and added tokens), ids 0..n-1 with no gap. */
  tokens: string[];
  /** Merges by rank: `merges[r]` joins two tokens into the token of their concatenation. */
  merges: [string, string][];
  added: AddedToken[];
  normalizer: NormalizerStep[];
  /** ByteLevel pre-tokenizer: prepend a space to a stretch that does not start with one. */
  addPrefixSpace: boolean;
  /** ByteLevel pre-tokenizer: split with the GPT-2 pattern (else each stretch is one word). */
  useRegex: boolean;
  trimOffsets: boolean;
  /** A Strip decoder after the ByteLevel one: drop up to `start` leading and `stop` trailing `content`. */
  strip: { content: string; start: number; stop: number } | null;
  postProcessor: boolean;
  unkToken: string | null;
  fuseUnk: boolean;
  ignoreMerges: boolean;
}

const OP = "BpeTokenizer.fromJSON";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

class Reader {
  constructor(readonly source: string) {}

  fail(field: string, expected: string, actual: string): never {
    throw new FormatError(OP, field, expected, actual, `${OP}: ${field} expected ${expected}, got ${actual} (${this.source})`);
  }

  obj(v: Json | undefined, field: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, "an object", show(v));
    return v;
  }

  arr(v: Json | undefined, field: string): Json[] {
    if (!Array.isArray(v)) this.fail(field, "an array", show(v));
    return v;
  }

  str(v: Json | undefined, field: string): string {
    if (typeof v !== "string") this.fail(field, "a string", show(v));
    return v;
  }

  bool(v: Json | undefined, field: string, fallback?: boolean): boolean {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "boolean") this.fail(field, "true or false", show(v));
    return v;
  }

  id(v: Json | undefined, field: string): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= MAX_TOKENIZER_ENTRIES) {
      this.fail(field, `an integer id in [0, ${MAX_TOKENIZER_ENTRIES - 1}]`, show(v));
    }
    return v;
  }

  /** A field that must be null or absent: a feature we do not implement would change the ids. */
  none(v: Json | undefined, field: string, what: string): void {
    if (v !== undefined && v !== null) this.fail(field, `null (${what} is not supported)`, show(v));
  }

  type(o: Obj, field: string, allowed: string[]): string {
    const t = o.type;
    if (typeof t !== "string" || !allowed.includes(t)) this.fail(`${field}.type`, allowed.map((a) => JSON.stringify(a)).join(" or "), show(t));
    return t;
  }
}

function readNormalizer(r: Reader, v: Json | undefined): NormalizerStep[] {
  if (v === undefined || v === null) return [];
  const one = (x: Json | undefined, field: string): NormalizerStep => {
    const o = r.obj(x, field);
    if (r.type(o, field, ["NFC", "Prepend"]) === "NFC") return { type: "NFC" };
    return { type: "Prepend", prepend: r.str(o.prepend, `${field}.prepend`) };
  };
  const o = r.obj(v, "normalizer");
  if (o.type !== "Sequence") return [one(o, "normalizer")];
  return r.arr(o.normalizers, "normalizer.normalizers").map((x, i) => one(x, `normalizer.normalizers[${i}]`));
}

function readByteLevel(r: Reader, v: Json | undefined, field: string): { addPrefixSpace: boolean; useRegex: boolean; trimOffsets: boolean } {
  const o = r.obj(v, field);
  r.type(o, field, ["ByteLevel"]);
  return {
    addPrefixSpace: r.bool(o.add_prefix_space, `${field}.add_prefix_space`, true),
    useRegex: r.bool(o.use_regex, `${field}.use_regex`, true),
    trimOffsets: r.bool(o.trim_offsets, `${field}.trim_offsets`, true),
  };
}

function readDecoder(r: Reader, v: Json | undefined): BpeConfig["strip"] {
  const o = r.obj(v, "decoder");
  if (r.type(o, "decoder", ["ByteLevel", "Sequence"]) === "ByteLevel") return null;
  const list = r.arr(o.decoders, "decoder.decoders");
  if (list.length < 1 || list.length > 2) r.fail("decoder.decoders", "[ByteLevel] or [ByteLevel, Strip]", `${list.length} decoders`);
  readByteLevel(r, list[0], "decoder.decoders[0]");
  if (list.length === 1) return null;
  const s = r.obj(list[1], "decoder.decoders[1]");
  r.type(s, "decoder.decoders[1]", ["Strip"]);
  const content = r.str(s.content, "decoder.decoders[1].content");
  if ([...content].length !== 1) r.fail("decoder.decoders[1].content", "one character", show(content));
  const count = (x: Json | undefined, f: string): number => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 1024) r.fail(f, "an integer in [0, 1024]", show(x));
    return x;
  };
  return { content, start: count(s.start, "decoder.decoders[1].start"), stop: count(s.stop, "decoder.decoders[1].stop") };
}

function readPostProcessor(r: Reader, v: Json | undefined): boolean {
  if (v === undefined || v === null) return false;
  readByteLevel(r, v, "post_processor"); // offsets only: no effect on ids
  return true;
}

function readMerge(r: Reader, m: Json, field: string): [string, string] {
  if (typeof m === "string") {
    const parts = m.split(" ");
    if (parts.length !== 2) r.fail(field, "\"a b\" (two tokens and one space)", show(m));
    return [parts[0]!, parts[1]!];
  }
  if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== "string" || typeof m[1] !== "string") {
    r.fail(field, "[\"a\", \"b\"] or \"a b\"", show(m));
  }
  return [m[0], m[1]];
}

/**
 * Parses and validates a byte-level BPE `tokenizer.json` (as `tokenizers` writes it, merges as
 * `[["a", "b"], ...]` or `["a b", ...]`). `source` names the text in error messages.
 */
export function parseTokenizerJson(text: string, source = "tokenizer.json"): BpeConfig {
  const r = new Reader(source);
  if (typeof text !== "string") r.fail("text", "a string", typeof text);
  if (text.length > MAX_TOKENIZER_JSON_CHARS) r.fail("text", `at most ${MAX_TOKENIZER_JSON_CHARS} characters`, `${text.length}`);
  const json = parseJsonBounded(text, OP, "text", source) as Json;
  const root = r.obj(json, "(root)");
  if (root.version !== "1.0") r.fail("version", "\"1.0\"", show(root.version));
  r.none(root.truncation, "truncation", "truncation");
  r.none(root.padding, "padding", "padding");

  const model = r.obj(root.model, "model");
  r.type(model, "model", ["BPE"]);
  r.none(model.dropout, "model.dropout", "BPE dropout");
  for (const k of ["continuing_subword_prefix", "end_of_word_suffix"] as const) {
    if (model[k] !== undefined && model[k] !== null && model[k] !== "") r.fail(`model.${k}`, "null (not supported)", show(model[k]));
  }
  if (r.bool(model.byte_fallback, "model.byte_fallback", false)) r.fail("model.byte_fallback", "false (not supported)", "true");
  const fuseUnk = r.bool(model.fuse_unk, "model.fuse_unk", false);
  const ignoreMerges = r.bool(model.ignore_merges, "model.ignore_merges", false);
  const unkToken = model.unk_token === undefined || model.unk_token === null ? null : r.str(model.unk_token, "model.unk_token");

  // vocabulary and added tokens: one id space, every id in [0, n) used once
  const vocab = r.obj(model.vocab, "model.vocab");
  const byId = new Map<number, string>();
  const ids = new Map<string, number>();
  const origin = new Map<number, string>(); // id -> the field that gave it
  for (const key of Object.keys(vocab)) {
    const field = `model.vocab[${show(key)}]`;
    if (ids.size >= MAX_TOKENIZER_ENTRIES) r.fail("model.vocab", `at most ${MAX_TOKENIZER_ENTRIES} tokens`, "more");
    if (key.length === 0) r.fail(field, "a non-empty token", "\"\"");
    const id = r.id(vocab[key], field);
    const other = byId.get(id);
    if (other !== undefined) r.fail(field, "an id used once", `id ${id}, also the id of ${show(other)}`);
    byId.set(id, key);
    ids.set(key, id);
    origin.set(id, field);
  }
  const added: AddedToken[] = [];
  const addedList = root.added_tokens === undefined ? [] : r.arr(root.added_tokens, "added_tokens");
  const seenAdded = new Set<string>();
  addedList.forEach((x, i) => {
    const field = `added_tokens[${i}]`;
    const o = r.obj(x, field);
    const id = r.id(o.id, `${field}.id`);
    const content = r.str(o.content, `${field}.content`);
    if (content.length === 0) r.fail(`${field}.content`, "a non-empty token", "\"\"");
    if (seenAdded.has(content)) r.fail(`${field}.content`, "a token added once", `a duplicate ${show(content)}`);
    seenAdded.add(content);
    for (const k of ["single_word", "lstrip", "rstrip", "normalized"] as const) {
      if (r.bool(o[k], `${field}.${k}`, false)) r.fail(`${field}.${k}`, "false (not supported)", "true");
    }
    const special = r.bool(o.special, `${field}.special`, false);
    const inVocab = ids.get(content);
    if (inVocab !== undefined && inVocab !== id) r.fail(`${field}.id`, `${inVocab}, the id of ${show(content)} in model.vocab`, `${id}`);
    if (inVocab === undefined) {
      const other = byId.get(id);
      if (other !== undefined) r.fail(`${field}.id`, "an id used once", `id ${id}, also the id of ${show(other)}`);
      if (byId.size >= MAX_TOKENIZER_ENTRIES) r.fail("added_tokens", `at most ${MAX_TOKENIZER_ENTRIES} tokens in all`, "more");
      byId.set(id, content);
      ids.set(content, id);
      origin.set(id, `${field}.id`);
    }
    added.push({ id, content, special, inVocab: inVocab !== undefined });
  });
  for (const c of BYTE_TO_CHAR) {
    if (!ids.has(c)) r.fail("model.vocab", "all 256 byte-level symbols", `no ${show(c)} (byte ${BYTE_TO_CHAR.indexOf(c)})`);
  }
  const tokens: string[] = new Array<string>(byId.size);
  for (const [id, token] of byId) {
    if (id >= byId.size) r.fail(origin.get(id)!, `an id in [0, ${byId.size - 1}] (ids 0..n-1 for n tokens)`, `${id}`);
    tokens[id] = token;
  }
  if (unkToken !== null && !ids.has(unkToken)) r.fail("model.unk_token", "a token of the vocabulary", show(unkToken));

  const mergeList = r.arr(model.merges, "model.merges");
  if (mergeList.length > MAX_TOKENIZER_ENTRIES) r.fail("model.merges", `at most ${MAX_TOKENIZER_ENTRIES} merges`, `${mergeList.length}`);
  const seenMerges = new Set<string>();
  const merges = mergeList.map((m, i): [string, string] => {
    const field = `model.merges[${i}]`;
    const [a, b] = readMerge(r, m, field);
    for (const t of [a, b, a + b]) if (!ids.has(t)) r.fail(field, "tokens of model.vocab (and their concatenation)", `${show(t)}, not in the vocabulary`);
    const key = `${a} ${b}`;
    if (seenMerges.has(key)) r.fail(field, "a merge listed once", `a duplicate ${show([a, b])}`);
    seenMerges.add(key);
    return [a, b];
  });

  const pre = readByteLevel(r, root.pre_tokenizer, "pre_tokenizer");
  return {
    tokens,
    merges,
    added,
    normalizer: readNormalizer(r, root.normalizer),
    addPrefixSpace: pre.addPrefixSpace,
    useRegex: pre.useRegex,
    trimOffsets: pre.trimOffsets,
    strip: readDecoder(r, root.decoder),
    postProcessor: readPostProcessor(r, root.post_processor),
    unkToken,
    fuseUnk,
    ignoreMerges,
  };
}

const byteLevel = (c: BpeConfig): Record<string, Json> => ({ type: "ByteLevel", add_prefix_space: c.addPrefixSpace, trim_offsets: c.trimOffsets, use_regex: c.useRegex });

/**
 * Writes a config as `tokenizer.json` text, the layout `tokenizers` saves (vocabulary in id
 * order, one entry a line; merges in the list-of-pairs form).
 */
export function writeTokenizerJson(c: BpeConfig): string {
  const s = JSON.stringify;
  const normalizer: Json = c.normalizer.length === 0 ? null : c.normalizer.length === 1 ? c.normalizer[0]! : { type: "Sequence", normalizers: c.normalizer };
  const decoder: Json = c.strip === null ? byteLevel(c) : { type: "Sequence", decoders: [byteLevel(c), { type: "Strip", ...c.strip }] };
  const addedOnly = new Set(c.added.filter((a) => !a.inVocab).map((a) => a.id));
  const lines = [
    "{",
    `  "version": "1.0",`,
    `  "truncation": null,`,
    `  "padding": null,`,
    `  "added_tokens": [${c.added.length ? "\n" : ""}${c.added
      .map((a) => `    ${s({ id: a.id, content: a.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: a.special })}`)
      .join(",\n")}${c.added.length ? "\n  " : ""}],`,
    `  "normalizer": ${s(normalizer)},`,
    `  "pre_tokenizer": ${s(byteLevel(c))},`,
    `  "post_processor": ${c.postProcessor ? s(byteLevel(c)) : "null"},`,
    `  "decoder": ${s(decoder)},`,
    `  "model": {`,
    `    "type": "BPE",`,
    `    "dropout": null,`,
    `    "unk_token": ${s(c.unkToken)},`,
    `    "continuing_subword_prefix": null,`,
    `    "end_of_word_suffix": null,`,
    `    "fuse_unk": ${c.fuseUnk},`,
    `    "byte_fallback": false,`,
    `    "ignore_merges": ${c.ignoreMerges},`,
    `    "vocab": {`,
    c.tokens.flatMap((t, id) => (!addedOnly.has(id) ? [`      ${s(t)}: ${id}`] : [])).join(",\n"),
    `    },`,
    `    "merges": [`,
    c.merges.map(([a, b]) => `      [${s(a)}, ${s(b)}]`).join(",\n"),
    `    ]`,
    `  }`,
    `}`,
    "",
  ];
  return lines.join("\n");
}
