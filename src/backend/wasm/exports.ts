/**
 * What the kernels module exports (wasm/assembly/index.ts), and the few WebAssembly host APIs the
 * loader uses (declared here: the project's lib settings carry no WebAssembly types).
 */

/** The module's linear memory (shared in the threaded build: its buffer is a SharedArrayBuffer). */
export interface WasmMemory { buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number }

/**
 * Byte pointers into the module's memory; booleans are 0 / 1. Every kernel ends in (part, parts):
 * it computes part `part` of `parts` of the call (wasm/assembly/parts.ts); one thread passes 0, 1.
 */
export interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  gemmWorkBytes(M: number, N: number, K: number): number;
  matmul(out: number, a: number, b: number, batch: number, M: number, N: number, K: number, transA: number, transB: number,
    strideA: number, strideB: number, accumulate: number, work: number, part: number, parts: number): void;
  unary(op: number, out: number, x: number, n: number, alpha: number, part: number, parts: number): void;
  binary(op: number, out: number, a: number, b: number, rank: number, shape: number, aStrides: number, bStrides: number,
    idx: number, n: number, part: number, parts: number): void;
  softmax(out: number, x: number, rows: number, cols: number, log: number, part: number, parts: number): void;
  softmaxBackward(dx: number, y: number, dy: number, rows: number, cols: number, log: number, part: number, parts: number): void;
  layerNorm(out: number, mean: number, rstd: number, x: number, weight: number, bias: number, rows: number, cols: number,
    eps: number, part: number, parts: number): void;
  layerNormBackward(dx: number, dweight: number, dbias: number, dy: number, x: number, mean: number, rstd: number,
    weight: number, rows: number, cols: number, work: number, part: number, parts: number): void;
  attentionWorkBytes(D: number, Dv: number, backward: number): number;
  attentionForward(out: number, lse: number, q: number, k: number, v: number,
    B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number, scale: number, causal: number,
    mask: number, msB: number, msH: number, msL: number, dropoutP: number, k0: number, k1: number, seedStart: number,
    work: number, part: number, parts: number): void;
  attentionBackward(dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, out: number,
    lse: number, B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number, scale: number,
    causal: number, mask: number, msB: number, msH: number, msL: number, dropoutP: number, k0: number, k1: number,
    seedStart: number, work: number, part: number, parts: number): void;
  conv2dWorkBytes(C: number, O: number, kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, dH: number,
    dW: number, G: number): number;
  conv2dForward(out: number, x: number, w: number, bias: number, B: number, C: number, H: number, W: number, O: number,
    kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number, dH: number,
    dW: number, G: number, work: number, part: number, parts: number): void;
  conv2dBackwardInput(dx: number, dy: number, w: number, B: number, C: number, H: number, W: number, O: number,
    kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number, dH: number,
    dW: number, G: number, work: number, part: number, parts: number): void;
  conv2dBackwardWeight(dw: number, dy: number, x: number, B: number, C: number, H: number, W: number, O: number,
    kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number, dH: number,
    dW: number, G: number, work: number, part: number, parts: number): void;
  sparseAttentionWorkBytes(): number;
  sparseAttentionForward(out: number, lse: number, q: number, k: number, v: number, rowLo: number, rowHi: number,
    spans: number, B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number, scale: number,
    work: number, part: number, parts: number): void;
  sparseAttentionBackward(dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, out: number,
    lse: number, rowLo: number, rowHi: number, spans: number, B: number, H: number, Hkv: number, L: number, S: number,
    D: number, Dv: number, scale: number, work: number, part: number, parts: number): void;
  linearAttentionWorkBytes(M: number, Dv: number): number;
  linearAttentionForward(out: number, den: number, fq: number, fk: number, v: number, B: number, H: number, Hkv: number,
    L: number, S: number, M: number, Dv: number, causal: number, work: number, part: number, parts: number): void;
  linearAttentionBackward(dfq: number, dfk: number, dv: number, dout: number, fq: number, fk: number, v: number,
    out: number, den: number, B: number, H: number, Hkv: number, L: number, S: number, M: number, Dv: number,
    causal: number, work: number, part: number, parts: number): void;
}

/** The kernels that take (part, parts), in the order the worker pool numbers them. */
export const partKernelNames = [
  "matmul", "unary", "binary", "softmax", "softmaxBackward", "layerNorm", "layerNormBackward", "attentionForward",
  "attentionBackward", "conv2dForward", "conv2dBackwardInput", "conv2dBackwardWeight", "sparseAttentionForward",
  "sparseAttentionBackward", "linearAttentionForward", "linearAttentionBackward",
] as const;

export type PartKernelName = (typeof partKernelNames)[number];

/** A kernel called with its arguments and (part, parts) appended. */
export type PartKernel = (...args: number[]) => void;

const kernelNames = [
  "heapBase", "gemmWorkBytes", "attentionWorkBytes", "conv2dWorkBytes", "sparseAttentionWorkBytes",
  "linearAttentionWorkBytes", ...partKernelNames,
] as const;

/** Narrows an instance's exports to KernelExports, checking each name. */
export function isKernelExports(e: Record<string, unknown>): e is Record<string, unknown> & KernelExports {
  const mem = e["memory"];
  if (typeof mem !== "object" || mem === null || !("buffer" in mem) || !("grow" in mem)) return false;
  return kernelNames.every((n) => typeof e[n] === "function");
}

/** The part kernels of an instance, by name. */
export function partKernels(k: KernelExports): Readonly<Record<PartKernelName, PartKernel>> {
  return {
    matmul: k.matmul, unary: k.unary, binary: k.binary, softmax: k.softmax, softmaxBackward: k.softmaxBackward,
    layerNorm: k.layerNorm, layerNormBackward: k.layerNormBackward, attentionForward: k.attentionForward,
    attentionBackward: k.attentionBackward, conv2dForward: k.conv2dForward, conv2dBackwardInput: k.conv2dBackwardInput,
    conv2dBackwardWeight: k.conv2dBackwardWeight, sparseAttentionForward: k.sparseAttentionForward,
    sparseAttentionBackward: k.sparseAttentionBackward, linearAttentionForward: k.linearAttentionForward,
    linearAttentionBackward: k.linearAttentionBackward,
  };
}

export interface WasmInstance { exports: Record<string, unknown> }

/** Imports of the threaded build: its memory, `env.memory`. */
export type WasmImports = Record<string, Record<string, unknown>>;

/** The slice of the WebAssembly namespace used here. */
export interface WasmHost {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: WasmImports) => WasmInstance;
  Memory: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: WasmImports): Promise<WasmInstance>;
}

/** globalThis.WebAssembly where the host has one. */
export function wasmHost(): WasmHost | null {
  const w: unknown = Reflect.get(globalThis, "WebAssembly");
  return typeof w === "object" && w !== null ? (w as WasmHost) : null;
}
