/**
 * Scoring an image classifier on a device (`scoreImagesAsync`, the validation of `qkv classify
 * train` when its model is on a device), on the host-memory device backend
 * (test/backend/host-device.ts): the same predictions, per-class counts and accuracy as
 * `scoreImages` on the host with the same parameters, the mean loss within float32's error, and
 * nothing read back but each batch's summed loss and predicted classes (one batched read a batch;
 * no parameter). The training run's validation on the device: device-apps-more.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { scoreImages, scoreImagesAsync } from "../../src/apps/classify/evaluate.js";
import type { ImageSet } from "../../src/apps/classify/datasets.js";
import { isGradEnabled } from "../../src/autograd/graph.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { Generator, manualSeed } from "../../src/tensor/rng.js";
import { deviceTestEnv, U } from "../backend/device-helpers.js";

const { host, dev, watchReads } = deviceTestEnv();

/** `n` images of noise with labels 0-9 in turn. */
function noiseImages(n: number): ImageSet {
  const u = new Float32Array(n * 784);
  new Generator(2).fillUniform(u);
  return { images: Uint8Array.from(u, (x) => Math.floor(255 * x)), labels: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n, height: 28, width: 28 };
}

describe("scoreImagesAsync: a classifier on a device scored there", () => {
  test("the host scores with the same parameters; one batched read of loss and predictions per batch", async (t) => {
    manualSeed(3);
    const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 16, depth: 1, heads: 2, stem: null });
    const set = noiseImages(20), norm = { mean: 0.5, std: 0.3 };
    const want = scoreImages(model, set, norm, { batchSize: 8 });
    const batched = dev.batchedReads;
    const done: number[] = [];
    const { result: got, lengths, single } = await watchReads(async () => {
      model.toDevice(dev);
      return scoreImagesAsync(model, set, norm, { batchSize: 8, onBatch: (d) => done.push(d) });
    });
    assert.equal(model.parameters()[0]!.onDevice, true);
    assert.equal(model.training, true, "train mode restored");
    assert.equal(isGradEnabled(), true, "recording restored");
    assert.deepEqual(done, [8, 16, 20]);
    // batches of 8, 8 and 4: each its summed loss [] and its predicted classes [n], nothing else
    assert.deepEqual(lengths, [[1, 8], [1, 8], [1, 4]], "batched reads");
    assert.equal(dev.batchedReads - batched, 3);
    assert.equal(single, 0, "single reads");
    assert.ok(new Set(want.predictions).size > 1, `predictions that tell the images apart: ${want.predictions.join(",")}`);
    assert.deepEqual(got.predictions, want.predictions);
    assert.deepEqual(got.perClass, want.perClass);
    assert.deepEqual([got.correct, got.total, got.accuracy], [want.correct, want.total, want.accuracy]);
    // the loss: float32 sums through the model (patches of 49, dim 16, MLP 32, 17 tokens, 10 classes) and over the batch's 8 images
    const K = 49 + 2 * 16 + 32 + 17 + 10 + 8;
    assert.ok(Math.abs(got.loss - want.loss) <= 10 * K * U * want.loss, `loss: device ${got.loss}, host ${want.loss}`);
    t.diagnostic(`on ${host.name}: accuracy ${got.accuracy}% on both, loss difference ${Math.abs(got.loss - want.loss).toExponential(2)}`);
  });
});
