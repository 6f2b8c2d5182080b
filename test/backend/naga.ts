/**
 * WGSL checked by naga, the shader compiler of wgpu and of Firefox's WebGPU (npm naga-wasm: naga
 * compiled to WebAssembly): a second compiler beside Dawn's Tint, which Chromium and dawn.node use.
 * It checks kernels this machine's adapter never compiles (the f16 GEMM: SwiftShader has no
 * shader-f16) and that the kernels Tint accepts are portable WGSL: each is parsed, validated and
 * translated by naga's three backends, Metal (MSL 2.4), Direct3D 12 (HLSL shader model 6.2, the
 * first with 16-bit types) and Vulkan (SPIR-V), as wgpu would on each platform. naga 30 validates
 * subgroup builtins but does not yet take the `enable subgroups;` directive, so that line is
 * dropped first.
 *
 * ```ts
 * assert.deepEqual(nagaErrors([["matmul", source]]), []);
 * await checkPageShaders(t, opened, 40); // a WebGPU test page's shaders (webgpu-harness.ts)
 * ```
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { parseWgsl, validate, writeHlsl, writeMsl, writeSpirv } from "naga-wasm";

/**
 * naga's error for `code` (its first lines: the message and where, after the stage that failed),
 * or null when naga parses, validates and translates it to MSL, HLSL and SPIR-V.
 */
export function nagaError(code: string): string | null {
  let module: ReturnType<typeof parseWgsl> | undefined, info: ReturnType<typeof validate> | undefined;
  let stage = "parse";
  try {
    module = parseWgsl(code.replace(/^enable subgroups;$/m, ""));
    stage = "validate";
    info = validate(module);
    stage = "MSL";
    writeMsl(module, info, { langVersion: [2, 4] });
    stage = "HLSL";
    writeHlsl(module, info, { shaderModel: "6_2" });
    stage = "SPIR-V";
    writeSpirv(module, info);
    return null;
  } catch (e) {
    const text = (e as { formatted?: string }).formatted ?? String(e);
    return `(${stage}) ${text.split("\n").filter((l) => l.trim() !== "").slice(0, 8).join("\n")}`;
  } finally {
    info?.free();
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

/**
 * The shaders a WebGPU test page made (`shaders()` of webgpu-harness.ts): at least `atLeast` of
 * them, every one naga takes but the deliberately `broken` ones, which it must reject.
 */
export async function checkPageShaders(t: TestContext, page: { shaders(): Promise<Map<string, string>> }, atLeast: number,
  broken: readonly string[] = []): Promise<void> {
  const shaders = await page.shaders();
  assert.ok(shaders.size >= atLeast, `${shaders.size} shaders`);
  if (broken.length) assert.deepEqual(nagaErrors(broken.map((k) => [k, shaders.get(k) ?? ""])).map((e) => e.split(":")[0]), broken);
  assert.deepEqual(nagaErrors([...shaders].filter(([k]) => !broken.includes(k))), []);
  t.diagnostic(`${shaders.size - broken.length} shaders valid to naga`);
}
