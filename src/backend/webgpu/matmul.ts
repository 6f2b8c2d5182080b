/**
 * Batched matmul on the device, as Backend.matmul: out[b] [M, N] (+)= op(a[b]) [M, K] @ op(b[b]) [K, N],
 * a at b * strideA (0: shared), b at b * strideB; op transposes when transA / transB (a then
 * holds [K, M], b holds [N, K]).
 *
 * Three kernels, one pipeline per (transA, transB) and layout:
 * - "64" (matmul-tile64.ts): 64 x 64 tiles of out, 256 threads of 4 x 4, k in steps of 16;
 * - "128" (matmul-large.ts): 128 x 128 tiles, 256 threads of 8 x 8 (four 4 x 4 blocks strided by
 *   64), k in steps of 8 through two workgroup buffers with the next step's loads in registers,
 *   vec4 loads from storage where the operand's layout allows;
 * - "subgroup" (matmul-subgroup.ts): the 128 kernel with A read from registers through subgroup
 *   shuffles instead of workgroup memory, on devices with the `subgroups` feature.
 * `autoGemmVariant` picks one by the product's size (the rule and why: there); `ctx.gemm.variant`
 * forces one (WebGPUKernels reads it from QKV_WEBGPU_GEMM=64|128|subgroup|auto; bench/webgpu.ts
 * sets it to time each). How fast each is is unmeasured until a GPU run of `npm run bench -- webgpu`.
 *
 * fp16 (`ctx.gemm.precision = "fp16"`, opt-in, only where the device has `shader-f16`; elsewhere
 * WebGPUUnsupportedError): the 128 kernel with A and B staged in workgroup memory as f16, each
 * product taken in f16 and accumulated in f32; storage stays f32. With u = 2^-11 (f16's unit
 * roundoff under round-to-nearest, as GPUs round; WGSL would also allow the other neighbour, which
 * doubles u, and the fp32 bounds of the tests assume the same) and t = 2^-14 (f16's smallest normal, the error bound of an underflow or a flushed
 * subnormal), each product a b is off by at most (3u + 3u^2 + u^3) |a b| + t (1 + u)^2 (|a| + |b|)
 * + t (1 + u) + t^2 (two operand roundings and one of the product), about 3 * 2^-11 relative:
 * against fp32's (K + 2) 2^-24 sum |a b|, larger unless K is past ~12000. Inputs must lie within
 * f16's range (|x| < 65504); past it the result is not defined.
 *
 * Loads outside [M, N, K] read 0 and stores outside are skipped, so any size works. The dispatch
 * is column tiles x row tiles x batch, split into several dispatches where one of them passes the
 * device's limit per dimension (65535).
 *
 * ```ts
 * matmul(ctx, out, a, b, 1, 7, 33, 65, false, true, 0, 0, false); // out [7, 33] = a [7, 65] @ b [33, 65]^T
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { WebGPUUnsupportedError } from "./errors.js";
import { largeKey, largeSource, TILE128, type GemmStage, type LargeGemmShape } from "./matmul-large.js";
import { subgroupWidth } from "./matmul-subgroup.js";
import { TILE64, tile64Source } from "./matmul-tile64.js";
import { computeMain, header } from "./wgsl.js";

export type GemmVariant = "64" | "128" | "subgroup";
export type GemmPrecision = "fp32" | "fp16";
export const GEMM_VARIANTS: readonly GemmVariant[] = ["64", "128", "subgroup"];

/** How matmul chooses its kernel, and what the device offers it (WebGPUKernels.gemm). */
export interface GemmOptions {
  /** "auto": autoGemmVariant; else this kernel for every product. */
  variant: GemmVariant | "auto";
  /** "fp16": the f16-staged 128 kernel for every product (see the file comment); needs shaderF16. */
  precision: GemmPrecision;
  /** The adapter's subgroup sizes where the device has the `subgroups` feature, else null. */
  subgroups: { min: number; max: number } | null;
  shaderF16: boolean;
}

/** A context without `gemm`: fp32, chosen by size, no subgroups. */
const PLAIN: GemmOptions = { variant: "auto", precision: "fp32", subgroups: null, shaderF16: false };

