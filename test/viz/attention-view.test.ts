/**
 * The attention pages as strings: self-contained (no URLs, no external scripts), the data they
 * carry, pages from captured attention, and typed errors for mismatched labels and maps. (Their
 * behaviour in a browser: test/browser/views.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { captureAttention } from "../../src/interpret/capture.js";
import { GATConv } from "../../src/nn/gat.js";
import { TransformerEncoder, TransformerEncoderLayer } from "../../src/nn/transformer.js";
import { ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { randn, tensor } from "../../src/tensor/tensor.js";
import { attentionPageHtml, encodeUnit16 } from "../../src/viz/attention-view.js";
import { groupKey, pageDataFromCapture } from "../../src/viz/from-capture.js";
import { graphLayerFromRecord, graphPageHtml } from "../../src/viz/graph-view.js";

const dataOf = (html: string): { groups: { name: string; rows: string[]; cols: string[]; layers: { name: string; heads: string[] }[] }[]; matrices: { name: string }[] } =>
  JSON.parse(/<script type="application\/json" id="qkv-data">(.*?)<\/script>/s.exec(html)![1]!);

function valueErr(fn: () => unknown, arg: string, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, String(e));
    assert.equal(e.arg, arg);
    for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} lacks ${f}`);
    return true;
  });
}

describe("attentionPageHtml", () => {
  const page = { title: "t <b>", groups: [{ name: "g", rows: ["a", "</script>"], cols: ["x", "y", "z"], layers: [{ name: "l0", heads: [[1, 0, 0, 0.5, 0.25, 0.25]] }] }] };

  test("self-contained: inline script and style, no URLs, text escaped", () => {
    const html = attentionPageHtml(page);
    assert.ok(html.startsWith("<!DOCTYPE html>"));
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/);
    assert.match(html, /<title>t &lt;b&gt;<\/title>/);
    assert.equal(html.split("</script>").length - 1, 2, "the token </script> cannot close the data element");
    const d = dataOf(html);
    assert.deepEqual(d.groups[0]!.rows, ["a", "</script>"]);
    const bytes = Buffer.from(d.groups[0]!.layers[0]!.heads[0]!, "base64");
    assert.deepEqual(Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, 6)), [65535, 0, 0, 32768, 16384, 16384]);
  });

  test("encodeUnit16 clamps to [0, 1] and maps NaN to 0", () => {
    const b = Buffer.from(encodeUnit16([-1, 2, NaN, 0.5]), "base64");
    assert.deepEqual(Array.from(new Uint16Array(b.buffer, b.byteOffset, 4)), [0, 65535, 0, 32768]);
  });

  test("mismatched token labels and weights name the argument", () => {
    valueErr(() => attentionPageHtml({ ...page, groups: [{ ...page.groups[0]!, cols: ["x", "y"] }] }), "groups[0].layers[0].heads[0]", "2 x 2 = 4 values", "got 6 values");
    valueErr(() => attentionPageHtml({ ...page, groups: [{ ...page.groups[0]!, rows: [] }] }), "groups[0].rows", "non-empty");
    valueErr(() => attentionPageHtml({ ...page, groups: [] }), "groups");
    valueErr(() => attentionPageHtml({ ...page, matrices: [{ name: "m", rows: ["a"], cols: ["b"], values: [1, 2] }] }), "matrices[0].values", "1 x 1 = 1 values");
  });
});

describe("pageDataFromCapture", () => {
  manualSeed(8);
  const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true }), 3).eval();
  const { records } = noGrad(() => captureAttention(enc, () => enc.forward(randn([2, 5, 8]))));
  const toks = ["a", "b", "c", "d", "e"];

  test("groups layers by role, carries every head of batch row b, adds rollout, flow and statistics", () => {
    assert.equal(groupKey("decoder.layers.12.self_attn"), "decoder.layers.*.self_attn");
    const d = pageDataFromCapture(records, { title: "enc", labels: () => ({ rows: toks, cols: toks }), b: 1 });
    assert.equal(d.groups.length, 1);
    assert.equal(d.groups[0]!.name, "layers.*.self_attn (self-attention)");
    assert.deepEqual(d.groups[0]!.layers.map((l) => l.name), ["layers.0.self_attn", "layers.1.self_attn", "layers.2.self_attn"]);
    const w = records[2]!.weights.data;
    assert.deepEqual(Array.from(d.groups[0]!.layers[2]!.heads[1]!), Array.from(w.subarray(3 * 25, 4 * 25)), "batch 1, head 1");
    assert.deepEqual(d.matrices!.map((m) => m.name.split(" (")[0]), ["rollout of layers.*.self_attn", "attention flow of layers.*.self_attn"]);
    assert.equal(d.stats!.length, 3);
    const html = attentionPageHtml(d);
    assert.match(html, /Which heads look where/);
    assert.equal(dataOf(html).matrices.length, 2);
    assert.equal(pageDataFromCapture(records, { title: "enc", labels: () => ({ rows: toks, cols: toks }), flowMaxTokens: 4 }).matrices!.length, 1, "no flow past flowMaxTokens");
  });

  test("labels that do not match the weights, a bad batch row", () => {
    valueErr(() => pageDataFromCapture(records, { title: "x", labels: () => ({ rows: toks.slice(1), cols: toks }) }), "labels", "5 query labels for layers.0.self_attn", "got 4 labels");
    valueErr(() => pageDataFromCapture(records, { title: "x", labels: () => ({ rows: toks, cols: [...toks, "f"] }) }), "labels", "5 key labels");
    valueErr(() => pageDataFromCapture(records, { title: "x", labels: () => ({ rows: toks, cols: toks }), b: 2 }), "b", "[0, 2)");
    valueErr(() => pageDataFromCapture(records, { title: "x", labels: () => ({ rows: toks, cols: toks }), call: 1 }), "records", "call 1");
  });
});

describe("graphPageHtml", () => {
  test("a GATConv capture as a graph page; bad edges name the argument", () => {
    manualSeed(1);
    const gat = new GATConv(4, 3, { heads: 2 });
    const edges = tensor([[0, 1, 2], [1, 2, 0]], { dtype: "int32" });
    const { records } = noGrad(() => captureAttention(gat, () => gat.forward(randn([3, 4]), edges)));
    const layer = graphLayerFromRecord(records[0]!);
    assert.deepEqual([Array.from(layer.src), Array.from(layer.dst), layer.heads], [[0, 1, 2, 0, 1, 2], [1, 2, 0, 0, 1, 2], 2]);
    const html = graphPageHtml({ title: "g", nodes: ["x", "y", "z"], layers: [layer] });
    assert.doesNotMatch(html, /https?:\/\//);
    assert.match(html, /id="gv"/);
    valueErr(() => graphPageHtml({ title: "g", nodes: ["x", "y"], layers: [layer] }), "layers[0].src", "node indices in [0, 2)");
    valueErr(() => graphPageHtml({ title: "g", nodes: ["x", "y", "z"], layers: [{ ...layer, alpha: [1] }] }), "layers[0].alpha", "6 x 2 = 12 values");
  });
});
