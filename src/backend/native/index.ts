/**
 * The native backend: C++ kernels (blocked AVX-512 / AVX2 GEMM, fused FlashAttention-style
 * attention, sparse and linear attention, convolution with im2col fused into the GEMM packing,
 * vectorized elementwise and normalization kernels, a persistent thread pool) loaded from the
 * N-API addon build/Release/qkv_native.node, which `npm install` builds when a C++
 * compiler is present (or the file QKV_NATIVE_ADDON names).
 *
 * Node only: import this module from Node entry points, never from the browser bundle.
 *
 * ```ts
 * const native = loadNativeBackend(); // null when the addon is not built
 * if (native) setNumThreads(2);
 * ```
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type {
  AttentionArgs, Backend, BinaryOp, Conv2dArgs, LinearAttentionArgs, PackedMatrix, PrepackedMatmul,
  SparseAttentionArgs, UnaryOp,
} from "../backend.js";
import type { FloatArray } from "../../tensor/dtype.js";
import { HostBackendBase } from "../host-arrays.js";

/** The instruction sets the native kernels are compiled for (chosen at run time from the CPU). */
export type NativeIsa = "avx512" | "avx2" | "scalar";

/** The addon's exports (it validates every argument itself and throws TypeError / RangeError). */
export interface NativeAddon {
  matmul(out: FloatArray, a: FloatArray, b: FloatArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void;
  unary(op: UnaryOp, out: FloatArray, x: FloatArray, n: number, alpha: number): void;
  dropout(out: FloatArray, x: FloatArray, n: number, p: number, k0: number, k1: number, start: number): void;
  binary(op: BinaryOp, out: FloatArray, a: FloatArray, b: FloatArray,
    outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void;
  softmax(out: FloatArray, x: FloatArray, rows: number, cols: number, log: boolean): void;
  softmaxBackward(dx: FloatArray, y: FloatArray, dy: FloatArray, rows: number, cols: number, log: boolean): void;
  layerNorm(out: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray | null,
    bias: FloatArray | null, rows: number, cols: number, eps: number): void;
  layerNormBackward(dx: FloatArray, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray,
    x: FloatArray, mean: FloatArray, rstd: FloatArray, weight: FloatArray | null, rows: number, cols: number): void;
  attentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
    args: AttentionArgs): void;
  attentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray, k: FloatArray,
    v: FloatArray, out: FloatArray, lse: FloatArray, args: AttentionArgs): void;
  conv2dForward(out: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray | null, args: Conv2dArgs): void;
  conv2dBackwardInput(dx: FloatArray, dy: FloatArray, weight: FloatArray, args: Conv2dArgs): void;
  conv2dBackwardWeight(dweight: FloatArray, dy: FloatArray, x: FloatArray, args: Conv2dArgs): void;
  sparseAttentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
    args: SparseAttentionArgs): void;
  sparseAttentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray,
    k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, args: SparseAttentionArgs): void;
  linearAttentionForward(out: FloatArray, den: FloatArray, fq: FloatArray, fk: FloatArray, v: FloatArray,
    args: LinearAttentionArgs): void;
  linearAttentionBackward(dfq: FloatArray, dfk: FloatArray, dv: FloatArray, dout: FloatArray, fq: FloatArray,
    fk: FloatArray, v: FloatArray, out: FloatArray, den: FloatArray, args: LinearAttentionArgs): void;
  packedMatmulBLength(N: number, K: number): number;
  packMatmulB(b: Float32Array, N: number, K: number, transB: boolean): { data: Float32Array; isa: NativeIsa };
  matmulPrepacked(out: Float32Array, a: Float32Array, packed: Float32Array, M: number, N: number, K: number,
    transA: boolean, accumulate: boolean, isa: string, bias?: Float32Array | null): void;
  setNumThreads(n: number): number;
  getNumThreads(): number;
  getIsa(): NativeIsa;
  setIsa(isa: NativeIsa): NativeIsa;
  fmaPeak(threads: number, iters: number): { flops: number; threads: number };
}

/**
 * The addon, relative to the package root (this file is 3 levels below it in src/ and in dist/);
 * QKV_NATIVE_ADDON names another file (a bundle carried without the package: tools/gpu/pack.sh).
 */
const addonPath = process.env.QKV_NATIVE_ADDON || fileURLToPath(new URL("../../../build/Release/qkv_native.node", import.meta.url));

let addon: NativeAddon | null | undefined;
let loadError: string | null = null;
let noticed = false;

function load(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!existsSync(addonPath)) {
    loadError = `${addonPath} is not built (npm install builds it when a C++ compiler is present)`;
    return addon;
  }
  try {
    const require = createRequire(import.meta.url);
    addon = require(addonPath) as NativeAddon;
  } catch (e) {
    loadError = `${addonPath} failed to load: ${e instanceof Error ? e.message : String(e)}`;
  }
  return addon;
}

