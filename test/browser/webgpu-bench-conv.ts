/**
 * The convolution rows of `npm run bench -- webgpu` (webgpu-bench.ts runs them last): a 3 x 3
 * convolution (stride 1, padding 1, NCHW, fp32) forward, its input gradient and its weight
 * gradient, the last three ways: as `splitK` decides (conv.ts), unsplit, and in 4 ranges of K
 * (`forceConvSplitK`), so that a GPU run can settle the split rule. Shapes: a ResNet stage
 * (B 16, C = O = 64, 56 x 56) and a deep one (B 16, C = O = 256, 14 x 14); on a CPU adapter
 * (SwiftShader) a tiny one, which proves the path. 2 B O C 9 oH oW flops each; each row checked on
 * 8 sampled outputs against float64 sums.
 *
 * ```ts
 * const rows = await convRows(k, timer, config, log);
 * ```
 */
import type { Conv2dArgs } from "../../src/backend/backend.js";
import { forceConvSplitK } from "../../src/backend/webgpu/conv.js";
import type { GpuArray, GpuTimer, WebGPUKernels } from "../../src/backend/webgpu/index.js";
import { Checker, FAILED_TIMING, orFailed, time, U, type BenchConfig, type Check, type Timing } from "./webgpu-bench.js";
import { randn, rng } from "./webgpu-page-setup.js";

export interface ConvRow {
  shape: string;
  pass: "forward" | "input gradient" | "weight gradient";
  /** How the weight gradient split K: "auto" (splitK), "unsplit", or "S=4"; "" for the other passes. */
  split: string;
  time: Timing;
  check: Check;
}

interface Shape { name: string; B: number; C: number; H: number; W: number; O: number }

const SHAPES: Shape[] = [
  { name: "resnet 64ch 56x56", B: 16, C: 64, H: 56, W: 56, O: 64 },
  { name: "deep 256ch 14x14", B: 16, C: 256, H: 14, W: 14, O: 256 },
];
const TINY: Shape[] = [{ name: "tiny 8ch 12x12", B: 2, C: 8, H: 12, W: 12, O: 8 }];

const argsOf = (s: Shape): Conv2dArgs => ({
  B: s.B, C: s.C, H: s.H, W: s.W, O: s.O, kH: 3, kW: 3, oH: s.H, oW: s.W, sH: 1, sW: 1, padTop: 1, padLeft: 1, dH: 1, dW: 1, G: 1,
});

/** The host operands: x [B, C, H, W], weight [O, C, 3, 3], bias [O], dy [B, O, H, W]. */
interface Host { x: Float32Array; w: Float32Array; bias: Float32Array; dy: Float32Array }

/** x at (b, c, y, x), zero outside the image. */
const xAt = (h: Host, s: Shape, b: number, c: number, y: number, xx: number): number =>
  y < 0 || y >= s.H || xx < 0 || xx >= s.W ? 0 : h.x[((b * s.C + c) * s.H + y) * s.W + xx]!;

/** 8 sampled entries of one pass's output against float64 sums: (value, sum of |terms|) by flat index. */
function checkPass(s: Shape, h: Host, pass: ConvRow["pass"], got: Float32Array, r: () => number): Check {
  const check = new Checker();
  const pick = (n: number, last: boolean): number => (last ? n - 1 : Math.floor(r() * n));
  for (let t = 0; t < 8; t++) {
    let want = 0, abs = 0, at = 0, terms = 0;
    if (pass === "forward") {
      const b = pick(s.B, t === 7), o = pick(s.O, t === 7), y = pick(s.H, t === 7), xx = pick(s.W, t === 7);
      want = h.bias[o]!;
      abs = Math.abs(want);
      for (let c = 0; c < s.C; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
        const p = h.w[((o * s.C + c) * 3 + i) * 3 + j]! * xAt(h, s, b, c, y + i - 1, xx + j - 1);
        want += p;
        abs += Math.abs(p);
      }
      at = ((b * s.O + o) * s.H + y) * s.W + xx;
      terms = 9 * s.C + 1;
    } else if (pass === "input gradient") {
      const b = pick(s.B, t === 7), c = pick(s.C, t === 7), y = pick(s.H, t === 7), xx = pick(s.W, t === 7);
      for (let o = 0; o < s.O; o++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
        const oy = y - i + 1, ox = xx - j + 1;
        if (oy < 0 || oy >= s.H || ox < 0 || ox >= s.W) continue;
        const p = h.dy[((b * s.O + o) * s.H + oy) * s.W + ox]! * h.w[((o * s.C + c) * 3 + i) * 3 + j]!;
        want += p;
        abs += Math.abs(p);
      }
      at = ((b * s.C + c) * s.H + y) * s.W + xx;
      terms = 9 * s.O;
    } else {
      const o = pick(s.O, t === 7), c = pick(s.C, t === 7), i = pick(3, t === 7), j = pick(3, t === 7);
      for (let b = 0; b < s.B; b++) for (let y = 0; y < s.H; y++) for (let xx = 0; xx < s.W; xx++) {
        const p = h.dy[((b * s.O + o) * s.H + y) * s.W + xx]! * xAt(h, s, b, c, y + i - 1, xx + j - 1);
        want += p;
        abs += Math.abs(p);
      }
      at = ((o * s.C + c) * 3 + i) * 3 + j;
      terms = s.B * s.H * s.W;
    }
    check.add(`${pass}[${at}]`, got[at]!, want, 4 * (terms + 2) * U * abs + 1e-30);
  }
  return check.result();
}

