/**
 * The playground's trainer (playground/src/train-core.ts) on a device, as its worker runs it when
 * "Train on the GPU" is chosen, here on the host-memory device backend (test/backend/host-device.ts):
 * `stepAsync` gives the host trainer's losses (float32 error) reading back one loss a step and no
 * parameter; `crossAttentionAsync` and `accuracyAsync` give the host trainer's results from the
 * weights read back, and leave the model on the device.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DatesTrainer } from "../../playground/src/train-core.js";
import { deviceTestEnv } from "../backend/device-helpers.js";

const { dev, on, watchReads } = deviceTestEnv();

describe("the playground's trainer on a device", () => {
  test("stepAsync: the host trainer's losses, one read of the loss a step; the attention view and accuracy as on the host", async () => {
    const host = new DatesTrainer();
    const want = [host.step(), host.step(), host.step()];
    const wantAttention = host.crossAttention("3 March 1999"), wantAccuracy = host.accuracy();
    const { result: got, lengths, single } = await watchReads(async () => {
      const t = new DatesTrainer().toDevice(dev);
      assert.equal(t.onDevice, true);
      return { t, losses: [await t.stepAsync(), await t.stepAsync(), await t.stepAsync()] };
    });
    assert.equal(single, 3, "one read a step");
    assert.deepEqual(lengths, [], "no batched read");
    assert.equal(got.t.steps, 3);
    // float32 sums in other orders through the model and three AdamW updates
    got.losses.forEach((l, i) => assert.ok(Math.abs(l - want[i]!) <= 1e-5 * want[i]!, `step ${i + 1}: ${l} vs ${want[i]}`));
    const { attention, accuracy } = await on(true, async () => ({
      attention: await got.t.crossAttentionAsync("3 March 1999"), accuracy: await got.t.accuracyAsync(),
    }));
    assert.equal(got.t.onDevice, true, "still on the device");
    assert.equal(attention.output, wantAttention.output);
    assert.deepEqual(attention.rows, wantAttention.rows);
    attention.heads.forEach((h, k) => h.forEach((w, i) => assert.ok(Math.abs(w - wantAttention.heads[k]![i]!) <= 1e-4, `head ${k}[${i}]: ${w}`)));
    assert.equal(accuracy, wantAccuracy);
    // a host trainer takes the synchronous step
    const h2 = new DatesTrainer();
    assert.equal(await h2.stepAsync(), want[0]);
  });
});
