/**
 * The active backend: a module-level setting. The js backend is always registered; Node entry
 * points register native (and wasm) loaders, and the default becomes the fastest that loads. A
 * device backend (webgpu) is registered by `useWebGPU()` (backend/webgpu/use.ts).
 *
 * ```ts
 * setBackend("js");
 * getBackend().name; // "js"
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { AnyBackend, Backend, BackendName } from "./backend.js";
import { jsBackend } from "./js/index.js";

const registered = new Map<BackendName, AnyBackend>([["js", jsBackend]]);
let active: AnyBackend = jsBackend;
/** The active backend when it is a host one, else the fastest host backend registered. */
let host: Backend = jsBackend;

const ORDER: readonly BackendName[] = ["webgpu", "native", "wasm", "js"];

function fastestHost(): Backend {
  for (const n of ORDER) {
    const b = registered.get(n);
    if (b && b.kind === "host") return b as Backend;
  }
  return jsBackend;
}

function activate(b: AnyBackend): void {
  active = b;
  host = b.kind === "host" ? (b as Backend) : fastestHost();
}

/** Makes a backend available (and, when `makeDefault`, active). */
export function registerBackend(backend: AnyBackend, makeDefault = false): void {
  registered.set(backend.name, backend);
  if (makeDefault) activate(backend);
  else if (active.kind === "device") host = fastestHost();
}

/** The backends that loaded, fastest first. */
export function availableBackends(): BackendName[] {
  return ORDER.filter((n) => registered.has(n));
}

export function setBackend(name: BackendName): void {
  const b = registered.get(name);
  if (!b) throw new ValueError("setBackend", "name", `one of ${availableBackends().join(", ")}`, JSON.stringify(name));
  activate(b);
}

/** The active backend (host or device). */
export function getBackend(): AnyBackend {
  return active;
}

/**
 * The backend for ops whose loops run on host arrays: the active one when it is a host backend,
 * else the fastest host backend registered (so such ops keep working on host tensors while a
 * device backend is active).
 */
export function hostBackend(): Backend {
  return host;
}

/** The registered backend of `name`, or undefined. */
export function registeredBackend(name: BackendName): AnyBackend | undefined {
  return registered.get(name);
}

export { jsBackend };
