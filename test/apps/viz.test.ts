/**
 * The applications' attention pages: `qkv viz` on a text model directory (a tiny seq2seq model
 * built here), `--viz` on `qkv translate` and on the dates demo, and their errors (input longer
 * than the model allows, neither --model nor --demo).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runDatesDemo } from "../../src/apps/dates/demo.js";
import { saveTextModelDir } from "../../src/apps/text/node-files.js";
import { textModelPage } from "../../src/apps/viz/pages.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { BpeTokenizer } from "../../src/text/bpe.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-viz-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const tok = BpeTokenizer.train(["In the beginning God created the heavens and the earth.", "En el principio creó Dios los cielos y la tierra."], { vocabSize: 280 });
manualSeed(2);
const model = new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 16, nhead: 2, encoderLayers: 2, decoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 24, padId: tok.padId });
const modelDir = join(dir, "m");
await saveTextModelDir(modelDir, { kind: "seq2seq", task: "translate", model, tokenizer: tok }, { float32: true });

const groupsOf = (html: string): { name: string; rows: string[]; cols: string[]; layers: unknown[] }[] =>
  (JSON.parse(/id="qkv-data">(.*?)<\/script>/s.exec(html)![1]!) as { groups: { name: string; rows: string[]; cols: string[]; layers: unknown[] }[] }).groups;
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", ...args], { encoding: "utf8" });

describe("attention pages of the applications", () => {
  test("textModelPage: encoder, decoder and cross-attention of a seq2seq model, teacher forced on the target", () => {
    const html = textModelPage({ kind: "seq2seq", task: "translate", model, tokenizer: tok }, "the earth", { target: "la tierra" });
    const g = groupsOf(html);
    assert.deepEqual(g.map((x) => x.name), ["encoder.layers.*.self_attn (self-attention)", "decoder.layers.*.self_attn (self-attention)", "decoder.layers.*.multihead_attn (cross-attention)"]);
    assert.equal(g[0]!.layers.length, 2);
    assert.equal(g[0]!.rows.join("").replace(/^▁/, ""), "the▁earth", "subword labels spell the input (a leading space as ▁)");
    assert.equal(g[2]!.rows[0], tok.idToToken(tok.bosId), "the first decoder row is the start token");
    assert.deepEqual(g[2]!.cols, g[0]!.cols);
    // a span model: its encoder only
    const span = new SpanExtractor({ vocabSize: tok.vocabSize, dModel: 8, nhead: 2, layers: 1, dimFeedforward: 16, dropout: 0, maxLen: 16, padId: tok.padId });
    assert.equal(groupsOf(textModelPage({ kind: "span", task: "summarize", model: span, tokenizer: tok }, "God created light")).length, 1);
  });

  test("an input longer than the model allows names the argument", () => {
    const long = Array.from({ length: 30 }, () => "heavens").join(" ");
    assert.throws(() => textModelPage({ kind: "seq2seq", task: "translate", model, tokenizer: tok }, long, { op: "qkv viz", textArg: "--text" }),
      (e: unknown) => e instanceof ValueError && e.op === "qkv viz" && e.arg === "--text" && /at most 24 tokens \(the model's maxLen\)/.test(e.message));
  });

  test("qkv viz --model writes the page; errors exit 1 with one line", () => {
    const out = join(dir, "viz.html");
    const r = cli(["viz", "--model", modelDir, "--text", "In the beginning", "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /attention of every layer and head: .*viz\.html/);
    assert.equal(groupsOf(readFileSync(out, "utf8")).length, 3);
    const long = cli(["viz", "--model", modelDir, "--text", Array.from({ length: 30 }, () => "heavens").join(" "), "--out", join(dir, "x.html")]);
    assert.equal(long.status, 1);
    assert.match(long.stderr, /^qkv: qkv viz: --text expected at most 24 tokens \(the model's maxLen\), got \d+ tokens\n$/);
    assert.equal(existsSync(join(dir, "x.html")), false);
    const none = cli(["viz", "--text", "x"]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /give either --model <dir> or --demo dates/);
  });

  test("qkv translate --viz writes the page of the first input", () => {
    const out = join(dir, "tr.html");
    const r = cli(["translate", "--model", modelDir, "--beam", "1", "--viz", out, "God created"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(groupsOf(readFileSync(out, "utf8")).length, 3);
  });

  test("the dates demo's --viz page; a source too long for it fails before training", async () => {
    const out = join(dir, "dates.html");
    const r = await runDatesDemo({ steps: 2, testSize: 3, batchSize: 4, dModel: 16, out: null, viz: out, vizSource: "3/3/99", log: () => {}, tty: false });
    assert.equal(r.reportPath, null);
    const g = groupsOf(readFileSync(out, "utf8"));
    assert.deepEqual(g.map((x) => x.name.split(" ")[0]), ["encoder.layers.*.self_attn", "decoder.layers.*.self_attn", "decoder.layers.*.multihead_attn"]);
    assert.deepEqual(g[0]!.rows, ["3", "/", "3", "/", "9", "9"]);
    await assert.rejects(runDatesDemo({ steps: 1, out: null, viz: out, vizSource: "x".repeat(65), log: () => {} }),
      (e: unknown) => e instanceof ValueError && e.arg === "--text" && /1 to 64 characters/.test(e.message));
  });
});
