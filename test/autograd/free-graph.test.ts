/**
 * freeGraph (autograd/free-graph.ts): a step's intermediate buffers go back to the pool after the
 * update; the same training gives the same bits, freed tensors throw a typed error, and nothing
 * shared with the world outside the graph is ever freed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AdamW, FreedTensorError, Generator, Linear, TransformerEncoderLayer, ValueError, backward, crossEntropy, fit, freeGraph, matmul, mul,
  noGrad, poolBytes, randint, randn, reshape, setBufferPool, sum, tanh, type Tensor,
} from "../../src/index.js";
import { releaseTemporary } from "../../src/autograd/free-graph.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { DEFAULT_MAX_BYTES, clearPool, newFloat32, recycleBuffer, takeFloat32 } from "../../src/tensor/pool.js";

/** Drains the pool, scribbling over every buffer that comes out. */
function scribble(n: number): void {
  for (let b = takeFloat32(n); b !== null; b = takeFloat32(n)) b.fill(12345);
}

async function train(free: boolean): Promise<number[]> {
  const layer = new TransformerEncoderLayer(32, 4, { dimFeedforward: 64, dropout: 0, batchFirst: true, normFirst: true });
  const head = new Linear(32, 5);
  const g = new Generator(2);
  for (const p of [...layer.parameters(), ...head.parameters()]) noGrad(() => p.data.set(randn(p.shape, { generator: g }).data.map((v) => v * 0.1)));
  const params = [...layer.parameters(), ...head.parameters()];
  const model = { parameters: () => params };
  const optimizer = new AdamW(params, { lr: 1e-2 });
  const x = randn([4, 24, 32], { generator: new Generator(3) });
  const y = randint(0, 5, [4 * 24], { generator: new Generator(4) });
  const { losses } = await fit({
    model: layer, optimizer, steps: 6, batches: () => x, freeGraph: free,
    trainStep: (b) => crossEntropy(reshape(head.forward(layer.forward(b)), [-1, 5]), y),
  });
  void model;
  return losses;
}

describe("freeGraph", () => {
  test("training with the graph freed after every update gives the same losses, bit for bit", async () => {
    const kept = await train(false);
    const freed = await train(true);
    assert.deepEqual(freed, kept);
  });

  test("a freed intermediate throws FreedTensorError; the loss, leaves and parameters stay", () => {
    const w = randn([40, 40], { requiresGrad: true, generator: new Generator(5) });
    const x = randn([40, 40], { generator: new Generator(6) });
    const h = tanh(matmul(x, w));
    const loss = sum(mul(h, h));
    backward(loss);
    const value = loss.item(), wCopy = Array.from(w.data), xCopy = Array.from(x.data), gCopy = Array.from(w.grad!.data);
    assert.ok(freeGraph(loss) >= 2 * 40 * 40 * 4);
    scribble(1600);
    assert.throws(() => h.data, (e: unknown) => e instanceof FreedTensorError && e.message.startsWith("Tensor.data: tensor expected a tensor whose data is still held, got Tensor(float32, [40, 40])"));
    assert.throws(() => sum(h), FreedTensorError);
    assert.equal(loss.item(), value);
    assert.deepEqual(Array.from(w.data), wCopy);
    assert.deepEqual(Array.from(x.data), xCopy);
    assert.deepEqual(Array.from(w.grad!.data), gCopy);
    // backward through the freed graph again is the typed error, not garbage
    assert.throws(() => backward(loss), FreedTensorError);
  });

  test("intermediates shared outside the graph are kept: detached, viewed with recording off, or a view the loss does not use", () => {
    const w = randn([32, 64], { requiresGrad: true, generator: new Generator(7) });
    const x = randn([32, 32], { generator: new Generator(8) });
    const a = tanh(matmul(x, w)), b = mul(matmul(x, w), 2), c = tanh(mul(matmul(x, w), 3));
    const kept = a.detach();
    const quiet = noGrad(() => reshape(b, [64, 32]));
    const side = reshape(c, [16, 128]); // recorded, but not on the loss's path
    const copies = [Array.from(kept.data), Array.from(quiet.data), Array.from(side.data)];
    const loss = sum(mul(mul(a, b), c));
    backward(loss);
    freeGraph(loss);
    scribble(32 * 64);
    assert.deepEqual([Array.from(kept.data), Array.from(quiet.data), Array.from(side.data)], copies);
    assert.deepEqual(Array.from(a.data), copies[0]);
  });

  test("parameters used through a view (reshape of a weight) are never freed", () => {
    const w = randn([64, 32], { requiresGrad: true, generator: new Generator(9) });
    const copy = Array.from(w.data);
    const wr: Tensor = reshape(w, [32, 64]);
    const loss = sum(tanh(matmul(randn([8, 32], { generator: new Generator(10) }), wr)));
    backward(loss);
    freeGraph(loss);
    scribble(2048);
    assert.deepEqual(Array.from(w.data), copy);
    assert.deepEqual(Array.from(wr.data), copy);
  });
});

