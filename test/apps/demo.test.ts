/** The demo's flow end to end on a few steps (its accuracy target is measured by `npx qkv demo` itself). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runDatesDemo } from "../../src/apps/dates/demo.js";
import { ValueError } from "../../src/tensor/errors.js";

describe("qkv demo", () => {
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
