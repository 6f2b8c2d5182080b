/**
 * The GEMM kernels of the WebGPU kernel page (webgpu-page.ts, which passes its helpers in), each
 * named (matmulWith) and compared with the js matmul: the 64 tile, the 128 tile, the subgroup
 * kernel (where the device has subgroups) and the same with groups of 8 lanes (on SwiftShader's
 * 4-lane subgroups its check fails and it takes its workgroup-memory path), and the fp16 numerics:
 * f16 staging emulated in f32 ("f16-rounded", which runs everywhere) and the real f16 kernel where
 * the device has shader-f16 (elsewhere its WGSL with f16 read as f32, which checks all of its text
 * but the f16 types, against fp32's bound). Shapes: every transA / transB, M, N, K off the tiles (1, 7, 63, 65,
 * 127, 129, 200), K = 0, batches with shared (stride 0) and strided operands, accumulate, and
 * operands aligned for vec4 loads and not; every array between guard values. Every kernel runs
 * every shape: 9 pipelines each (one per transA, transB, vecA, vecB met), 4 for the 64 tile.
 *
 * Tolerances. fp32: (K + 2) u sum_k |a b| + 2 u (|want| + |out0|), u = 2^-24, fp32's summation
 * bound. fp16 staging (matmul.ts): each product within c1 |a b| + c2 (|a| + |b|) + c3, c1 =
 * 3h + 3h^2 + h^3, c2 = t (1 + h)^2, c3 = t (1 + h) + t^2 (h = 2^-11, t = 2^-14), then fp32's
 * summation bound over the products: (K + 2) u sum_k ((1 + c1) |a b| + c2 (|a| + |b|) + c3). An
 * fp16 case also has to differ from the fp32 answer by more than fp32's bound somewhere, so a
 * kernel that does not round is caught too.
 *
 * ```ts
 * const families = gemmFamilies({ kernels: () => k, place, output, fetchPlaced, results: () => new Results() });
 * ```
 */
