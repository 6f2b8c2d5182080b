import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { corpusBleu, formatBleu, sentenceBleu, tokenize13a, type BleuOptions, type BleuResult } from "../../src/metrics/bleu.js";
import { ValueError } from "../../src/tensor/errors.js";

interface Fixture {
  tokenize13a: { input: string; expected: string }[];
  bleuCorpus: { name: string; hypotheses: string[]; references: string[][]; opts: BleuOptions; expected: BleuResult }[];
  bleuSentence: { hypothesis: string; references: string[]; expected: BleuResult }[];
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/metrics/metrics.json", import.meta.url), "utf8")) as Fixture;

/** Same statistics exactly; scores within 1e-9 (V8's Math.exp/log may be one ulp off the C library's). */
function assertSameBleu(got: BleuResult, want: BleuResult, what: string): void {
  assert.deepEqual([got.sysLen, got.refLen, got.counts, got.totals], [want.sysLen, want.refLen, want.counts, want.totals], what);
  assert.ok(Math.abs(got.score - want.score) <= 1e-9, `${what}: score ${got.score}, sacreBLEU ${want.score}`);
  assert.ok(Math.abs(got.bp - want.bp) <= 1e-12, `${what}: bp ${got.bp}, sacreBLEU ${want.bp}`);
  got.precisions.forEach((p, i) => assert.ok(Math.abs(p - want.precisions[i]!) <= 1e-9, `${what}: precision ${i + 1}`));
}

function close(actual: number, expected: number, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} != ${expected}`);
}

describe("tokenize13a", () => {
  test("drops <skipped>, joins -\\n, turns other newlines into spaces", () => {
    assert.equal(tokenize13a("text <skipped> more<skipped>"), "text more");
    assert.equal(tokenize13a("hyphen-\nated line\nbreak"), "hyphenated line break");
  });

  test("unescapes &quot; &amp; &lt; &gt; in that order, nothing else", () => {
    assert.equal(tokenize13a("&quot;a&quot; &lt;b&gt;"), '" a " < b >');
    assert.equal(tokenize13a("&amp;quot;"), "& quot ;"); // &quot; first, so this one stays
    assert.equal(tokenize13a("&apos;"), "& apos ;");
  });

  test("splits off ASCII symbols, but not apostrophes or dashes between letters", () => {
    assert.equal(tokenize13a("a(b)c!d?e:f;g/h@i$j%k"), "a ( b ) c ! d ? e : f ; g / h @ i $ j % k");
    assert.equal(tokenize13a("{x}[y]~z^_`|\\#+=*"), "{ x } [ y ] ~ z ^ _ ` | \\ # + = *");
    assert.equal(tokenize13a("don't well-known"), "don't well-known");
  });

  test("periods and commas split unless between digits", () => {
    assert.equal(tokenize13a("end."), "end .");
    assert.equal(tokenize13a("a.b,c"), "a . b , c");
    assert.equal(tokenize13a("3.50 1,000"), "3.50 1,000");
    assert.equal(tokenize13a("1.a"), "1 . a"); // preceded by a digit, followed by a letter
    assert.equal(tokenize13a("a.1"), "a . 1"); // followed by a digit, preceded by a letter
    assert.equal(tokenize13a("..."), ". . .");
  });

  test("a dash after a digit splits", () => {
    assert.equal(tokenize13a("3-4 10-year-old x-3"), "3 - 4 10 - year-old x-3");
  });

  test("whitespace collapses as Python's split(): \\x85 and U+3000 separate, U+FEFF does not", () => {
    assert.equal(tokenize13a("  a\t\tb\u00a0c\x85d\u3000e\ufefff  "), "a b c d e\ufefff");
    assert.equal(tokenize13a(""), "");
  });

  test("equals sacreBLEU's Tokenizer13a on the fixture strings", () => {
    for (const { input, expected } of fixture.tokenize13a) assert.equal(tokenize13a(input), expected, JSON.stringify(input));
  });
});

