import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { GATConv } from "../../src/nn/gat.js";
import { scatterAdd, segmentSoftmax } from "../../src/ops/scatter.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";
import { float64Params } from "./float64-module.js";

const idx = (v: number[]): Tensor => tensor(v, { dtype: "int32" });
const edges = (src: number[], dst: number[]): Tensor => tensor([src, dst], { dtype: "int32" });
const f64 = (t: Tensor): number[] => Array.from(t.data, Number);

/**
 * GATConv written out with plain loops over the edge list (x [N, Fin], W [H*F, Fin], att [H*F]):
 * per target i and head k, a softmax over the edges j -> i.
 */
function gatReference(x: number[], N: number, Fin: number, W: number[], attS: number[], attD: number[], bias: number[] | null,
  src: number[], dst: number[], H: number, F: number, concat: boolean, slope: number): { out: number[]; alpha: number[] } {
  const h = new Array<number>(N * H * F).fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < H * F; o++) for (let i = 0; i < Fin; i++) h[n * H * F + o]! += x[n * Fin + i]! * W[o * Fin + i]!;
  const dot = (n: number, k: number, a: number[]): number => {
    let s = 0;
    for (let c = 0; c < F; c++) s += h[(n * H + k) * F + c]! * a[k * F + c]!;
    return s;
  };
  const E = src.length;
  const alpha = new Array<number>(E * H).fill(0);
  const out = new Array<number>(N * H * F).fill(0);
  for (let i = 0; i < N; i++) {
    const inc = [...Array(E).keys()].filter((e) => dst[e] === i);
    for (let k = 0; k < H; k++) {
      const s = inc.map((e) => {
        const z = dot(src[e]!, k, attS) + dot(i, k, attD);
        return z > 0 ? z : slope * z;
      });
      const m = Math.max(...s);
      const den = s.reduce((a, v) => a + Math.exp(v - m), 0);
      inc.forEach((e, q) => {
        alpha[e * H + k] = Math.exp(s[q]! - m) / den;
        for (let c = 0; c < F; c++) out[(i * H + k) * F + c]! += alpha[e * H + k]! * h[(src[e]! * H + k) * F + c]!;
      });
    }
  }
  const width = concat ? H * F : F;
  const res = new Array<number>(N * width).fill(0);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < width; j++) {
      let v = 0;
      if (concat) v = out[n * H * F + j]!;
      else for (let k = 0; k < H; k++) v += out[(n * H + k) * F + j]! / H;
      res[n * width + j] = v + (bias ? bias[j]! : 0);
    }
  }
  return { out: res, alpha };
}

describe("segment ops", () => {
  test("scatterAdd sums the rows of each segment (empty segments 0)", () => {
    const src = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const out = scatterAdd(src, idx([2, 0, 2, 0]), 4);
    assert.deepEqual(out.shape, [4, 2]);
    assert.deepEqual(f64(out), [10, 12, 0, 0, 6, 8, 0, 0]);
  });

  test("segmentSoftmax normalizes within each segment, per trailing element", () => {
    const src = tensor([[0, 1], [Math.log(3), 2], [5, -1], [1, 1000]], { dtype: "float64" });
    const out = segmentSoftmax(src, idx([1, 1, 0, 1]), 2);
    assert.deepEqual(out.shape, [4, 2]);
    const d = f64(out);
    assertClose([d[4]!, d[5]!], [1, 1]); // a segment of one row
    const s0 = d[0]! + d[2]! + d[6]!, s1 = d[1]! + d[3]! + d[7]!;
    assertClose([s0, s1], [1, 1], 1e-6);
    assertClose([d[2]! / d[0]!], [3], 1e-5);
    assert.ok(d.every(Number.isFinite)); // stable for large scores
  });

  test("float64 gradchecks of scatterAdd and segmentSoftmax", () => {
    const index = idx([0, 2, 2, 1, 0, 2]);
    assertGrad((s) => scatterAdd(s!, index, 4), [r64([6, 2, 3])]);
    assertGrad((s) => segmentSoftmax(s!, index, 3), [r64([6, 2])]);
    assertGrad((s) => segmentSoftmax(s!, idx([0, 0, 0]), 1), [r64([3])]);
  });

  test("errors name the op, the argument, what was expected and what came", () => {
    const src = randn([3, 2]);
    assertThrowsMsg(() => scatterAdd(src, tensor([0, 1, 1]), 2), DTypeError, "scatterAdd: index expected int32, got float32");
    assertThrowsMsg(() => scatterAdd(src, idx([0, 1]), 2), ShapeError, "scatterAdd: index expected [3] (one segment per row of src), got [2]");
    assertThrowsMsg(() => segmentSoftmax(src, idx([0, 2, 1]), 2), ValueError, "segmentSoftmax: index expected values in [0, 2), got 2");
    assertThrowsMsg(() => segmentSoftmax(src, idx([0, 0, 1]), -1), ValueError, "segmentSoftmax: numSegments expected a non-negative integer, got -1");
    assertThrowsMsg(() => scatterAdd(idx([1, 2, 3]), idx([0, 0, 0]), 1), DTypeError, "scatterAdd: src expected float32 or float64, got int32");
  });
});

