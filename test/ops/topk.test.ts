/**
 * topk: each row's k largest values and their indices, against a full sort (the larger value
 * first, the lower index among equal values, NaN last), on the host in float32 and float64 and on
 * the host-memory device backend (the backend's TopK); no gradient; typed errors.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { topKRows } from "../../src/backend/js/topk.js";
import { topk } from "../../src/ops/topk.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, tensor } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";
import { hostDevice } from "../backend/host-device.js";

const host = getBackend();
const dev = hostDevice();
registerBackend(dev);
setBackend(host.name);
after(() => setBackend(host.name));

/** Each row's k first (value, index) pairs by a full sort. */
function reference(x: ArrayLike<number>, rows: number, n: number, k: number): { values: number[]; indices: number[] } {
  const values: number[] = [], indices: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: n }, (_, j) => ({ v: x[r * n + j]!, j }));
    row.sort((a, b) => {
      const an = Number.isNaN(a.v), bn = Number.isNaN(b.v);
      if (an || bn) return an && bn ? a.j - b.j : an ? 1 : -1;
      return a.v !== b.v ? b.v - a.v : a.j - b.j;
    });
    for (const e of row.slice(0, k)) { values.push(e.v); indices.push(e.j); }
  }
  return { values, indices };
}

/** Rows of values from a few levels (many ties), with -Infinity, +Infinity and NaN among them. */
function tied(rows: number, n: number, seed: number): Float32Array {
  const g = new Generator(seed), u = new Float32Array(rows * n);
  g.fillUniform(u, 0, 1);
  const levels = [-Infinity, -2.5, -1, -1, 0, 0.5, 0.5, 3, Infinity, NaN];
  return u.map((x) => levels[Math.floor(x * levels.length)]!);
}

describe("topk", () => {
  test("each row's k first against a full sort: ties to the lower index, NaN last, -Infinity and +Infinity in order; float32 and float64; k from 1 to n", () => {
    for (const [rows, n] of [[1, 1], [3, 7], [5, 40], [2, 300]] as const) {
      const x = tied(rows, n, rows * 1000 + n);
      for (const k of new Set([1, Math.min(n, 2), Math.min(n, 5), n])) {
        const want = reference(x, rows, n, k);
        for (const dtype of ["float32", "float64"] as const) {
          const t = new Tensor(dtype === "float32" ? x : Float64Array.from(x), [rows, n], dtype);
          const { values, indices } = topk(t, k);
          assert.deepEqual(values.shape, [rows, k]);
          assert.equal(values.dtype, dtype);
          assert.equal(indices.dtype, "int32");
          assert.deepEqual(Array.from(indices.data), want.indices, `[${rows}, ${n}] k ${k} ${dtype}: indices`);
          assert.deepEqual(Array.from(values.data), want.values, `[${rows}, ${n}] k ${k} ${dtype}: values`);
        }
      }
    }
    // leading dims kept, the last one cut to k
    const { values } = topk(tensor([[[1, 3, 2]], [[0, -1, 5]]]), 2);
    assert.deepEqual(values.shape, [2, 1, 2]);
    assert.deepEqual(Array.from(values.data), [3, 2, 5, 0]);
  });

  test("a selection: no gradient recorded", () => {
    const x = tensor([0.5, -1, 2]).requiresGrad_(true);
    const { values, indices } = topk(x, 2);
    assert.equal(values.requiresGrad, false);
    assert.equal(values.gradFn, null);
    assert.deepEqual(Array.from(indices.data), [2, 0]);
  });

  test("on a device: the backend's TopK, the host's values and indices", async () => {
    for (const [rows, n, k] of [[4, 9, 3], [3, 1000, 8], [2, 33, 32]] as const) {
      const x = tied(rows, n, 7 * n + k);
      const want = topk(new Tensor(x, [rows, n], "float32"), k);
      setBackend(dev.name);
      try {
        const got = topk(toDevice(new Tensor(Float32Array.from(x), [rows, n], "float32"), dev), k);
        assert.ok(got.values.onDevice && got.indices.onDevice);
        assert.equal(got.indices.dtype, "int32");
        assert.deepEqual(Array.from(await got.values.read()), Array.from(want.values.data), `[${rows}, ${n}] k ${k}: values`);
        assert.deepEqual(Array.from(await got.indices.read()), Array.from(want.indices.data), `[${rows}, ${n}] k ${k}: indices`);
      } finally {
        setBackend(host.name);
      }
    }
  });

  test("the js kernel writes indices as numbers into float arrays too (the device's form)", () => {
    const v = new Float32Array(2), i = new Float32Array(2);
    topKRows(v, i, Float32Array.of(0.1, 0.7, 0.7, -Infinity), 1, 4, 2);
    assert.deepEqual([...v, ...i], [Math.fround(0.7), Math.fround(0.7), 1, 2]);
  });

  test("bad input is a typed error naming topk and the argument", () => {
    assertThrowsMsg(() => topk(tensor([1, 2]), 3), ValueError, "topk", "k", "[1, 2]");
    assertThrowsMsg(() => topk(tensor([1, 2]), 0), ValueError, "topk", "k");
    assertThrowsMsg(() => topk(tensor([1, 2]), 1.5), ValueError, "topk", "k");
    assertThrowsMsg(() => topk(new Tensor(Int32Array.of(1, 2), [2], "int32"), 1), DTypeError, "topk", "x", "float32 or float64");
    assertThrowsMsg(() => topk(new Tensor(Float32Array.of(1), [], "float32"), 1), ShapeError, "topk", "x", "rank >= 1");
    assertThrowsMsg(() => topk(null as unknown as Tensor, 1), ValueError, "topk", "x");
    setBackend(dev.name);
    try {
      const x = toDevice(new Tensor(new Float32Array(40), [1, 40], "float32"), dev);
      assertThrowsMsg(() => topk(x, 33), ValueError, "topk", "k", "at most 32 on a device");
    } finally {
      setBackend(host.name);
    }
  });
});
