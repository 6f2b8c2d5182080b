/**
 * The page of test/browser/webgpu-parity.test.ts (bundled by esbuild, opened in headless Chromium
 * on SwiftShader): runs PyTorch parity fixture files, handed in by the test, on the webgpu backend
 * with tools/parity's runner (inputs, parameters and modules on the device, outputs and gradients
 * read back), and returns each family's outcomes.
 */
import type { AnyBackend } from "../../src/backend/backend.js";
import { useWebGPU } from "../../src/backend/webgpu/use.js";
import type { FxFile } from "../../tools/parity/fixture.js";
import { runFixtureFiles, type FamilyReport } from "../../tools/parity/run-files.js";

export interface ParityApi {
  /** The reports of `files` run on the webgpu backend. */
  run(files: { file: string; fx: FxFile }[]): Promise<{ backend: string; reports: FamilyReport[] }>;
}

let gpu: AnyBackend;
const api: ParityApi = {
  async run(files) {
    return { backend: gpu.name, reports: await runFixtureFiles(files, gpu) };
  },
};

void (async () => {
  const body = (globalThis as { document?: { body: { dataset: Record<string, string> } } }).document!.body;
  try {
    gpu = await useWebGPU();
    if (gpu.name !== "webgpu") throw new Error(`useWebGPU kept ${gpu.name}`);
    (globalThis as Record<string, unknown>).qkvParity = api;
  } catch (e) {
    body.dataset.error = String(e);
  }
  body.dataset.ready = "1";
})();
