/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node through the optional `webgpu` package (Dawn's dawn.node, prebuilt in the npm
 * tarball; `npm install webgpu`): a `GPU` object, and a device from it, or a
 * WebGPUUnavailableError that names what is missing (the package, the Vulkan loader, a driver).
 * Node only, and never imported by src/index.ts: the package is loaded by `import()` when asked for.
 *
 * dawn.node's WebGPU classes and constants (GPUBufferUsage, GPUMapMode, ...) are put on globalThis
 * where they are not there yet, as the kernels use them the way a browser provides them. Its
 * timestamp quantization is turned off (GpuTimer reads nanoseconds, not 65 us steps). The device
 * holds the GPU object (GpuDevice.source): dawn.node tears its instance down when that object is
 * collected, and a device still in use then aborts the process.
 *
 * ```ts
 * import { requestNodeGpuDevice } from "./backend/webgpu/node-gpu.js";
 * const kernels = new WebGPUKernels(await requestNodeGpuDevice()); // or WebGPUUnavailableError
 * ```
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { requestGpuDevice, type GpuDevice } from "./device.js";
import { WebGPUUnavailableError } from "./errors.js";

export interface NodeGpuOptions {
  /** Where the package is: "webgpu" (default, from node_modules) or a path to its folder or index.js. */
  module?: string;
  /** dawn.node's options for create() (README of the webgpu package), after the default that turns timestamp quantization off. */
  flags?: readonly string[];
  powerPreference?: GPUPowerPreference;
}

const DEFAULT_FLAGS = ["disable-dawn-features=timestamp_quantization"];

interface DawnNode {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

const isDawnNode = (m: unknown): m is DawnNode =>
  typeof m === "object" && m !== null && typeof (m as { create?: unknown }).create === "function";

/** The specifier to import: a bare package name as it is, a path as a file URL. */
function specifierOf(module: string): string {
  if (!/[\\/]/.test(module) || module.startsWith("file:")) return module;
  const path = resolve(module);
  return pathToFileURL(/\.[cm]?js$/.test(path) ? path : `${path}/index.js`).href;
}

/** dawn.node's `GPU` object (create(flags)), its globals installed; throws WebGPUUnavailableError. */
export async function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  const op = "nodeGpu", module = options.module ?? "webgpu";
  let mod: unknown;
  try {
    mod = await import(specifierOf(module));
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === "ERR_MODULE_NOT_FOUND") {
      throw new WebGPUUnavailableError(op, "webgpu", "the optional webgpu package (npm install webgpu)", `not installed (${module} not found)`);
    }
    // the package is there but its dawn.node did not load (no build for this platform, a missing system library)
    throw new WebGPUUnavailableError(op, "webgpu", "a dawn.node that loads", `an error: ${(err.message ?? String(e)).split("\n")[0]}`);
  }
  if (!isDawnNode(mod)) throw new WebGPUUnavailableError(op, "webgpu", "a module with create() and globals", `${module} without them`);
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(mod.globals)) if (!(name in g)) g[name] = value;
  try {
    return mod.create([...DEFAULT_FLAGS, ...(options.flags ?? [])]);
  } catch (e) {
    throw new WebGPUUnavailableError(op, "create()", "a GPU object", `an error: ${String(e)}`);
  }
}

/**
 * Whether the Vulkan loader loads here (Linux): dlopen as Dawn does; a library that is found but
 * is not a Node addon fails later, with "did not self-register", which means it was found.
 */
function vulkanLoader(): string | null {
  try {
    process.dlopen({ exports: {} }, "libvulkan.so.1");
    return null;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return /did not self-register/.test(message) ? null : message;
  }
}

/**
 * A device from dawn.node (requestGpuDevice's limits and features). No adapter on Linux is
 * explained: the Vulkan loader missing, or no Vulkan driver answering.
 */
export async function requestNodeGpuDevice(options: NodeGpuOptions = {}): Promise<GpuDevice> {
  const gpu = await nodeGpu(options);
  try {
    return await requestGpuDevice(gpu, options.powerPreference ? { powerPreference: options.powerPreference } : {});
  } catch (e) {
    if (!(e instanceof WebGPUUnavailableError) || e.arg !== "requestAdapter()" || process.platform !== "linux") throw e;
    const op = "requestNodeGpuDevice";
    const loader = vulkanLoader();
    if (loader) {
      throw new WebGPUUnavailableError(op, "libvulkan.so.1", "the Vulkan loader (Debian / Ubuntu: apt-get install libvulkan1)", `not found (${loader})`);
    }
    throw new WebGPUUnavailableError(op, "requestAdapter()", "a GPUAdapter",
      "null: the Vulkan loader loads but no driver gave an adapter (no GPU, or its ICD not found: VK_DRIVER_FILES / VK_ICD_FILENAMES name the driver's icd.json)");
  }
}
