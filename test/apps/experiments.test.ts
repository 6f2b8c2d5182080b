/**
 * `qkv experiments`: the building blocks on their own (task generators, parameter matching, the
 * gradient-by-distance computation against a hand computation, head masking and pruning, the
 * report), and `--quick` end to end into a temporary directory: the JSON holds finite
 * numbers in range, the report links every plot and result file, and every SVG parses. The end-to-end
 * run takes about 25 s of one core, so it runs once, on the first backend's pass.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { DOMParser } from "@xmldom/xmldom";
import { inputGradientNorms, normsByDistance } from "../../src/apps/experiments/grad-flow.js";
import { countParameters, matchedTo, modelKinds, parameterCount, referenceParameters, SequenceClassifier } from "../../src/apps/experiments/models.js";
import { HeadMasker, headRedundancy } from "../../src/apps/experiments/prune.js";
import { experimentNames } from "../../src/apps/experiments/registry.js";
import { anchor, tableMarkdown } from "../../src/apps/experiments/report.js";
import { sig3, spread, type ExperimentReport } from "../../src/apps/experiments/results.js";
import { runExperiments } from "../../src/apps/experiments/run.js";
import { flaggedTokenTask, pairRecallTask } from "../../src/apps/experiments/tasks.js";
import { availableBackends } from "../../src/backend/registry.js";
import { Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { reshape } from "../../src/ops/shape.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator, manualSeed } from "../../src/tensor/rng.js";
import { randn, Tensor } from "../../src/tensor/tensor.js";

const first = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === availableBackends()[0];

/** Parses an SVG document, throwing on any XML error; returns its document. */
function parseSvg(svg: string) {
  const doc = new DOMParser({ onError: (level, msg) => { throw new Error(`${level}: ${msg}`); } }).parseFromString(svg, "image/svg+xml");
  assert.equal(doc.documentElement?.nodeName, "svg");
  return doc;
}

describe("experiment tasks", () => {
  test("flagged token: the answer is the flagged value exactly D positions before the query, and nothing else is flagged", () => {
    for (const D of [1, 5, 29]) {
      const L = D + 4, K = 8;
      const task = flaggedTokenTask({ length: L, distance: D, values: K });
      assert.equal(task.vocabSize, 2 * K + 1);
      const b = task.batch(64, new Generator(D));
      const ids = b.ids.data as Int32Array, labels = b.labels.data as Int32Array;
      assert.deepEqual(b.ids.shape, [64, L]);
      for (let n = 0; n < 64; n++) {
        const row = Array.from(ids.subarray(n * L, (n + 1) * L));
        assert.equal(row[L - 1], 2 * K, "the query closes the sequence");
        assert.equal(row[L - 1 - D], K + labels[n]!, "the token D back carries the answer");
        assert.deepEqual(b.sources[n], [L - 1 - D]);
        assert.equal(row.filter((t) => t >= K && t < 2 * K).length, 1, "exactly one flagged token");
      }
      // reading any other position recovers the answer no better than chance
      for (let p = 0; p < L - 1; p++) {
        if (p === L - 1 - D) continue;
        let same = 0;
        for (let n = 0; n < 64; n++) if (ids[n * L + p] === labels[n]) same++;
        assert.ok(same < 24, `position ${p} agrees with the answer ${same}/64 times`);
      }
    }
  });

  test("flagged token with a range of distances: every distance of the range occurs, none outside", () => {
    const task = flaggedTokenTask({ length: 12, distance: [1, 11], values: 4 });
    const b = task.batch(400, new Generator(1));
    const seen = new Set(b.sources.map(([p]) => 11 - p!));
    assert.deepEqual([...seen].sort((a, c) => a - c), Array.from({ length: 11 }, (_, i) => i + 1));
  });

  test("pair recall: the answer is the pair (a, b) of the two flagged tokens, at two different places", () => {
    const K = 4, L = 10;
    const task = pairRecallTask({ length: L, values: K });
    assert.equal(task.classes, K * K);
    const b = task.batch(100, new Generator(3));
    const ids = b.ids.data as Int32Array, labels = b.labels.data as Int32Array;
    for (let n = 0; n < 100; n++) {
      const [p, q] = b.sources[n]!;
      assert.notEqual(p, q);
      const a = ids[n * L + p!]! - K, c = ids[n * L + q!]! - 2 * K;
      assert.ok(a >= 0 && a < K && c >= 0 && c < K);
      assert.equal(labels[n], a * K + c);
      assert.equal(ids[n * L + L - 1], 3 * K);
      const row = Array.from(ids.subarray(n * L, (n + 1) * L - 1));
      assert.equal(row.filter((t) => t >= K).length, 2, "exactly two flagged tokens");
    }
  });

  test("the same seed gives the same batch; bad options name the option", () => {
    const task = flaggedTokenTask({ length: 20, distance: 8 });
    assert.deepEqual(task.batch(4, new Generator(5)).ids.data, task.batch(4, new Generator(5)).ids.data);
    assert.throws(() => flaggedTokenTask({ length: 8, distance: 8 }), (e: unknown) => e instanceof ValueError && e.message === "flaggedTokenTask: distance expected at most length - 1 (7), got 8");
  });
});

