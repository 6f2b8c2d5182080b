/**
 * Loading the wasm backend (browser-safe: the kernels ship inside binary.ts as base64).
 *
 * ```ts
 * import { useWasm, getBackend } from "qkv";
 * await useWasm();          // true where WebAssembly with SIMD is available
 * getBackend().name;        // "wasm"
 * ```
 *
 * Browsers refuse synchronous compilation of modules over 4 KB on the main thread, so they use the
 * async loaders; Node (and workers) may use loadWasmBackendSync.
 */
import type { Backend } from "../backend.js";
import { registerBackend } from "../registry.js";
import { WasmBackend } from "./backend.js";
import { decodeBase64 } from "./base64.js";
import { wasmBase64 } from "./binary.js";
import { isKernelExports, wasmHost, type WasmInstance } from "./exports.js";

let bytes: Uint8Array | null = null;
let cached: WasmBackend | null = null;

function moduleBytes(): Uint8Array {
  bytes ??= decodeBase64(wasmBase64);
  return bytes;
}

function fromInstance(instance: WasmInstance): WasmBackend | null {
  const e = instance.exports;
  if (!isKernelExports(e)) return null;
  cached = new WasmBackend(e);
  return cached;
}

/** The wasm backend, compiled synchronously (Node, workers); null where WebAssembly SIMD is missing. */
export function loadWasmBackendSync(): Backend | null {
  if (cached) return cached;
  const wa = wasmHost();
  if (!wa) return null;
  try {
    const b = moduleBytes();
    if (!wa.validate(b)) return null;
    return fromInstance(new wa.Instance(new wa.Module(b), {}));
  } catch {
    return null;
  }
}

/** The wasm backend, compiled asynchronously (browsers); null where WebAssembly SIMD is missing. */
export async function loadWasmBackend(): Promise<Backend | null> {
  if (cached) return cached;
  const wa = wasmHost();
  if (!wa) return null;
  try {
    const b = moduleBytes();
    if (!wa.validate(b)) return null;
    const { instance } = await wa.instantiate(b, {});
    return cached ?? fromInstance(instance);
  } catch {
    return null;
  }
}

/** Loads the wasm backend, registers it and makes it the default; false where it cannot load. */
export async function useWasm(): Promise<boolean> {
  const b = await loadWasmBackend();
  if (!b) return false;
  registerBackend(b, true);
  return true;
}
