/// <reference types="@webgpu/types" />
/**
 * Compiling WGSL: `compileShader` awaits the compiler's messages and throws ShaderCompileError
 * (kernel name, `line:col: message` lines); `PipelineCache` compiles synchronously, once per key,
 * and reports the check of each through `report` (a pipeline is needed when a kernel is recorded,
 * but the compiler's messages arrive asynchronously).
 *
 * ```ts
 * const module = await compileShader(device, "matmul", source); // or throws ShaderCompileError
 * ```
 */
import { explicitLayout, registerLayout } from "./bind-groups.js";
import { ShaderCompileError } from "./errors.js";

/** The error lines of a compilation, `line:col: message`. */
async function errorLines(module: GPUShaderModule): Promise<string[]> {
  const info = await module.getCompilationInfo();
  return info.messages.filter((m) => m.type === "error").map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`);
}

/** A shader module of `code`, or ShaderCompileError naming `kernel` with the compiler's error lines. */
export async function compileShader(device: GPUDevice, kernel: string, code: string): Promise<GPUShaderModule> {
  const module = device.createShaderModule({ label: kernel, code });
  const lines = await errorLines(module);
  if (lines.length) throw new ShaderCompileError(kernel, lines);
  return module;
}

/** Compute pipelines by key, entry point `main`, the bind group layout the shader declares (bind-groups.ts; else inferred). */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();
  /** Milliseconds spent making pipelines (source, shader module, pipeline): the compilation a run pays once. */
  compileMs = 0;
  /** The milliseconds of each pipeline made, by key, in the order they were made. */
  readonly compileMsByKey = new Map<string, number>();

  constructor(private readonly device: GPUDevice, private readonly report: (check: Promise<Error | null>) => void) {}

  get size(): number {
    return this.cache.size;
  }

  get(key: string, source: () => string): GPUComputePipeline {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const t0 = performance.now();
    this.device.pushErrorScope("validation");
    const code = source();
    const module = this.device.createShaderModule({ label: key, code });
    // the layout the code declares, with dynamic offsets for the arena's bindings (bind-groups.ts)
    const layout = explicitLayout(this.device, code);
    const pipeline = this.device.createComputePipeline({ label: key, layout: layout?.pipeline ?? "auto", compute: { module, entryPoint: "main" } });
    if (layout) registerLayout(pipeline, layout.group);
    const scope = this.device.popErrorScope();
    this.report((async () => {
      const lines = await errorLines(module);
      const err = await scope;
      return lines.length || err ? new ShaderCompileError(key, lines.length ? lines : [err!.message]) : null;
    })());
    this.cache.set(key, pipeline);
    const ms = performance.now() - t0;
    this.compileMs += ms;
    this.compileMsByKey.set(key, ms);
    return pipeline;
  }
}
