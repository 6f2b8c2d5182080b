/// <reference types="@webgpu/types" />
/**
 * Choosing the webgpu backend: `await useWebGPU()` gets a device from `navigator.gpu` (or the GPU
 * object given), registers the backend and makes it active. When WebGPU cannot start (no GPU
 * object, no adapter, no device) it prints one notice (once per page or process) and keeps the
 * active host backend, which it returns; other failures are thrown.
 *
 * ```ts
 * const be = await useWebGPU();           // webgpu, or the best CPU backend with a notice
 * for (const p of model.parameters()) toDevice(p, be);
 * ```
 */
import type { AnyBackend } from "../backend.js";
import { getBackend, registerBackend, registeredBackend } from "../registry.js";
import { WebGPUBackend } from "./backend.js";
import type { GpuDevice } from "./device.js";
import { WebGPUUnavailableError } from "./errors.js";
import { WebGPUKernels } from "./kernels.js";
import type { GemmPrecision } from "./matmul.js";

let noticed = false;

export interface UseWebGPUOptions {
  /** The GPU object (default navigator.gpu; in Node, node-gpu.ts's). */
  gpu?: Pick<GPU, "requestAdapter"> | null;
  /** No notice when falling back. */
  quiet?: boolean;
  /**
   * Makes the device instead of `gpu` (Node: `() => requestNodeGpuDevice()` of node-gpu.ts, which
   * says which of the package, the Vulkan loader or an adapter is missing); its
   * WebGPUUnavailableError falls back as any other.
   */
  device?: () => Promise<GpuDevice>;
  /**
   * matmul's precision: "fp32" (default) or "fp16", f16 operand tiles with f32 sums (error about
   * 3 * 2^-11 of sum |a b|: matmul.ts); "fp16" throws WebGPUUnsupportedError where the device lacks
   * shader-f16.
   */
  matmulPrecision?: GemmPrecision;
}

/** Registers and activates the webgpu backend (once; later calls reuse it), or keeps the host backend with one notice. */
export async function useWebGPU(opts: UseWebGPUOptions = {}): Promise<AnyBackend> {
  const have = registeredBackend("webgpu");
  if (have) {
    if (opts.matmulPrecision && have instanceof WebGPUBackend) have.kernels.setMatmulPrecision(opts.matmulPrecision);
    registerBackend(have, true);
    return have;
  }
  try {
    const be = opts.device ? new WebGPUBackend(new WebGPUKernels(await opts.device())) : await WebGPUBackend.create(opts.gpu);
    if (opts.matmulPrecision) be.kernels.setMatmulPrecision(opts.matmulPrecision);
    registerBackend(be, true);
    return be;
  } catch (e) {
    if (!(e instanceof WebGPUUnavailableError)) throw e;
    const keep = getBackend();
    if (!opts.quiet && !noticed) {
      noticed = true;
      console.warn(`qkv: WebGPU is not available (${e.message}); keeping the ${keep.name} backend`);
    }
    return keep;
  }
}