describe("corpusBleu", () => {
  test("a perfect match scores 100", () => {
    // 13 tokens: "Y dijo Dios : Sea la luz ." and "Y fué la luz ."
    const r = corpusBleu(["Y dijo Dios: Sea la luz.", "Y fué la luz."], ["Y dijo Dios: Sea la luz.", "Y fué la luz."]);
    close(r.score, 100, 1e-12);
    assert.deepEqual(r.precisions.map((p) => Math.round(p * 1e9) / 1e9), [100, 100, 100, 100]);
    assert.equal(r.bp, 1);
    assert.deepEqual([r.sysLen, r.refLen, r.counts, r.totals], [13, 13, [13, 11, 9, 7], [13, 11, 9, 7]]);
  });

  test("no shared word scores 0", () => {
    const r = corpusBleu(["uno dos tres cuatro"], ["five six seven eight"]);
    assert.equal(r.score, 0);
    assert.deepEqual(r.counts, [0, 0, 0, 0]);
    assert.deepEqual(r.precisions, [0, 0, 0, 0]);
  });

  test("brevity penalty: a correct prefix half as long scores 100 exp(1 - 8/4)", () => {
    const r = corpusBleu(["a b c d"], ["a b c d e f g h"]);
    close(r.bp, Math.exp(-1), 1e-15);
    close(r.score, 100 * Math.exp(-1), 1e-12); // 36.79
    assert.equal(formatBleu(r.score), "36.79");
  });

  test("exp smoothing: an order without matches counts as 1/2^k matches", () => {
    // 1-grams 4/5, 2-grams 2/4, 3-grams 1/3, 4-grams 0/2 -> 100 / (2 * 2)
    const r = corpusBleu(["a b c d e"], ["a b c x e"]);
    assert.deepEqual([r.counts, r.totals], [[4, 2, 1, 0], [5, 4, 3, 2]]);
    close(r.precisions[3]!, 25, 0);
    close(r.score, Math.exp((Math.log(80) + Math.log(50) + Math.log(100 / 3) + Math.log(25)) / 4), 1e-12); // 42.73
    close(corpusBleu(["a b c d e"], ["a b c x e"], { smoothMethod: "floor" }).precisions[3]!, 5, 1e-12);
    assert.equal(corpusBleu(["a b c d e"], ["a b c x e"], { smoothMethod: "none" }).score, 0);
  });

  test("effective order: off for a corpus (no 4-grams gives 0), on for a sentence", () => {
    assert.equal(corpusBleu(["a b c"], ["a b c"]).score, 0);
    close(corpusBleu(["a b c"], ["a b c"], { effectiveOrder: true }).score, 100, 1e-12);
    close(sentenceBleu("a b c", ["a b c"]).score, 100, 1e-12);
  });

  test("several references: clipped by the most any one has; the closest length, ties to the shorter", () => {
    const r = corpusBleu(["the the the cat"], [["the cat sat"], ["the the dog"]]);
    assert.deepEqual([r.counts, r.totals, r.refLen], [[3, 2, 0, 0], [4, 3, 2, 1], 3]);
    close(r.score, 42.044820762685724, 1e-12);
    const tie = corpusBleu(["a b c d e"], [["a b c d"], ["a b c d e f"]]); // |5-4| = |5-6|: 4 wins, no penalty
    assert.equal(tie.refLen, 4);
    assert.equal(tie.bp, 1);
  });

  test("lowercase and tokenize options", () => {
    assert.equal(corpusBleu(["LA CASA AZUL ES"], ["la casa azul es"]).score, 0);
    close(corpusBleu(["LA CASA AZUL ES"], ["la casa azul es"], { lowercase: true }).score, 100, 1e-12);
    assert.equal(corpusBleu(["casa."], ["casa ."], { tokenize: "none" }).counts[0], 0);
    assert.equal(corpusBleu(["casa."], ["casa ."]).counts[0], 2);
  });

  test("equals sacreBLEU's corpus_bleu on the fixture corpora", () => {
    for (const c of fixture.bleuCorpus) assertSameBleu(corpusBleu(c.hypotheses, c.references, c.opts), c.expected, c.name);
  });

  test("bad input is a ValueError naming the argument", () => {
    const is = (arg: string) => (e: unknown) => e instanceof ValueError && e.op === "corpusBleu" && e.arg === arg;
    assert.throws(() => corpusBleu([], []), is("hypotheses"));
    assert.throws(() => corpusBleu("a" as unknown as string[], ["a"]), is("hypotheses"));
    assert.throws(() => corpusBleu(["a", 3] as unknown as string[], ["a", "b"]), is("hypotheses[1]"));
    assert.throws(() => corpusBleu(["a"], []), is("references"));
    assert.throws(() => corpusBleu(["a", "b"], ["a"]), is("references"));
    assert.throws(() => corpusBleu(["a"], [["a"], ["a", "b"]]), is("references[1]"));
    assert.throws(() => corpusBleu(["a"], ["a"], { smoothMethod: "add-one" as "add-k" }), is("opts.smoothMethod"));
    assert.throws(() => corpusBleu(["a"], ["a"], { maxNgramOrder: 0 }), is("opts.maxNgramOrder"));
    assert.throws(() => corpusBleu(["a"], ["a"], { tokenize: "intl" as "13a" }), is("opts.tokenize"));
    assert.throws(() => corpusBleu(["a", "b"], ["a"]), { message: "corpusBleu: references expected 2 lines (one per hypothesis), got 1" });
  });
});

describe("sentenceBleu", () => {
  test("brevity penalty and effective order on a two-word hypothesis", () => {
    const r = sentenceBleu("the cat", ["the cat sat"]);
    close(r.score, 100 * Math.exp(1 - 3 / 2), 1e-12);
    assert.deepEqual(r.totals, [2, 1, 0, 0]);
  });

  test("an empty hypothesis scores 0 with bp 0", () => {
    const r = sentenceBleu("", ["la casa"]);
    assert.deepEqual([r.score, r.bp, r.sysLen, r.refLen], [0, 0, 0, 2]);
  });

  test("equals sacreBLEU's sentence_bleu on the fixture pairs", () => {
    for (const s of fixture.bleuSentence) assertSameBleu(sentenceBleu(s.hypothesis, s.references), s.expected, JSON.stringify(s.hypothesis));
  });

  test("bad input is a ValueError", () => {
    assert.throws(() => sentenceBleu(1 as unknown as string, ["a"]), (e: unknown) => e instanceof ValueError && e.arg === "hypothesis");
    assert.throws(() => sentenceBleu("a", []), (e: unknown) => e instanceof ValueError && e.arg === "references");
  });
});

describe("formatBleu", () => {
  test("two decimals, exact ties to even as Python's format", () => {
    assert.equal(formatBleu(36.787944117144235), "36.79");
    assert.equal(formatBleu(100), "100.00");
    assert.equal(formatBleu(0), "0.00");
    assert.equal(formatBleu(12.125), "12.12"); // exact tie: toFixed would say 12.13
    assert.equal(formatBleu(12.375), "12.38");
    assert.equal(formatBleu(0.005), "0.01"); // not a tie: the double is just above 0.005
    assert.equal(formatBleu(1.005), "1.00"); // nor this one: just below
    assert.throws(() => formatBleu(NaN), ValueError);
  });
});