import { matmul } from "../../src/backend/js/matmul.js";
import type { KernelContext } from "../../src/backend/webgpu/context.js";
import type { WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { WebGPUUnsupportedError } from "../../src/backend/webgpu/errors.js";
import { useWebGPU } from "../../src/backend/webgpu/use.js";
import { chooseGemm, matmulWith, type GemmKernel, type GemmOptions } from "../../src/backend/webgpu/matmul.js";
import type { CaseResult } from "./webgpu-page.js";
import type { Kit } from "./webgpu-efficient-cases.js";
import { matmulOperands, randn, rng } from "./webgpu-page-setup.js";

const U = 2 ** -24, H = 2 ** -11, T = 2 ** -14;
const C1 = 3 * H + 3 * H * H + H ** 3, C2 = T * (1 + H) ** 2, C3 = T * (1 + H) + T * T;

/** batch, M, N, K, transA, transB, shareA, shareB, accumulate, aligned (operands at offsets that are multiples of 4) */
type Shape = [number, number, number, number, boolean, boolean, boolean, boolean, boolean, boolean];

const SHAPES: Shape[] = [
  [1, 1, 1, 1, false, false, false, false, false, false],
  [1, 7, 63, 65, false, true, false, false, false, false],
  [2, 65, 7, 33, true, false, false, false, true, false],
  [3, 63, 65, 7, true, true, false, false, false, false],
  [1, 129, 127, 200, false, false, false, false, false, false],
  [1, 200, 129, 65, true, true, false, false, false, false],
  [2, 127, 200, 129, false, true, false, true, true, false],
  [2, 129, 65, 63, true, false, true, false, false, false],
  [3, 128, 128, 64, false, false, true, false, true, true],
  [2, 132, 136, 24, true, true, false, false, false, true],
  [2, 68, 260, 16, true, false, false, false, true, true],
  [1, 256, 4, 12, false, true, false, false, false, true],
  [1, 4, 129, 8, true, false, false, true, false, true],
  [2, 140, 132, 36, false, false, false, false, false, true],
  [1, 17, 3, 0, false, false, false, false, false, false],
  [2, 9, 11, 200, true, true, true, false, true, false],
];

/** The GEMM kernels' names as families: gemm.64, gemm.128, gemm.f16, gemm.f16-rounded, gemm.subgroup, gemm.subgroup8. */
export const GEMM_FAMILIES = ["64", "128", "f16-rounded", "f16", "subgroup", "subgroup8"] as const;

interface Named { name: string; kernel: GemmKernel; fp16: boolean; ctx?: (k: WebGPUKernels) => KernelContext }

/** k, but for pipelines compiled from their WGSL with f16 read as f32: the f16 kernel's text where the device has no shader-f16. */
function f16AsF32(k: WebGPUKernels): KernelContext {
  return {
    pipeline: (key, source) => k.pipeline(`${key}.as-f32`, () => source().replace("enable f16;", "").replaceAll("f16", "f32")),
    dispatch: (...args) => k.dispatch(...args), scratch: (n) => k.scratch(n), release: (arr) => k.release(arr), indexCheck: (c, n) => k.indexCheck(c, n),
    workgroupFloats: k.workgroupFloats, maxWorkgroupsPerDimension: k.maxWorkgroupsPerDimension, maxStorageBuffers: k.maxStorageBuffers, maxBindingBytes: k.maxBindingBytes, gemm: k.gemm,
  };
}

/** The kernels this device runs: all but the real f16 one without shader-f16, the subgroup ones without subgroups. */
function kernelsOf(o: GemmOptions): Named[] {
  const list: Named[] = [
    { name: "64", kernel: { variant: "64", stage: "f32" }, fp16: false },
    { name: "128", kernel: { variant: "128", stage: "f32" }, fp16: false },
    { name: "128 f16-rounded", kernel: { variant: "128", stage: "f16-rounded" }, fp16: true },
  ];
  if (o.subgroups) {
    list.push({ name: `subgroup (groups of ${o.subgroups.min >= 8 ? 8 : 4})`, kernel: { variant: "subgroup", stage: "f32" }, fp16: false });
    list.push({ name: "subgroup, groups of 8", kernel: { variant: "subgroup", stage: "f32", subgroupWidth: 8 }, fp16: false });
  }
  if (o.shaderF16) list.push({ name: "128 f16", kernel: { variant: "128", stage: "f16" }, fp16: true });
  else list.push({ name: "128 f16's WGSL with f16 read as f32", kernel: { variant: "128", stage: "f16" }, fp16: false, ctx: f16AsF32 });
  return list;
}

/** Per output: sum |a b| and sum (|a| + |b|) over k, for the bounds. */
function sums(a: Float32Array, b: Float32Array, s: Shape, sA: number, sB: number): { ab: Float32Array; a1: Float32Array } {
  const [batch, M, N, K, tA, tB] = s;
  const absA = a.map(Math.abs), absB = b.map(Math.abs);
  const ab = new Float32Array(batch * M * N), a1 = new Float32Array(batch * M * N);
  matmul(ab, absA, absB, batch, M, N, K, tA, tB, sA, sB, false);
  matmul(a1, absA, new Float32Array(K * N).fill(1), batch, M, N, K, tA, tB, sA, 0, false);
  matmul(a1, new Float32Array(M * K).fill(1), absB, batch, M, N, K, tA, tB, 0, sB, true);
  return { ab, a1 };
}

function familyOf(named: Named): (typeof GEMM_FAMILIES)[number] {
  const { variant, stage, subgroupWidth } = named.kernel;
  return variant === "subgroup" ? (subgroupWidth === 8 ? "subgroup8" : "subgroup") : stage === "f32" ? variant : stage;
}

async function gemmCases(kit: Kit, family: (typeof GEMM_FAMILIES)[number]): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  for (const named of kernelsOf(k.gemm).filter((n) => familyOf(n) === family)) {
    for (const s of SHAPES) {
      const [batch, M, N, K, tA, tB, shA, shB, acc, aligned] = s;
      // a shape's operands are the same in every family
      const { a, b, out0, want, sA, sB } = matmulOperands(rng(100 + SHAPES.indexOf(s)), batch, M, N, K, tA, tB, shA, shB, acc);
      const { ab, a1 } = sums(a, b, s, sA, sB);
      const pad = aligned ? 36 : 37;
      const pa = kit.place(a, pad), pb = kit.place(b, aligned ? 8 : 2 * pad + 5);
      const po = acc ? kit.place(out0, pad + 1) : kit.output(batch * M * N, pad + 1);
      matmulWith(named.ctx?.(k) ?? k, named.kernel, po.arr, pa.arr, pb.arr, batch, M, N, K, tA, tB, sA, sB, acc);
      const got = await kit.fetchPlaced(po);
      const name = `${named.name}: batch ${batch}, ${M}x${N}x${K}, ${tA ? "T" : "N"}${tB ? "T" : "N"}${shA ? ", a shared" : ""}`
        + `${shB ? ", b shared" : ""}${acc ? ", accumulate" : ""}${aligned ? ", aligned" : ""}`;
      const fp32 = (i: number): number => (K + 2) * U * ab[i]! + 2 * U * (Math.abs(want[i]!) + Math.abs(out0[i]!)) + 1e-30;
      if (!named.fp16) res.compare(name, got.data, want, fp32, got.guards);
      else {
        const products = (i: number): number => C1 * ab[i]! + C2 * a1[i]! + C3 * K;
        res.compare(name, got.data, want, (i) => products(i) + (K + 2) * U * (ab[i]! + products(i)) + 2 * U * (Math.abs(want[i]!) + Math.abs(out0[i]!)) + 1e-30,
          got.guards);
        // the f16 roundings show: somewhere past fp32's bound (K >= 8: enough products that one is off)
        if (K >= 8) {
          let over = 0;
          for (let i = 0; i < want.length; i++) over = Math.max(over, Math.abs(got.data[i]! - want[i]!) / fp32(i));
          res.list.push({ name: `${name}: differs from fp32 past its bound`, ok: over > 1, worst: 0, detail: `largest error ${over.toFixed(1)} of fp32's bound` });
        }
      }
      for (const p of [pa, pb, po]) k.release(p.whole);
    }
    await biasCases(kit, named, res);
  }
  return res.list;
}