async function shapeRows(k: WebGPUKernels, timer: GpuTimer | null, s: Shape, c: BenchConfig, log: (line: string) => void): Promise<ConvRow[]> {
  const r = rng(5000 + s.C * s.H);
  const a = argsOf(s);
  const h: Host = { x: randn(r, s.B * s.C * s.H * s.W), w: randn(r, s.O * s.C * 9, 1 / Math.sqrt(9 * s.C)), bias: randn(r, s.O), dy: randn(r, s.B * s.O * s.H * s.W) };
  const [x, w, bias, dy] = [h.x, h.w, h.bias, h.dy].map((v) => k.upload(v)) as [GpuArray, GpuArray, GpuArray, GpuArray];
  const out = k.alloc(h.dy.length), dx = k.alloc(h.x.length), dw = k.alloc(h.w.length);
  const flop = 2 * s.B * s.O * s.C * 9 * s.H * s.W;
  const rows: ConvRow[] = [];
  const passes: [ConvRow["pass"], string, number | null | undefined, () => void, GpuArray][] = [
    ["forward", "", undefined, () => k.conv2dForward(out, x, w, bias, a), out],
    ["input gradient", "", undefined, () => k.conv2dBackwardInput(dx, dy, w, a), dx],
    ["weight gradient", "auto", null, () => k.conv2dBackwardWeight(dw, dy, x, a), dw],
    ["weight gradient", "unsplit", 0, () => k.conv2dBackwardWeight(dw, dy, x, a), dw],
    ["weight gradient", "S=4", 4, () => k.conv2dBackwardWeight(dw, dy, x, a), dw],
  ];
  for (const [pass, split, S, record, result] of passes) {
    const what = `conv ${s.name} ${pass}${split ? ` (${split})` : ""}`;
    const row = await orFailed(what, async () => {
      if (S !== undefined) forceConvSplitK(S);
      try {
        const t = await time(k, timer, record, flop, c);
        return { shape: s.name, pass, split, time: t, check: checkPass(s, h, pass, await k.read(result), r) };
      } finally {
        forceConvSplitK(null);
      }
    }, (check) => ({ shape: s.name, pass, split, time: FAILED_TIMING, check }), log);
    rows.push(row);
    log(`${what}: ${row.time.ms.toFixed(3)} ms, ${row.time.tflops.toFixed(2)} TFLOP/s`);
  }
  for (const v of [x, w, bias, dy, out, dx, dw]) k.release(v);
  return rows;
}

/** The rows of every shape (the tiny one on a CPU adapter, or when the config's sizes are all under 1024). */
export async function convRows(k: WebGPUKernels, timer: GpuTimer | null, c: BenchConfig, log: (line: string) => void = () => {}): Promise<ConvRow[]> {
  const shapes = k.gpu.cpu || Math.max(...c.sizes) < 1024 ? TINY : SHAPES;
  const rows: ConvRow[] = [];
  for (const s of shapes) rows.push(...await shapeRows(k, timer, s, c, log));
  return rows;
}
