/**
 * The PyTorch parity fixtures (test/fixtures/pytorch) on the webgpu backend in headless Chromium
 * on SwiftShader: every case of every family runs with its inputs, parameters and modules on the
 * device (webgpu-parity-page.ts, tools/parity's runner) and must pass with the fixture's own
 * tolerance, as on the CPU backends. Skipped without a Chromium binary, and run in one backend's
 * pass only (as webgpu.test.ts); QKV_WEBGPU_PARITY=1 runs it in any pass.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { availableBackends } from "../../src/backend/registry.js";
import type { FxFile } from "../../tools/parity/fixture.js";
import { findChromium } from "../../tools/playground/site.js";
import { checkPageShaders } from "../backend/naga.js";
import { openWebgpuPage, type WebgpuPage } from "./webgpu-harness.js";
import type { ParityApi } from "./webgpu-parity-page.js";

const chromium = findChromium();
const pass = availableBackends().includes("wasm") ? "wasm" : availableBackends()[0];
const mine = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === pass || process.env.QKV_WEBGPU_PARITY === "1";
const skip = !chromium ? "no Chromium binary found (install Debian's chromium package or set QKV_CHROMIUM)"
  : !mine ? `the WebGPU browser tests run in the ${pass} backend's pass only` : false;

const dir = new URL("../fixtures/pytorch/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort()
  .map((file) => ({ file, fx: JSON.parse(readFileSync(new URL(file, dir), "utf8")) as FxFile }));

type Api = { qkvParity?: ParityApi };

describe("PyTorch parity fixtures on webgpu in Chromium on SwiftShader", { skip }, () => {
  let opened: WebgpuPage;
  before(async () => {
    opened = await openWebgpuPage(chromium!, new URL("./webgpu-parity-page.ts", import.meta.url));
  });
  after(async () => {
    await opened?.close();
  });

  for (const { file, fx } of files) {
    test(`${fx.family}: every case passes on webgpu`, async () => {
      const r = await opened.page.evaluate((f) => (globalThis as Api).qkvParity!.run(f), [{ file, fx }]);
      assert.equal(r.backend, "webgpu");
      const [report] = r.reports;
      assert.ok(report && !report.skipped && report.cases.length === fx.cases.length, `${fx.family}: ran ${report?.cases.length ?? 0} of ${fx.cases.length} cases`);
      const failed = report.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join("; ").split("\n")[0]!.slice(0, 400)}`);
      assert.deepEqual(failed, []);
      assert.deepEqual(opened.errors, []);
    });
  }

  test("every shader the fixtures made is valid WGSL to naga too (wgpu's and Firefox's compiler)", (t) => checkPageShaders(t, opened, 40));
});