/**
 * batch-1 shapes for the bias store: M, N, K, transA, transB (K = 0: the bias alone). The store
 * does not depend on the transpositions, so two of them (NN, TT: two pipelines a kernel, each a
 * compilation) cover it: columns past one 128 tile, rows past one 64 tile, a small K.
 */
const BIAS_SHAPES: [number, number, number, boolean, boolean][] = [
  [65, 130, 17, false, false],
  [70, 133, 9, true, true],
  [17, 3, 0, false, false],
];

/**
 * The bias added by the kernel's store (matmulWith's bias, a linear layer's MatmulBias): the same
 * bits as the product without it, rounded, plus the bias (Math.fround of the sum), on every row;
 * with the relu in the store too (linearRelu; the 64 and 128 tiles, the first shape), those values
 * where above 0, else +0.
 */
async function biasCases(kit: Kit, named: Named, res: ReturnType<Kit["results"]>): Promise<void> {
  const k = kit.kernels();
  for (const [si, [M, N, K, tA, tB]] of BIAS_SHAPES.entries()) {
    // the relu store is one line of the 64 tile's and of the 128 tile's WGSL (which the subgroup
    // and f16 kernels share): checked there on the first shape, each a compilation on SwiftShader
    const relu = si === 0 && (named.name === "64" || named.name === "128");
    const r = rng(500 + M + N + K);
    const a = randn(r, M * K), b = randn(r, K * N), bias = randn(r, N);
    const pa = kit.place(a, 37), pb = kit.place(b, 75), pc = kit.place(bias, 11);
    const plain = kit.output(M * N, 38), with_ = kit.output(M * N, 38), withRelu = kit.output(M * N, 21);
    const ctx = named.ctx?.(k) ?? k;
    matmulWith(ctx, named.kernel, plain.arr, pa.arr, pb.arr, 1, M, N, K, tA, tB, 0, 0, false);
    matmulWith(ctx, named.kernel, with_.arr, pa.arr, pb.arr, 1, M, N, K, tA, tB, 0, 0, false, pc.arr);
    if (relu) matmulWith(ctx, named.kernel, withRelu.arr, pa.arr, pb.arr, 1, M, N, K, tA, tB, 0, 0, false, pc.arr, true);
    const p = await kit.fetchPlaced(plain), w = await kit.fetchPlaced(with_);
    const want = p.data.map((v, i) => Math.fround(v + bias[i % N]!));
    const shape = `${M}x${N}x${K}, ${tA ? "T" : "N"}${tB ? "T" : "N"}`;
    res.compare(`${named.name}: bias, ${shape}`, w.data, want, () => 1e-37, w.guards);
    if (relu) {
      // the relu in the store (linearRelu): relu's bits of the biased product, negatives and -0 to +0
      const wr = await kit.fetchPlaced(withRelu);
      res.compare(`${named.name}: bias and relu, ${shape}`, wr.data, want.map((v) => (v > 0 ? v : 0)), () => 1e-37, wr.guards);
      res.list.push({ name: `${named.name}: bias and relu, ${shape}: both sides of 0`, ok: want.some((v) => v < 0) && want.some((v) => v > 0), worst: 0, detail: "values below and above 0" });
    }
    for (const x of [pa, pb, pc, plain, with_, withRelu]) k.release(x.whole);
  }
}

