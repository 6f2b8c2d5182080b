/**
 * SpanExtractor (the summarization model) through ONNX Runtime: start_logits / end_logits against
 * qkv's forward (padding at -Infinity in both) for a random model in the three attention forms at
 * several lengths, and `qkv export` of the shipped summarizer on tokenized text.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadTextModelDir } from "../../src/apps/text/node-files.js";
import { noGrad } from "../../src/autograd/graph.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { onnxGraphs } from "../../src/onnx/export.js";
import { decodeModelProto } from "../../src/onnx/proto.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { int64, maxDiff, ortSkip, session } from "./ort.js";

const TOL = 1e-5;
const SHIPPED = "models/summarize-debian";
const dir = mkdtempSync(join(tmpdir(), "qkv-span-onnx-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** ids [B, N]: random non-pad tokens, batch row b ends in b padding positions (row 0 has none). */
function batchIds(B: number, N: number, V: number, padId: number, g: Generator): number[] {
  const r = new Int32Array(B * N);
  g.fillInt(r, 1, V); // ids 1 … V - 1 (padId is 0)
  return Array.from(r, (x, i) => (i % N >= N - Math.floor(i / N) && i % N > 0 ? padId : x));
}

/** max |diff| of both outputs (equal -Infinity counts as 0). */
function scoreDiff(got: Record<string, { data: unknown }>, want: { start: Tensor; end: Tensor }): number {
  const d = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
    maxDiff(Array.from(a, (x, i) => (x === b[i] ? 0 : x)), Array.from(b, (x, i) => (x === a[i] ? 0 : x)));
  return Math.max(d(got.start_logits!.data as Float32Array, want.start.data as Float32Array), d(got.end_logits!.data as Float32Array, want.end.data as Float32Array));
}

async function check(model: SpanExtractor, bytes: Uint8Array, ids: number[], B: number, N: number): Promise<number> {
  const want = noGrad(() => model.forward(new Tensor(Int32Array.from(ids), [B, N], "int32")));
  const s = await session(bytes);
  const got = await s.run({ input_ids: int64(ids, [B, N]) });
  await s.release();
  for (const k of ["start_logits", "end_logits"]) assert.deepEqual(got[k]!.dims, [B, N]);
  return scoreDiff(got, want);
}

describe("ONNX export: SpanExtractor", { skip: ortSkip }, () => {
  const g = new Generator(21);
  const model = new SpanExtractor({ vocabSize: 40, dModel: 16, nhead: 4, layers: 2, dimFeedforward: 32, dropout: 0, maxLen: 32, padId: 0 }, { generator: g }).eval();
  for (const mode of ["plain", "fused", "opset23"] as const) {
    test(`start_logits and end_logits equal qkv's, padding at -Infinity (${mode})`, async () => {
      const [f] = onnxGraphs(model, {}, { attention: mode });
      assert.deepEqual([f!.name, f!.inputs, f!.outputs, f!.attention], ["model.onnx", ["input_ids"], ["start_logits", "end_logits"], mode]);
      for (const N of [1, 5, 12, 32]) {
        const d = await check(model, f!.bytes, batchIds(3, N, 40, 0, g), 3, N);
        assert.ok(d <= TOL, `N=${N}: max |diff| ${d}`);
      }
    });
  }

  test("the file: input_ids int64 [batch, sequence_length], the config in its metadata", () => {
    const [f] = onnxGraphs(model, {}, {});
    const m = decodeModelProto(f!.bytes);
    assert.deepEqual(m.graph.input[0]!.type.tensor_type.shape.dim, [{ dim_param: "batch" }, { dim_param: "sequence_length" }]);
    const meta = Object.fromEntries(m.metadata_props.map((p) => [p.key, p.value]));
    assert.equal(meta["qkv.model"], "SpanExtractor");
    assert.deepEqual(JSON.parse(meta["qkv.config"]!), model.config);
    const names = m.graph.initializer.map((t) => t.name);
    for (const n of Object.keys(model.stateDict())) assert.ok(names.includes(n), `initializer ${n}`);
  });

  test("qkv export of the shipped summarizer: model.onnx and tokenizer.json; scores on tokenized text equal qkv's", { skip: existsSync(SHIPPED) ? false : `${SHIPPED} is absent` }, async () => {
    const out = join(dir, "summarize");
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "export", "--format", "onnx", "--model", SHIPPED, "--out", out],
      { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ["model.onnx", "tokenizer.json"]);
    assert.match(r.stdout, /model\.onnx: \d+ bytes, inputs 1, outputs 2, attention plain/);
    const bundle = await loadTextModelDir(SHIPPED); // F16 weights, as the export read them
    const m = (bundle.model as SpanExtractor).eval();
    const texts = ["a command-line tool that converts images between formats and resizes them",
      "library for parsing and writing JSON documents, with a streaming interface"];
    const enc = texts.map((t) => bundle.tokenizer.encode(t).slice(0, m.config.maxLen));
    const N = Math.max(...enc.map((e) => e.length));
    const ids = enc.flatMap((e) => [...e, ...Array<number>(N - e.length).fill(m.config.padId)]);
    const d = await check(m, new Uint8Array(readFileSync(join(out, "model.onnx"))), ids, texts.length, N);
    assert.ok(d <= TOL, `max |diff| ${d}`);
  });
});
