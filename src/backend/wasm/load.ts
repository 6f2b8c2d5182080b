/**
 * Loading the wasm backend (browser-safe: the kernels ship inside binary.ts and binary-threads.ts as
 * base64).
 *
 * ```ts
 * import { useWasm, getBackend, getWasmThreads } from "qkv";
 * await useWasm();            // true where WebAssembly with SIMD is available
 * getBackend().name;          // "wasm"
 * getWasmThreads();           // the cores, where SharedArrayBuffer and cross-origin isolation allow
 * await useWasm({ threads: 1 });   // the single-threaded module
 * ```
 *
 * Browsers refuse synchronous compilation of modules over 4 KB on the main thread, so they use the
 * async loaders; Node (and workers) may use loadWasmBackendSync and setWasmThreads. With more than
 * one thread the threaded build runs over a shared memory, with threads - 1 workers (started at the
 * first large call in Node, at load in the async loaders).
 */
import { ValueError } from "../../tensor/errors.js";
import { availableBackends, getBackend, registerBackend } from "../registry.js";
import { WasmBackend } from "./backend.js";
import { decodeBase64 } from "./base64.js";
import { wasmBase64 } from "./binary.js";
import { wasmThreadsBase64 } from "./binary-threads.js";
import { isKernelExports, wasmHost, type WasmHost, type WasmMemory } from "./exports.js";
import { threadsUnavailable, wasmPlatform, type WasmPlatform } from "./platform.js";
import { WorkerPool } from "./pool.js";

export interface WasmOptions {
  /**
   * Threads (the calling one included). Default: the available cores where SharedArrayBuffer,
   * Atomics, cross-origin isolation (browsers) and workers are there, else 1. Where threads are
   * unavailable any count gives 1: the single-threaded module.
   */
  threads?: number;
}

/** Options of a fresh (uncached) backend; `globals` stands for globalThis in the threads check. */
export interface WasmCreateOptions extends WasmOptions {
  globals?: object;
  /** Split every call however small (tests of the split). */
  splitAll?: boolean;
}

const MAX_THREADS = 256;
/** Pages (64 KiB) of the shared memory: 1 MiB at first, up to 4 GiB (smaller maxima where refused). */
const INITIAL_PAGES = 16;
const MAXIMUM_PAGES = [65536, 16384, 4096];

let stBytes: Uint8Array | null = null;
let mtBytes: Uint8Array | null = null;
let current: WasmBackend | null = null;
let currentRequest = 0;

function singleBytes(): Uint8Array {
  stBytes ??= decodeBase64(wasmBase64);
  return stBytes;
}

function threadedBytes(): Uint8Array {
  mtBytes ??= decodeBase64(wasmThreadsBase64);
  return mtBytes;
}

/** Validated `threads` of fn's options (undefined when absent). */
function requestedThreads(fn: string, opts: WasmOptions | undefined): number | undefined {
  if (opts === undefined) return undefined;
  if (typeof opts !== "object" || opts === null) throw new ValueError(fn, "options", "an object", String(opts));
  const t = opts.threads;
  if (t === undefined) return undefined;
  if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > MAX_THREADS) {
    throw new ValueError(fn, "threads", `an integer in [1, ${MAX_THREADS}]`, typeof t === "number" ? String(t) : typeof t);
  }
  return t;
}

/** The threads a backend gets for this request: 1 where the host cannot run workers. */
function threadsFor(requested: number | undefined, globals: object): { n: number; platform: WasmPlatform | null } {
  const platform = wasmPlatform(globals);
  if (threadsUnavailable(globals, platform) !== null || !platform) return { n: 1, platform: null };
  return { n: Math.min(requested ?? platform.cores(), MAX_THREADS), platform };
}

/** Threads the wasm backend gets by default here: the cores where threads are allowed, else 1. */
export function defaultWasmThreads(): number {
  return threadsFor(undefined, globalThis).n;
}

function sharedMemory(wa: WasmHost): WasmMemory | null {
  for (const maximum of MAXIMUM_PAGES) {
    try {
      return new wa.Memory({ initial: INITIAL_PAGES, maximum, shared: true });
    } catch {
      // address space refused: try a smaller maximum
    }
  }
  return null;
}

function fromExports(e: Record<string, unknown>, pool: WorkerPool | null, opts: WasmCreateOptions): WasmBackend | null {
  return isKernelExports(e) ? new WasmBackend(e, pool, { splitAll: opts.splitAll ?? false }) : null;
}

