/**
 * The page of `npm run bench -- webgpu --browser` (bundled and opened by webgpu-harness.ts): a
 * device from navigator.gpu, and `window.qkvWebgpuBench.run(config)` running webgpu-bench.ts's
 * measurement on it (progress lines go to the console).
 */
import { WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { runBench, type BenchConfig, type BenchResult } from "./webgpu-bench.js";

export interface BenchPageApi {
  run(config: BenchConfig): Promise<BenchResult>;
}

async function start(): Promise<void> {
  const body = (globalThis as { document?: { body: { dataset: Record<string, string> } } }).document!.body;
  try {
    const k = await WebGPUKernels.create();
    const api: BenchPageApi = { run: (config) => runBench(k, config, (line) => console.log(line)) };
    (globalThis as { qkvWebgpuBench?: BenchPageApi }).qkvWebgpuBench = api;
  } catch (e) {
    body.dataset.error = String(e);
  }
  body.dataset.ready = "1";
}

void start();
