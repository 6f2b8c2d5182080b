/**
 * The WebGPU backend: a device, a buffer pool, the kernels of the Backend interface over device
 * arrays (WebGPUKernels) and the Backend over them (WebGPUBackend), chosen with `useWebGPU()`.
 *
 * ```ts
 * import { useWebGPU } from "./backend/webgpu/index.js";
 * const be = await useWebGPU();
 * ```
 */
export { WebGPUKernels } from "./kernels.js";
export { WebGPUBackend } from "./backend.js";
export { useWebGPU, type UseWebGPUOptions } from "./use.js";
export type { GpuArray, KernelContext } from "./context.js";
export type { GemmOptions, GemmPrecision, GemmVariant } from "./matmul.js";
export type { GpuAttentionArgs } from "./attention.js";
export { requestGpuDevice, navigatorGpu, type GpuDevice } from "./device.js";
export { BufferPool, sizeClass } from "./pool.js";
export { compileShader } from "./shader.js";
export { GpuTimer } from "./timer.js";
export { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, ShaderCompileError, WebGPUUnavailableError,
  WebGPUUnsupportedError } from "./errors.js";
