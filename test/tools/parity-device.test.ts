/**
 * The PyTorch parity fixtures on a device backend, in Node without a GPU: the host-device backend
 * (test/backend/host-device.ts) keeps "device" arrays in host memory behind the js kernels, so
 * every op's device path (uploads, device outputs, device gradients, modules moved with
 * toDevice, loadStateDict into device parameters, optimizers stepping device parameters) runs
 * and is compared with PyTorch's numbers. The WGSL kernels' own numbers are checked in the
 * browser (test/browser/webgpu-parity.test.ts).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { runFixtureDir } from "../../tools/parity/run.js";
import { hostDevice } from "../backend/host-device.js";

const fixtures = new URL("../fixtures/pytorch/", import.meta.url).pathname;
const host = getBackend();
after(() => setBackend(host.name));

describe("PyTorch parity fixtures on a device backend (host memory)", () => {
  test("every case of every family passes, reading outputs and gradients back from the device", async () => {
    const dev = hostDevice();
    registerBackend(dev, true);
    try {
      const reports = await runFixtureDir(fixtures, undefined, dev);
      assert.ok(reports.length >= 13);
      const failed = reports.flatMap((r) => r.cases.filter((c) => !c.ok).map((c) => `${r.family}/${c.name}: ${c.problems.join("; ").slice(0, 300)}`));
      assert.deepEqual(failed, []);
      assert.ok(dev.reads > 0, "the outputs were read back from the device");
    } finally {
      setBackend(host.name);
    }
  });
});
