/**
 * The WebGPU kernel layer: a device, a buffer pool and the kernels of the Backend interface over
 * device arrays (not yet a Backend in the registry).
 *
 * ```ts
 * import { WebGPUKernels } from "./backend/webgpu/index.js";
 * const gpu = await WebGPUKernels.create(navigator.gpu);
 * ```
 */
export { WebGPUKernels } from "./kernels.js";
export type { GpuArray, KernelContext } from "./context.js";
export type { GpuAttentionArgs } from "./attention.js";
export { requestGpuDevice, navigatorGpu, type GpuDevice } from "./device.js";
export { BufferPool, sizeClass } from "./pool.js";
export { compileShader } from "./shader.js";
export { GpuTimer } from "./timer.js";
export { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, ShaderCompileError, WebGPUUnavailableError,
  WebGPUUnsupportedError } from "./errors.js";
