/**
 * The optimizers' updates fused into kernels: SGD (weight decay, momentum, dampening, Nesterov,
 * maximize), one dispatch per parameter, and Adam / AdamW (decoupled decay, L2, amsgrad, maximize),
 * several parameters to a dispatch (each distinct buffer bound once: moments that are views of one
 * flat array share a binding). Either may multiply the gradients by a one-element scale as it
 * reads them (the clipping's coefficient, so the gradients need no pass of their own). Each
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
import { ceilDiv, dispatchKernel, f32Bits, type GpuArray, type KernelContext } from "./context.js";
import { planBindings, type BindingPlan, type Use } from "./shared-bindings.js";
import { arraysOverGroups, computeMain, header, workgroupStarts } from "./wgsl.js";

const WG = 256;

/** `-g` or `g * 1` (as the composed update's neg / mul by one), plus `x * decay` when decay is not 0. */
const DECAYED = /* wgsl */ `
fn decayed(g: f32, x: f32, maximize: u32, decay: f32) -> f32 {
  var d = select(g * 1.0, -g, maximize != 0u);
  if (decay != 0.0) { d = d + x * decay; }
  return d;
}`;

const sgdSource = (momentum: boolean, scaled: boolean) => (): string => /* wgsl */ `
${header(momentum ? ["p", "buf"] : ["p"], scaled ? ["g", "s"] : ["g"], ["n: u32", "maximize: u32", "first: u32", "nesterov: u32",
  "lr: f32", "decay: f32", "momentum: f32", "oneMinusDampening: f32"])}
${DECAYED}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let x = b_p[p.o_p + i];
  var d = decayed(b_g[p.o_g + i]${scaled ? " * b_s[p.o_s]" : ""}, x, p.maximize, p.decay);
  ${momentum ? `var B: f32;
  if (p.first != 0u) { B = d * 1.0; } else { B = b_buf[p.o_buf + i] * p.momentum + d * p.oneMinusDampening; }
  b_buf[p.o_buf + i] = B;
  if (p.nesterov != 0u) { d = d + B * p.momentum; } else { d = B * 1.0; }` : ""}
  b_p[p.o_p + i] = x - d * p.lr;
}`;

