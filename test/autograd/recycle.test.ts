/**
 * The buffer pool and the engine's recycling of gradient temporaries (tensor/pool.ts,
 * autograd/recycle.ts): recycled buffers never hold anything still in use, and outputs allocated
 * without zero-filling are written in full by their kernels (poisoned with NaN here).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  add, backward, clearPool, crossEntropy, matmul, mul, poolBytes, randint, randn, reshape, setBufferPool, slice, sum, tanh,
  Generator, manualSeed, type Tensor, TransformerEncoderLayer, VisionTransformer,
} from "../../src/index.js";
import { poisonUninitialized, sizeClass, takeFloat32 } from "../../src/tensor/pool.js";
import { allocate } from "../../src/tensor/dtype.js";

after(() => {
  poisonUninitialized(false);
  setBufferPool(true);
});

/** Every gradient of a model's parameters after one loss.backward(), as plain arrays. */
function grads(params: Tensor[]): number[][] {
  return params.map((p) => Array.from(p.grad!.data));
}

function encoderGrads(): { out: number[]; g: number[][] } {
  manualSeed(3);
  const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, dropout: 0, batchFirst: true, normFirst: true });
  const x = randn([4, 40, 32]);
  const y = layer.forward(x);
  backward(sum(mul(y, y)));
  return { out: Array.from(y.data), g: grads(layer.parameters()) };
}

function vitGrads(): number[][] {
  const vit = new VisionTransformer({ imageSize: [16, 16], patchSize: 4, inChannels: 1, numClasses: 10, dim: 32, depth: 2, heads: 4 },
    { generator: new Generator(5) });
  const x = randn([8, 1, 16, 16], { generator: new Generator(6) });
  const y = randint(0, 10, [8], { generator: new Generator(7) });
  backward(crossEntropy(vit.forward(x), y));
  return grads(vit.parameters());
}

describe("buffer pool and gradient recycling", () => {
  test("a transformer layer's gradients are the same bits with the pool off, fresh, warm and poisoned", () => {
    setBufferPool(false);
    const ref = encoderGrads();
    setBufferPool(true);
    clearPool();
    const fresh = encoderGrads();
    assert.ok(poolBytes() > 0, "backward gave gradient temporaries back to the pool");
    const warm = encoderGrads();
    poisonUninitialized(true);
    const poisoned = encoderGrads();
    poisonUninitialized(false);
    for (const run of [fresh, warm, poisoned]) {
      assert.deepEqual(run.out, ref.out);
      assert.deepEqual(run.g, ref.g);
    }
  });

  test("a ViT's gradients are the same bits with the pool off and with it warm and poisoned", () => {
    setBufferPool(false);
    const ref = vitGrads();
    setBufferPool(true);
    vitGrads();
    poisonUninitialized(true);
    const poisoned = vitGrads();
    poisonUninitialized(false);
    assert.deepEqual(poisoned, ref);
  });

  test("a gradient an op hands to two inputs stays intact until both have used it", () => {
    const run = (): number[][] => {
      const a = randn([64, 64], { requiresGrad: true, generator: new Generator(1) });
      const b = randn([64, 64], { requiresGrad: true, generator: new Generator(2) });
      // add passes its gradient to both branches; the first branch's backward allocates (and recycles) a lot
      const s = add(tanh(matmul(tanh(matmul(a, a)), a)), mul(b, 2));
      backward(sum(mul(s, s)));
      return [Array.from(a.grad!.data), Array.from(b.grad!.data)];
    };
    setBufferPool(false);
    const ref = run();
    setBufferPool(true);
    run();
    assert.deepEqual(run(), ref);
  });

  test("views of a gradient (reshape, contiguous slices) keep their buffer alive", () => {
    const run = (): number[] => {
      const x = randn([32, 128], { requiresGrad: true, generator: new Generator(4) });
      const y = tanh(x);
      const top = slice(reshape(y, [4, 8, 128]), 0, 0, 2), bottom = slice(reshape(y, [4, 8, 128]), 0, 2, 4);
      backward(add(sum(mul(top, top)), sum(mul(tanh(bottom), 3))));
      return Array.from(x.grad!.data);
    };
    setBufferPool(false);
    const ref = run();
    setBufferPool(true);
    run();
    assert.deepEqual(run(), ref);
  });

  test("leaf gradients, held outputs and parameters are never recycled", () => {
    const w = randn([48, 48], { requiresGrad: true, generator: new Generator(8) });
    const h = tanh(matmul(w, w));
    backward(sum(mul(h, h)));
    const grad = w.grad!, gradCopy = Array.from(grad.data), hCopy = Array.from(h.data), wCopy = Array.from(w.data);
    // drain the pool of this size: whatever comes out must be none of the buffers still in use
    for (;;) {
      const b = takeFloat32(48 * 48);
      if (b === null) break;
      assert.notEqual(b.buffer, grad.data.buffer);
      assert.notEqual(b.buffer, h.data.buffer);
      assert.notEqual(b.buffer, w.data.buffer);
      b.fill(NaN);
    }
    // another pass of the same sizes recycles its own temporaries only
    const v = randn([48, 48], { requiresGrad: true, generator: new Generator(9) });
    backward(sum(mul(tanh(matmul(v, v)), 2)));
    assert.deepEqual(Array.from(grad.data), gradCopy);
    assert.deepEqual(Array.from(h.data), hCopy);
    assert.deepEqual(Array.from(w.data), wCopy);
  });

  test("a gradient passed to backward() is never recycled", () => {
    const x = randn([40, 40], { requiresGrad: true, generator: new Generator(10) });
    const seed = randn([40, 40], { generator: new Generator(11) });
    const copy = Array.from(seed.data);
    backward(tanh(x), seed);
    for (let b = takeFloat32(1600); b !== null; b = takeFloat32(1600)) {
      assert.notEqual(b.buffer, seed.data.buffer);
      b.fill(NaN);
    }
    assert.deepEqual(Array.from(seed.data), copy);
  });

  test("buffers are pooled by size class: a batch of another shape reuses them, with arrays of its exact length", () => {
    assert.deepEqual([1024, 1025, 1280, 1281, 1600, 4096, 5000].map(sizeClass), [1024, 1280, 1280, 1536, 1792, 4096, 5120]);
    clearPool();
    const x = randn([40, 40], { requiresGrad: true, generator: new Generator(12) });
    backward(sum(mul(tanh(x), tanh(x))));
    const pooled = takeFloat32(1700); // 1600-element gradients went back; 1700 is in their class
    assert.ok(pooled !== null);
    assert.equal(pooled.length, 1700);
    assert.equal(pooled.buffer.byteLength, 4 * 1792);
    const fresh = allocate("float32", 1700);
    assert.equal(fresh.length, 1700);
    assert.ok(fresh.every((v) => v === 0));
  });
});
