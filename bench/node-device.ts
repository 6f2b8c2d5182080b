/**
 * The GPU device of a bench run in Node (bench/webgpu.ts, bench/demo.ts): one from dawn.node (the
 * optional `webgpu` package, at `module` when given), or the reason there is none, for the bench to
 * print before measuring nothing: no package, Vulkan loader or adapter (WebGPUUnavailableError's
 * message), or only a CPU implementation of WebGPU (SwiftShader, lavapipe) without --cpu-adapter.
 *
 * ```ts
 * const d = await benchDevice(opt("webgpu"), has("--cpu-adapter"));
 * if (typeof d === "string") console.log(`No GPU: ${d}`);
 * ```
 */
import type { GpuDevice } from "../src/backend/webgpu/device.js";
import { WebGPUUnavailableError } from "../src/backend/webgpu/index.js";
import { requestNodeGpuDevice } from "../src/backend/webgpu/node-gpu.js";

export async function benchDevice(module: string | undefined, cpuAdapter: boolean): Promise<GpuDevice | string> {
  let device: GpuDevice;
  try {
    device = await requestNodeGpuDevice({ module });
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return e.message;
    throw e;
  }
  if (device.cpu && !cpuAdapter) {
    device.device.destroy();
    return `the only adapter is ${device.description || device.architecture} (${device.vendor}), a CPU implementation of WebGPU (--cpu-adapter measures it anyway, for correctness only)`;
  }
  return device;
}

/** The adapter of `device` in one line. */
export function adapterLine(device: GpuDevice): string {
  return `adapter: vendor ${device.vendor || "?"}, architecture ${device.architecture || "?"}, description ${device.description || "?"}${device.cpu ? " (a CPU implementation of WebGPU, not a GPU)" : ""}`;
}
