/// <reference types="@webgpu/types" />
/**
 * Obtaining a GPUDevice: from `navigator.gpu` in a browser, or from any `GPU` object the caller
 * passes (in Node, the `webgpu` package's: node-gpu.ts). The device asks for the adapter's own
 * limits on buffer and workgroup-memory sizes (the defaults are far below what adapters offer) and
 * for the `subgroups`, `shader-f16` and `timestamp-query` features when the adapter has them. The
 * GpuDevice holds the GPU object it came from: dawn.node tears its instance down when that object
 * is collected, and a device still in use then takes the process down with it.
 *
 * ```ts
 * const gpu = await requestGpuDevice(navigator.gpu);
 * gpu.features.subgroups; // true on SwiftShader and most GPUs
 * ```
 */
import { WebGPUUnavailableError } from "./errors.js";

/** A device with what the kernels need to know about it. */
export interface GpuDevice {
  device: GPUDevice;
  /** The adapter's vendor and architecture ("google", "swiftshader" on SwiftShader) and description. */
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU implementation (SwiftShader, lavapipe): right answers, no GPU's speed. */
  cpu: boolean;
  features: { subgroups: boolean; shaderF16: boolean; timestampQuery: boolean };
  /** The adapter's subgroup sizes (4 .. 128 lanes; 4 .. 128 where it does not say) with the subgroups feature, else null. */
  subgroupSizes: { min: number; max: number } | null;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxStorageBuffersPerShaderStage: number;
    minStorageBufferOffsetAlignment: number;
    minUniformBufferOffsetAlignment: number;
    maxComputeWorkgroupsPerDimension: number;
  };
  /** The GPU object the device came from, held as long as the device is (see the file comment). */
  readonly source: unknown;
}

/** The limits taken at the adapter's value instead of WebGPU's defaults. */
const RAISED = ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage"] as const;

/** `navigator.gpu` where it exists (a secure browser context), else undefined. */
export function navigatorGpu(): GPU | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu;
}

/**
 * A device from `gpu` (default: `navigator.gpu`) with the adapter's limits and features.
 * Throws WebGPUUnavailableError when there is no GPU object, no adapter or no device.
 */
export async function requestGpuDevice(gpu: Pick<GPU, "requestAdapter"> | null | undefined = navigatorGpu(),
  options: { powerPreference?: GPUPowerPreference } = {}): Promise<GpuDevice> {
  const op = "requestGpuDevice";
  if (!gpu) throw new WebGPUUnavailableError(op, "gpu", "a GPU object (navigator.gpu)", "none (no WebGPU here, or not a secure context)");
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  if (!adapter) throw new WebGPUUnavailableError(op, "requestAdapter()", "a GPUAdapter", "null (no adapter)");
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = [];
  const subgroups = adapter.features.has("subgroups"), shaderF16 = adapter.features.has("shader-f16");
  const timestampQuery = adapter.features.has("timestamp-query");
  if (subgroups) requiredFeatures.push("subgroups" as GPUFeatureName);
  if (shaderF16) requiredFeatures.push("shader-f16");
  if (timestampQuery) requiredFeatures.push("timestamp-query");
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGPUUnavailableError(op, "requestDevice()", "a GPUDevice", `an error: ${String(e)}`);
  }
  // GPUAdapter.info (newer than these type declarations, which have requestAdapterInfo())
  const info = (adapter as { info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean;
    subgroupMinSize?: number; subgroupMaxSize?: number; } }).info;
  const vendor = info?.vendor ?? "", architecture = info?.architecture ?? "", description = info?.description ?? "";
  const cpu = info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true
    || /swiftshader|llvmpipe|lavapipe/i.test(`${architecture} ${description}`);
  const l = device.limits;
  return {
    device,
    vendor,
    architecture,
    description,
    cpu,
    features: { subgroups, shaderF16, timestampQuery },
    subgroupSizes: subgroups ? { min: info?.subgroupMinSize || 4, max: info?.subgroupMaxSize || 128 } : null,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
    source: gpu,
  };
}
