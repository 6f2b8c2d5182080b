/**
 * The optimizers' updates fused into one kernel per parameter: SGD (weight decay, momentum,
 * dampening, Nesterov, maximize) and Adam / AdamW (decoupled decay, L2, amsgrad, maximize). Each
 * thread updates one element with the float32 operations, in the order and with the rounded
 * scalars, of the composed update in optim/device-step.ts (one binary kernel per line there), so
 * both give the same numbers; this one reads and writes each array once, in one dispatch, with
 * its scalars in the parameter block instead of one-element uploads.
 *
 * ```ts
 * adamStep(ctx, P, G, M, V, null, n, { b1: 0.9, b2: 0.999, eps: 1e-8, decay: 1 - lr * wd, l2: 0,
 *   stepSize: lr / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t), maximize: false });
 * ```
 */
import type { AdamStepArgs, SgdStepArgs } from "../backend.js";
import { ceilDiv, dispatchKernel, f32Bits, type GpuArray, type KernelContext } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;

/** `-g` or `g * 1` (as the composed update's neg / mul by one), plus `x * decay` when decay is not 0. */
const DECAYED = /* wgsl */ `
fn decayed(g: f32, x: f32, maximize: u32, decay: f32) -> f32 {
  var d = select(g * 1.0, -g, maximize != 0u);
  if (decay != 0.0) { d = d + x * decay; }
  return d;
}`;

const sgdSource = (momentum: boolean) => (): string => /* wgsl */ `
${header(momentum ? ["p", "buf"] : ["p"], ["g"], ["n: u32", "maximize: u32", "first: u32", "nesterov: u32",
  "lr: f32", "decay: f32", "momentum: f32", "oneMinusDampening: f32"])}
${DECAYED}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let x = b_p[p.o_p + i];
  var d = decayed(b_g[p.o_g + i], x, p.maximize, p.decay);
  ${momentum ? `var B: f32;
  if (p.first != 0u) { B = d * 1.0; } else { B = b_buf[p.o_buf + i] * p.momentum + d * p.oneMinusDampening; }
  b_buf[p.o_buf + i] = B;
  if (p.nesterov != 0u) { d = d + B * p.momentum; } else { d = B * 1.0; }` : ""}
  b_p[p.o_p + i] = x - d * p.lr;
}`;

/** p -= lr d, d the decayed (and, with buf, momentum-averaged) gradient; buf is written when given. */
export function sgdStep(ctx: KernelContext, P: GpuArray, G: GpuArray, buf: GpuArray | null, n: number, o: SgdStepArgs, first: boolean): void {
  if (n === 0) return;
  const key = `sgdStep.${buf ? "momentum" : "plain"}`;
  const params = [n, +o.maximize, +first, +o.nesterov, f32Bits(o.lr), f32Bits(o.weightDecay), f32Bits(o.momentum), f32Bits(1 - o.dampening)];
  dispatchKernel(ctx, key, sgdSource(buf !== null), buf ? [P, buf] : [P], [G], params, ceilDiv(n, WG));
}

const adamSource = (amsgrad: boolean) => (): string => /* wgsl */ `
${header(amsgrad ? ["p", "m", "v", "vmax"] : ["p", "m", "v"], ["g"], ["n: u32", "maximize: u32", "b1: f32", "oneMinusB1: f32",
  "b2: f32", "oneMinusB2: f32", "eps: f32", "decay: f32", "l2: f32", "stepSize: f32", "bc2Sqrt: f32"])}
${DECAYED}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  var x = b_p[p.o_p + i];
  if (p.decay != 1.0) { x = x * p.decay; }
  let g = b_g[p.o_g + i];
  var gg = g;
  if (p.maximize != 0u || p.l2 != 0.0) { gg = decayed(g, x, p.maximize, p.l2); }
  let m = b_m[p.o_m + i] * p.b1 + gg * p.oneMinusB1;
  let v = b_v[p.o_v + i] * p.b2 + (gg * gg) * p.oneMinusB2;
  b_m[p.o_m + i] = m;
  b_v[p.o_v + i] = v;
  ${amsgrad ? `let old = b_vmax[p.o_vmax + i];
  let vv = select(v, old, old > v || isNan(old));
  b_vmax[p.o_vmax + i] = vv;` : "let vv = v;"}
  let den = sqrt(vv) / p.bc2Sqrt + p.eps;
  b_p[p.o_p + i] = x - (m / den) * p.stepSize;
}`;

/** One Adam / AdamW update of P from G with the moments M, V (and Vmax for amsgrad); see AdamStepArgs. */
export function adamStep(ctx: KernelContext, P: GpuArray, G: GpuArray, M: GpuArray, V: GpuArray, vmax: GpuArray | null, n: number,
  o: AdamStepArgs): void {
  if (n === 0) return;
  const key = `adamStep.${vmax ? "amsgrad" : "plain"}`;
  const params = [n, +o.maximize, f32Bits(o.b1), f32Bits(1 - o.b1), f32Bits(o.b2), f32Bits(1 - o.b2), f32Bits(o.eps), f32Bits(o.decay),
    f32Bits(o.l2), f32Bits(o.stepSize), f32Bits(o.bc2Sqrt)];
  dispatchKernel(ctx, key, adamSource(vmax !== null), vmax ? [P, M, V, vmax] : [P, M, V], [G], params, ceilDiv(n, WG));
}