/**
 * Past 65535 tiles a dimension: each kernel with the limit at 2 workgroups, 3 x 300 x 520 x 33 (12
 * dispatches of the 128 tile). a and b at odd offsets: element loads, TT, a pipeline the gemm
 * families compiled.
 */
async function gemmSplitCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels(), res = kit.results();
  const [B, M, N, K] = [3, 300, 520, 33];
  const r = rng(77);
  const a = randn(r, B * K * M), b = randn(r, N * K);
  const want = new Float32Array(B * M * N), bound = new Float32Array(B * M * N);
  matmul(want, a, b, B, M, N, K, true, true, M * K, 0, false);
  matmul(bound, a.map(Math.abs), b.map(Math.abs), B, M, N, K, true, true, M * K, 0, false);
  for (const named of kernelsOf(k.gemm).filter((n) => !n.fp16 && !n.ctx)) {
    let dispatches = 0;
    const limited: KernelContext = {
      pipeline: (key, source) => k.pipeline(key, source),
      dispatch: (...args) => { dispatches++; k.dispatch(...args); },
      scratch: (n) => k.scratch(n), release: (arr) => k.release(arr), indexCheck: (c, n) => k.indexCheck(c, n),
      workgroupFloats: k.workgroupFloats, maxWorkgroupsPerDimension: 2, maxStorageBuffers: k.maxStorageBuffers, maxBindingBytes: k.maxBindingBytes, gemm: k.gemm,
    };
    const pa = kit.place(a, 5), pb = kit.place(b, 9), pm = kit.output(B * M * N, 3);
    matmulWith(limited, named.kernel, pm.arr, pa.arr, pb.arr, B, M, N, K, true, true, M * K, 0, false);
    const got = await kit.fetchPlaced(pm);
    const tile = named.kernel.variant === "64" ? 64 : 128;
    const expect = Math.ceil(B / 2) * Math.ceil(Math.ceil(M / tile) / 2) * Math.ceil(Math.ceil(N / tile) / 2);
    res.compare(`${named.name}: ${B}x${M}x${N}x${K} TT, b shared, in ${dispatches} dispatches of at most 2 x 2 x 2 workgroups (${expect} expected)`,
      got.data, want, (i) => (K + 2) * U * bound[i]! + 2 * U * Math.abs(want[i]!) + 1e-30, got.guards && dispatches === expect);
    for (const p of [pa, pb, pm]) k.release(p.whole);
  }
  return res.list;
}

