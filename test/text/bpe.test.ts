import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { learnMerges } from "../../src/text/bpe-train.js";
import { BYTE_TO_CHAR, CHAR_TO_BYTE, bytesToSymbols, preTokenize, symbolsToText } from "../../src/text/byte-level.js";
import { MAX_TOKENIZER_JSON_CHARS } from "../../src/text/tokenizer-json.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";

const FIXTURES = new URL("../fixtures/tokenizer/", import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), "utf8");

interface Case {
  text: string;
  ids: number[];
  decoded: string;
  decodedWithSpecials: string;
  gpt2StyleIds: number[];
  gpt2StyleDecoded: string;
}

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VARIED = [
  "Y dijo Dios: Sea la luz: y fué la luz.",
  "In the beginning, God created the heavens and the earth.",
  "Café naïve jalapeño déjà vu — «citas» “quotes” ‘single’",
  "e\u0301 (combining) vs é (precomposed)",
  "emoji 😀👍🏽 👩‍👩‍👧 🇪🇸 ❤️",
  " leading space",
  "trailing spaces   ",
  "   ",
  " ",
  "\t tabs\t\tand \n newlines \r\n",
  "digits 0123456789 3.14 1,000,000 ½ Ⅻ",
  "中文 日本語 한국어 العربية עברית Ελληνικά Русский",
  "don't I'm we'll they'd it's IT'S ''",
  "\u0085\u2028\u2029\u3000\u00a0\ufeff\u200b mixed whitespace",
  "a".repeat(500),
  "",
];

const corpus = (): string[] => fixture("corpus.txt").split("\n").filter((l) => l.length > 0);

describe("byte-level", () => {
  test("the byte table is GPT-2's: 256 distinct symbols, printable Latin-1 as itself, the rest from U+0100", () => {
    assert.equal(new Set(BYTE_TO_CHAR).size, 256);
    assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
    assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
    assert.equal(BYTE_TO_CHAR[0x00], "\u0100");
    assert.equal(BYTE_TO_CHAR[0xad], "\u0143");
    assert.equal(BYTE_TO_CHAR[0x41], "A");
    assert.equal(BYTE_TO_CHAR[0xe9], "é");
    for (let b = 0; b < 256; b++) assert.equal(CHAR_TO_BYTE.get(BYTE_TO_CHAR[b]!), b);
    assert.equal(bytesToSymbols(" fué"), "ĠfuÃ©");
    assert.equal(symbolsToText("ĠfuÃ©"), " fué");
  });

  test("pre-tokenization splits as GPT-2's pattern, whitespace as Oniguruma's \\s", () => {
    assert.deepEqual(preTokenize(" Hello, world!"), [" Hello", ",", " world", "!"]);
    assert.deepEqual(preTokenize("a  b"), ["a", " ", " b"]);
    assert.deepEqual(preTokenize("I'm 42x"), ["I", "'m", " 42", "x"]);
    // U+0085 is whitespace there (not in JS \s); U+FEFF is not (it is in JS \s)
    assert.deepEqual(preTokenize("a \u0085b"), ["a", " ", "\u0085", "b"]);
    assert.deepEqual(preTokenize("a \ufeffb"), ["a", " \ufeff", "b"]);
    for (const t of VARIED) assert.equal(preTokenize(t).join(""), t);
  });
});

