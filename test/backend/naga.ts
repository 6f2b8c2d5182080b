/**
 * WGSL checked by naga, the shader compiler of wgpu and of Firefox's WebGPU (npm naga-wasm: naga
 * compiled to WebAssembly): a second compiler beside Dawn's Tint, which Chromium and dawn.node use.
 * It checks kernels this machine's adapter never compiles (the f16 GEMM: SwiftShader has no
 * shader-f16) and that the kernels Tint accepts are portable WGSL. naga 30 validates subgroup
 * builtins but does not yet take the `enable subgroups;` directive, so that line is dropped first.
 *
 * ```ts
 * assert.deepEqual(nagaErrors([["matmul", source]]), []);
 * ```
 */
import { parseWgsl, validate } from "naga-wasm";

/** naga's error for `code` (its first lines: the message and where), or null when naga parses and validates it. */
export function nagaError(code: string): string | null {
  let module: ReturnType<typeof parseWgsl> | undefined;
  try {
    module = parseWgsl(code.replace(/^enable subgroups;$/m, ""));
    validate(module).free();
    return null;
  } catch (e) {
    const text = (e as { formatted?: string }).formatted ?? String(e);
    return text.split("\n").filter((l) => l.trim() !== "").slice(0, 8).join("\n");
  } finally {
    module?.free();
  }
}

/** `key: error` for each shader naga rejects, in order; [] when it takes them all. */
export function nagaErrors(shaders: Iterable<readonly [string, string]>): string[] {
  const errors: string[] = [];
  for (const [key, code] of shaders) {
    const error = nagaError(code);
    if (error !== null) errors.push(`${key}: ${error}`);
  }
  return errors;
}