/** What chooseGemm picks, and its refusals: the case's detail is the choice or the message. */
async function gemmChoiceCases(kit: Kit): Promise<CaseResult[]> {
  const k = kit.kernels();
  const list: CaseResult[] = [];
  const plain: GemmOptions = { variant: "auto", precision: "fp32", subgroups: null, shaderF16: false };
  const sub: GemmOptions = { ...plain, subgroups: { min: 32, max: 32 } };
  const pick = (name: string, o: GemmOptions, shape: [number, number, number], want: string): void => {
    const got = chooseGemm(o, ...shape);
    const text = `${got.variant} ${got.stage}`;
    list.push({ name, ok: text === want, worst: 0, detail: text });
  };
  pick("auto, 1 x 1024 x 1024: the 64 tile", plain, [1, 1024, 1024], "64 f32");
  pick("auto, 1 x 2048 x 2048: the 128 tile", plain, [1, 2048, 2048], "128 f32");
  pick("auto, 64 x 256 x 256 with subgroups: the subgroup kernel", sub, [64, 256, 256], "subgroup f32");
  pick("auto, 4096 x 64 x 4096: the 64 tile (M under 128)", sub, [1, 64, 4096], "64 f32");
  pick("forced 128 on a small product", { ...plain, variant: "128" }, [1, 7, 7], "128 f32");
  pick("fp16 with shader-f16: the f16 kernel", { ...plain, precision: "fp16", shaderF16: true }, [1, 7, 7], "128 f16");
  const refused = (name: string, f: () => unknown): void => {
    try {
      f();
      list.push({ name, ok: false, worst: 0, detail: "no error" });
    } catch (e) {
      list.push({ name, ok: e instanceof WebGPUUnsupportedError, worst: 0, detail: `${(e as Error).name}: ${(e as Error).message}` });
    }
  };
  refused("refused: fp16 without shader-f16", () => chooseGemm({ ...plain, precision: "fp16" }, 1, 8, 8));
  refused("refused: the subgroup kernel without subgroups", () => chooseGemm({ ...plain, variant: "subgroup" }, 1, 8, 8));
  if (!k.gpu.features.shaderF16) {
    // this device: setMatmulPrecision refuses, and the precision stays fp32
    refused("refused here: setMatmulPrecision(\"fp16\")", () => k.setMatmulPrecision("fp16"));
    list.push({ name: "the precision stays fp32", ok: k.gemm.precision === "fp32", worst: 0, detail: k.gemm.precision });
    let thrown: unknown = null;
    try {
      await useWebGPU({ matmulPrecision: "fp16", quiet: true });
    } catch (e) {
      thrown = e;
    }
    list.push({ name: "refused here: useWebGPU({ matmulPrecision: \"fp16\" })", ok: thrown instanceof WebGPUUnsupportedError, worst: 0,
      detail: thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : "no error" });
  }
  return list;
}

/** The GEMM families: gemm.<kernel> (GEMM_FAMILIES), gemmSplit (past the workgroup limit), gemmChoice. */
export function gemmFamilies(kit: Kit): Record<string, () => Promise<CaseResult[]>> {
  const out: Record<string, () => Promise<CaseResult[]>> = { gemmSplit: () => gemmSplitCases(kit), gemmChoice: () => gemmChoiceCases(kit) };
  for (const f of GEMM_FAMILIES) out[`gemm.${f}`] = () => gemmCases(kit, f);
  return out;
}
