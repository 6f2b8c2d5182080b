/**
 * The graph app: the shipped datasets load and hold what their READMEs say, the loader refuses
 * bad files with the file and the field named, training on the karate club beats the feature-only
 * baseline, model files round-trip and refuse foreign ones, and `qkv graph` prints the accuracy
 * last.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { edgeHomophily, graphTensors, parseGraphDataset } from "../../src/apps/graph/data.js";
import { loadGraphDataset, loadGraphModel, saveGraphModel } from "../../src/apps/graph/files.js";
import { NodeClassifier } from "../../src/apps/graph/model.js";
import { evaluateNodeClassifier, trainNodeClassifier } from "../../src/apps/graph/train.js";
import { graphAttentionPage } from "../../src/apps/graph/viz.js";
import { saveSafetensors } from "../../src/io/safetensors-node.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";
import { randn } from "../../src/tensor/tensor.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-graph-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", ...args], { encoding: "utf8" });
/** The error line of a failed command (a backend notice may come before it). */
const errorLine = (stderr: string): string => stderr.trim().split("\n").at(-1)!;

const karate = await loadGraphDataset("karate");
const debian = await loadGraphDataset("debian");

/** A small valid document to break one field at a time. */
const tiny = () => ({
  format: "qkv-graph", version: 1, name: "tiny", source: "test",
  nodes: ["a", "b", "c", "d"], classes: ["x", "y"], labels: [0, 0, 1, 1],
  edges: [[0, 1, 2], [1, 2, 3]],
  features: { kind: "bag-of-words", vocabulary: ["u", "v", "w"], indices: [[0], [0, 1], [2], []] },
  split: { train: [0, 3], valid: [1], test: [2] },
});
const refuse = (doc: unknown, ...fragments: string[]): void => {
  assert.throws(() => parseGraphDataset(JSON.stringify(doc), "t.json"), (e: unknown) => {
    assert.ok(e instanceof FormatError, String(e));
    for (const f of [...fragments, "(file t.json)"]) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
};

describe("graph datasets", () => {
  test("karate club: 34 members, 78 friendships, two factions of 17, one labelled member per faction", () => {
    assert.equal(karate.nodes.length, 34);
    assert.equal(karate.edges.src.length, 78);
    assert.deepEqual([0, 1].map((c) => karate.labels.filter((l) => l === c).length), [17, 17]);
    assert.deepEqual(Array.from(karate.split.train), [0, 33]);
    assert.deepEqual([karate.labels[0], karate.labels[33]], [0, 1]);
    assert.equal(karate.split.test.length, 32);
    assert.equal(karate.features, null);
    const t = graphTensors(karate);
    assert.deepEqual(t.x.shape, [34, 34]);
    assert.deepEqual(t.edgeIndex.shape, [2, 156]);
    const e = t.edgeIndex.data;
    assert.deepEqual([e[0], e[156], e[78], e[156 + 78]], [karate.edges.src[0], karate.edges.dst[0], karate.edges.dst[0], karate.edges.src[0]], "both directions");
  });

  test("Debian packages: a few thousand nodes, 14 sections, bag-of-words features, 20 training nodes per class", () => {
    const N = debian.nodes.length;
    assert.ok(N > 3000 && N < 6000, String(N));
    assert.equal(debian.classes.length, 14);
    assert.ok(debian.nodes.includes("gimp") && debian.classes[debian.labels[debian.nodes.indexOf("gimp")]!] === "graphics");
    assert.equal(debian.features!.vocabulary.length, 500);
    assert.equal(debian.split.train.length, 14 * 20);
    assert.equal(debian.split.valid.length, 500);
    assert.equal(debian.split.train.length + debian.split.valid.length + debian.split.test.length, N);
    assert.ok(edgeHomophily(debian) > 0.7, "neighbours mostly share a section");
    const x = graphTensors(debian).x;
    assert.deepEqual(x.shape, [N, 500]);
    const row = Array.from(x.data.subarray(0, 500));
    const s = row.reduce((a, b) => a + b, 0);
    assert.ok(s === 0 || Math.abs(s - 1) < 1e-6, "a bag scaled to sum 1");
  });

  test("bad files: a FormatError naming the field and the file", () => {
    refuse({ ...tiny(), format: "csv" }, 'loadGraphDataset: format expected "qkv-graph", got "csv"');
    refuse({ ...tiny(), labels: [0, 0, 2, 1] }, "labels[2] expected class indices in [0, 2), got 2");
    refuse({ ...tiny(), labels: [0, 0, 1] }, "labels expected 4 class indices (one per node), got 3");
    refuse({ ...tiny(), edges: [[0, 1], [1, 4]] }, "edges[1][1] expected node indices in [0, 4), got 4");
    refuse({ ...tiny(), edges: [[0, 1], [1]] }, "edges[1] expected 2 targets (as many as sources), got 1");
    refuse({ ...tiny(), edges: [[0, 2], [1, 2]] }, "no self-loops");
    refuse({ ...tiny(), features: { kind: "bag-of-words", vocabulary: ["u"], indices: [[0], [1], [], []] } }, "features.indices[1][0] expected word indices in [0, 1), got 1");
    refuse({ ...tiny(), features: { kind: "bag-of-words", vocabulary: ["u"], indices: [[0]] } }, "features.indices expected 4 lists of word indices (one per node)");
    refuse({ ...tiny(), split: { train: [0, 1], valid: [1], test: [2] } }, "split.valid expected nodes in no other part of the split");
    refuse({ ...tiny(), split: { train: [], valid: [], test: [2] } }, "split.train expected at least one node, got none");
    refuse({ ...tiny(), nodes: "abcd" }, "nodes expected an array of 1 to 200000 strings");
    refuse({ ...tiny(), classes: ["x", "x"] }, "classes expected distinct names");
    assert.throws(() => parseGraphDataset("{\"format\": ", "t.json"), (e: unknown) => e instanceof FormatError && /valid JSON.*\(t\.json\)/.test(e.message));
    assert.ok(parseGraphDataset(JSON.stringify(tiny()), "t.json").features!.indices[3]!.length === 0, "the valid document parses");
  });

  test("a missing file or a directory is a FormatError naming it", async () => {
    await assert.rejects(loadGraphDataset(join(dir, "none.json")), (e: unknown) => e instanceof FormatError && e.message.includes("none.json"));
    await assert.rejects(loadGraphDataset(dir), (e: unknown) => e instanceof FormatError && e.message.includes(dir));
  });
});

describe("graph models", () => {
  test("on the karate club, attention over the friendships labels the factions and the feature-only MLP cannot", async () => {
    const gat = await trainNodeClassifier(karate, { kind: "gat", seed: 0, epochs: 100 });
    const tr = await trainNodeClassifier(karate, { kind: "transformer", seed: 0, epochs: 100 });
    const mlp = await trainNodeClassifier(karate, { kind: "mlp", seed: 0, epochs: 100 });
    assert.ok(gat.test >= 0.8, `gat ${gat.test}`);
    assert.ok(tr.test >= 0.8, `transformer ${tr.test}`);
    assert.ok(mlp.test <= 0.7, `mlp ${mlp.test}`); // one-hot ids of unseen members carry nothing
    assert.equal(gat.train, 1);
    assert.deepEqual((await trainNodeClassifier(karate, { kind: "gat", seed: 0, epochs: 100 })).test, gat.test, "one seed, one run");
  });

  test("the best validation epoch is kept", async () => {
    const tiny2 = parseGraphDataset(JSON.stringify(tiny()), "t.json");
    const r = await trainNodeClassifier(tiny2, { kind: "gat", seed: 1, epochs: 30 });
    assert.ok(r.epoch >= 1 && r.epoch <= 30);
    assert.equal(r.valid, evaluateNodeClassifier(r.model, tiny2).valid);
    await assert.rejects(trainNodeClassifier(tiny2, { kind: "gat", epochs: 0 }), ValueError);
  });

  test("model files round-trip; another dataset's or kind's file is a FormatError naming it", async () => {
    const r = await trainNodeClassifier(karate, { kind: "transformer", seed: 3, epochs: 5 });
    const path = join(dir, "k.safetensors");
    await saveGraphModel(path, r.model, karate);
    const back = await loadGraphModel(path, karate);
    assert.equal(back.config.kind, "transformer");
    assert.deepEqual(evaluateNodeClassifier(back, karate).test, evaluateNodeClassifier(r.model, karate).test);
    await assert.rejects(loadGraphModel(path, debian), (e: unknown) => e instanceof FormatError && e.message.includes("a model of the dataset debian-packages") && e.message.includes(path));
    const foreign = join(dir, "f.safetensors");
    await saveSafetensors(foreign, { w: randn([2]) }, { "qkv.kind": "text" });
    await assert.rejects(loadGraphModel(foreign, karate), (e: unknown) => e instanceof FormatError && e.message.includes('qkv.kind expected "qkv-graph-node-classifier"') && e.message.includes(foreign));
    const bad = join(dir, "b.safetensors");
    const sd = new NodeClassifier({ kind: "mlp", inFeatures: 34, classes: 2 }).stateDict();
    await saveSafetensors(bad, sd, { "qkv.kind": "qkv-graph-node-classifier", "qkv.graph": JSON.stringify({ ...r.model.config, dataset: "karate-club", nodes: 34 }) });
    await assert.rejects(loadGraphModel(bad, karate), (e: unknown) => e instanceof FormatError && e.message.includes("the transformer model's weights"));
  });

  test("the graph view draws the karate club whole and a Debian package's neighbourhood", async () => {
    const r = await trainNodeClassifier(karate, { kind: "gat", seed: 0, epochs: 5 });
    const data = (html: string) => JSON.parse(/id="qkv-data">(.*?)<\/script>/s.exec(html)![1]!) as { nodes: string[]; layers: { name: string; src: number[] }[] };
    const k = data(graphAttentionPage(r.model, karate));
    assert.equal(k.nodes.length, 34);
    assert.deepEqual(k.layers.map((l) => l.name), ["conv1", "conv2"]);
    assert.equal(k.layers[0]!.src.length, 156 + 34, "both directions and the self-loops");
    const m = new NodeClassifier({ kind: "transformer", inFeatures: 500, classes: 14, hidden: 2, heads: 2 });
    const d = data(graphAttentionPage(m, debian, { node: "gimp" }));
    assert.match(d.nodes[0]!, /^gimp \(graphics/);
    assert.ok(d.nodes.length > 2 && d.nodes.length <= 61);
    assert.throws(() => graphAttentionPage(m, debian, { node: "no-such-package", op: "qkv graph" }), (e: unknown) => e instanceof ValueError && e.message.startsWith("qkv graph: node expected a node of debian-packages"));
    const mlp = new NodeClassifier({ kind: "mlp", inFeatures: 34, classes: 2 });
    assert.throws(() => graphAttentionPage(mlp, karate), ValueError);
  });
});

describe("qkv graph", () => {
  test("train writes a model; eval --weights prints the test accuracy as its last line", () => {
    const path = join(dir, "cli.safetensors"), page = join(dir, "cli.html");
    const t = cli(["graph", "train", "--data", "karate", "--epochs", "40", "--out", path, "--viz", page]);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^karate-club: 34 nodes, 78 edges/);
    assert.match(t.stdout, /epoch 40\/40 {2}loss \d+\.\d{4} {2}train \d+\.\d\d%/);
    assert.ok(readFileSync(page, "utf8").includes("Graph view"));
    const last = t.stdout.trim().split("\n").at(-1)!;
    assert.match(last, /^test accuracy: \d+\.\d\d%$/);
    const e = cli(["graph", "eval", "--data", "karate", "--weights", path]);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(e.stdout.trim().split("\n").at(-1), last.replace("test ", ""), "the same model, the same accuracy");
    const m = cli(["graph", "eval", "--data", "karate", "--model", "mlp", "--epochs", "20"]);
    assert.match(m.stdout.trim().split("\n").at(-1)!, /^accuracy: \d+\.\d\d%$/);
  });

  test("bad input: one line on stderr, exit 1", () => {
    const none = cli(["graph", "eval", "--data", join(dir, "none.json")]);
    assert.equal(none.status, 1);
    assert.match(errorLine(none.stderr), /^qkv: loadGraphDataset: .*none\.json expected a readable file, got no such file$/);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...tiny(), version: 2 }));
    const v = cli(["graph", "train", "--data", bad]);
    assert.equal(v.status, 1);
    assert.match(errorLine(v.stderr), /^qkv: loadGraphDataset: version expected 1, got 2 \(file .*bad\.json\)$/);
    const k = cli(["graph", "train", "--data", "karate", "--model", "gcn"]);
    assert.equal(k.status, 1);
    assert.match(k.stderr, /--model must be one of gat, transformer, mlp, got "gcn"/);
    const mlpViz = cli(["graph", "eval", "--data", "karate", "--model", "mlp", "--epochs", "1", "--viz", join(dir, "x.html")]);
    assert.equal(mlpViz.status, 1);
    assert.match(errorLine(mlpViz.stderr), /^qkv: qkv graph: model expected a graph-attention model/);
  });
});
