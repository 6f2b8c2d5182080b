/**
 * where / maskedFill, comparisons, max / min / argmax / argmin, logsumexp, dropout, indexSelect, embedding and
 * sdpa's weights path on device tensors, in Node on the host-memory device backend (host-device.ts:
 * the js kernels behind device arrays): each op's output and gradients against the same op on js
 * host tensors, a float32 finite-difference check of each new device backward, indices read back as
 * integers, and the typed errors. The WGSL kernels themselves are compared with the js kernels in
 * test/browser/webgpu.test.ts.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { backward } from "../../src/autograd/backward.js";
import { freeGraph } from "../../src/autograd/free-graph.js";
import { noGrad } from "../../src/autograd/graph.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { add, compare, gt, logicalNot, logicalOr, maskedFill, mul, relu, where } from "../../src/ops/elementwise.js";
import { linear, linearRelu } from "../../src/ops/matmul.js";
import { crossEntropy, dropout, embedding, nllLoss } from "../../src/ops/functional.js";
import { argmax, argmin, logsumexp, max, min, sum } from "../../src/ops/reduce.js";
import { indexSelect } from "../../src/ops/shape.js";
import { addLayerNorm } from "../../src/ops/norm.js";
import { keyPaddingOn } from "../../src/nn/padding-mask.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor, type BlockGrad } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";
import { hostDevice } from "./host-device.js";
import { gradcheckOnDevice } from "./device-helpers.js";
import { indexGrouping } from "../../src/backend/index-grouping.js";
import { GradSums } from "../../src/autograd/grad-sums.js";

const host = getBackend();
const dev = hostDevice();
registerBackend(dev);
after(() => setBackend(host.name));

const U = 2 ** -24;

/** A float32 host leaf of seeded normals. */
function leaf(shape: number[], seed: number): Tensor {
  return randn(shape, { generator: new Generator(seed) }).requiresGrad_(true);
}

/** A bool tensor from 0 / 1 values. */
const bools = (values: number[], shape: number[]): Tensor => new Tensor(Uint8Array.from(values), shape, "bool");

interface Run { out: Float32Array; grads: Float32Array[] }

/**
 * f on host copies of `inputs` with the host backend (or `reference`, a registered host backend's
 * name) and on device copies with the device backend; backward of sum(f(x) * w) (w seeded) gives
 * the gradients. Returns both runs' outputs and grads ("js": the host run).
 */
async function onBoth(inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, reference = host.name): Promise<{ js: Run; dev: Run }> {
  const run = async (device: boolean): Promise<Run> => {
    setBackend(device ? dev.name : reference);
    try {
      const xs = inputs.map((t) => {
        const c = new Tensor(Float32Array.from(t.data as Float32Array), t.shape, "float32").requiresGrad_(true);
        return device ? toDevice(c, dev) : c;
      });
      const y = f(...xs);
      assert.equal(y.onDevice, device, `the output is ${device ? "" : "not "}on the device`);
      const w = randn(y.shape, { generator: new Generator(99) });
      backward(sum(mul(y, w)));
      const grads: Float32Array[] = [];
      for (const x of xs) grads.push(x.grad === null ? new Float32Array(x.size) : Float32Array.from(await x.grad.read() as Float32Array));
      return { out: Float32Array.from(await y.read() as Float32Array), grads };
    } finally {
      setBackend(host.name);
    }
  };
  return { js: await run(false), dev: await run(true) };
}

function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    assert.ok(g === w || (Number.isNaN(g) && Number.isNaN(w)) || Math.abs(g - w) <= tol * (1 + Math.abs(w)),
      `${what}[${i}]: ${g} vs ${w}`);
  }
}

/**
 * Outputs and gradients of the device path equal the host run's (within `tol` relative; 0: the same
 * bits), the host run on `reference` (default: the host backend of this pass).
 */
async function assertSame(inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, tol = 0, reference = host.name): Promise<void> {
  const r = await onBoth(inputs, f, reference);
  assertNear(r.dev.out, r.js.out, tol, "out");
  r.js.grads.forEach((g, i) => assertNear(r.dev.grads[i]!, g, tol, `grad ${i}`));
}

/** Central differences in float32 on the device against the device backward (device-helpers.ts). */
const deviceGradcheck = (inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, h?: number): Promise<void> => gradcheckOnDevice(dev, inputs, f, h);

