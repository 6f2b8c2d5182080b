/**
 * Where the wasm backend's worker threads come from, and whether this host allows them. Browsers
 * (the default here: `Worker` from a Blob URL, `navigator.hardwareConcurrency`) need
 * SharedArrayBuffer, Atomics and cross-origin isolation (COOP/COEP headers); the Node entry
 * installs worker_threads (node-platform.ts). Browser-safe: no Node import.
 */

/** A started worker: the handful of calls the pool makes on it. */
export interface ThreadWorker {
  postMessage(message: unknown): void;
  terminate(): void;
}

export interface WasmPlatform {
  /** Logical cores available to this process. */
  cores(): number;
  /** Starts a worker running `source` (a classic script); `onError` hears it fail. */
  spawn(source: string, onError: (e: unknown) => void): ThreadWorker;
  /**
   * Whether workers start while this thread is blocked in Atomics.wait (Node: yes; a browser only
   * starts them once its event loop turns, so its pools start asynchronously).
   */
  readonly startsWhileBlocked: boolean;
}

interface UrlStatics { createObjectURL(b: object): string; revokeObjectURL(u: string): void }

function isUrlStatics(u: unknown): u is UrlStatics {
  return typeof u === "function" && typeof Reflect.get(u, "createObjectURL") === "function" &&
    typeof Reflect.get(u, "revokeObjectURL") === "function";
}

/** Web Workers from a Blob URL, where the host has them. */
function browserPlatform(scope: object): WasmPlatform | null {
  const W: unknown = Reflect.get(scope, "Worker");
  const B: unknown = Reflect.get(scope, "Blob");
  const URL: unknown = Reflect.get(scope, "URL");
  if (typeof W !== "function" || typeof B !== "function" || !isUrlStatics(URL)) return null;
  const Worker = W as new (url: string) => ThreadWorker & { onerror: ((e: unknown) => void) | null };
  const Blob = B as new (parts: string[], opts: { type: string }) => object;
  return {
    cores() {
      const nav: unknown = Reflect.get(scope, "navigator");
      const n: unknown = typeof nav === "object" && nav !== null ? Reflect.get(nav, "hardwareConcurrency") : undefined;
      return typeof n === "number" && n >= 1 ? Math.floor(n) : 1;
    },
    spawn(source, onError) {
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      try {
        const w = new Worker(url);
        w.onerror = onError;
        return w;
      } finally {
        URL.revokeObjectURL(url);
      }
    },
    startsWhileBlocked: false,
  };
}

let installed: WasmPlatform | null = null;

/** Installs the platform that starts workers (the Node entry installs worker_threads). */
export function setWasmPlatform(p: WasmPlatform | null): void {
  installed = p;
}

/** The installed platform, else the browser's. */
export function wasmPlatform(scope: object = globalThis): WasmPlatform | null {
  return installed ?? browserPlatform(scope);
}

/**
 * Why this host cannot run the threaded module, or null when it can: SharedArrayBuffer and Atomics
 * present, cross-origin isolated where the host reports it (browsers), a way to start workers.
 * `scope` stands for globalThis (tests pass one without SharedArrayBuffer).
 */
export function threadsUnavailable(scope: object = globalThis, platform = wasmPlatform(scope)): string | null {
  if (typeof Reflect.get(scope, "SharedArrayBuffer") !== "function") return "no SharedArrayBuffer";
  const atomics: unknown = Reflect.get(scope, "Atomics");
  if (typeof atomics !== "object" || atomics === null || typeof Reflect.get(atomics, "wait") !== "function") return "no Atomics";
  if (Reflect.get(scope, "crossOriginIsolated") === false) return "not cross-origin isolated";
  if (!platform) return "no workers";
  return null;
}