describe("experiment models", () => {
  test("parameterCount is what the built model has, and matched models are within 3% of the reference", () => {
    const shape = { vocabSize: 17, classes: 8, maxLen: 40 };
    const ref = referenceParameters(shape, 40);
    for (const kind of modelKinds) {
      manualSeed(0);
      const cfg = matchedTo(kind, shape, 40);
      const m = new SequenceClassifier(cfg);
      assert.equal(countParameters(m), parameterCount(cfg), kind);
      assert.ok(Math.abs(parameterCount(cfg) - ref) / ref < 0.03, `${kind}: ${parameterCount(cfg)} against ${ref}`);
      assert.deepEqual(m.forward(flaggedTokenTask({ length: 12, distance: 4 }).batch(3, new Generator(0)).ids).shape, [3, 8]);
    }
  });
});

/** logits [B, 2] = [sum_t c_t x[b, t, 0], 0]: log p(class 0) has gradient c_t (1 - sigmoid(s_b)) on x[b, t, 0] and 0 elsewhere. */
class TinyLinear extends Module {
  constructor(readonly c: number[], readonly E: number) {
    super();
  }
  embed(ids: Tensor): Tensor {
    const [B, L] = ids.shape as [number, number];
    const x = new Float32Array(B * L * this.E);
    (ids.data as Int32Array).forEach((v, i) => { x[i * this.E] = v / 10; x[i * this.E + 1] = 1; });
    return new Tensor(x, [B, L, this.E], "float32");
  }
  head(x: Tensor): Tensor {
    const [B, L, E] = x.shape as [number, number, number];
    const w = new Float32Array(L * E * 2);
    this.c.forEach((c, t) => { w[t * E * 2] = c; }); // weight [L*E, 2]: column 0 reads x[., t, 0]
    const lin = new Linear(L * E, 2, { bias: false });
    lin.weight.data.set(transpose2(w, L * E, 2));
    return lin.forward(reshape(x, [B, L * E]));
  }
}
const transpose2 = (a: Float32Array, r: number, c: number): Float32Array => {
  const o = new Float32Array(a.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = a[i * c + j]!;
  return o;
};

describe("gradient by distance", () => {
  test("normsByDistance: the mean over the batch of each position's 2-norm, indexed from the last position", () => {
    // B = 2, L = 3, E = 2
    const g = [3, 4, 0, 0, 1, 0, /* b = 1 */ 0, 0, 6, 8, 0, 2];
    assert.deepEqual(normsByDistance(g, 2, 3, 2), [(1 + 2) / 2, (0 + 10) / 2, (5 + 0) / 2]);
    assert.throws(() => normsByDistance(g, 2, 3, 3), ValueError);
  });

  test("inputGradientNorms against a hand computation", () => {
    const c = [0.5, -2, 0, 1.5];
    const model = new TinyLinear(c, 2);
    const ids = new Tensor(Int32Array.from([1, 2, 3, 4, 5, 0, 7, 1]), [2, 4], "int32");
    const labels = new Tensor(Int32Array.from([0, 0]), [2], "int32");
    const got = inputGradientNorms(model, ids, labels);
    const x = (b: number, t: number): number => (ids.data as Int32Array)[b * 4 + t]! / 10;
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const want = [0, 1, 2, 3].map((d) => {
      const t = 3 - d;
      let m = 0;
      for (let b = 0; b < 2; b++) {
        const s = c.reduce((acc, ct, tt) => acc + ct * x(b, tt), 0);
        m += Math.abs(c[t]! * (1 - sig(s))) / 2;
      }
      return m;
    });
    got.forEach((v, d) => assert.ok(Math.abs(v - want[d]!) < 1e-6, `d=${d}: ${v} against ${want[d]}`));
    assert.equal(got[1], 0, "c = 0 at t = 2: no gradient");
  });

  test("a recurrent net's gradient decays with distance at initialization; full attention's does not", () => {
    const task = flaggedTokenTask({ length: 24, distance: [1, 23] });
    const b = task.batch(16, new Generator(2));
    const shape = { vocabSize: task.vocabSize, classes: task.classes, maxLen: 24 };
    manualSeed(0);
    const lstm = inputGradientNorms(new SequenceClassifier(matchedTo("lstm", shape, 40)), b.ids, b.labels);
    manualSeed(0);
    const attn = inputGradientNorms(new SequenceClassifier(matchedTo("transformer", shape, 40)), b.ids, b.labels);
    assert.ok(lstm[23]! < 1e-3 * lstm[1]!, `LSTM: ${lstm[23]} against ${lstm[1]}`);
    assert.ok(attn[23]! > 0.2 * attn[1]!, `attention: ${attn[23]} against ${attn[1]}`);
  });
});

describe("head pruning", () => {
  test("switching a head off zeroes exactly its output-projection columns; all heads off leaves the bias", () => {
    manualSeed(1);
    const mha = new MultiheadAttention(8, 4, { batchFirst: true });
    mha.outProj.bias!.data.set([1, 2, 3, 4, 5, 6, 7, 8]);
    const holder = new (class extends Module {
      constructor() { super(); this.registerModule("attn", mha); }
    })();
    const original = Float32Array.from(mha.outProj.weight.data as Float32Array);
    const masker = new HeadMasker(holder);
    assert.deepEqual(masker.heads.map((h) => `${h.module}:${h.head}`), ["attn:0", "attn:1", "attn:2", "attn:3"]);
    masker.set([2]);
    const w = mha.outProj.weight.data as Float32Array;
    for (let r = 0; r < 8; r++) for (let j = 0; j < 8; j++) assert.equal(w[r * 8 + j], j === 4 || j === 5 ? 0 : original[r * 8 + j], `${r},${j}`);
    masker.set([0, 1, 2, 3]);
    const x = randn([2, 3, 8]);
    const out = mha.forward(x, x, x).output.data;
    for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - (1 + (i % 8))) < 1e-6);
    masker.set([]);
    assert.deepEqual(w, original);
  });

  test("headRedundancy switches heads off from the least important on and stops past the tolerance", () => {
    // four heads; losing head i costs cost[i]; costs add up
    const cost = [0.004, 0.0, 0.3, 0.005];
    let off: number[] = [];
    const masker = { heads: cost.map((_, h) => ({ module: "m", head: h })), set: (o: Iterable<number>) => { off = [...o]; } };
    const r = headRedundancy(masker, () => 0.9 - off.reduce((s, i) => s + cost[i]!, 0), 0.01);
    assert.deepEqual(r.importance.map((v) => Number(v.toFixed(6))), [0.004, 0, 0.3, 0.005]);
    assert.equal(r.base, 0.9);
    // order: head 1 (0), head 0 (0.004), head 3 (0.005), head 2 (0.3): drops 0, 0.004, 0.009, then 0.309
    assert.equal(r.prunable, 3);
    assert.deepEqual(r.curve.map((v) => Number(v.toFixed(6))), [0.9, 0.896, 0.891, 0.591]);
    assert.deepEqual(off, [], "every head back on");
  });
});