describe("BpeTokenizer.train", () => {
  test("a hand-checked example: merges by count, ties to the smaller ids", () => {
    const text = "low low low low low lower lower newest newest newest newest newest newest widest widest widest";
    const tok = BpeTokenizer.train([text], { vocabSize: 1000 });
    // counts: es 9, st 9 (tie: 'e' < 's'); est 9; Ġl, lo, ow 7 (Ġ < l < o); then ow before (Ġl, o)
    // because the new token Ġl has a larger id than 'o'; ...
    assert.deepEqual(tok.merges, [
      ["e", "s"], ["es", "t"], ["Ġ", "l"], ["o", "w"], ["Ġl", "ow"], ["Ġ", "n"], ["e", "w"], ["Ġn", "ew"], ["Ġnew", "est"],
      ["Ġ", "w"], ["d", "est"], ["i", "dest"], ["Ġw", "idest"], ["e", "r"], ["Ġlow", "er"],
    ]);
    assert.equal(tok.vocabSize, 4 + 256 + 15);
    assert.deepEqual(tok.encode("low lower newest widest").map((id) => tok.idToToken(id)), ["Ġlow", "Ġlower", "Ġnewest", "Ġwidest"]);
    assert.deepEqual(tok.encode("lowest").map((id) => tok.idToToken(id)), ["Ġlow", "est"]);
    // vocabSize stops it early
    assert.deepEqual(BpeTokenizer.train([text], { vocabSize: 263 }).merges, [["e", "s"], ["es", "t"], ["Ġ", "l"]]);
    // minFrequency 7 keeps only pairs seen 7 times or more
    assert.equal(BpeTokenizer.train([text], { vocabSize: 1000, minFrequency: 7 }).merges.length, 5);
  });

  test("specials come first with ids 0..; the byte symbols follow in byte order", () => {
    const tok = BpeTokenizer.train(["hello world"], { vocabSize: 300 });
    assert.deepEqual([tok.padId, tok.bosId, tok.eosId, tok.unkId], [0, 1, 2, 3]);
    assert.deepEqual(tok.specialTokens, ["<pad>", "<s>", "</s>", "<unk>"]);
    assert.equal(tok.tokenToId(BYTE_TO_CHAR[0]!), 4);
    assert.equal(tok.tokenToId("Ġ"), 4 + 32);
    const custom = BpeTokenizer.train(["hello world"], { vocabSize: 300, specialTokens: ["<bos>", "<pad>"] });
    assert.deepEqual([custom.padId, custom.bosId, custom.eosId, custom.unkId], [1, -1, -1, -1]);
    assert.equal(custom.tokenToId("<bos>"), 0);
  });

  test("is deterministic: the same texts, in any order, give the same merges", () => {
    const texts = corpus();
    const a = BpeTokenizer.train(texts, { vocabSize: 500 });
    const b = BpeTokenizer.train(texts, { vocabSize: 500 });
    const shuffled = texts.slice().reverse();
    const c = BpeTokenizer.train(shuffled, { vocabSize: 500 });
    assert.deepEqual(a.merges, b.merges);
    assert.deepEqual(a.merges, c.merges);
    assert.equal(a.toJSON(), c.toJSON());
    assert.ok(a.merges.length > 200);
  });

  test("retraining the fixture corpus reproduces the committed tokenizer.json byte for byte", () => {
    const tok = BpeTokenizer.train(corpus(), { vocabSize: 600 });
    assert.equal(tok.toJSON(), fixture("tokenizer.json"));
  });

  test("the incremental learner equals a recount-everything reference on random corpora", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const alphabet = ["a", "b", "c", "d"].slice(0, 2 + (seed % 3));
      const words = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        let w = "";
        const len = 1 + Math.floor(r() * 12);
        for (let j = 0; j < len; j++) w += alphabet[Math.floor(r() * alphabet.length)]!;
        words.set(w, (words.get(w) ?? 0) + 1 + Math.floor(r() * 5));
      }
      const opts = { maxTokens: 40, minFrequency: 1 + (seed % 2) };
      assert.deepEqual(learnMerges(words, alphabet, opts), naiveMerges(words, alphabet, opts), `seed ${seed}`);
    }
  });

  test("validates its options", () => {
    assert.throws(() => BpeTokenizer.train(["x"], { vocabSize: 100 }), (e: unknown) => {
      assert.ok(e instanceof ValueError);
      assert.equal(e.message, "BpeTokenizer.train: vocabSize expected an integer in [260, 1048576] (specials + 256 bytes at least), got 100");
      return true;
    });
    assert.throws(() => BpeTokenizer.train(["x"], { vocabSize: 300, minFrequency: 0 }), ValueError);
    assert.throws(() => BpeTokenizer.train(["x"], { vocabSize: 300, specialTokens: ["<s>", "<s>"] }), /unique special tokens/);
    assert.throws(() => BpeTokenizer.train([3 as unknown as string], { vocabSize: 300 }), /texts\[0\] expected a string, got number/);
    assert.throws(() => BpeTokenizer.train(null as unknown as string[], { vocabSize: 300 }), ValueError);
  });
});