/** One kernel as matmul runs it; `subgroupWidth` (subgroup only) defaults to the adapter's (matmul-subgroup.ts). */
export interface GemmKernel { variant: GemmVariant; stage: GemmStage; subgroupWidth?: number }

/**
 * The kernel for batch x [M, N] outputs, by size: 128 x 128 tiles (twice the arithmetic per
 * workgroup-memory read of the 64 tile's) once there are at least 256 of them, about two per
 * compute unit of the largest GPUs (an H100 has 132), so that the bigger tile still keeps such a
 * GPU busy; else 64 x 64 tiles, four times as many workgroups. The subgroup form of the 128 tile
 * where the device has subgroups. A guess until a GPU run of `npm run bench -- webgpu` times them.
 */
export function autoGemmVariant(batch: number, M: number, N: number, subgroups: boolean): GemmVariant {
  const tiles = batch * ceilDiv(M, TILE128) * ceilDiv(N, TILE128);
  if (M < TILE128 || N < TILE128 || tiles < 256) return "64";
  return subgroups ? "subgroup" : "128";
}

/** The kernel `o` asks for (fp16 first, then a forced variant, then autoGemmVariant); throws WebGPUUnsupportedError for what the device lacks. */
export function chooseGemm(o: GemmOptions, batch: number, M: number, N: number): GemmKernel {
  if (o.precision === "fp16") {
    if (!o.shaderF16) throw new WebGPUUnsupportedError("matmul", "precision", "fp32 (fp16 needs the shader-f16 feature, which this device lacks)", "fp16");
    return { variant: "128", stage: "f16" };
  }
  const variant = o.variant === "auto" ? autoGemmVariant(batch, M, N, o.subgroups !== null) : o.variant;
  if (variant === "subgroup" && !o.subgroups) {
    throw new WebGPUUnsupportedError("matmul", "variant", "64, 128 or auto (the subgroup kernel needs the subgroups feature, which this device lacks)", "subgroup");
  }
  return { variant, stage: "f32" };
}

/**
 * out [batch, M, N] (+)= op(a) @ op(b) (+ bias [N] on every row, where given), as Backend.matmul
 * (and MatmulBias), by the kernel chooseGemm picks.
 */
export function matmul(ctx: KernelContext, out: GpuArray, a: GpuArray, b: GpuArray, batch: number, M: number, N: number, K: number,
  transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean, bias: GpuArray | null = null, relu = false): void {
  if (batch === 0 || M === 0 || N === 0) return;
  const kernel = chooseGemm(ctx.gemm ?? PLAIN, batch, M, N);
  matmulWith(ctx, kernel, out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate, bias, relu);
}

/**
 * out [M, N] = op(a) @ op(b) + bias [N] on every row (a linear layer's product and bias in one
 * dispatch), then relu where asked (as the relu kernel: select(0, v, v > 0)), as MatmulBias.
 */
export function matmulBias(ctx: KernelContext, out: GpuArray, a: GpuArray, b: GpuArray, bias: GpuArray, M: number, N: number, K: number,
  transA: boolean, transB: boolean, relu = false): void {
  matmul(ctx, out, a, b, 1, M, N, K, transA, transB, 0, 0, false, bias, relu);
}

/** sums[m] = the sum over k of op(a)[m][k], added in k's order from 0: one thread per m. */
const rowSumsSource = (transA: boolean) => (): string => /* wgsl */ `
${header(["sums"], ["a"], ["M: u32", "K: u32"])}
${computeMain(64)} {
  let m = groupIndex(wid, nwg) * 64u + t;
  if (m >= p.M) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s = s + b_a[p.o_a + ${transA ? "k * p.M + m" : "m * p.K + k"}]; }
  b_sums[p.o_sums + m] = s;
}`;

/**
 * out [M, N] = op(a) @ op(b) and sums [M] = the sum over k of op(a)[m][k] (added in k's order,
 * the bits of a [1, K] @ [K, M] product with ones): a linear layer's weight gradient g^T x with its
 * bias gradient, the column sums of g, as MatmulBias.linearGrads. One dispatch where chooseGemm
 * picks the 64 tile (the sums from the A tiles it loads); else the product and a kernel of sums.
 */
