/**
 * The optimizers' updates fused into kernels: SGD (weight decay, momentum, dampening, Nesterov,
 * maximize), one dispatch per parameter, and Adam / AdamW (decoupled decay, L2, amsgrad, maximize),
 * several parameters to a dispatch. Each
 * thread updates one element with the float32 operations, in the order and with the rounded
 * scalars, of the composed update in optim/device-step.ts (one binary kernel per line there), so
 * both give the same numbers; this one reads and writes each array once, in one dispatch, with
 * its scalars in the parameter block instead of one-element uploads.
 *
 * ```ts
 * adamSteps(ctx, [{ p: P, g: G, m: M, v: V, vmax: null, n, stepSize: lr / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t) }],
 *   { b1: 0.9, b2: 0.999, eps: 1e-8, decay: 1 - lr * wd, l2: 0, maximize: false });
 * ```
 */
import type { AdamSharedArgs, AdamStepItem, SgdStepArgs } from "../backend.js";
import { ValueError } from "../../tensor/errors.js";
import { ceilDiv, dispatchGroups, dispatchKernel, f32Bits, type GpuArray, type KernelContext } from "./context.js";
import { arraysOverGroups, computeMain, header, workgroupStarts } from "./wgsl.js";

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

/** One Adam / AdamW element: the composed update's float32 operations in its order (device-step.ts). */
const ADAM = /* wgsl */ `
struct AdamOut { x: f32, m: f32, v: f32, vv: f32 }
fn adam(x0: f32, g: f32, m0: f32, v0: f32, old: f32, amsgrad: bool, stepSize: f32, bc2Sqrt: f32) -> AdamOut {
  var x = x0;
  if (p.decay != 1.0) { x = x * p.decay; }
  var gg = g;
  if (p.maximize != 0u || p.l2 != 0.0) { gg = decayed(g, x, p.maximize, p.l2); }
  let m = m0 * p.b1 + gg * p.oneMinusB1;
  let v = v0 * p.b2 + (gg * gg) * p.oneMinusB2;
  var vv = v;
  if (amsgrad) { vv = select(v, old, old > v || isNan(old)); }
  let den = sqrt(vv) / bc2Sqrt + p.eps;
  return AdamOut(x - (m / den) * stepSize, m, v, vv);
}`;

/**
 * k parameters in one dispatch: parameter j's arrays pj, mj, vj (vmaxj), gj laid out over the
 * workgroups one after another (arraysOverGroups), with its own n, step size and bc2Sqrt (its own
 * step count).
 */
const adamSource = (k: number, amsgrad: boolean) => (): string => {
  const js = Array.from({ length: k }, (_, j) => j);
  const outs = js.flatMap((j) => [`p${j}`, `m${j}`, `v${j}`, ...(amsgrad ? [`vmax${j}`] : [])]);
  const over = arraysOverGroups(k, WG);
  const cases = js.map((j) => `    case ${j}u: {
      if (i >= p.n${j}) { return; }
      let r = adam(b_p${j}[p.o_p${j} + i], b_g${j}[p.o_g${j} + i], b_m${j}[p.o_m${j} + i], b_v${j}[p.o_v${j} + i],
        ${amsgrad ? `b_vmax${j}[p.o_vmax${j} + i]` : "0.0"}, ${amsgrad}, p.stepSize${j}, p.bc2Sqrt${j});
      b_m${j}[p.o_m${j} + i] = r.m;
      b_v${j}[p.o_v${j} + i] = r.v;
      ${amsgrad ? `b_vmax${j}[p.o_vmax${j} + i] = r.vv;` : ""}
      b_p${j}[p.o_p${j} + i] = r.x;
    }`);
  return /* wgsl */ `
${header(outs, js.map((j) => `g${j}`), ["maximize: u32", "b1: f32", "oneMinusB1: f32", "b2: f32", "oneMinusB2: f32", "eps: f32", "decay: f32", "l2: f32",
  ...js.flatMap((j) => [`n${j}: u32`, `stepSize${j}: f32`, `bc2Sqrt${j}: f32`]), ...over.fields])}
${DECAYED}
${ADAM}
${computeMain(WG)} {
${over.find}
  switch a {
${cases.join("\n")}
    default: {}
  }
}`;
};

/**
 * Adam / AdamW updates of many parameters, each with its moments and its own step size and bc2Sqrt
 * (see AdamStepItem), as few to a dispatch as the device binds (4 arrays a parameter, 5 with
 * amsgrad; at most 4 parameters); a parameter sharing a buffer with one already in the group
 * starts the next group.
 */
export function adamSteps(ctx: KernelContext, items: readonly AdamStepItem<GpuArray>[], o: AdamSharedArgs): void {
  const live = items.filter((it) => it.n > 0);
  if (live.length === 0) return;
  const amsgrad = live[0]!.vmax !== null;
  const per = Math.max(1, Math.min(4, Math.floor(ctx.maxStorageBuffers / (amsgrad ? 5 : 4))));
  const shared = [+o.maximize, f32Bits(o.b1), f32Bits(1 - o.b1), f32Bits(o.b2), f32Bits(1 - o.b2), f32Bits(o.eps), f32Bits(o.decay), f32Bits(o.l2)];
  for (const it of live) {
    if ((it.vmax !== null) !== amsgrad) throw new ValueError("adamSteps", "items", "every item with vmax or none (one amsgrad setting)", "a mix");
  }
  const arrays = (it: AdamStepItem<GpuArray>): GpuArray[] => [it.p, it.m, it.v, ...(it.vmax ? [it.vmax] : []), it.g];
  for (const group of dispatchGroups(live, per, arrays)) {
    const k = group.length, { starts, groups } = workgroupStarts(group.map((it) => it.n), WG);
    const params = [...shared, ...group.flatMap((it) => [it.n, f32Bits(it.stepSize), f32Bits(it.bc2Sqrt)]), ...starts];
    const outs = group.flatMap((it) => [it.p, it.m, it.v, ...(it.vmax ? [it.vmax] : [])]);
    dispatchKernel(ctx, `adamStep.${amsgrad ? "amsgrad" : "plain"}.k${k}`, adamSource(k, amsgrad), outs, group.map((it) => it.g), params, groups);
  }
}