describe("report pieces", () => {
  test("spread, number format, tables, anchors", () => {
    const s = spread([0.5, 0.7, 0.6]);
    assert.ok(Math.abs(s.mean - 0.6) < 1e-12 && Math.abs(s.std - 0.1) < 1e-12);
    assert.equal(spread([2]).std, 0);
    assert.equal(sig3(0.000001234), "1.23e−6");
    assert.equal(sig3(1234.5), "1230");
    assert.equal(tableMarkdown({ columns: ["a", "b"], rows: [["x|y", 1]] }), "| a | b |\n|---|---:|\n| x\\|y | 1 |");
    assert.equal(anchor("1. Long-range dependencies"), "1-long-range-dependencies");
  });
});

describe("qkv experiments --quick, end to end", { skip: first ? false : "runs once, on the first backend's pass" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "qkv-experiments-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, "exp");

  test("every experiment writes its JSON and plots, and the report links them", async () => {
    const lines: string[] = [];
    const r = await runExperiments({ quick: true, out, log: (l) => lines.push(l) });
    assert.equal(r.docPath, `${out}.md`);
    assert.deepEqual(r.reports.map((x) => x.name), experimentNames());
    const md = readFileSync(r.docPath, "utf8");
    assert.match(md, /This page comes from a quick run/);
    const files = readdirSync(out).sort();
    for (const rep of r.reports) {
      const json = JSON.parse(readFileSync(join(out, `${rep.name}.json`), "utf8")) as ExperimentReport;
      for (const k of ["name", "title", "question", "setup", "plots", "tables", "verdict", "quick", "seeds", "backend", "seconds", "cpuSeconds", "finished", "data"] as const) assert.ok(k in json, `${rep.name}.${k}`);
      assert.equal(json.quick, true);
      assert.ok(json.seconds > 0 && Number.isFinite(json.seconds) && json.cpuSeconds > 0 && Number.isFinite(json.cpuSeconds));
      assert.ok(json.verdict.length > 40 && !/NaN|undefined/.test(json.verdict), json.verdict);
      assert.ok(md.includes(`](exp/${rep.name}.json)`), `${rep.name}.json linked`);
      for (const p of json.plots) {
        assert.ok(files.includes(p.file), p.file);
        assert.ok(md.includes(`](exp/${p.file})`), `${p.file} linked`);
        const doc = parseSvg(readFileSync(join(out, p.file), "utf8"));
        assert.ok(doc.getElementsByTagName("circle").length > 0, `${p.file} has points`);
      }
      for (const t of json.tables) for (const row of t.rows) assert.equal(row.length, t.columns.length);
      assert.ok(!/NaN|undefined/.test(JSON.stringify(json.tables)), `${rep.name} tables`);
    }
    const get = (name: string) => JSON.parse(readFileSync(join(out, `${name}.json`), "utf8")) as ExperimentReport & { data: Record<string, unknown> };
    const unit = (v: unknown): boolean => typeof v === "number" && v >= 0 && v <= 1;
    const pos = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v > 0;

    const lr = get("long-range").data as { runs: { kind: string; distance: number; accuracy: number; params: number; msPerStep: number }[]; settings: { distances: number[]; kinds: string[] } };
    assert.equal(lr.runs.length, lr.settings.distances.length * lr.settings.kinds.length);
    for (const run of lr.runs) assert.ok(unit(run.accuracy) && pos(run.params) && pos(run.msPerStep), JSON.stringify(run));

    const par = get("parallelism").data as { timings: { trainMs: number; inferUsPerToken: number; decodeUsPerToken: number }[] };
    assert.ok(par.timings.length >= 6);
    for (const t of par.timings) assert.ok(pos(t.trainMs) && pos(t.inferUsPerToken) && pos(t.decodeUsPerToken), JSON.stringify(t));

    const gf = get("gradient-flow").data as { settings: { length: number }; runs: { init: number[]; trained: number[]; accuracy: number }[] };
    for (const run of gf.runs) {
      assert.equal(run.init.length, gf.settings.length);
      assert.ok([...run.init, ...run.trained].every((v) => Number.isFinite(v) && v >= 0));
      assert.ok(unit(run.accuracy));
    }

    const hd = get("heads").data as { runs: { task: string; heads: number; accuracy: number; prunable: number; totalHeads: number; msPerStep: number }[] };
    assert.deepEqual([...new Set(hd.runs.map((x) => x.task))], ["dates", "pair-recall"]);
    for (const run of hd.runs) {
      assert.ok(unit(run.accuracy) && pos(run.msPerStep), JSON.stringify(run));
      assert.ok(Number.isInteger(run.prunable) && run.prunable >= 0 && run.prunable <= run.totalHeads);
      assert.equal(run.totalHeads, run.task === "dates" ? 3 * run.heads : run.heads);
    }
  });

  test("the CLI refuses an unknown experiment by name", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "experiments", "long-rnage", "--quick", "--out", join(dir, "never")], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim().split("\n").at(-1)!, /^qkv: unknown experiment "long-rnage"; one of long-range, parallelism, gradient-flow, heads$/);
  });
});