export function matmulSums(ctx: KernelContext, out: GpuArray, sums: GpuArray, a: GpuArray, b: GpuArray, M: number, N: number, K: number,
  transA: boolean, transB: boolean): void {
  if (M === 0) return;
  const kernel = chooseGemm(ctx.gemm ?? PLAIN, 1, M, N);
  if (kernel.variant !== "64" || N === 0 || ceilDiv(M, TILE64) > ctx.maxWorkgroupsPerDimension) {
    matmulWith(ctx, kernel, out, a, b, 1, M, N, K, transA, transB, 0, 0, false);
    const key = `matmul.rowSums.${transA ? "T" : "N"}`;
    dispatchKernel(ctx, key, rowSumsSource(transA), [sums], [a], [M, K], ceilDiv(M, 64));
    return;
  }
  const key = `matmul.64.${transA ? "T" : "N"}${transB ? "T" : "N"}.sums`;
  const pipeline = ctx.pipeline(key, tile64Source(transA, transB, false, true));
  const tilesN = ceilDiv(N, TILE64), max = ctx.maxWorkgroupsPerDimension;
  for (let tn = 0; tn < tilesN; tn += max) {
    // the first chunk of column tiles holds column tile 0, whose workgroups write the sums
    ctx.dispatch(key, pipeline, [out, sums], [a, b], [M, N, K, 0, 0, 0, 0, 0, tn], [Math.min(max, tilesN - tn), ceilDiv(M, TILE64), 1]);
  }
}

/** As matmul, by the kernel given (the tests and the bench name each). */
export function matmulWith(ctx: KernelContext, kernel: GemmKernel, out: GpuArray, a: GpuArray, b: GpuArray, batch: number, M: number,
  N: number, K: number, transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean,
  bias: GpuArray | null = null, relu = false): void {
  if (batch === 0 || M === 0 || N === 0) return;
  let key: string, source: () => string, tile: number;
  if (kernel.variant === "64") {
    if (kernel.stage !== "f32") throw new WebGPUUnsupportedError("matmul", "stage", "f32 (the 64 kernel has no f16 staging)", kernel.stage);
    key = `matmul.64.${transA ? "T" : "N"}${transB ? "T" : "N"}${bias ? ".bias" : ""}${relu ? ".relu" : ""}`;
    source = tile64Source(transA, transB, bias !== null, false, relu);
    tile = TILE64;
  } else {
    const sub = kernel.variant === "subgroup";
    if (sub && kernel.stage !== "f32") throw new WebGPUUnsupportedError("matmul", "stage", "f32 (the subgroup kernel has no f16 staging)", kernel.stage);
    // vec4 loads need the contiguous dimension, the offset and the batch stride in multiples of 4 (K = 0: nothing to load)
    const aligned = (x: GpuArray, contiguous: number, stride: number): boolean =>
      K > 0 && contiguous % 4 === 0 && x.offset % 4 === 0 && stride % 4 === 0;
    const shape: LargeGemmShape = {
      transA, transB, vecA: aligned(a, transA ? M : K, strideA), vecB: aligned(b, transB ? K : N, strideB), stage: kernel.stage,
      subgroupWidth: sub ? kernel.subgroupWidth ?? subgroupWidth(ctx.gemm?.subgroups?.min ?? 4) : 0, bias: bias !== null, relu,
    };
    key = largeKey(shape);
    source = () => largeSource(shape);
    tile = TILE128;
  }
  const pipeline = ctx.pipeline(key, source);
  const tilesM = ceilDiv(M, tile), tilesN = ceilDiv(N, tile), max = ctx.maxWorkgroupsPerDimension;
  for (let b0 = 0; b0 < batch; b0 += max) {
    for (let tm = 0; tm < tilesM; tm += max) {
      for (let tn = 0; tn < tilesN; tn += max) {
        ctx.dispatch(key, pipeline, [out], bias ? [a, b, bias] : [a, b], [M, N, K, strideA, strideB, accumulate ? 1 : 0, b0, tm, tn],
          [Math.min(max, tilesN - tn), Math.min(max, tilesM - tm), Math.min(max, batch - b0)]);
      }
    }
  }
}