describe("ops on device tensors (host-memory device backend)", () => {
  test("linearRelu: relu(linear) to the bit on the host and on the device (a product, its bias, then relu from a scratch array), gradients; the pre-activation not kept", async () => {
    for (const withBias of [true, false]) {
      const inputs = withBias ? [leaf([3, 4, 6], 50), leaf([5, 6], 51), leaf([5], 52)] : [leaf([3, 4, 6], 50), leaf([5, 6], 51)];
      const fused = await onBoth(inputs, (x, w, b) => linearRelu(x!, w!, b));
      const plain = await onBoth(inputs, (x, w, b) => relu(linear(x!, w!, b)));
      assert.ok(Array.from(fused.js.out).some((v) => v === 0) && Array.from(fused.js.out).some((v) => v > 0), "both sides of the kink");
      for (const side of ["js", "dev"] as const) {
        assert.deepEqual(fused[side].out, plain[side].out, `${side}, bias ${withBias}: out`);
        fused[side].grads.forEach((g, i) => assert.deepEqual(g, plain[side].grads[i], `${side}, bias ${withBias}: grad ${i}`));
      }
    }
    // the graph holds the output, not the pre-activation: one node, whose inputs are x, w and b
    const y = linearRelu(leaf([2, 3], 53), leaf([4, 3], 54), leaf([4], 55));
    assert.equal(y.gradFn!.op, "linearRelu");
    assert.equal(y.gradFn!.inputs.length, 3);
  });

  test("gradient sums of slices: runs that tile a tensor written without a fill; gaps zeroed; overlaps, strided blocks and whole gradients added; the host's bits", async () => {
    /** The sum of `parts` (a block [rows or columns, start, step, block values] or a whole gradient) into a [6, 3] tensor by GradSums, on the host or the device, and the device calls it took. */
    const sumOf = async (device: boolean, parts: ([number, number, number, Tensor] | Tensor)[]): Promise<{ values: number[]; calls: Record<string, number> }> => {
      const calls: Record<string, number> = { upload: 0, stridedCopy: 0, binary: 0, matmul: 0 };
      const be = dev as unknown as Record<string, (...a: unknown[]) => unknown>;
      const orig = Object.fromEntries(Object.keys(calls).map((k) => [k, be[k]!]));
      for (const k of Object.keys(calls)) be[k] = (...a: unknown[]) => { calls[k]!++; return orig[k]!.apply(dev, a); };
      try {
        const on = (t: Tensor): Tensor => (device ? toDevice(new Tensor(Float32Array.from(t.data as Float32Array), t.shape, "float32"), dev) : t);
        const like = on(new Tensor(new Float32Array(18), [6, 3], "float32"));
        const sums = new GradSums();
        let acc: Tensor | null = null;
        for (const p of parts) {
          const part: Tensor | BlockGrad = p instanceof Tensor ? on(p) : { kind: "block", dim: p[0], start: p[1], step: p[2], block: on(p[3]) };
          for (const k of Object.keys(calls)) calls[k] = 0;
          acc = sums.add(acc, part, like);
        }
        const out = sums.release(acc!);
        return { values: [...(device ? await out.read() : out.data)], calls };
      } finally {
        for (const k of Object.keys(calls)) be[k] = orig[k]!;
      }
    };
    const g = (shape: number[], seed: number): Tensor => randn(shape, { generator: new Generator(seed) });
    const cases: [string, ([number, number, number, Tensor] | Tensor)[]][] = [
      ["rows [0, 2) and [2, 6) (a packed projection's q and kv rows)", [[0, 0, 1, g([2, 3], 1)], [0, 2, 1, g([4, 3], 2)]]],
      ["rows [1, 3) only", [[0, 1, 1, g([2, 3], 3)]]],
      ["rows [0, 3) and [2, 5), overlapping", [[0, 0, 1, g([3, 3], 4)], [0, 2, 1, g([3, 3], 5)]]],
      ["rows [0, 2), then a whole gradient", [[0, 0, 1, g([2, 3], 6)], g([6, 3], 7)]],
      ["rows [4, 6), then rows 0, 2, 4 (step 2)", [[0, 4, 1, g([2, 3], 8)], [0, 0, 2, g([3, 3], 9)]]],
      ["columns [0, 2) and [2, 3)", [[1, 0, 1, g([6, 2], 10)], [1, 2, 1, g([6, 1], 11)]]],
    ];
    for (const [name, parts] of cases) {
      const want = await sumOf(false, parts), got = await sumOf(true, parts);
      assert.deepEqual(got.values, want.values, `${name}: the host's sum`);
      if (name.startsWith("rows [0, 2) and [2, 6)")) {
        // the second block: one copy into its run, nothing zeroed or added, and nothing at the release
        assert.deepEqual(got.calls, { upload: 0, stridedCopy: 1, binary: 0, matmul: 0 }, `${name}: ${JSON.stringify(got.calls)}`);
      }
    }
  });

  test("addLayerNorm: one call on the device (AddLayerNorm), the host's add + layerNorm to the bit, the sum and its norm, gradients through both; weight and bias optional", async () => {
    const calls = { n: 0 };
    const fused = (dev as unknown as { addLayerNorm: (...a: unknown[]) => void }).addLayerNorm;
    (dev as unknown as { addLayerNorm: (...a: unknown[]) => void }).addLayerNorm = (...a: unknown[]): void => { calls.n++; fused(...a); };
    try {
      for (const affine of [true, false]) {
        const inputs = [leaf([3, 5, 8], 1), leaf([3, 5, 8], 2), ...(affine ? [leaf([8], 3), leaf([8], 4)] : [])];
        // both outputs: the sum and its norm, each weighted (the sum's gradient reaches x and r by both ways)
        const f = (x: Tensor, r: Tensor, w?: Tensor, b?: Tensor): Tensor => {
          const { sum: s, out } = addLayerNorm(x, r, [8], w ?? null, b ?? null, 1e-5);
          return add(mul(s, 0.5), out);
        };
        const before = calls.n;
        const { js, dev: d } = await onBoth(inputs, (...xs) => f(xs[0]!, xs[1]!, xs[2], xs[3]), "js");
        assert.equal(calls.n - before, 1, "one fused call on the device");
        assert.deepEqual([...d.out], [...js.out], "output");
        d.grads.forEach((g, i) => assert.deepEqual([...g], [...js.grads[i]!], `gradient ${i}`));
        assert.deepEqual([...d.grads[0]!], [...d.grads[1]!], "x and r get the sum's gradient");
      }
      await deviceGradcheck([leaf([2, 3, 6], 5), leaf([2, 3, 6], 6), leaf([6], 7), leaf([6], 8)], (x, r, w, b) => { const o = addLayerNorm(x!, r!, [6], w, b); return add(mul(o.sum, 0.25), o.out); });
      setBackend(dev.name);
      const x = toDevice(randn([2, 4]), dev), r = toDevice(randn([2, 4]), dev);
      assertThrowsMsg(() => addLayerNorm(x, toDevice(randn([4]), dev), [4]), ShapeError, "addLayerNorm: r expected [2, 4], got [4]");
      assertThrowsMsg(() => addLayerNorm(x, r, [3]), ShapeError, "addLayerNorm: x expected [..., 3], got [2, 4]");
      assertThrowsMsg(() => addLayerNorm(x, r, [4], null, null, -1), ValueError, "addLayerNorm: eps expected a non-negative number, got -1");
    } finally {
      (dev as unknown as { addLayerNorm: unknown }).addLayerNorm = fused;
      setBackend(host.name);
    }
    // on the host, the composition; r of another dtype is refused
    assertThrowsMsg(() => addLayerNorm(randn([2, 4]), randn([2, 4], { dtype: "float64" }), [4]), DTypeError, "addLayerNorm: r expected float32, got float64");
  });

  test("where: broadcasting cond, a and b, scalars; gradients to a and b", async () => {
    const c = bools([1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1], [3, 1, 4]);
    // a and b's gradients are sums over broadcast dims, in another order on the device: at most 12 terms
    await assertSame([leaf([2, 1], 1), leaf([4], 2)], (a, b) => where(c, a, b), 12 * U);
    await assertSame([leaf([3, 2, 4], 3)], (a) => where(c, a, 0.5));
    await assertSame([leaf([2, 4], 4)], (b) => where(c, -1, b), 12 * U);
    await deviceGradcheck([leaf([2, 1], 1), leaf([4], 2)], (a, b) => where(c, a, b), 1e-3);
  });

  test("where with a float 0 / 1 condition on the device", async () => {
    setBackend(dev.name);
    try {
      const c = toDevice(tensor([1, 0, 0, 1]), dev), a = toDevice(tensor([1, 2, 3, 4]), dev);
      const y = where(c, a, -1);
      assert.deepEqual(Array.from(await y.read()), [1, -1, -1, 4]);
    } finally {
      setBackend(host.name);
    }
  });

  test("comparisons on the device: a bool tensor there, broadcasting, NaN, integer operands; logicalNot / logicalOr; a LeakyReLU by where", async () => {
    const a = new Tensor(Float32Array.from([1, -2, NaN, 0, 3, -0, 5, 2]), [2, 4], "float32");
    const b = new Tensor(Float32Array.from([1, NaN, 0, -1]), [4], "float32");
    const ids = new Tensor(Int32Array.from([0, 2, 7, 2]), [4], "int32");
    for (const op of ["eq", "ne", "lt", "le", "gt", "ge"] as const) {
      const want = Array.from(compare(op, a, b).data);
      setBackend(dev.name);
      try {
        const got = compare(op, toDevice(new Tensor(Float32Array.from(a.data as Float32Array), a.shape, "float32"), dev), b);
        assert.ok(got.onDevice, `${op}: on the device`);
        assert.equal(got.dtype, "bool");
        const read = await got.read();
        assert.ok(read instanceof Uint8Array, `${op}: read back as bools`);
        assert.deepEqual(Array.from(read), want, op);
        // an integer operand against a device one, and a scalar
        const c2 = compare(op, ids, toDevice(new Tensor(Float32Array.from([0, 1, 7, 3]), [4], "float32"), dev));
        assert.deepEqual(Array.from(await c2.read()), Array.from(compare(op, ids, new Tensor(Float32Array.from([0, 1, 7, 3]), [4], "float32")).data), `${op} int32`);
      } finally {
        setBackend(host.name);
      }
    }
    const m = bools([1, 0, 0, 1], [4]);
    setBackend(dev.name);
    try {
      const d = compare("gt", toDevice(new Tensor(Float32Array.from([1, -1, 2, -2]), [4], "float32"), dev), 0);
      assert.deepEqual(Array.from(await logicalNot(d).read()), [0, 1, 0, 1]);
      assert.deepEqual(Array.from(await logicalOr(d, m).read()), [1, 0, 1, 1]);
    } finally {
      setBackend(host.name);
    }
    // GATConv's LeakyReLU: where(gt(s, 0), s, s * slope), differentiated on the device
    await assertSame([leaf([3, 5], 7)], (s) => where(gt(s, 0), s, mul(s, 0.2)));
  });

  test("maskedFill: broadcast mask, -Infinity, masked entries get no gradient", async () => {
    const m = bools([0, 1, 1, 0, 0, 1], [2, 1, 3]);
    await assertSame([leaf([2, 4, 3], 5)], (x) => maskedFill(x, m, -Infinity));
    await assertSame([leaf([2, 4, 3], 6)], (x) => maskedFill(x, m, 2.5));
    await deviceGradcheck([leaf([2, 4, 3], 6)], (x) => maskedFill(x, m, 2.5), 1e-3);
  });

  test("crossEntropy / nllLoss with classes masked to -Infinity, ignored targets, label smoothing: the host's values, not 0 * -Infinity", async () => {
    // a padding position's score is -Infinity (as SpanExtractor's); row 2 is ignored and row 3 masked but for its target
    const m = bools([0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1], [4, 5]);
    const y = new Tensor(Int32Array.from([2, 0, -100, 1]), [4], "int32");
    // the device sums C = 5 float32 products per row (and 4 rows) where the host sums in float64: 9 roundings at most
    for (const reduction of ["none", "sum", "mean"] as const) {
      for (const labelSmoothing of [0, 0.1]) {
        const r = await onBoth([leaf([4, 5], 30)], (x) => crossEntropy(maskedFill(x, m, -Infinity), y, { reduction, labelSmoothing }));
        if (labelSmoothing === 0) assert.ok(Array.from(r.dev.out).every(Number.isFinite), `${reduction}: ${Array.from(r.dev.out).join(", ")}`);
        assertNear(r.dev.out, r.js.out, 9 * U, `${reduction}, smoothing ${labelSmoothing}: out`);
        assertNear(r.dev.grads[0]!, r.js.grads[0]!, 9 * U, `${reduction}, smoothing ${labelSmoothing}: grad`);
      }
    }
    // with label smoothing a masked class enters the loss: +Infinity on both (the host's loop sums every class)
    const inf = await onBoth([leaf([4, 5], 31)], (x) => nllLoss(maskedFill(x, m, -Infinity), y, { reduction: "none", labelSmoothing: 0.1 }));
    assert.deepEqual(Array.from(inf.dev.out), Array.from(inf.js.out));
    assert.deepEqual(Array.from(inf.js.out), [Infinity, Infinity, 0, Infinity]);
    await deviceGradcheck([leaf([4, 5], 32)], (x) => crossEntropy(maskedFill(x, m, -Infinity), y, { reduction: "none" }), 1e-3);
    await deviceGradcheck([leaf([4, 5], 33)], (x) => crossEntropy(x, y, { labelSmoothing: 0.1 }), 1e-3);
    // a reduced loss's backward is one kernel from its one gradient (times 1 / count for the mean)
    await deviceGradcheck([leaf([4, 5], 34)], (x) => crossEntropy(x, y, { reduction: "sum" }), 1e-3);
    await deviceGradcheck([leaf([4, 5], 35)], (x) => mul(crossEntropy(x, y), 3), 1e-3);
  });

  test("nllLoss on a device uploads its targets once: the forward and the backward read one array, given back by freeGraph, or at the next flush with recording off", async () => {
    const y = new Tensor(Int32Array.from([2, 0, -100, 1]), [4], "int32");
    type Arr = { length: number; values: Float32Array };
    const d = dev as unknown as Record<string, (...a: unknown[]) => unknown>;
    const seen: Arr[] = [];
    const [fwd, bwd] = [d.nllForward!, d.nllBackward!];
    d.nllForward = (...a: unknown[]) => { seen.push(a[2] as Arr); return fwd(...a); };
    d.nllBackward = (...a: unknown[]) => { seen.push(a[2] as Arr); return bwd(...a); };
    setBackend(dev.name);
    try {
      for (const reduction of ["none", "mean"] as const) {
        seen.length = 0;
        const x = toDevice(randn([4, 5], { generator: new Generator(36) }).requiresGrad_(true), dev);
        const lp = mul(x, 1);
        const loss = sum(nllLoss(lp, y, { reduction }));
        backward(loss);
        assert.equal(seen.length, 2, `${reduction}: the forward and the backward kernels`);
        assert.equal(seen[0], seen[1], `${reduction}: one ids array for both`);
        assert.deepEqual(Array.from(seen[0]!.values), [2, 0, -1, 1], `${reduction}: the ids, -1 where ignored`);
        freeGraph(loss);
        assert.ok(Number.isNaN(seen[0]!.values[0]), `${reduction}: the ids given back with the graph`);
        assert.ok((await x.grad!.read()).every(Number.isFinite), `${reduction}: the gradient`);
      }
      seen.length = 0;
      const out = noGrad(() => nllLoss(toDevice(randn([4, 5], { generator: new Generator(37) }), dev), y));
      assert.equal(seen.length, 1);
      assert.ok(Number.isFinite(seen[0]!.values[0]), "kept until the flush");
      assert.ok(Number.isFinite((await out.read())[0]!), "the loss");
      assert.ok(Number.isNaN(seen[0]!.values[0]), "the ids given back at the flush (the read)");
    } finally {
      d.nllForward = fwd;
      d.nllBackward = bwd;
      setBackend(host.name);
    }
  });

  test("max / min values and indices over first, middle and last dims, keepdim; gradients", async () => {
    for (const [dim, keepdim] of [[0, false], [1, true], [2, false], [-1, true]] as const) {
      for (const f of [max, min]) {
        await assertSame([leaf([3, 5, 4], 7 + dim)], (x) => f(x, dim, { keepdim }).values);
        const x = leaf([3, 5, 4], 7 + dim);
        const want = f(x, dim, { keepdim }).indices;
        setBackend(dev.name);
        try {
          const got = f(toDevice(new Tensor(Float32Array.from(x.data as Float32Array), x.shape, "float32"), dev), dim, { keepdim }).indices;
          assert.equal(got.dtype, "int32");
          assert.deepEqual(got.shape, want.shape);
          const read = await got.read();
          assert.ok(read instanceof Int32Array, "indices read back as an Int32Array");
          assert.deepEqual(Array.from(read), Array.from(want.data as Int32Array));
          assert.deepEqual(Array.from(got.data as Int32Array), Array.from(want.data as Int32Array), "data after read()");
        } finally {
          setBackend(host.name);
        }
      }
    }
    // piecewise linear: a step below the gaps between the values (the smallest here is 0.0099)
    await deviceGradcheck([leaf([3, 5, 4], 11)], (x) => max(x, 1).values, 1e-3);
    await deviceGradcheck([leaf([3, 5, 4], 12)], (x) => min(x, -1).values, 1e-3);
  });

  test("argmax / argmin on the device: ties go to the first index, NaN wins", async () => {
    const x = tensor([[1, 3, 3, -2], [NaN, 0, 5, NaN], [-1, -1, -1, -1]]);
    setBackend(dev.name);
    try {
      const d = toDevice(new Tensor(Float32Array.from(x.data as Float32Array), x.shape, "float32"), dev);
      assert.deepEqual(Array.from(await argmax(d, 1).read()), [1, 0, 0]);
      assert.deepEqual(Array.from(await argmin(d, 1).read()), [3, 0, 0]);
      assert.deepEqual(Array.from(await max(d, 1).values.read()), [3, NaN, -1]);
    } finally {
      setBackend(host.name);
    }
    assert.deepEqual(Array.from(argmax(x, 1).data), [1, 0, 0]);
    assert.deepEqual(Array.from(argmin(x, 1).data), [3, 0, 0]);
  });

  test("logsumexp over each dim, rows with -Infinity; gradient g exp(x - out)", async () => {
    // the device kernel sums in float64 (js) where the host composes float32 ops: a few roundings of log-sum-exp
    for (const [dim, keepdim] of [[0, false], [1, true], [-1, false]] as const) {
      await assertSame([leaf([3, 5, 4], 20 + dim)], (x) => logsumexp(x, dim, { keepdim }), 16 * U);
    }
    await assertSame([leaf([2, 6], 23)], (x) => logsumexp(maskedFill(x, bools([1, 0, 1, 1, 0, 0], [1, 6]), -Infinity), -1), 16 * U);
    setBackend(dev.name);
    try {
      const x = toDevice(tensor([[-Infinity, -Infinity], [0, -Infinity]]), dev);
      assert.deepEqual(Array.from(await logsumexp(x, 1).read()), [-Infinity, 0]);
    } finally {
      setBackend(host.name);
    }
    await deviceGradcheck([leaf([3, 5], 24)], (x) => logsumexp(x, 1));
    await deviceGradcheck([leaf([3, 5], 25)], (x) => logsumexp(x, 0, { keepdim: true }));
  });

  test("dropout on the device: the js kernel's mask and values, forward and backward", async () => {
    const r = await onBoth([leaf([7, 33], 30)], (x) => dropout(x, 0.3, { generator: new Generator(5) }));
    assertNear(r.dev.out, r.js.out, 0, "out");
    assertNear(r.dev.grads[0]!, r.js.grads[0]!, 0, "grad");
    const zeros = r.js.out.filter((v) => v === 0).length;
    assert.ok(zeros > 40 && zeros < 100, `${zeros} of 231 dropped at p = 0.3`);
  });

  test("indexSelect on each dim with repeated indices; gradients summed per row", async () => {
    await assertSame([leaf([4, 3], 40)], (x) => indexSelect(x, 0, [2, 0, 2, 3, 2]));
    await assertSame([leaf([2, 5, 3], 41)], (x) => indexSelect(x, 1, tensor([4, 4, 1], { dtype: "int32" })));
    await assertSame([leaf([2, 3, 5], 42)], (x) => indexSelect(x, -1, []));
    await deviceGradcheck([leaf([4, 3], 40)], (x) => indexSelect(x, 0, [2, 0, 2, 3, 2]), 1e-3);
  });

  test("embedding by a gather on the device: padding row without gradient, repeated ids summed", async () => {
    const ids = tensor([[1, 0, 3], [3, 3, 2]], { dtype: "int32" });
    await assertSame([leaf([5, 4], 50)], (w) => embedding(ids, w, { paddingIdx: 0 }));
    await assertSame([leaf([5, 4], 51)], (w) => embedding(ids, w));
    await deviceGradcheck([leaf([5, 4], 50)], (w) => embedding(ids, w), 1e-3);
  });

  test("the gather backward over the host grouping: heavy repeats, rows never picked, padding first, last or absent", async () => {
    const u = new Float32Array(1000);
    new Generator(53).fillUniform(u);
    let t = 0;
    const next = (): number => u[t++ % u.length]!;
    const draw = (n: number, count: number, hot: number): number[] =>
      Array.from({ length: count }, () => (next() < 0.6 ? hot : Math.floor(next() * n)));
    // [3, 40, 2] along dim 1 at 200 indices, 60% of them row 7: the same bits as the host loops
    const picks = draw(40, 200, 7);
    await assertSame([leaf([3, 40, 2], 54)], (x) => indexSelect(x, 1, picks));
    await assertSame([leaf([30, 4], 55)], (x) => indexSelect(x, 0, [29, 29, 0, 29, 0]));
    const ids = new Tensor(Int32Array.from(draw(300, 4 * 50, 299)), [4, 50], "int32");
    await assertSame([leaf([300, 3], 56)], (w) => embedding(ids, w, { paddingIdx: 299 }));
    await assertSame([leaf([300, 3], 57)], (w) => embedding(ids, w, { paddingIdx: 0 }));
    await assertSame([leaf([300, 3], 58)], (w) => embedding(ids, w, { paddingIdx: 5 }));
    await assertSame([leaf([300, 3], 59)], (w) => embedding(ids, w));
    // the backward's grouping by host indices goes to the device as one upload (order and offsets, two views of it)
    setBackend(dev.name);
    const d = dev as unknown as { upload: (h: Float32Array) => unknown };
    const upload = d.upload;
    try {
      const w = toDevice(leaf([300, 3], 60), dev), y = embedding(ids, w);
      const seed = toDevice(randn(y.shape, { generator: new Generator(61) }), dev);
      const sizes: number[] = [];
      d.upload = (h: Float32Array) => { sizes.push(h.length); return upload(h); };
      backward(sum(mul(y, seed)));
      // (besides the backward's one-element seed)
      assert.deepEqual(sizes.filter((n) => n > 1), [ids.size + 300 + 1], "one upload: the order [m] and the offsets [n + 1]");
    } finally {
      d.upload = upload;
      setBackend(host.name);
    }
  });

  test("indexGrouping: rows in order, ascending within a row, padding and out-of-range indices left out", () => {
    const { order, offsets } = indexGrouping("embedding", [2, 0, 2, -1, 4, 2, 0, 5], 5, 4);
    assert.deepEqual(Array.from(offsets), [0, 2, 2, 5, 5, 5]);
    assert.deepEqual(Array.from(order), [1, 6, 0, 2, 5]);
    assertThrowsMsg(() => indexGrouping("embedding", { length: 2 ** 24 }, 3), ValueError, "embedding", "indices", "2^24");
  });

  test("sdpa's weights path on the device: masks, causal, GQA", async () => {
    const mask = bools([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [3, 5]);
    const tol = 64 * U;
    await assertSame([leaf([2, 4, 3, 6], 60), leaf([2, 2, 5, 6], 61), leaf([2, 2, 5, 3], 62)],
      (q, k, v) => scaledDotProductAttention(q, k, v, { needWeights: true, attnMask: mask }).weights!, tol);
    await assertSame([leaf([2, 4, 3, 6], 63), leaf([2, 2, 5, 6], 64), leaf([2, 2, 5, 3], 65)],
      (q, k, v) => scaledDotProductAttention(q, k, v, { needWeights: true, isCausal: true }).output, tol);
  });

  test("sdpa with a float mask on the device: read there by the fused kernel (its columns made dense there when they broadcast) and by the composition, the host mask's bits; a mask on the device with q on the host is a ValueError", async () => {
    const values = Float32Array.from({ length: 24 }, (_, i) => (i % 5 === 2 ? -Infinity : Math.sin(i)));
    const cases: [string, Float32Array, number[]][] = [
      ["rows [L, S]", values, [4, 6]],
      ["keys [B, 1, 1, S]", values.slice(0, 12), [2, 1, 1, 6]],
      ["a column that broadcasts [B, 1, L, 1]", values.slice(0, 8), [2, 1, 4, 1]],
    ];
    for (const [name, data, shape] of cases) {
      const hostMask = new Tensor(Float32Array.from(data), shape, "float32");
      const devMask = toDevice(new Tensor(Float32Array.from(data), shape, "float32"), dev);
      const maskOf = (q: Tensor): Tensor => (q.onDevice ? devMask : hostMask);
      const inputs = [leaf([2, 2, 4, 8], 73), leaf([2, 2, 6, 8], 74), leaf([2, 2, 6, 8], 75)];
      const calls = { forward: 0, uploads: 0 };
      const { attentionForward } = dev;
      const d = dev as unknown as { upload: (h: Float32Array) => unknown };
      const upload = d.upload;
      dev.attentionForward = (...a) => { calls.forward++; attentionForward(...a); };
      d.upload = (h: Float32Array) => { if (h.includes(-Infinity)) calls.uploads++; return upload(h); }; // a mask's upload
      try {
        // the device's kernels are js's: the same bits as the host's fused kernel with the host mask
        await assertSame(inputs, (q, k, v) => scaledDotProductAttention(q, k, v, { attnMask: maskOf(q) }).output, 0, "js");
      } finally {
        dev.attentionForward = attentionForward;
        d.upload = upload;
      }
      assert.equal(calls.forward, 1, name);
      assert.equal(calls.uploads, 0, `${name}: the mask not uploaded again`);
      await assertSame(inputs, (q, k, v) => scaledDotProductAttention(q, k, v, { attnMask: maskOf(q), needWeights: true }).output, 64 * U);
    }
    setBackend(dev.name);
    try {
      const devMask = toDevice(randn([4, 6]), dev);
      setBackend(host.name);
      assertThrowsMsg(() => scaledDotProductAttention(randn([2, 2, 4, 8]), randn([2, 2, 6, 8]), randn([2, 2, 6, 8]), { attnMask: devMask }),
        ValueError, "attention", "attnMask", "on the host or on the");
    } finally {
      setBackend(host.name);
    }
  });

  test("keyPaddingOn: a host mask on the device as additive values (bool true -> -Infinity, floats kept), reshaped; unchanged beside a host tensor or when already there; a wrong size is a ValueError", async () => {
    const like = toDevice(randn([2]), dev);
    const b = bools([0, 1, 0, 0, 0, 1], [2, 3]);
    const m = keyPaddingOn(b, like, [2, 1, 1, 3]);
    assert.ok(m.onDevice && m.dtype === "float32");
    assert.deepEqual(m.shape, [2, 1, 1, 3]);
    assert.deepEqual(Array.from(await m.read()), [0, -Infinity, 0, 0, 0, -Infinity]);
    const f = new Tensor(Float64Array.of(0.5, -2, -Infinity), [1, 3], "float64");
    assert.deepEqual(Array.from(await keyPaddingOn(f, like).read()), [0.5, -2, -Infinity]);
    assert.equal(keyPaddingOn(b, randn([2])), b, "beside a host tensor");
    assert.equal(keyPaddingOn(m, like), m, "already on the device");
    assertThrowsMsg(() => keyPaddingOn(b, like, [2, 2]), ValueError, "keyPaddingOn", "shape", "6 elements");
  });

  test("sdpa with dropout on the device: the fused kernel (js's mask and numbers), the composition's output, finite differences", async () => {
    const inputs = [leaf([2, 2, 4, 8], 70), leaf([2, 2, 6, 8], 71), leaf([2, 2, 6, 8], 72)];
    const mask = bools([0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1], [4, 6]);
    const fused = (q: Tensor, k: Tensor, v: Tensor): Tensor =>
      scaledDotProductAttention(q, k, v, { dropoutP: 0.25, attnMask: mask, generator: new Generator(3) }).output;
    // the device path takes the fused kernel, once forward and once backward
    const calls = { forward: 0, backward: 0 };
    const { attentionForward, attentionBackward } = dev;
    dev.attentionForward = (...a) => { calls.forward++; attentionForward(...a); };
    dev.attentionBackward = (...a) => { calls.backward++; attentionBackward(...a); };
    try {
      // the device's kernels are js's: against the js backend, on the same float32 arrays, the same bits
      await assertSame(inputs, fused, 0, "js");
    } finally {
      dev.attentionForward = attentionForward;
      dev.attentionBackward = attentionBackward;
    }
    assert.deepEqual(calls, { forward: 1, backward: 1 });
    // the composition (needWeights) draws the same mask: the fused kernel's output and gradients on the device
    const r = await onBoth(inputs, fused);
    const composed = await onBoth(inputs, (q, k, v) => scaledDotProductAttention(q, k, v,
      { dropoutP: 0.25, attnMask: mask, generator: new Generator(3), needWeights: true }).output);
    assertNear(r.dev.out, composed.dev.out, 64 * U, "fused against the composition");
    composed.dev.grads.forEach((g, i) => assertNear(r.dev.grads[i]!, g, 64 * U, `grad ${i}, fused against the composition`));
    await deviceGradcheck(inputs, fused, 1e-2);
  });

  test("typed errors", () => {
    setBackend(dev.name);
    try {
      const x = toDevice(randn([3, 4]), dev);
      assertThrowsMsg(() => where(tensor([1, 0, 1, 0]), x, 0), DTypeError, "where", "cond", "bool");
      assertThrowsMsg(() => maskedFill(x, tensor([1, 0, 1, 0]), 0), DTypeError, "maskedFill", "mask", "bool");
      assertThrowsMsg(() => maskedFill(x, bools([1, 0], [2, 1]), 0), ShapeError, "maskedFill", "mask");
      assertThrowsMsg(() => max(toDevice(randn([3, 0]), dev), 1), ValueError, "max", "non-empty");
      assertThrowsMsg(() => logsumexp(toDevice(randn([0, 3]), dev), 0), ValueError, "logsumexp", "non-empty");
      assertThrowsMsg(() => indexSelect(x, 1, [0, 4]), ValueError, "indexSelect", "indices", "[0, 4)");
      assertThrowsMsg(() => embedding(tensor([5], { dtype: "int32" }), x), ValueError, "embedding", "indices", "[0, 3)");
    } finally {
      setBackend(host.name);
    }
  });
});