/** BPE learning the slow way: recount every pair of every word before each merge. */
function naiveMerges(words: ReadonlyMap<string, number>, alphabet: string[], opts: { maxTokens: number; minFrequency: number }): { tokens: string[]; merges: [string, string][] } {
  const tokens = alphabet.slice();
  const seqs = [...words].map(([w, c]) => ({ seq: [...w].map((ch) => tokens.indexOf(ch)), c }));
  const merges: [string, string][] = [];
  while (tokens.length < opts.maxTokens) {
    const counts = new Map<string, number>();
    for (const { seq, c } of seqs) for (let i = 0; i + 1 < seq.length; i++) counts.set(`${seq[i]},${seq[i + 1]}`, (counts.get(`${seq[i]},${seq[i + 1]}`) ?? 0) + c);
    let best: [number, number, number] | undefined;
    for (const [k, c] of counts) {
      const [a, b] = k.split(",").map(Number) as [number, number];
      if (!best || c > best[0] || (c === best[0] && (a < best[1] || (a === best[1] && b < best[2])))) best = [c, a, b];
    }
    if (!best || best[0] < opts.minFrequency) break;
    const [, a, b] = best;
    const joined = tokens[a]! + tokens[b]!;
    let x = tokens.indexOf(joined);
    if (x < 0) x = tokens.push(joined) - 1;
    merges.push([tokens[a]!, tokens[b]!]);
    for (const w of seqs) {
      const out: number[] = [];
      for (let i = 0; i < w.seq.length;) {
        if (w.seq[i] === a && w.seq[i + 1] === b) {
          out.push(x);
          i += 2;
        } else out.push(w.seq[i++]!);
      }
      w.seq = out;
    }
  }
  return { tokens, merges };
}

describe("BpeTokenizer encode/decode", () => {
  const tok = BpeTokenizer.fromJSON(fixture("tokenizer.json"));

  test("decode(encode(text)) gives the text back", () => {
    const big = BpeTokenizer.train(corpus(), { vocabSize: 600 });
    for (const t of [...VARIED, ...corpus()]) {
      assert.equal(tok.decode(tok.encode(t)), t, JSON.stringify(t));
      assert.equal(big.decode(big.encode(t)), t, JSON.stringify(t));
    }
    // random text over ASCII, whitespace, Latin, CJK and astral code points
    const r = rng(7);
    const pools = [[0x20, 0x7e], [0x09, 0x0d], [0xa0, 0x17f], [0x4e00, 0x4e80], [0x1f600, 0x1f64f], [0x2000, 0x206f]] as const;
    for (let n = 0; n < 300; n++) {
      let t = "";
      const len = Math.floor(r() * 40);
      for (let i = 0; i < len; i++) {
        const [lo, hi] = pools[Math.floor(r() * pools.length)]!;
        t += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
      }
      assert.equal(tok.decode(tok.encode(t)), t, JSON.stringify(t));
    }
  });

  test("a first word is tokenized like an inner word", () => {
    const [hello] = tok.encode("Dios");
    assert.deepEqual(tok.encode("Dios"), tok.encode("Y Dios").slice(1));
    assert.equal(tok.idToToken(hello!), "ĠDios");
  });

  test("special tokens: matched in the text, skipped by decode unless asked", () => {
    const ids = tok.encode("<s>Hola</s>");
    assert.equal(ids[0], tok.bosId);
    assert.equal(ids.at(-1), tok.eosId);
    assert.equal(tok.decode(ids), "Hola");
    assert.equal(tok.decode(ids, { skipSpecialTokens: false }), "<s> Hola</s>");
    assert.deepEqual(tok.encode("<pad><pad>"), [tok.padId, tok.padId]);
  });

  test("the cache does not change results", () => {
    const fresh = BpeTokenizer.fromJSON(fixture("tokenizer.json"));
    const text = corpus().join(" ");
    const first = fresh.encode(text);
    assert.deepEqual(fresh.encode(text), first);
    assert.deepEqual(tok.encode(text), first);
  });

  test("validates its arguments", () => {
    assert.throws(() => tok.encode(42 as unknown as string), (e: unknown) => e instanceof ValueError && e.message === "BpeTokenizer.encode: text expected a string, got number");
    assert.throws(() => tok.decode([1, 600]), (e: unknown) => e instanceof ValueError && e.message === "BpeTokenizer.decode: ids[1] expected an integer in [0, 599], got 600");
    assert.throws(() => tok.decode([0.5]), ValueError);
    assert.throws(() => tok.decode("abc" as unknown as number[]), ValueError);
    assert.throws(() => tok.idToToken(-1), /idToToken: id expected an integer in \[0, 599\], got -1/);
    assert.equal(tok.tokenToId("not a token"), undefined);
  });
});

