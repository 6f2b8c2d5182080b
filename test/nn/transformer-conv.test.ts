/**
 * TransformerConv against the plain-PyTorch reference of tools/interop/transformer_conv_check.py
 * (PyTorch Geometric's formula and names; float64 outputs, attention and gradients), a float64
 * gradcheck of x, the edge features and every parameter, and its shapes and errors.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { Linear } from "../../src/nn/layers.js";
import { TransformerConv } from "../../src/nn/transformer-conv.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";

interface Arr { shape: number[]; data: number[] }
interface Case {
  name: string;
  options: { heads: number; out: number; concat: boolean; beta: boolean; edgeDim: number | null; rootWeight: boolean; bias: boolean };
  x: Arr; edgeIndex: [number[], number[]]; edgeAttr?: Arr; params: Record<string, Arr>; weight: Arr;
  output: Arr; alpha: Arr; grads: { x: number[]; edgeAttr?: number[]; params: Record<string, number[]> };
}
const fx = JSON.parse(readFileSync(new URL("../fixtures/graph/transformer-conv.json", import.meta.url), "utf8")) as { cases: Case[] };

const f64 = (a: Arr): Tensor => new Tensor(Float64Array.from(a.data), a.shape, "float64").requiresGrad_(true);
const edges = (src: number[], dst: number[]): Tensor => tensor([src, dst], { dtype: "int32" });
const values = (t: Tensor): number[] => Array.from(t.data, Number);

describe("TransformerConv", () => {
  for (const c of fx.cases) {
    test(`equals the PyTorch reference: ${c.name}`, () => {
      const o = c.options;
      const conv = new TransformerConv(c.x.shape[1]!, o.out, { heads: o.heads, concat: o.concat, beta: o.beta, rootWeight: o.rootWeight, bias: o.bias, ...(o.edgeDim !== null ? { edgeDim: o.edgeDim } : {}) });
      assert.deepEqual(Object.keys(conv.stateDict()).sort(), Object.keys(c.params).sort(), "PyG's parameter names");
      const params = new Map<string, Tensor>();
      for (const [name, m] of conv.namedModules()) {
        if (!(m instanceof Linear)) continue;
        m.weight = f64(c.params[`${name}.weight`]!);
        params.set(`${name}.weight`, m.weight);
        if (m.bias) {
          m.bias = f64(c.params[`${name}.bias`]!);
          params.set(`${name}.bias`, m.bias);
        }
      }
      const x = f64(c.x), ea = c.edgeAttr ? f64(c.edgeAttr) : undefined;
      const r = conv.forward(x, edges(...c.edgeIndex), { returnAttentionWeights: true, ...(ea ? { edgeAttr: ea } : {}) });
      assert.deepEqual(r.output.shape, c.output.shape);
      assertClose(values(r.output), c.output.data, 1e-12, 1e-12);
      assert.deepEqual(r.alpha!.shape, c.alpha.shape);
      assertClose(values(r.alpha!), c.alpha.data, 1e-12, 1e-12);
      backward(sum(mul(r.output, new Tensor(Float64Array.from(c.weight.data), c.weight.shape, "float64"))));
      assertClose(values(x.grad!), c.grads.x, 1e-10, 1e-10);
      if (ea) assertClose(values(ea.grad!), c.grads.edgeAttr!, 1e-10, 1e-10);
      for (const [name, g] of Object.entries(c.grads.params)) assertClose(values(params.get(name)!.grad!), g, 1e-10, 1e-10);
    });
  }

  test("float64 gradcheck: x, edge features and every parameter (concat and mean, with and without beta)", () => {
    const ei = edges([0, 1, 2, 3, 3, 1, 2], [1, 2, 0, 0, 1, 1, 2]);
    for (const [concat, beta] of [[true, false], [false, true], [true, true]] as const) {
      const conv = new TransformerConv(3, 2, { heads: 2, concat, beta, edgeDim: 2, generator: new Generator(3) });
      const ps = float64Params(conv);
      assertGrad((x, ea) => {
        const r = conv.forward(x!, ei, { edgeAttr: ea!, returnAttentionWeights: true });
        return [r.output, r.alpha!];
      }, [r64([5, 3]), r64([7, 2]), ...ps]);
    }
  });

  test("shapes: concat, mean, no skip; attention sums to 1 per target; a node without incoming edges gets its skip only", () => {
    const x = randn([4, 5], { generator: new Generator(1) }), ei = edges([0, 1, 2, 0], [1, 1, 0, 2]); // node 3: no incoming edge
    const a = new TransformerConv(5, 3, { heads: 2, generator: new Generator(2) });
    const r = a.forward(x, ei, { returnAttentionWeights: true });
    assert.deepEqual(r.output.shape, [4, 6]);
    assert.deepEqual(r.alpha!.shape, [4, 2]);
    assert.equal(r.edgeIndex, ei);
    const al = values(r.alpha!);
    assertClose([al[0]! + al[2]!, al[1]! + al[3]!, al[4]!, al[6]!], [1, 1, 1, 1], 1e-6);
    assertClose(values(r.output).slice(18), values(a.linSkip!.forward(x)).slice(18), 1e-6);
    assert.deepEqual(new TransformerConv(5, 3, { heads: 2, concat: false }).forward(x, ei).output.shape, [4, 3]);
    const noSkip = new TransformerConv(5, 3, { rootWeight: false, beta: true });
    assert.deepEqual(Object.keys(noSkip.stateDict()), ["lin_key.weight", "lin_key.bias", "lin_query.weight", "lin_query.bias", "lin_value.weight", "lin_value.bias"]);
    assert.ok(values(noSkip.forward(x, ei).output).slice(9).every((v) => v === 0), "no incoming edge, no skip: 0");
    assert.deepEqual(new TransformerConv(5, 3, { heads: 2, beta: true, edgeDim: 4 }).stateDict()["lin_beta.weight"]!.shape, [1, 18]);
  });

  test("dropout on the attention coefficients in training only", () => {
    const conv = new TransformerConv(3, 2, { heads: 2, dropout: 0.5, generator: new Generator(1) });
    const x = randn([4, 3]), ei = edges([0, 1, 2, 3, 1, 2], [1, 2, 3, 0, 0, 0]);
    const a = values(conv.forward(x, ei, { returnAttentionWeights: true }).alpha!);
    assert.ok(a.some((v) => v === 0) && a.some((v) => v > 1), "dropped and rescaled");
    conv.eval();
    const e = values(conv.forward(x, ei, { returnAttentionWeights: true }).alpha!);
    assert.ok(e.every((v) => v > 0 && v <= 1));
  });

  test("errors name the module, the argument, what was expected and what came", () => {
    const conv = new TransformerConv(3, 2, { edgeDim: 2 });
    const x = randn([4, 3]), ei = edges([0, 1], [1, 2]), ea = randn([2, 2]);
    assertThrowsMsg(() => conv.forward(randn([4, 2]), ei, { edgeAttr: ea }), ShapeError, "TransformerConv: x expected [N, 3], got [4, 2]");
    assertThrowsMsg(() => conv.forward(x, tensor([[0], [1]]), { edgeAttr: ea }), DTypeError, "TransformerConv: edgeIndex expected int32, got float32");
    assertThrowsMsg(() => conv.forward(x, tensor([0, 1], { dtype: "int32" }), { edgeAttr: ea }), ShapeError, "TransformerConv: edgeIndex expected [2, E], got [2]");
    assertThrowsMsg(() => conv.forward(x, edges([0, 4], [1, 2]), { edgeAttr: ea }), ValueError, "TransformerConv: edgeIndex expected node indices in [0, 4), got 4");
    assertThrowsMsg(() => conv.forward(x, ei), ValueError, "TransformerConv: edgeAttr expected [2, 2] (the layer was built with edgeDim 2), got none");
    assertThrowsMsg(() => conv.forward(x, ei, { edgeAttr: randn([3, 2]) }), ShapeError, "TransformerConv: edgeAttr expected [2, 2] (one row per edge), got [3, 2]");
    assertThrowsMsg(() => new TransformerConv(3, 2).forward(x, ei, { edgeAttr: ea }), ValueError, "TransformerConv: edgeAttr expected none (the layer was built without edgeDim), got [2, 2]");
    assertThrowsMsg(() => new TransformerConv(3, 2, { heads: 0 }), ValueError, "TransformerConv: heads expected a positive integer, got 0");
    assertThrowsMsg(() => new TransformerConv(3, 2, { edgeDim: 1.5 }), ValueError, "TransformerConv: edgeDim expected a positive integer (or none), got 1.5");
    assertThrowsMsg(() => new TransformerConv(3, 2, { dropout: 1 }), ValueError, "TransformerConv: dropout expected a probability in [0, 1), got 1");
  });
});
