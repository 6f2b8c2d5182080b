/**
 * The active backend: a module-level setting. The js backend is always registered; Node entry
 * points register native (and wasm) loaders, and the default becomes the fastest that loads.
 *
 * ```ts
 * setBackend("js");
 * getBackend().name; // "js"
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Backend, BackendName } from "./backend.js";
import { jsBackend } from "./js/index.js";

const registered = new Map<BackendName, Backend>([["js", jsBackend]]);
let active: Backend = jsBackend;

/** Makes a backend available (and, when `makeDefault`, active). */
export function registerBackend(backend: Backend, makeDefault = false): void {
  registered.set(backend.name, backend);
  if (makeDefault) active = backend;
}

/** The backends that loaded, fastest first. */
export function availableBackends(): BackendName[] {
  const order: BackendName[] = ["native", "wasm", "js"];
  return order.filter((n) => registered.has(n));
}

export function setBackend(name: BackendName): void {
  const b = registered.get(name);
  if (!b) throw new ValueError("setBackend", "name", `one of ${availableBackends().join(", ")}`, JSON.stringify(name));
  active = b;
}

export function getBackend(): Backend {
  return active;
}

export { jsBackend };