/** A new backend with its own memory (and workers), compiled synchronously; null where wasm SIMD is missing. */
export function createWasmBackendSync(opts: WasmCreateOptions = {}): WasmBackend | null {
  const requested = requestedThreads("createWasmBackendSync", opts);
  const wa = wasmHost();
  if (!wa) return null;
  const { n, platform } = threadsFor(requested, opts.globals ?? globalThis);
  try {
    if (n > 1 && platform?.startsWhileBlocked) {
      const memory = sharedMemory(wa);
      const b = threadedBytes();
      if (memory && wa.validate(b)) {
        const module = new wa.Module(b);
        const e = new wa.Instance(module, { env: { memory } }).exports;
        const heap = isKernelExports(e) ? e.heapBase() : 0;
        const mt = fromExports(e, new WorkerPool(module, memory, heap, n, platform), opts);
        if (mt) return mt;
      }
    }
    const b = singleBytes();
    if (!wa.validate(b)) return null;
    return fromExports(new wa.Instance(new wa.Module(b), {}).exports, null, opts);
  } catch {
    return null;
  }
}

/** A new backend, compiled asynchronously, its workers started; null where wasm SIMD is missing. */
export async function createWasmBackend(opts: WasmCreateOptions = {}): Promise<WasmBackend | null> {
  const requested = requestedThreads("createWasmBackend", opts);
  const wa = wasmHost();
  if (!wa) return null;
  const { n, platform } = threadsFor(requested, opts.globals ?? globalThis);
  try {
    if (n > 1 && platform) {
      const memory = sharedMemory(wa);
      const b = threadedBytes();
      if (memory && wa.validate(b)) {
        const module = await wa.compile(b);
        const e = (await wa.instantiate(module, { env: { memory } })).exports;
        if (isKernelExports(e)) {
          const pool = new WorkerPool(module, memory, e.heapBase(), n, platform);
          if (await pool.start()) return fromExports(e, pool, opts);
          pool.dispose();
        }
      }
    }
    const b = singleBytes();
    if (!wa.validate(b)) return null;
    return fromExports((await wa.instantiate(await wa.compile(b), {})).exports, null, opts);
  } catch {
    return null;
  }
}

/** Makes b the loaded backend, in the registry too where the previous one was registered. */
function replaceCurrent(b: WasmBackend, request: number): void {
  const old = current;
  current = b;
  currentRequest = request;
  if (!old || old === b) return;
  if (availableBackends().includes("wasm")) registerBackend(b, getBackend() === old);
  old.dispose();
}

/**
 * The wasm backend, compiled synchronously (Node, workers); null where WebAssembly SIMD is missing.
 * Loaded once; a call with another `threads` replaces it (and its registration).
 */
export function loadWasmBackendSync(opts?: WasmOptions): WasmBackend | null {
  const requested = requestedThreads("loadWasmBackendSync", opts);
  const want = requested ?? defaultWasmThreads();
  if (current && (requested === undefined || want === currentRequest)) return current;
  const b = createWasmBackendSync({ threads: want });
  if (b) replaceCurrent(b, want);
  return b;
}

/** The wasm backend, compiled asynchronously (browsers); null where WebAssembly SIMD is missing. */
export async function loadWasmBackend(opts?: WasmOptions): Promise<WasmBackend | null> {
  const requested = requestedThreads("loadWasmBackend", opts);
  const want = requested ?? defaultWasmThreads();
  if (current && (requested === undefined || want === currentRequest)) return current;
  const b = await createWasmBackend({ threads: want });
  if (!b) return null;
  if (current && (requested === undefined || want === currentRequest)) {
    b.dispose(); // another load finished first
    return current;
  }
  replaceCurrent(b, want);
  return b;
}

/** Loads the wasm backend, registers it and makes it the default; false where it cannot load. */
export async function useWasm(opts?: WasmOptions): Promise<boolean> {
  const b = await loadWasmBackend(opts);
  if (!b) return false;
  registerBackend(b, true);
  return true;
}

/**
 * Reloads the wasm backend with n threads (Node, workers; browsers: `await useWasm({ threads })`),
 * replacing it in the registry where it was registered. Where threads are unavailable it gets 1.
 */
export function setWasmThreads(n: number): void {
  loadWasmBackendSync({ threads: requestedThreads("setWasmThreads", { threads: n }) ?? 1 });
}

/** Threads of the loaded wasm backend (1 for the single-threaded module, or when none loaded). */
export function getWasmThreads(): number {
  return current?.threads ?? 1;
}
