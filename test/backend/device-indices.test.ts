/**
 * indexSelect and embedding with int32 indices that live on the device (argmax's, or a tensor
 * moved there with toDevice), in Node on the host-memory device backend (host-device.ts, which
 * range-checks device indices as webgpu does): outputs and gradients equal the host-index paths
 * bit for bit (several dims, repeats, no indices, padding rows), nothing is read back during the
 * forward or backward pass, float32 central differences of the gradients, an index out of range
 * found at the next read of the store (ValueError; the row zeros, no gradient, the store usable
 * after it; slots shared, freed by each read, checked at once when they run out; also with no
 * output element), and the typed
 * errors of indices on the host's or another device. The WGSL kernels (the checked gather, the
 * grouping) are compared with js in test/browser/webgpu.test.ts, family "deviceIndices".
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { mul } from "../../src/ops/elementwise.js";
import { embedding } from "../../src/ops/functional.js";
import { argmax, sum } from "../../src/ops/reduce.js";
import { indexSelect } from "../../src/ops/shape.js";
import { DTypeError, ValueError } from "../../src/tensor/errors.js";
import { readAll } from "../../src/tensor/read-all.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";
import { deviceTestEnv, gradcheckOnDevice } from "./device-helpers.js";
import { hostDevice, type HostDeviceArray } from "./host-device.js";

const { dev, on, watchReads } = deviceTestEnv();

/** Indices: their values, shape and the range [0, n) they pick from. */
interface Ids { values: number[]; shape: number[]; n: number }

/** How the indices reach the gather: host tensors, or one of the two device forms. */
type Form = "host" | "moved to the device" | "argmax on the device";

/** The indices as a tensor of `form` (argmax of one-hot device scores [...shape, n] picks them). */
function indicesOf(ids: Ids, form: Form): Tensor {
  const host = new Tensor(Int32Array.from(ids.values), ids.shape, "int32");
  if (form === "host") return host;
  if (form === "moved to the device") return toDevice(host, dev);
  const scores = new Float32Array(ids.values.length * ids.n);
  ids.values.forEach((v, k) => { scores[k * ids.n + v] = 1; });
  return argmax(toDevice(new Tensor(scores, [...ids.shape, ids.n], "float32"), dev), -1);
}

interface Run { out: Float32Array; grad: Float32Array }

/**
 * f(x, ids) for a seeded float32 leaf x, then backward of sum(f * w) (w seeded): the output and x's
 * gradient. `device` false: x and the indices on the host, the host backend active; true: x on the
 * device with the indices of `form`, and nothing may be read back during the forward and backward.
 */
async function run(xShape: number[], seed: number, f: (x: Tensor, ids: Tensor) => Tensor, ids: Ids, device: boolean, form: Form): Promise<Run> {
  const pass = (): { y: Tensor; x: Tensor } => {
    const x = randn(xShape, { generator: new Generator(seed) }).requiresGrad_(true);
    if (device) toDevice(x, dev);
    const y = f(x, indicesOf(ids, form));
    assert.equal(y.onDevice, device);
    backward(sum(mul(y, randn(y.shape, { generator: new Generator(99) }))));
    return { y, x };
  };
  let got: { y: Tensor; x: Tensor };
  if (device) {
    const watched = await watchReads(() => Promise.resolve(pass()));
    assert.deepEqual({ batched: watched.lengths, single: watched.single }, { batched: [], single: 0 }, "reads during the forward and backward pass");
    got = watched.result;
  } else got = await on(false, () => Promise.resolve(pass()));
  return { out: Float32Array.from(await got.y.read() as Float32Array), grad: Float32Array.from(await got.x.grad!.read() as Float32Array) };
}