describe("BpeTokenizer agrees with Hugging Face tokenizers (committed reference)", () => {
  const ref = JSON.parse(fixture("reference.json")) as { tokenizers: string; cases: Case[] };
  const tok = BpeTokenizer.fromJSON(fixture("tokenizer.json"));
  const gpt2 = BpeTokenizer.fromJSON(fixture("tokenizer-gpt2-style.json"), "tokenizer-gpt2-style.json");

  test(`the same ids and decoded text as tokenizers ${ref.tokenizers}`, () => {
    assert.ok(ref.cases.length >= 30);
    for (const c of ref.cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
      assert.equal(tok.decode(c.ids), c.decoded, JSON.stringify(c.text));
      assert.equal(tok.decode(c.ids, { skipSpecialTokens: false }), c.decodedWithSpecials, JSON.stringify(c.text));
    }
  });

  test("a GPT-2-style file (no normalizer, add_prefix_space, \"a b\" merges) reads and encodes the same way", () => {
    for (const c of ref.cases) {
      assert.deepEqual(gpt2.encode(c.text), c.gpt2StyleIds, JSON.stringify(c.text));
      assert.equal(gpt2.decode(c.gpt2StyleIds), c.gpt2StyleDecoded, JSON.stringify(c.text));
    }
  });
});