/** p -= lr d, d the decayed (and, with buf, momentum-averaged) gradient g (times scale[0] when a scale is given); buf is written when given. */
export function sgdStep(ctx: KernelContext, P: GpuArray, G: GpuArray, buf: GpuArray | null, n: number, o: SgdStepArgs, first: boolean,
  scale: GpuArray | null = null): void {
  if (n === 0) return;
  const key = `sgdStep.${buf ? "momentum" : "plain"}${scale ? ".scaled" : ""}`;
  const params = [n, +o.maximize, +first, +o.nesterov, f32Bits(o.lr), f32Bits(o.weightDecay), f32Bits(o.momentum), f32Bits(1 - o.dampening)];
  dispatchKernel(ctx, key, sgdSource(buf !== null, scale !== null), buf ? [P, buf] : [P], scale ? [G, scale] : [G], params, ceilDiv(n, WG));
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

/** The arrays an Adam item binds, in this order: p, m, v (vmax), written; g, read. */
function adamUses(it: AdamStepItem<GpuArray>): Use[] {
  const uses: Use[] = [{ arr: it.p, out: true }, { arr: it.m, out: true }, { arr: it.v, out: true }];
  if (it.vmax) uses.push({ arr: it.vmax, out: true });
  uses.push({ arr: it.g, out: false });
  return uses;
}

/**
 * One dispatch's Adam kernel: item j's arrays are reached as b_s<slot>[p.o_s<slot> + p.x<j>_<r> + i]
 * (its slots fixed in the source, its offsets parameters), laid out over the workgroups one after
 * another (arraysOverGroups), each with its own n, step size and bc2Sqrt (its own step count);
 * with a scale, every gradient element is multiplied by it as it is read.
 */
const adamSource = (plan: BindingPlan<AdamStepItem<GpuArray>>, amsgrad: boolean, scaled: boolean) => (): string => {
  const k = plan.items.length, nOut = plan.outs.length;
  const slots = Array.from({ length: nOut + plan.ins.length }, (_, i) => `s${i}`);
  const roles = amsgrad ? ["p", "m", "v", "vmax", "g"] : ["p", "m", "v", "g"];
  const over = arraysOverGroups(k, WG);
  const el = (j: number, r: number): string => {
    const s = plan.at[j]![r]!.slot;
    return `b_s${s}[p.o_s${s} + p.x${j}_${roles[r]} + i]`;
  };
  const cases = plan.items.map((_, j) => {
    const g = el(j, roles.length - 1);
    return `    case ${j}u: {
      if (i >= p.n${j}) { return; }
      let r = adam(${el(j, 0)}, ${scaled ? `${g} * sc` : g}, ${el(j, 1)}, ${el(j, 2)},
        ${amsgrad ? el(j, 3) : "0.0"}, ${amsgrad}, p.stepSize${j}, p.bc2Sqrt${j});
      ${el(j, 1)} = r.m;
      ${el(j, 2)} = r.v;
      ${amsgrad ? `${el(j, 3)} = r.vv;` : ""}
      ${el(j, 0)} = r.x;
    }`;
  });
  const sc = scaled ? plan.common[0]! : null;
  return /* wgsl */ `
${header(slots.slice(0, nOut), slots.slice(nOut), ["maximize: u32", "b1: f32", "oneMinusB1: f32", "b2: f32", "oneMinusB2: f32", "eps: f32", "decay: f32", "l2: f32",
  ...(sc ? ["x_scale: u32"] : []),
  ...plan.items.flatMap((_, j) => [`n${j}: u32`, `stepSize${j}: f32`, `bc2Sqrt${j}: f32`, ...roles.map((r) => `x${j}_${r}: u32`)]), ...over.fields])}
${DECAYED}
${ADAM}
${computeMain(WG)} {
${over.find}
${over.element}
  ${sc ? `let sc = b_s${sc.slot}[p.o_s${sc.slot} + p.x_scale];` : ""}
  switch a {
${cases.join("\n")}
    default: {}
  }
}`;
};

/** Items a dispatch may take (its switch's cases). */
const MAX_ITEMS = 16;

/**
 * Adam / AdamW updates of many parameters, each with its moments and its own step size and bc2Sqrt
 * (see AdamStepItem), with every gradient multiplied by scale[0] when a scale is given. As many to
 * a dispatch as the device binds: each distinct buffer is bound once (shared-bindings.ts), so
 * parameters whose moments are views of one flat array (the optimizers keep them so) take two
 * bindings each (p and g) besides the moments' two (three with amsgrad).
 */
export function adamSteps(ctx: KernelContext, items: readonly AdamStepItem<GpuArray>[], o: AdamSharedArgs, scale: GpuArray | null = null): void {
  const live = items.filter((it) => it.n > 0);
  if (live.length === 0) return;
  const amsgrad = live[0]!.vmax !== null;
  for (const it of live) {
    if ((it.vmax !== null) !== amsgrad) throw new ValueError("adamSteps", "items", "every item with vmax or none (one amsgrad setting)", "a mix");
  }
  const shared = [+o.maximize, f32Bits(o.b1), f32Bits(1 - o.b1), f32Bits(o.b2), f32Bits(1 - o.b2), f32Bits(o.eps), f32Bits(o.decay), f32Bits(o.l2)];
  const common: Use[] = scale ? [{ arr: scale, out: false }] : [];
  const kind = `${amsgrad ? "amsgrad" : "plain"}${scale ? ".scaled" : ""}`;
  for (const plan of planBindings(live, adamUses, common, ctx.maxStorageBuffers, MAX_ITEMS, ctx.maxBindingBytes)) {
    const k = plan.items.length, { starts, groups } = workgroupStarts(plan.items.map((it) => it.n), WG);
    const params = shared.slice();
    for (const c of plan.common) params.push(c.offset);
    // the slots each item's arrays take name the pipeline; a training step's groups repeat, so few are compiled
    let key = `adamStep.${kind}.${plan.outs.length}.${plan.ins.length}.`;
    for (let j = 0; j < k; j++) {
      const it = plan.items[j]!;
      params.push(it.n, f32Bits(it.stepSize), f32Bits(it.bc2Sqrt));
      for (const a of plan.at[j]!) {
        params.push(a.offset);
        key += `${a.slot},`;
      }
      key += ";";
    }
    for (const s of starts) params.push(s);
    ctx.dispatch(`adamStep.${kind}.k${k}`, ctx.pipeline(key, adamSource(plan, amsgrad, scale !== null)), plan.outs, plan.ins, params, groups);
  }
}
