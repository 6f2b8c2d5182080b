/** The demo's flow end to end on a few steps (its accuracy target is measured by `npx qkv demo` itself). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { makeBatch } from "../../src/apps/dates/batches.js";
import { runDatesDemo } from "../../src/apps/dates/demo.js";
import { CharVocab } from "../../src/data/dates.js";
import { ValueError } from "../../src/tensor/errors.js";

describe("qkv demo", () => {
  test("makeBatch: sources padded with their mask, targets after <bos> and before <eos>, padded to the longest plus one", () => {
    const vocab = CharVocab.fromStrings(["abc 12", "xyz-9"]);
    const pairs = [{ source: "ab", target: "x" }, { source: "c 12", target: "xyz-9" }, { source: "", target: "" }];
    const b = makeBatch(pairs, vocab);
    const P = vocab.padId, B = vocab.bosId, E = vocab.eosId, e = (s: string): number[] => vocab.encode(s);
    const pad = (l: number[], n: number): number[] => [...l, ...Array<number>(n - l.length).fill(P)];
    assert.deepEqual(b.src.shape, [3, 4]);
    assert.deepEqual([...b.src.data], [...pad(e("ab"), 4), ...e("c 12"), ...pad([], 4)]);
    assert.deepEqual([...b.srcPad.data], [0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(b.tgtIn.shape, [3, 6]);
    assert.deepEqual([...b.tgtIn.data], [...pad([B, ...e("x")], 6), B, ...e("xyz-9"), ...pad([B], 6)]);
    assert.deepEqual([...b.tgtOut.data], [...pad([...e("x"), E], 6), ...e("xyz-9"), E, ...pad([E], 6)]);
    assert.equal(b.src.dtype, "int32");
    assert.equal(b.tgtIn.dtype, "int32");
    assert.equal(b.srcPad.dtype, "bool");
    assert.equal(b.pairs, pairs);
    const none = makeBatch([], vocab);
    assert.deepEqual([none.src.shape, none.tgtIn.shape, none.tgtOut.shape], [[0, 1], [0, 1], [0, 1]]);
  });

  test("trains, evaluates, prints examples and writes a self-contained attention report", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qkv-demo-"));
    try {
      const lines: string[] = [];
      const out = join(dir, "attn.html");
      const r = await runDatesDemo({ steps: 6, testSize: 8, batchSize: 8, out, log: (l) => lines.push(l), tty: false });
      // a single step works too (no warm-up then)
      assert.equal((await runDatesDemo({ steps: 1, testSize: 2, batchSize: 2, out, log: () => {}, tty: false })).steps, 1);
      assert.equal(r.steps, 6);
      assert.ok(r.exactMatch >= 0 && r.exactMatch <= 1);
      assert.match(lines.at(-1)!, /^exact match: \d+\.\d%$/);
      assert.equal(r.examples.length, 8);
      const html = readFileSync(out, "utf8");
      assert.match(html, /<svg/);
      assert.ok(!/https?:\/\//.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, "")), "no external URLs");
      assert.equal((html.match(/head 1/g) ?? []).length >= 3, true, "one section per example, per head");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("same seed, same run", async () => {
    const run = () => runDatesDemo({ steps: 3, testSize: 4, batchSize: 4, out: join(tmpdir(), `qkv-demo-${process.pid}.html`), log: () => {}, tty: false });
    const [a, b] = [await run(), await run()];
    assert.deepEqual(a.examples, b.examples);
  });
  test("bad options name the option", async () => {
    await assert.rejects(runDatesDemo({ steps: 0, log: () => {} }), (e: unknown) => e instanceof ValueError && e.message === "qkv demo: steps expected an integer >= 1, got 0");
    await assert.rejects(runDatesDemo({ seed: 1.5, log: () => {} }), (e: unknown) => e instanceof ValueError && e.message === "qkv demo: seed expected an integer, got 1.5");
    await assert.rejects(runDatesDemo({ dModel: 30, log: () => {} }), (e: unknown) => e instanceof ValueError && e.message === "qkv demo: dModel expected a multiple of 4 (4 heads), got 30");
  });
  test("the CLI explains its options and rejects bad ones", () => {
    const help = execFileSync(process.execPath, ["--import", "tsx", "-e", "import { main } from './src/cli/main.ts'; await main(['node', 'qkv', 'demo', '--help'])"], { encoding: "utf8" });
    for (const opt of ["--steps", "--seed", "--out", "--batch-size", "--test-size", "--eval-every"]) assert.ok(help.includes(opt), opt);
    assert.throws(() => execFileSync(process.execPath, ["--import", "tsx", "-e", "import { main } from './src/cli/main.ts'; await main(['node', 'qkv', 'demo', '--steps', 'ten'])"],
      { encoding: "utf8", stdio: "pipe" }), (e: unknown) => /--steps must be an integer >= 1, got "ten"/.test(String((e as { stderr: string }).stderr)));
  });
});