describe("BpeTokenizer JSON", () => {
  const text = fixture("tokenizer.json");

  test("round trip: fromJSON(toJSON()) writes the same text and encodes the same ids", () => {
    const tok = BpeTokenizer.fromJSON(text);
    assert.equal(tok.toJSON(), text);
    const gpt2 = BpeTokenizer.fromJSON(fixture("tokenizer-gpt2-style.json"));
    const again = BpeTokenizer.fromJSON(gpt2.toJSON());
    assert.equal(again.toJSON(), gpt2.toJSON());
    for (const t of VARIED) assert.deepEqual(again.encode(t), gpt2.encode(t));
    const parsed = JSON.parse(text) as { model: { merges: unknown[] } };
    assert.deepEqual(parsed.model.merges[0], [...tok.merges[0]!]);
  });

  /** Parses the fixture, lets `edit` change it, and expects a FormatError on `arg` whose message names `source`. */
  function hostile(edit: (j: Record<string, any>) => void, arg: string, pattern?: RegExp): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    const j = JSON.parse(text) as Record<string, unknown>;
    edit(j);
    assert.throws(() => BpeTokenizer.fromJSON(JSON.stringify(j), "bad.json"), (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.equal(e.op, "BpeTokenizer.fromJSON");
      assert.equal(e.arg, arg, e.message);
      assert.match(e.message, /\(bad\.json\)$/);
      if (pattern) assert.match(e.message, pattern);
      return true;
    });
  }

  test("malformed or truncated text is a FormatError", () => {
    for (const bad of [text.slice(0, text.length / 2), "", "{", "null", "[]", "42", "\"x\""]) {
      assert.throws(() => BpeTokenizer.fromJSON(bad, "cut.json"), (e: unknown) => e instanceof FormatError && /cut\.json/.test(e.message));
    }
    assert.throws(() => BpeTokenizer.fromJSON(text.slice(0, 1000), "cut.json"), /BpeTokenizer\.fromJSON: text expected valid JSON, got .* \(cut\.json\)/);
    assert.throws(() => BpeTokenizer.fromJSON("[".repeat(200_000), "deep.json"), FormatError);
    assert.throws(() => BpeTokenizer.fromJSON(3 as unknown as string), FormatError);
  });

  test("a text over the size limit is refused before parsing", () => {
    const huge = " ".repeat(MAX_TOKENIZER_JSON_CHARS + 1);
    assert.throws(() => BpeTokenizer.fromJSON(huge, "huge.json"), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.equal(e.message, `BpeTokenizer.fromJSON: text expected at most ${MAX_TOKENIZER_JSON_CHARS} characters, got ${MAX_TOKENIZER_JSON_CHARS + 1} (huge.json)`);
      return true;
    });
  });

  test("wrong types and values name the field", () => {
    hostile((j) => (j.version = "2.0"), "version");
    hostile((j) => (j.model.type = "WordPiece"), "model.type", /"BPE"/);
    hostile((j) => (j.model.vocab = []), "model.vocab", /an object/);
    hostile((j) => (j.model.merges = {}), "model.merges", /an array/);
    hostile((j) => (j.model.vocab.Ġt = "5"), 'model.vocab["Ġt"]', /an integer id/);
    hostile((j) => (j.model.vocab.Ġt = 1.5), 'model.vocab["Ġt"]');
    hostile((j) => (j.model.vocab.Ġt = -1), 'model.vocab["Ġt"]');
    hostile((j) => (j.model.merges[3] = ["Ġ"]), "model.merges[3]");
    hostile((j) => (j.model.merges[3] = 7), "model.merges[3]");
    hostile((j) => (j.model.merges[3] = "a b c"), "model.merges[3]", /two tokens and one space/);
    hostile((j) => (j.added_tokens = {}), "added_tokens");
    hostile((j) => (j.added_tokens[1].content = 5), "added_tokens[1].content");
    hostile((j) => (j.added_tokens[1].lstrip = true), "added_tokens[1].lstrip", /not supported/);
    hostile((j) => (j.pre_tokenizer = { type: "Whitespace" }), "pre_tokenizer.type");
    hostile((j) => (j.pre_tokenizer.use_regex = "yes"), "pre_tokenizer.use_regex");
    hostile((j) => (j.normalizer = { type: "Lowercase" }), "normalizer.type");
    hostile((j) => (j.decoder = null), "decoder");
    hostile((j) => (j.decoder.decoders[1].content = "ab"), "decoder.decoders[1].content");
    hostile((j) => (j.post_processor = { type: "TemplateProcessing" }), "post_processor.type");
  });

  test("features that would change the ids are refused, not ignored", () => {
    hostile((j) => (j.truncation = { max_length: 8 }), "truncation", /not supported/);
    hostile((j) => (j.padding = { length: 8 }), "padding");
    hostile((j) => (j.model.dropout = 0.1), "model.dropout");
    hostile((j) => (j.model.byte_fallback = true), "model.byte_fallback");
    hostile((j) => (j.model.continuing_subword_prefix = "##"), "model.continuing_subword_prefix");
  });

  test("merges of unknown tokens, duplicate and out-of-range ids, missing bytes", () => {
    hostile((j) => j.model.merges.push(["Ġzz", "q"]), `model.merges[${JSON.parse(text).model.merges.length}]`, /"Ġzz", not in the vocabulary/);
    hostile((j) => (j.model.merges[0] = ["Ġ", "Ġ"]), "model.merges[0]", /"ĠĠ", not in the vocabulary/); // the concatenation is missing
    hostile((j) => j.model.merges.push(j.model.merges[5]), `model.merges[${JSON.parse(text).model.merges.length}]`, /a merge listed once/);
    hostile((j) => (j.model.vocab.Ġt = 4), 'model.vocab["Ġt"]', /an id used once/);
    hostile((j) => (j.model.vocab.Ġt = 5000), 'model.vocab["Ġt"]', /\[0, 599\]/);
    hostile((j) => (j.model.vocab.Ġt = 2 ** 40), 'model.vocab["Ġt"]', /an integer id/);
    hostile((j) => delete j.model.vocab.A, "model.vocab", /all 256 byte-level symbols/);
    hostile((j) => (j.added_tokens[1].id = 7), "added_tokens[1].id", /the id of "<s>" in model.vocab/);
    hostile((j) => j.added_tokens.push({ id: 3, content: "<new>", special: true }), "added_tokens[4].id", /an id used once/);
    hostile((j) => j.added_tokens.push({ id: 601, content: "<new>", special: true }), "added_tokens[4].id", /\[0, 600\]/);
    hostile((j) => (j.model.unk_token = "<nope>"), "model.unk_token");
  });

  test("an added token outside the vocabulary gets the next id and survives a round trip", () => {
    const j = JSON.parse(text) as { added_tokens: unknown[] };
    j.added_tokens.push({ id: 600, content: "<sep>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const tok = BpeTokenizer.fromJSON(JSON.stringify(j));
    assert.equal(tok.vocabSize, 601);
    assert.deepEqual(tok.encode("a<sep>b").filter((id) => id === 600), [600]);
    const again = BpeTokenizer.fromJSON(tok.toJSON());
    assert.equal(again.toJSON(), tok.toJSON());
    assert.equal((JSON.parse(tok.toJSON()) as { model: { vocab: Record<string, number> } }).model.vocab["<sep>"], undefined);
  });
});
