import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { corpusRouge, rougeL, rougeN, rougeTokenize, sentenceRouge, type RougeScores } from "../../src/metrics/rouge.js";
import { ValueError } from "../../src/tensor/errors.js";

interface Fixture {
  rougePairs: { hypothesis: string; reference: string; expected: RougeScores }[];
  rougeCorpus: { hypotheses: string[]; references: string[]; expected: { rouge1: number; rouge2: number; rougeL: number } };
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/metrics/metrics.json", import.meta.url), "utf8")) as Fixture;

describe("rougeTokenize", () => {
  test("lower-cases and keeps the runs of [a-z0-9]", () => {
    assert.deepEqual(rougeTokenize("Hello, World! v3.5x_y"), ["hello", "world", "v3", "5x", "y"]);
    assert.deepEqual(rougeTokenize("café naïve"), ["caf", "na", "ve"]); // non-ASCII letters separate and vanish
    assert.deepEqual(rougeTokenize("\u212aelvin \u0130stanbul"), ["kelvin", "i", "stanbul"]); // Unicode lower-casing first
    assert.deepEqual(rougeTokenize(" -- "), []);
  });
});

describe("sentenceRouge", () => {
  test("a perfect match is 1, no shared token is 0", () => {
    const same = sentenceRouge("Library for parsing JSON", "library for parsing json!");
    for (const k of ["rouge1", "rouge2", "rougeL"] as const) assert.deepEqual(same[k], { precision: 1, recall: 1, fmeasure: 1 });
    const none = sentenceRouge("tool to edit", "library for parsing");
    for (const k of ["rouge1", "rouge2", "rougeL"] as const) assert.deepEqual(none[k], { precision: 0, recall: 0, fmeasure: 0 });
  });

  test("ROUGE-L is the longest common subsequence over each side's length", () => {
    // hypothesis a b c d e, reference a x c y e z: LCS a c e
    const s = rougeL("a b c d e", "a x c y e z");
    assert.deepEqual(s, { precision: 3 / 5, recall: 3 / 6, fmeasure: (2 * (3 / 5) * (3 / 6)) / (3 / 5 + 3 / 6) });
    // order matters to L, not to ROUGE-1
    assert.equal(rougeL("c b a", "a b c").fmeasure, 1 / 3);
    assert.equal(rougeN("c b a", "a b c", 1).fmeasure, 1);
  });

  test("n-gram overlaps are clipped by the reference's counts", () => {
    // hypothesis the x3; reference has the x2 and cat
    assert.deepEqual(rougeN("the the the", "the cat the", 1), { precision: 2 / 3, recall: 2 / 3, fmeasure: 2 / 3 });
    // bigrams: hypothesis {the the: 2}, reference {the cat, cat the}: none shared
    assert.equal(rougeN("the the the", "the cat the", 2).fmeasure, 0);
    assert.deepEqual(rougeN("a b c", "a b d", 2), { precision: 1 / 2, recall: 1 / 2, fmeasure: 1 / 2 });
  });

  test("an empty side scores 0 everywhere", () => {
    for (const [h, r] of [["", "a b"], ["a b", ""], ["", ""], ["!!!", "a"]] as const) {
      const s = sentenceRouge(h, r);
      assert.deepEqual([s.rouge1.fmeasure, s.rouge2.fmeasure, s.rougeL.fmeasure], [0, 0, 0]);
    }
  });

  test("equals rouge-score on the fixture pairs", () => {
    for (const p of fixture.rougePairs) assert.deepEqual(sentenceRouge(p.hypothesis, p.reference), p.expected, JSON.stringify(p.hypothesis));
  });

  test("bad input is a ValueError", () => {
    assert.throws(() => sentenceRouge(null as unknown as string, "a"), (e: unknown) => e instanceof ValueError && e.op === "sentenceRouge" && e.arg === "hypothesis");
    assert.throws(() => rougeN("a", "a", 0), (e: unknown) => e instanceof ValueError && e.arg === "n");
    assert.throws(() => rougeL("a", 2 as unknown as string), (e: unknown) => e instanceof ValueError && e.arg === "reference");
  });
});

describe("corpusRouge", () => {
  test("the mean F1 over pairs, x100", () => {
    const r = corpusRouge(["a b c", "x y"], ["a b d", "x y"]);
    assert.equal(r.pairs, 2);
    assert.equal(r.rouge1, (100 * (2 / 3 + 1)) / 2);
    assert.equal(r.rouge2, (100 * (1 / 2 + 1)) / 2);
    assert.equal(r.rougeL, (100 * (2 / 3 + 1)) / 2);
  });

  test("equals the mean of rouge-score's F1 on the fixture pairs", () => {
    const { hypotheses, references, expected } = fixture.rougeCorpus;
    const r = corpusRouge(hypotheses, references);
    for (const k of ["rouge1", "rouge2", "rougeL"] as const) assert.ok(Math.abs(r[k] - expected[k]) <= 1e-9, `${k}: ${r[k]} != ${expected[k]}`);
  });

  test("bad input is a ValueError naming the argument", () => {
    const is = (arg: string) => (e: unknown) => e instanceof ValueError && e.op === "corpusRouge" && e.arg === arg;
    assert.throws(() => corpusRouge([], []), is("hypotheses"));
    assert.throws(() => corpusRouge(["a"], ["a", "b"]), is("references"));
    assert.throws(() => corpusRouge(["a"], [undefined] as unknown as string[]), is("references[0]"));
    assert.throws(() => corpusRouge(["a", "b"], ["a"]), { message: "corpusRouge: references expected 2 lines (one per hypothesis), got 1" });
  });
});
