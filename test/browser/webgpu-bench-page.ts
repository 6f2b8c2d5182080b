/**
 * The page of `npm run bench -- webgpu --browser` (bundled and opened by webgpu-harness.ts): a
 * device from navigator.gpu, and `window.qkvWebgpuBench.run(config)` running webgpu-bench.ts's
 * measurement on it (progress lines go to the console).
 */
import { runBench, type BenchConfig, type BenchResult } from "./webgpu-bench.js";
import { startPage } from "./webgpu-page-setup.js";

export interface BenchPageApi {
  run(config: BenchConfig): Promise<BenchResult>;
}

void startPage("qkvWebgpuBench", (k): BenchPageApi => ({ run: (config) => runBench(k, config, (line) => console.log(line)) }));
