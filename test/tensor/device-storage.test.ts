import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DeviceArray, DeviceStore } from "../../src/tensor/device.js";
import { DeviceSyncError, ShapeError } from "../../src/tensor/errors.js";
import { Tensor, tensor } from "../../src/tensor/tensor.js";

/** A device array held in host memory, for the storage logic without a GPU. */
interface FakeArray extends DeviceArray { values: Float32Array }

class FakeStore implements DeviceStore<FakeArray> {
  readonly name = "fake";
  reads = 0;
  released: FakeArray[] = [];
  read(arr: FakeArray): Promise<Float32Array> {
    this.reads++;
    return Promise.resolve(arr.values.slice());
  }
  readMany(arrs: readonly FakeArray[]): Promise<Float32Array[]> {
    this.reads++;
    return Promise.resolve(arrs.map((a) => a.values.slice()));
  }
  release(arr: FakeArray): void {
    this.released.push(arr);
  }
  releaseAtFlush(arr: FakeArray): void {
    this.released.push(arr);
  }
  flush(): void {}
}

const fake = (values: number[]): FakeArray => ({ length: values.length, values: Float32Array.from(values) });

describe("device storage", () => {
  test("data, item, toArray and clone throw DeviceSyncError until read() caches the copy", async () => {
    const store = new FakeStore();
    const t = Tensor.fromDevice(fake([1, 2, 3, 4, 5, 6]), store, [2, 3]);
    assert.equal(t.onDevice, true);
    assert.equal(t.size, 6);
    assert.deepEqual(t.shape, [2, 3]);
    for (const [op, f] of [["data", () => t.data], ["toArray", () => t.toArray()], ["clone", () => t.clone()]] as const) {
      assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof DeviceSyncError);
        assert.equal(e.op, op);
        assert.match(e.message, /await t\.read\(\)/);
        assert.match(e.message, /fake device/);
        return true;
      });
    }
    const host = await t.read();
    assert.deepEqual(Array.from(host), [1, 2, 3, 4, 5, 6]);
    assert.equal(t.data, host);
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(Array.from(t.clone().data), [1, 2, 3, 4, 5, 6]);
    assert.equal(t.clone().onDevice, false);
    assert.equal(store.reads, 1);
    // a write to the device data drops the copy
    t.deviceWritten();
    assert.throws(() => t.data, DeviceSyncError);
  });

  test("item follows data", async () => {
    const t = Tensor.fromDevice(fake([7]), new FakeStore(), []);
    assert.throws(() => t.item(), (e: unknown) => e instanceof DeviceSyncError && e.op === "item");
    await t.read();
    assert.equal(t.item(), 7);
  });

  test("read() on a host tensor resolves at once to its data; detach keeps the device array", async () => {
    const h = tensor([1, 2, 3]);
    assert.equal(h.onDevice, false);
    assert.equal(await h.read(), h.data);
    const store = new FakeStore();
    const arr = fake([1, 2]);
    const d = Tensor.fromDevice(arr, store, [2]).detach();
    assert.equal(d.device, arr);
    assert.equal(d.store, store);
  });

  test("a device array of the wrong length is a ShapeError", () => {
    assert.throws(() => Tensor.fromDevice(fake([1, 2, 3]), new FakeStore(), [2, 2]), ShapeError);
  });
});
