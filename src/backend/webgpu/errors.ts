/**
 * Typed errors of the WebGPU kernel layer, in the style of tensor/errors.ts: each names the
 * function (`op`), what it was given (`arg`), what was expected and what came.
 *
 * ```ts
 * try { await requestGpuDevice(navigator.gpu) } catch (e) { if (e instanceof WebGPUUnavailableError) useCpu() }
 * ```
 */
import { QkvError } from "../../tensor/errors.js";

/** No `navigator.gpu`, or the GPU object gave no adapter / no device. */
export class WebGPUUnavailableError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "WebGPUUnavailableError";
}

/** The device was lost (or destroyed); `reason` and `detail` are the GPUDeviceLostInfo's. */
export class DeviceLostError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "DeviceLostError";
  constructor(op: string, readonly reason: string, readonly detail: string) {
    super(op, "device", "a live GPUDevice", `lost (${reason}${detail ? `: ${detail}` : ""})`);
  }
}

/** An allocation failed: over the device's buffer size limit, or an out-of-memory error scope fired. */
export class GpuOutOfMemoryError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "GpuOutOfMemoryError";
  constructor(op: string, readonly bytes: number, detail: string) {
    super(op, "bytes", "an allocation the device can hold", `${bytes} bytes (${detail})`);
  }
}

/** A WGSL kernel failed to compile; `lines` are the compiler's messages as `line:col: text`. */
export class ShaderCompileError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "ShaderCompileError";
  constructor(readonly kernel: string, readonly lines: string[]) {
    super("compileShader", kernel, "WGSL that compiles", `${lines.length} error(s)`,
      `compileShader: kernel ${kernel} failed to compile:\n${lines.join("\n")}`);
  }
}

/** A kernel argument the WebGPU kernels do not support yet (attention dropout, head dims too large). */
export class WebGPUUnsupportedError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "WebGPUUnsupportedError";
}

/** WebGPU reported a validation error (a kernel recorded something the device refused). */
export class GpuValidationError extends QkvError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "GpuValidationError";
}

/**
 * The GPU could not go on after it started: it was lost, ran out of memory, refused a kernel
 * (compiler) or met a limit it cannot (WebGPUUnsupportedError: workgroup memory, dispatch size,
 * binding size). The work can run again on the CPU; the CLI and the playground do.
 */
export function isGpuFailure(e: unknown): e is DeviceLostError | GpuOutOfMemoryError | ShaderCompileError | WebGPUUnsupportedError {
  return e instanceof DeviceLostError || e instanceof GpuOutOfMemoryError || e instanceof ShaderCompileError || e instanceof WebGPUUnsupportedError;
}