/** a and b hold the same float32 bits. */
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) assert.equal(ua[i], ub[i], `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** Device indices of both forms give the host path's output and gradient bits, and those of a device x with host indices. */
async function assertSameAsHost(xShape: number[], seed: number, f: (x: Tensor, ids: Tensor) => Tensor, ids: Ids): Promise<void> {
  const want = await run(xShape, seed, f, ids, false, "host");
  const hostIds = await run(xShape, seed, f, ids, true, "host");
  sameBits(hostIds.out, want.out, "device x, host indices: out");
  sameBits(hostIds.grad, want.grad, "device x, host indices: grad");
  for (const form of ["moved to the device", "argmax on the device"] as const) {
    const got = await run(xShape, seed, f, ids, true, form);
    sameBits(got.out, want.out, `indices ${form}: out`);
    sameBits(got.grad, want.grad, `indices ${form}: grad`);
  }
}

/** count draws in [0, n), 60% of them `hot`. */
function draws(seed: number, n: number, count: number, hot: number): number[] {
  const u = new Float32Array(2 * count);
  new Generator(seed).fillUniform(u);
  return Array.from({ length: count }, (_, i) => (u[2 * i]! < 0.6 ? hot : Math.floor(u[2 * i + 1]! * n)));
}

/** The rejection of `p` is a ValueError with exactly `message`. */
async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

const outside = (op: string, n: number): string => `${op}: indices expected values in [0, ${n}), got an index outside it (found on the device)`;

describe("gathers by indices on the device (host-memory device backend)", () => {
  test("indexSelect: first, middle and last dims, repeats, no indices, heavy repeats: the host path's bits, nothing read", async () => {
    await assertSameAsHost([4, 3], 40, (x, i) => indexSelect(x, 0, i), { values: [2, 0, 2, 3, 2], shape: [5], n: 4 });
    await assertSameAsHost([2, 5, 3], 41, (x, i) => indexSelect(x, 1, i), { values: [4, 4, 1], shape: [3], n: 5 });
    await assertSameAsHost([2, 3, 5], 42, (x, i) => indexSelect(x, -1, i), { values: [], shape: [0], n: 5 });
    await assertSameAsHost([3, 40, 2], 43, (x, i) => indexSelect(x, 1, i), { values: draws(1, 40, 200, 7), shape: [200], n: 40 });
    await assertSameAsHost([30, 4], 44, (x, i) => indexSelect(x, 0, i), { values: [29, 29, 0, 29, 0], shape: [5], n: 30 });
  });

  test("embedding with a padding row (first, last, inside, none): the host path's bits, nothing read", async () => {
    const small: Ids = { values: [1, 0, 3, 3, 3, 2], shape: [2, 3], n: 5 };
    for (const paddingIdx of [0, 3, undefined]) {
      await assertSameAsHost([5, 4], 50, (w, i) => embedding(i, w, paddingIdx === undefined ? {} : { paddingIdx }), small);
    }
    const big: Ids = { values: draws(2, 300, 4 * 50, 299), shape: [4, 50], n: 300 };
    for (const paddingIdx of [299, 0, 5, undefined]) {
      await assertSameAsHost([300, 3], 51, (w, i) => embedding(i, w, paddingIdx === undefined ? {} : { paddingIdx }), big);
    }
  });

  // (a padding row's gradient is 0 by definition, not its derivative: the padding is checked by the bits above)
  test("the device-index gradients agree with float32 central differences", async () => {
    const ids = indicesOf({ values: [2, 0, 2, 3, 2], shape: [5], n: 4 }, "moved to the device");
    await gradcheckOnDevice(dev, [randn([4, 3], { generator: new Generator(60) })], (x) => indexSelect(x, 0, ids), 1e-3);
    const tokens = indicesOf({ values: [1, 0, 3, 3, 3, 2], shape: [2, 3], n: 5 }, "argmax on the device");
    await gradcheckOnDevice(dev, [randn([5, 4], { generator: new Generator(61) })], (w) => embedding(tokens, w), 1e-3);
  });

  test("an index out of range on the device: zeros in its row, no gradient, a ValueError at the next read, the store usable after", async () => {
    await on(true, async () => {
      const x = toDevice(randn([4, 3], { generator: new Generator(70) }).requiresGrad_(true), dev);
      const ids = toDevice(tensor([1, 4, -1, 2], { dtype: "int32" }), dev);
      const y = indexSelect(x, 0, ids); // [4, 3]: rows 1 and 2 out of range
      const w = randn([4, 3], { generator: new Generator(71) });
      backward(sum(mul(y, w)));
      await rejectsWith(y.read(), outside("indexSelect", 4));
      // read again: the slot was cleared; the out-of-range rows are zeros, the gradient has only rows 1 and 2
      const xs = Array.from(await x.read() as Float32Array), ws = w.data as Float32Array;
      assert.deepEqual(Array.from(await y.read() as Float32Array), [...xs.slice(3, 6), 0, 0, 0, 0, 0, 0, ...xs.slice(6, 9)]);
      assert.deepEqual(Array.from(await x.grad!.read() as Float32Array), [0, 0, 0, ...ws.slice(0, 3), ...ws.slice(9, 12), 0, 0, 0]);
      // any read of the store reports it (here a batched one of other tensors), once
      const w2 = toDevice(randn([5, 2], { generator: new Generator(72) }), dev);
      const e = embedding(toDevice(tensor([[0, 7]], { dtype: "int32" }), dev), w2);
      await rejectsWith(readAll([x, w2]), outside("embedding", 5));
      assert.deepEqual(Array.from(await e.read() as Float32Array).slice(2), [0, 0]);
      // a negative index alone
      const neg = indexSelect(x, 1, toDevice(tensor([2, -1, 0], { dtype: "int32" }), dev));
      await rejectsWith(neg.read(), outside("indexSelect", 3));
      // in range: nothing to report
      const ok = indexSelect(x, 0, toDevice(tensor([3, 0], { dtype: "int32" }), dev));
      assert.equal((await ok.read()).length, 6);
    });
  });

  test("a gather with no output element (an empty row dim, or none before it) still checks its device indices, as the host path does", async () => {
    await on(true, async () => {
      const empty = randn([4, 0]), ids = [1, 7];
      // the host path checks host indices whatever the shape
      assert.throws(() => indexSelect(empty, 0, tensor(ids, { dtype: "int32" })), ValueError);
      const x = toDevice(empty, dev);
      const y = indexSelect(x, 0, toDevice(tensor(ids, { dtype: "int32" }), dev)); // [2, 0]
      assert.deepEqual(y.shape, [2, 0]);
      await rejectsWith(y.read(), outside("indexSelect", 4));
      const none = toDevice(randn([0, 3]), dev); // outer 0 along dim 1
      await rejectsWith(indexSelect(none, 1, toDevice(tensor([3], { dtype: "int32" }), dev)).read(), outside("indexSelect", 3));
      // in range: nothing to report
      assert.equal((await indexSelect(x, 0, toDevice(tensor([0, 3], { dtype: "int32" }), dev)).read()).length, 0);
    });
  });

  test("index check slots: one per op, argument and range, the first set reported, all freed by a read; checked at once when they run out", async () => {
    const small = hostDevice({ checkSlots: 2 });
    const x = toDevice(randn([6, 2], { generator: new Generator(80) }), small);
    const gather = (rows: number, ids: number[]): Tensor =>
      indexSelect(rows === 6 ? x : toDevice(randn([rows, 2], { generator: new Generator(rows) }), small), 0, toDevice(tensor(ids, { dtype: "int32" }), small));
    const arr = x.device as HostDeviceArray;
    // two slots, one per range: the set one is named; the same check twice shares one; of two set, the first slot's is named
    gather(6, [0, 5]);
    gather(4, [4]);
    await rejectsWith(small.read(arr), outside("indexSelect", 4));
    gather(6, [0, 5]);
    gather(4, [1]);
    gather(6, [6]);
    await rejectsWith(small.read(arr), outside("indexSelect", 6));
    gather(4, [9]);
    gather(6, [7]);
    await rejectsWith(small.read(arr), outside("indexSelect", 4));
    await small.read(arr);
    // a third range takes the slots' check at once: its error is kept for the next read
    gather(3, [3]);
    gather(4, [0]);
    gather(5, [1]); // the slots ran out: the first two are checked and freed here
    gather(5, [2]);
    await rejectsWith(small.readMany([arr]), outside("indexSelect", 3));
    await small.readMany([arr]);
    // many in-range gathers over more ranges than slots: never an error
    for (let n = 1; n <= 7; n++) gather(n === 6 ? 6 : n, [n - 1]);
    await small.read(arr);
  });

  test("indices on the host's or another device, bad indices: typed errors; read back, they work as host indices", async () => {
    const ids = toDevice(tensor([1, 0], { dtype: "int32" }), dev);
    const xHost = randn([3, 2], { generator: new Generator(90) });
    assertThrowsMsg(() => indexSelect(xHost, 0, ids), ValueError,
      "indexSelect: indices expected indices on the host, where x is (await indices.read() first), got Tensor(int32, [2]) on the webgpu device");
    assertThrowsMsg(() => embedding(ids, xHost), ValueError,
      "embedding: indices expected indices on the host, where weight is (await indices.read() first), got Tensor(int32, [2]) on the webgpu device");
    const other = hostDevice();
    const xOther = toDevice(randn([3, 2], { generator: new Generator(90) }), other);
    assertThrowsMsg(() => indexSelect(xOther, 0, ids), ValueError,
      "indexSelect: indices expected indices on x's device or on the host (await indices.read() first), got Tensor(int32, [2]) on another webgpu device than x's");
    assertThrowsMsg(() => embedding(ids, xOther), ValueError, "embedding: indices expected indices on weight's device or on the host");
    await ids.read();
    const xs = xHost.data as Float32Array;
    assert.deepEqual(Array.from(indexSelect(xHost, 0, ids).data), [...xs.slice(2, 4), ...xs.slice(0, 2)]);
    assert.deepEqual(Array.from(await indexSelect(xOther, 0, ids).read()), [...xs.slice(2, 4), ...xs.slice(0, 2)]);
    // what indexSelect and toDevice refuse
    const x = toDevice(randn([3, 2]), dev);
    assertThrowsMsg(() => indexSelect(x, 0, toDevice(tensor([[0]], { dtype: "int32" }), dev)), Error, "indexSelect: indices expected [N], got [1, 1]");
    assertThrowsMsg(() => indexSelect(x, 0, toDevice(tensor([0]), dev)), DTypeError, "indexSelect: indices expected int32, got float32");
    assertThrowsMsg(() => toDevice(tensor([2 ** 24 + 1], { dtype: "int32" }), dev), ValueError, "toDevice: tensor expected int32 values within ±2^24");
    assertThrowsMsg(() => toDevice(tensor([true], { dtype: "bool" }), dev), DTypeError, "toDevice: tensor expected float32 or int32, got bool");
  });
});
