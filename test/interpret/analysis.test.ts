/**
 * Attention rollout, attention flow and per-head statistics against the NumPy / networkx reference
 * (tools/interop/attention_analysis_check.py wrote test/fixtures/interpret/attention-analysis.json),
 * the max-flow solver on textbook networks, and bad input.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { headStats, type HeadStats } from "../../src/interpret/head-stats.js";
import { FlowNetwork } from "../../src/interpret/maxflow.js";
import { attentionFlow, attentionRollout, headMean, residualAttention } from "../../src/interpret/rollout.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";

interface RolloutCase { name: string; n: number; layers: number[][]; rollout: number[]; flow: number[]; flowRaw: number[] }
interface StatsCase { name: string; cross: boolean; shape: number[]; weights: number[]; stats: HeadStats[] }
const fx = JSON.parse(readFileSync(new URL("../fixtures/interpret/attention-analysis.json", import.meta.url), "utf8")) as { rollout: RolloutCase[]; stats: StatsCase[] };

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

describe("attention rollout and flow against numpy / networkx", () => {
  assert.ok(fx.rollout.length >= 5 && fx.stats.length >= 4);
  for (const c of fx.rollout) {
    test(c.name, () => {
      close(attentionRollout(c.layers, c.n), c.rollout, 1e-9, "rollout");
      close(attentionFlow(c.layers, c.n), c.flow, 1e-9, "flow");
      close(attentionFlow(c.layers, c.n, { normalize: false }), c.flowRaw, 1e-9, "raw flow");
    });
  }

  test("rollout rows sum to 1; one layer is rownorm(W + I) = 0.5 W + 0.5 I", () => {
    const c = fx.rollout[1]!;
    const r = attentionRollout(c.layers, c.n);
    for (let i = 0; i < c.n; i++) close([r.slice(i * c.n, (i + 1) * c.n).reduce((a, b) => a + b, 0)], [1], 1e-12, `row ${i}`);
    const w = c.layers[0]!;
    close(attentionRollout([w], c.n), w.map((v, k) => 0.5 * v + (k % (c.n + 1) === 0 ? 0.5 : 0)), 1e-12, "one layer");
    close(attentionRollout([w], c.n, { residual: false }), w, 1e-12, "no residual");
  });

  test("flow of one layer is its residual attention (one edge per path)", () => {
    const c = fx.rollout[3]!;
    close(attentionFlow([c.layers[0]!], c.n, { normalize: false }), residualAttention(c.layers[0]!, c.n), 1e-12, "one layer");
  });

  test("bad input names the argument", () => {
    assert.throws(() => attentionRollout([[0.5, 0.5, 0.5]], 2), (e: unknown) => e instanceof ValueError && e.arg === "layers[0]" && /4 values/.test(e.message) && /got 3 values/.test(e.message));
    assert.throws(() => attentionFlow([], 2), (e: unknown) => e instanceof ValueError && e.arg === "layers");
    assert.throws(() => attentionRollout([[1]], 0), (e: unknown) => e instanceof ValueError && e.arg === "n");
  });
});

describe("headStats against numpy", () => {
  for (const c of fx.stats) {
    test(c.name, () => {
      const got = headStats(new Tensor(Float64Array.from(c.weights), c.shape, "float64"), { cross: c.cross });
      assert.equal(got.length, c.stats.length);
      got.forEach((g, h) => {
        const w = c.stats[h]!;
        assert.equal(g.head, w.head);
        for (const k of ["entropy", "meanDistance", "self", "previous", "next", "first", "maxWeight"] as const) {
          if (w[k] === null) assert.equal(g[k], null, `${k} of head ${h}`);
          else close([g[k]!], [w[k]], 1e-9, `${k} of head ${h}`);
        }
      });
    });
  }

  test("a one-hot head has entropy 0; a uniform one ln S", () => {
    const oneHot = new Tensor(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), [1, 1, 3, 3], "float64");
    const s = headStats(oneHot)[0]!;
    assert.equal(s.entropy, 0);
    assert.equal(s.self, 1);
    assert.equal(s.meanDistance, 0);
    const uni = new Tensor(new Float64Array(9).fill(1 / 3), [1, 1, 3, 3], "float64");
    close([headStats(uni)[0]!.entropy], [Math.log(3)], 1e-12, "uniform");
  });

  test("headMean averages the heads of one batch row", () => {
    const w = new Tensor(Float64Array.from([1, 0, 0, 1, 0, 1, 1, 0, 9, 9, 9, 9, 9, 9, 9, 9]), [2, 2, 2, 2], "float64");
    close(headMean(w), [0.5, 0.5, 0.5, 0.5], 0, "b = 0");
    assert.throws(() => headMean(w, 2), (e: unknown) => e instanceof ValueError && e.arg === "b");
  });
});

describe("FlowNetwork (Dinic)", () => {
  test("the CLRS network has max flow 23", () => {
    const g = new FlowNetwork(6);
    for (const [u, v, c] of [[0, 1, 16], [0, 2, 13], [1, 3, 12], [2, 1, 4], [2, 4, 14], [3, 2, 9], [3, 5, 20], [4, 3, 7], [4, 5, 4]] as const) g.addEdge(u, v, c);
    assert.equal(g.maxFlow(0, 5), 23);
    assert.equal(g.maxFlow(0, 5), 23, "the capacities are unchanged by a solve");
    assert.equal(g.maxFlow(5, 0), 0);
  });

  test("fractional capacities and a bottleneck", () => {
    const g = new FlowNetwork(4);
    g.addEdge(0, 1, 0.3);
    g.addEdge(0, 2, 0.7);
    g.addEdge(1, 3, 1);
    g.addEdge(2, 3, 0.25);
    close([g.maxFlow(0, 3)], [0.55], 1e-15, "flow");
  });

  test("bad input", () => {
    assert.throws(() => new FlowNetwork(1), (e: unknown) => e instanceof ValueError && e.arg === "nodes");
    const g = new FlowNetwork(3);
    assert.throws(() => g.addEdge(0, 3, 1), (e: unknown) => e instanceof ValueError && e.arg === "v");
    assert.throws(() => g.addEdge(0, 1, -1), (e: unknown) => e instanceof ValueError && e.arg === "c");
    assert.throws(() => g.maxFlow(1, 1), (e: unknown) => e instanceof ValueError && e.arg === "t");
  });
});
