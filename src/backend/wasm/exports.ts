/**
 * What the kernels module exports (wasm/assembly/index.ts), and the few WebAssembly host APIs the
 * loader uses (declared here: the project's lib settings carry no WebAssembly types).
 */

/** Byte pointers into the module's memory; booleans are 0 / 1. */
export interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  gemmWorkBytes(M: number, N: number, K: number): number;
  matmul(out: number, a: number, b: number, batch: number, M: number, N: number, K: number, transA: number, transB: number,
    strideA: number, strideB: number, accumulate: number, work: number): void;
  unary(op: number, out: number, x: number, n: number, alpha: number): void;
  binary(op: number, out: number, a: number, b: number, rank: number, shape: number, aStrides: number, bStrides: number,
    idx: number, n: number): void;
  softmax(out: number, x: number, rows: number, cols: number, log: number): void;
  softmaxBackward(dx: number, y: number, dy: number, rows: number, cols: number, log: number): void;
  layerNorm(out: number, mean: number, rstd: number, x: number, weight: number, bias: number, rows: number, cols: number,
    eps: number): void;
  layerNormBackward(dx: number, dweight: number, dbias: number, dy: number, x: number, mean: number, rstd: number,
    weight: number, rows: number, cols: number, work: number): void;
  attentionWorkBytes(D: number, Dv: number, backward: number): number;
  attentionForward(out: number, lse: number, q: number, k: number, v: number,
    B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number, scale: number, causal: number,
    mask: number, msB: number, msH: number, msL: number, dropoutP: number, k0: number, k1: number, seedStart: number,
    work: number): void;
  attentionBackward(dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, out: number,
    lse: number, B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number, scale: number,
    causal: number, mask: number, msB: number, msH: number, msL: number, dropoutP: number, k0: number, k1: number,
    seedStart: number, work: number): void;
}

const kernelNames = [
  "heapBase", "gemmWorkBytes", "matmul", "unary", "binary", "softmax", "softmaxBackward", "layerNorm",
  "layerNormBackward", "attentionWorkBytes", "attentionForward", "attentionBackward",
] as const;

/** Narrows an instance's exports to KernelExports, checking each name. */
export function isKernelExports(e: Record<string, unknown>): e is Record<string, unknown> & KernelExports {
  const mem = e["memory"];
  if (typeof mem !== "object" || mem === null || !("buffer" in mem) || !("grow" in mem)) return false;
  return kernelNames.every((n) => typeof e[n] === "function");
}

export interface WasmInstance { exports: Record<string, unknown> }

/** The slice of the WebAssembly namespace used here. */
export interface WasmHost {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, never>) => WasmInstance;
  instantiate(bytes: Uint8Array, imports: Record<string, never>): Promise<{ instance: WasmInstance }>;
}

/** globalThis.WebAssembly where the host has one. */
export function wasmHost(): WasmHost | null {
  const w: unknown = Reflect.get(globalThis, "WebAssembly");
  return typeof w === "object" && w !== null ? (w as WasmHost) : null;
}
