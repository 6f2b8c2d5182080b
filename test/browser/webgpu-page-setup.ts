/**
 * What the WebGPU pages share (webgpu-page.ts for the tests, webgpu-bench-page.ts for the bench,
 * both bundled and opened by webgpu-harness.ts): the start of a page, which gets WebGPUKernels on
 * navigator.gpu, publishes the page's API on `globalThis` and tells the harness through the body
 * (`data-ready="1"`, and `data-error` when there is no device), and the seeded random inputs.
 *
 * ```ts
 * void startPage("qkvWebgpuBench", (k) => ({ run: (config) => runBench(k, config, console.log) }));
 * ```
 */
import { matmul as jsMatmul } from "../../src/backend/js/matmul.js";
import { WebGPUKernels } from "../../src/backend/webgpu/index.js";

/** Gets the kernels, sets `globalThis[name]` = api(kernels), then marks the body ready (with the error, if any). */
export async function startPage<Api>(name: string, api: (k: WebGPUKernels) => Api): Promise<void> {
  const body = (globalThis as { document?: { body: { dataset: Record<string, string> } } }).document!.body;
  try {
    const k = await WebGPUKernels.create();
    (globalThis as Record<string, unknown>)[name] = api(k);
  } catch (e) {
    body.dataset.error = String(e);
  }
  body.dataset.ready = "1";
}

/** mulberry32: a small seeded generator. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n normal samples (Box-Muller over r), times scale plus shift. */
export function randn(r: () => number, n: number, scale = 1, shift = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = shift + scale * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return out;
}

/**
 * The operands of one batched matmul case drawn from `r`: a [batch, M, K] (one [M, K] when shared)
 * and b likewise, the starting output (random when accumulating), and the js matmul's answer.
 */
export function matmulOperands(r: () => number, batch: number, M: number, N: number, K: number, tA: boolean, tB: boolean,
  shA: boolean, shB: boolean, acc: boolean): { a: Float32Array; b: Float32Array; out0: Float32Array; want: Float32Array; sA: number; sB: number } {
  const sA = shA ? 0 : M * K, sB = shB ? 0 : K * N;
  const a = randn(r, Math.max(1, shA ? M * K : batch * M * K)), b = randn(r, Math.max(1, shB ? K * N : batch * K * N));
  const out0 = acc ? randn(r, batch * M * N) : new Float32Array(batch * M * N);
  const want = Float32Array.from(out0);
  jsMatmul(want, a, b, batch, M, N, K, tA, tB, sA, sB, acc);
  return { a, b, out0, want, sA, sB };
}