/** Float32-only: the ops route float64 to the js backend; a float64 array here is a routing bug. */
function f32(x: FloatArray, name: string): Float32Array {
  if (!(x instanceof Float32Array)) {
    throw new TypeError(`native backend: ${name} must be a Float32Array (float64 runs on the js backend)`);
  }
  return x;
}

function f32OrNull(x: FloatArray | null, name: string): Float32Array | null {
  return x === null ? null : f32(x, name);
}

/** The Backend over the addon. Every kernel forwards to C++, which checks sizes and types again. */
const ONE = new Float32Array([1]);

export class NativeBackend extends HostBackendBase implements Backend, PrepackedMatmul {
  readonly name = "native" as const;

  constructor(private readonly lib: NativeAddon) {
    super();
  }

  matmul(out: FloatArray, a: FloatArray, b: FloatArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
    this.lib.matmul(f32(out, "out"), f32(a, "a"), f32(b, "b"), batch, M, N, K, transA, transB, strideA, strideB,
      accumulate);
  }

  packMatmulB(b: FloatArray, N: number, K: number, transB: boolean): PackedMatrix {
    const { data, isa } = this.lib.packMatmulB(f32(b, "b"), N, K, transB);
    return { N, K, data, isa };
  }

  packedUsable(packed: PackedMatrix): boolean {
    return packed.isa === this.lib.getIsa();
  }

  matmulPrepacked(out: FloatArray, a: FloatArray, packed: PackedMatrix, M: number, transA: boolean, accumulate: boolean,
    bias?: FloatArray | null): void {
    this.lib.matmulPrepacked(f32(out, "out"), f32(a, "a"), packed.data, M, packed.N, packed.K, transA, accumulate, packed.isa,
      bias ? f32(bias, "bias") : null);
  }

  unary(op: UnaryOp, out: FloatArray, x: FloatArray, n: number, alpha: number): void {
    this.lib.unary(op, f32(out, "out"), f32(x, "x"), n, alpha);
  }

  dropout(out: FloatArray, x: FloatArray, n: number, p: number, k0: number, k1: number, start: number): void {
    this.lib.dropout(f32(out, "out"), f32(x, "x"), n, p, k0, k1, start);
  }

  binary(op: BinaryOp, out: FloatArray, a: FloatArray, b: FloatArray,
    outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
    this.lib.binary(op, f32(out, "out"), f32(a, "a"), f32(b, "b"), outShape, aStrides, bStrides);
  }

  /** The binary kernel's strided walk does it at memory speed: out = x * 1 (exact, keeps -0 and NaN). */
  stridedCopy(out: FloatArray, x: FloatArray, outShape: readonly number[], strides: readonly number[]): void {
    this.lib.binary("mul", f32(out, "out"), f32(x, "x"), ONE, outShape, strides, outShape.map(() => 0));
  }

  softmax(out: FloatArray, x: FloatArray, rows: number, cols: number, log: boolean): void {
    this.lib.softmax(f32(out, "out"), f32(x, "x"), rows, cols, log);
  }

  softmaxBackward(dx: FloatArray, y: FloatArray, dy: FloatArray, rows: number, cols: number, log: boolean): void {
    this.lib.softmaxBackward(f32(dx, "dx"), f32(y, "y"), f32(dy, "dy"), rows, cols, log);
  }

  layerNorm(out: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray | null,
    bias: FloatArray | null, rows: number, cols: number, eps: number): void {
    this.lib.layerNorm(f32(out, "out"), f32(mean, "mean"), f32(rstd, "rstd"), f32(x, "x"),
      f32OrNull(weight, "weight"), f32OrNull(bias, "bias"), rows, cols, eps);
  }

  layerNormBackward(dx: FloatArray, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray,
    x: FloatArray, mean: FloatArray, rstd: FloatArray, weight: FloatArray | null, rows: number, cols: number): void {
    this.lib.layerNormBackward(f32(dx, "dx"), f32OrNull(dweight, "dweight"), f32OrNull(dbias, "dbias"),
      f32(dy, "dy"), f32(x, "x"), f32(mean, "mean"), f32(rstd, "rstd"), f32OrNull(weight, "weight"), rows, cols);
  }

  attentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
    args: AttentionArgs): void {
    if (args.mask !== null) f32(args.mask, "args.mask");
    this.lib.attentionForward(f32(out, "out"), f32(lse, "lse"), f32(q, "q"), f32(k, "k"), f32(v, "v"), args);
  }

  attentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray, k: FloatArray,
    v: FloatArray, out: FloatArray, lse: FloatArray, args: AttentionArgs): void {
    if (args.mask !== null) f32(args.mask, "args.mask");
    this.lib.attentionBackward(f32(dq, "dq"), f32(dk, "dk"), f32(dv, "dv"), f32(dout, "dout"), f32(q, "q"),
      f32(k, "k"), f32(v, "v"), f32(out, "out"), f32(lse, "lse"), args);
  }

  conv2dForward(out: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray | null, args: Conv2dArgs): void {
    this.lib.conv2dForward(f32(out, "out"), f32(x, "x"), f32(weight, "weight"), f32OrNull(bias, "bias"), args);
  }

  conv2dBackwardInput(dx: FloatArray, dy: FloatArray, weight: FloatArray, args: Conv2dArgs): void {
    this.lib.conv2dBackwardInput(f32(dx, "dx"), f32(dy, "dy"), f32(weight, "weight"), args);
  }

  conv2dBackwardWeight(dweight: FloatArray, dy: FloatArray, x: FloatArray, args: Conv2dArgs): void {
    this.lib.conv2dBackwardWeight(f32(dweight, "dweight"), f32(dy, "dy"), f32(x, "x"), args);
  }

  sparseAttentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
    args: SparseAttentionArgs): void {
    this.lib.sparseAttentionForward(f32(out, "out"), f32(lse, "lse"), f32(q, "q"), f32(k, "k"), f32(v, "v"), args);
  }

  sparseAttentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray,
    k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, args: SparseAttentionArgs): void {
    this.lib.sparseAttentionBackward(f32(dq, "dq"), f32(dk, "dk"), f32(dv, "dv"), f32(dout, "dout"), f32(q, "q"),
      f32(k, "k"), f32(v, "v"), f32(out, "out"), f32(lse, "lse"), args);
  }

  linearAttentionForward(out: FloatArray, den: FloatArray, fq: FloatArray, fk: FloatArray, v: FloatArray,
    args: LinearAttentionArgs): void {
    this.lib.linearAttentionForward(f32(out, "out"), f32(den, "den"), f32(fq, "fq"), f32(fk, "fk"), f32(v, "v"), args);
  }

  linearAttentionBackward(dfq: FloatArray, dfk: FloatArray, dv: FloatArray, dout: FloatArray, fq: FloatArray,
    fk: FloatArray, v: FloatArray, out: FloatArray, den: FloatArray, args: LinearAttentionArgs): void {
    this.lib.linearAttentionBackward(f32(dfq, "dfq"), f32(dfk, "dfk"), f32(dv, "dv"), f32(dout, "dout"),
      f32(fq, "fq"), f32(fk, "fk"), f32(v, "v"), f32(out, "out"), f32(den, "den"), args);
  }
}

let backend: NativeBackend | null = null;

/**
 * The native backend, or null when the addon is not built or does not load (then a one-line
 * notice goes to stderr, once, unless `quiet` or QKV_QUIET=1).
 */
export function loadNativeBackend(options: { quiet?: boolean } = {}): Backend | null {
  if (backend !== null) return backend;
  const lib = load();
  if (lib === null) {
    if (!noticed && options.quiet !== true && process.env["QKV_QUIET"] !== "1") {
      noticed = true;
      process.stderr.write(`qkv: native backend unavailable, using js (${loadError ?? "unknown error"})\n`);
    }
    return null;
  }
  backend = new NativeBackend(lib);
  return backend;
}

/** Why the addon did not load (null when it loaded or was not tried yet). */
export function nativeLoadError(): string | null {
  return loadError;
}

/** Sets the native kernels' thread count (the calling thread included; default: the CPU's cores, or QKV_NUM_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${n}`);
  load()?.setNumThreads(n);
}

/** The native kernels' thread count (1 when the addon is not available). */
export function getNumThreads(): number {
  return load()?.getNumThreads() ?? 1;
}

/** The instruction set the native kernels use ("scalar" when the addon is not available). */
export function getNativeIsa(): NativeIsa {
  return load()?.getIsa() ?? "scalar";
}

/**
 * Caps the instruction set of the native kernels (never above what the CPU supports; also set by
 * the env QKV_ISA) and returns the one in effect. For tests and benchmarks of the fallback paths.
 */
export function setNativeIsa(isa: NativeIsa): NativeIsa {
  return load()?.setIsa(isa) ?? "scalar";
}

/**
 * The machine's fp32 peak in GFLOP/s on `threads` threads, measured: every thread runs 12
 * independent chains of vector FMAs on the active instruction set for about `seconds` (the fastest
 * of 3 runs). Benchmarks quote their rates as a share of it. Null when the addon is not available.
 */
export function measurePeakGflops(threads: number, seconds = 0.3): { gflops: number; threads: number } | null {
  const lib = load();
  if (lib === null) return null;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`measurePeakGflops: threads must be a positive integer, got ${threads}`);
  if (!(seconds > 0)) throw new RangeError(`measurePeakGflops: seconds must be positive, got ${seconds}`);
  // calibrate the rounds on one short run, then time 3 runs of about `seconds`
  let iters = 1 << 16;
  const t0 = performance.now();
  lib.fmaPeak(1, iters);
  const perIter = Math.max((performance.now() - t0) / 1000 / iters, 1e-10);
  iters = Math.max(1 << 16, Math.round(seconds / perIter));
  let best = 0, used = 1;
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    const { flops, threads: ran } = lib.fmaPeak(threads, iters);
    const s = (performance.now() - start) / 1000;
    if (flops / s > best) { best = flops / s; used = ran; }
  }
  return { gflops: best / 1e9, threads: used };
}