describe("the pool's cap", () => {
  /** Frees the graph of one step over two [40, 40] weights (two buffers of 6,400 bytes and more). */
  function step(): void {
    const w = randn([40, 40], { requiresGrad: true, generator: new Generator(11) });
    const h = tanh(matmul(randn([40, 40], { generator: new Generator(13) }), w));
    const loss = sum(mul(h, h));
    backward(loss);
    freeGraph(loss);
  }

  test("a buffer given back twice is pooled once, and taken once", () => {
    clearPool();
    const a = newFloat32(5000); // a size no other test uses
    recycleBuffer(a.buffer as ArrayBuffer);
    const held = poolBytes();
    recycleBuffer(a.buffer as ArrayBuffer);
    assert.equal(poolBytes(), held);
    assert.ok(held >= 5000 * 4);
    assert.equal(takeFloat32(5000)?.buffer, a.buffer);
    assert.equal(takeFloat32(5000), null);
    recycleBuffer(a.buffer as ArrayBuffer); // back again after being taken: pooled again
    assert.equal(takeFloat32(5000)?.buffer, a.buffer);
  });

  test("the pool holds at most maxBytes; lowering it drops what is past the cap; a bad cap is a ValueError", () => {
    try {
      setBufferPool(true, { maxBytes: 0 });
      step();
      assert.equal(poolBytes(), 0);
      setBufferPool(true, { maxBytes: 8192 });
      step();
      assert.ok(poolBytes() > 0 && poolBytes() <= 8192, `pool ${poolBytes()}`);
      setBufferPool(true, { maxBytes: 2 ** 30 });
      step();
      step();
      const held = poolBytes();
      assert.ok(held > 8192, `pool ${held}`);
      setBufferPool(true, { maxBytes: 8192 });
      assert.ok(poolBytes() <= 8192, `pool ${poolBytes()} after lowering the cap`);
      assert.throws(() => setBufferPool(true, { maxBytes: -1 }), ValueError);
      assert.throws(() => setBufferPool(true, { maxBytes: 1.5 }), ValueError);
      assert.throws(() => setBufferPool("yes" as unknown as boolean), ValueError);
    } finally {
      setBufferPool(true, { maxBytes: DEFAULT_MAX_BYTES });
    }
  });
});

describe("releaseTemporary", () => {
  test("an unrecorded temporary's buffer goes back to the pool; reading it afterwards throws", () => {
    clearPool();
    const t = noGrad(() => tanh(randn([64, 32], { generator: new Generator(5) })));
    const buf = (t.data as Float32Array).buffer;
    assert.equal(releaseTemporary(t), true);
    assert.throws(() => t.data, FreedTensorError);
    assert.equal(takeFloat32(64 * 32)?.buffer, buf, "the next allocation of its size takes the buffer");
  });

  test("nothing that is recorded, shared, small or a leaf is released", () => {
    const x = randn([64, 32], { generator: new Generator(6) }).requiresGrad_(true);
    const recorded = tanh(x);
    assert.equal(releaseTemporary(recorded), false, "a node of a graph");
    assert.equal(releaseTemporary(x), false, "a leaf that requires grad");
    const shared = noGrad(() => tanh(randn([64, 32])));
    const view = reshape(shared, [32, 64]);
    assert.equal(releaseTemporary(shared), false, "its buffer has a view");
    assert.equal(view.data.length, 2048);
    assert.equal(releaseTemporary(noGrad(() => tanh(randn([3, 4])))), false, "too small for the pool");
  });

  test("MultiheadAttention's inference forward gives its intermediates back and the same output every call; training still differentiates", () => {
    const mha = new MultiheadAttention(64, 4, { batchFirst: true, generator: new Generator(7) }).eval();
    const x = randn([2, 20, 64], { generator: new Generator(8) });
    clearPool();
    const first = Array.from(noGrad(() => mha.forward(x, x, x, { needWeights: false }).output).data);
    assert.ok(poolBytes() > 0, "the projection and the attention output went back to the pool");
    for (let i = 0; i < 3; i++) assert.deepEqual(Array.from(noGrad(() => mha.forward(x, x, x, { needWeights: false }).output).data), first);
    const xg = x.clone().requiresGrad_(true);
    const y = mha.forward(xg, xg, xg, { needWeights: false }).output;
    assert.deepEqual(Array.from(y.data), first);
    backward(sum(y));
    assert.ok(xg.grad && Array.from(xg.grad.data).some((v) => v !== 0));
  });
});
