import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GraphBuilder } from "../../src/onnx/graph.js";
import { decodeModelProto } from "../../src/onnx/proto.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { getOrt, ortSkip, session } from "./ort.js";

/** y = flag ? relu(x @ w) : -(x @ w), w stored once in the outer graph and read by both branches. */
function ifModel(): Uint8Array {
  const g = new GraphBuilder("if");
  const x = g.input("x", "float32", ["batch", 2]);
  const flag = g.input("flag", "bool", [1]);
  const w = new Tensor(Float32Array.from([1, -2, 3, -4]), [2, 2], "float32");
  const then = g.subgraph("then"), other = g.subgraph("else");
  then.output(then.node("Relu", [then.node("MatMul", [x, then.param("w", w)])]), "then.y", "float32", ["batch", 2]);
  other.output(other.node("Neg", [other.node("MatMul", [x, other.param("w", w)])]), "else.y", "float32", ["batch", 2]);
  g.output(g.ifElse(flag, then, other, ["y"])[0]!, "y", "float32", ["batch", 2]);
  return g.finish();
}

describe("GraphBuilder: If with subgraphs", () => {
  test("the branches are GraphProto attributes; their weights are the outer graph's initializers; names are shared", () => {
    const m = decodeModelProto(ifModel()).graph;
    assert.deepEqual(m.initializer.map((t) => t.name), ["w"]);
    assert.deepEqual(m.node.map((n) => n.op_type), ["If"]);
    const [then, other] = m.node[0]!.attribute.map((a) => a.g!);
    assert.deepEqual([then!.initializer, other!.initializer], [[], []]);
    assert.deepEqual([then!.node[0]!.input, other!.node[0]!.input], [["x", "w"], ["x", "w"]]);
    const outs = [then!, other!].flatMap((b) => b.node.flatMap((n) => n.output));
    assert.equal(new Set(outs).size, outs.length);
  });

  test("ONNX Runtime runs either branch", { skip: ortSkip }, async () => {
    const O = getOrt();
    const s = await session(ifModel());
    const x = new O.Tensor("float32", Float32Array.from([1, 1, 2, 0]), [2, 2]); // x @ w = [[4, -6], [2, -4]]
    const run = async (on: boolean): Promise<number[]> =>
      Array.from((await s.run({ x, flag: new O.Tensor("bool", Uint8Array.from([on ? 1 : 0]), [1]) })).y!.data as Float32Array);
    assert.deepEqual(await run(true), [4, 0, 2, 0]);
    assert.deepEqual(await run(false), [-4, 6, -2, 4]);
    await s.release();
  });

  test("errors: a branch of another graph, a different output count, a subgraph's finish, a name taken", () => {
    const g = new GraphBuilder("g"), h = new GraphBuilder("h");
    const c = g.input("c", "bool", [1]);
    const a = g.subgraph("a"), b = h.subgraph("b");
    a.output(a.scalar(1), "a.y", "float32", []);
    b.output(b.scalar(1), "b.y", "float32", []);
    assert.throws(() => g.ifElse(c, a, b, ["y"]), /GraphBuilder.ifElse: otherwise expected a subgraph of "g", got "b"/);
    const e = g.subgraph("e");
    assert.throws(() => g.ifElse(c, a, e, ["y"]), /GraphBuilder.ifElse: otherwise expected 1 outputs, got 0/);
    assert.throws(() => a.finish(), /GraphBuilder.finish: graph expected a main graph, got the subgraph "a"/);
    assert.throws(() => a.input("c", "bool", [1]), /GraphBuilder.input: name expected a name not yet used, got c/);
  });
});