describe("GATConv", () => {
  test("PyTorch Geometric's state dict names and shapes", () => {
    const c = new GATConv(5, 4, { heads: 3 });
    const sd = c.stateDict();
    assert.deepEqual(Object.keys(sd), ["att_src", "att_dst", "bias", "lin.weight"]);
    assert.deepEqual(sd["lin.weight"]!.shape, [12, 5]);
    assert.deepEqual(sd.att_src!.shape, [1, 3, 4]);
    assert.deepEqual(sd.att_dst!.shape, [1, 3, 4]);
    assert.deepEqual(sd.bias!.shape, [12]);
    assert.ok(sd.bias!.data.every((v) => v === 0));
    assert.deepEqual(new GATConv(5, 4, { heads: 3, concat: false }).stateDict().bias!.shape, [4]);
    assert.deepEqual(Object.keys(new GATConv(5, 4, { bias: false }).stateDict()), ["att_src", "att_dst", "lin.weight"]);
  });

  test("equals the per-target softmax over incoming edges written out (concat and mean, several heads)", () => {
    const N = 5, Fin = 3, F = 2, H = 3;
    const src = [0, 1, 2, 3, 4, 0, 2], dst = [1, 2, 0, 1, 1, 3, 3];
    for (const concat of [true, false]) {
      const c = new GATConv(Fin, F, { heads: H, concat, negativeSlope: 0.3, generator: new Generator(4) });
      c.bias!.data.set(randn([concat ? H * F : F], { generator: new Generator(5) }).data);
      const x = randn([N, Fin], { generator: new Generator(6) });
      const r = c.forward(x, edges(src, dst), { returnAttentionWeights: true });
      const allSrc = [...src, 0, 1, 2, 3, 4], allDst = [...dst, 0, 1, 2, 3, 4];
      const ref = gatReference(f64(x), N, Fin, f64(c.lin.weight), f64(c.attSrc), f64(c.attDst), f64(c.bias!), allSrc, allDst, H, F, concat, 0.3);
      assert.deepEqual(r.output.shape, [N, concat ? H * F : F]);
      assertClose(f64(r.output), ref.out, 1e-5);
      assert.deepEqual(r.alpha!.shape, [allSrc.length, H]);
      assertClose(f64(r.alpha!), ref.alpha, 1e-6);
      assert.deepEqual(r.edgeIndex!.dtype, "int32");
      assert.deepEqual(f64(r.edgeIndex!), [...allSrc, ...allDst]);
    }
  });

  test("self-loops: input self-loops are dropped and one per node appended; a lone node attends itself with 1", () => {
    const c = new GATConv(2, 2, { generator: new Generator(1) });
    const x = randn([4, 2], { generator: new Generator(2) });
    const r = c.forward(x, edges([0, 1, 1, 3], [0, 0, 1, 2]), { returnAttentionWeights: true });
    assert.deepEqual(f64(r.edgeIndex!), [1, 3, 0, 1, 2, 3, 0, 2, 0, 1, 2, 3]);
    const a = f64(r.alpha!);
    assertClose([a[0]! + a[2]!, a[3]!, a[1]! + a[4]!, a[5]!], [1, 1, 1, 1], 1e-6); // targets 0, 1, 2, 3
    const h = f64(noGrad(() => c.lin.forward(x)));
    assertClose(f64(r.output).slice(6, 8), h.slice(6, 8), 1e-6); // node 3: only its self-loop, bias 0
  });

  test("addSelfLoops false keeps the edges as given; a node without incoming edges gets the bias", () => {
    const c = new GATConv(2, 3, { addSelfLoops: false, generator: new Generator(1) });
    c.bias!.data.set([0.5, -1, 2]);
    const x = randn([3, 2]);
    const r = c.forward(x, edges([0, 1, 1], [1, 1, 2]), { returnAttentionWeights: true });
    assert.deepEqual(f64(r.edgeIndex!), [0, 1, 1, 1, 1, 2]);
    assertClose(f64(r.output).slice(0, 3), [0.5, -1, 2]);
    const a = f64(r.alpha!);
    assertClose([a[0]! + a[1]!, a[2]!], [1, 1], 1e-6);
    assert.equal(c.forward(x, edges([0], [1])).alpha, undefined);
  });

  test("float64 gradcheck: x and every parameter, concat and mean", () => {
    for (const concat of [true, false]) {
      const c = new GATConv(3, 2, { heads: 2, concat, generator: new Generator(3) });
      const ps = float64Params(c);
      const ei = edges([0, 1, 2, 3, 3, 1], [1, 2, 0, 0, 1, 1]);
      assertGrad((x) => {
        const r = c.forward(x!, ei, { returnAttentionWeights: true });
        return [r.output, r.alpha!];
      }, [r64([4, 3]), ...ps]);
    }
  });

  test("dropout on the attention coefficients in training only", () => {
    const c = new GATConv(3, 2, { heads: 2, dropout: 0.5, generator: new Generator(1) });
    const x = randn([4, 3]), ei = edges([0, 1, 2, 3], [1, 2, 3, 0]);
    const a = f64(c.forward(x, ei, { returnAttentionWeights: true }).alpha!);
    assert.ok(a.some((v) => v === 0) && a.some((v) => v > 1), "dropped and rescaled");
    c.eval();
    const e = f64(c.forward(x, ei, { returnAttentionWeights: true }).alpha!); // edges 0..3, then self-loops of nodes 0..3
    const sums = [0, 1, 2, 3].map((n) => [0, 1].map((k) => e[((n + 3) % 4) * 2 + k]! + e[(4 + n) * 2 + k]!)).flat();
    assertClose(sums, Array(8).fill(1), 1e-6); // each node: one incoming edge and its self-loop
    assert.deepEqual(f64(c.forward(x, ei, { returnAttentionWeights: true }).alpha!), e);
  });

  test("errors name the module, the argument, what was expected and what came", () => {
    const c = new GATConv(3, 2);
    const x = randn([4, 3]);
    assertThrowsMsg(() => c.forward(randn([4, 2]), edges([0], [1])), ShapeError, "GATConv: x expected [N, 3], got [4, 2]");
    assertThrowsMsg(() => c.forward(x, tensor([[0], [1]])), DTypeError, "GATConv: edgeIndex expected int32, got float32");
    assertThrowsMsg(() => c.forward(x, idx([0, 1])), ShapeError, "GATConv: edgeIndex expected [2, E], got [2]");
    assertThrowsMsg(() => c.forward(x, edges([0, 4], [1, 2])), ValueError, "GATConv: edgeIndex expected node indices in [0, 4), got 4");
    assertThrowsMsg(() => new GATConv(3, 2, { heads: 0 }), ValueError, "GATConv: heads expected a positive integer, got 0");
    assertThrowsMsg(() => new GATConv(3, 2, { dropout: -0.1 }), ValueError, "GATConv: dropout expected a probability in [0, 1), got -0.1");
    assertThrowsMsg(() => new GATConv(3, 2, { negativeSlope: NaN }), ValueError, "GATConv: negativeSlope expected a finite number, got NaN");
  });
});
