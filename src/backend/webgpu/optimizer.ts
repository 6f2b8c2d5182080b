/**
 * The optimizers' updates fused into kernels: SGD (weight decay, momentum, dampening, Nesterov,
 * maximize) and Adam / AdamW (decoupled decay, L2, amsgrad, maximize), several parameters to a
 * dispatch (each distinct buffer bound once: state arrays that are views of one flat array share a
 * binding). Either may multiply the gradients by a one-element scale as it reads them (the
 * clipping's coefficient, so the gradients need no pass of their own). Each thread updates one
 * element with the float32 operations, in the order and with the rounded scalars, of the composed
 * update in optim/device-step.ts (one binary kernel per line there), so both give the same
 * numbers; this one reads and writes each array once, in one dispatch, with its scalars in the
 * parameter block instead of one-element uploads.
 *
 * ```ts
 * adamSteps(ctx, [{ p: P, g: G, m: M, v: V, vmax: null, n, stepSize: lr / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t) }],
 *   { b1: 0.9, b2: 0.999, eps: 1e-8, decay: 1 - lr * wd, l2: 0, maximize: false });
 * ```
 */
import type { AdamSharedArgs, AdamStepItem, SgdStepArgs, SgdStepItem } from "../backend.js";
import { ValueError } from "../../tensor/errors.js";
import { f32Bits, type GpuArray, type KernelContext } from "./context.js";
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

/** One SGD element: the composed update's float32 operations in its order (device-step.ts); the momentum's lines where it has a buffer. */
const sgdFn = (momentum: boolean): string => /* wgsl */ `
struct SgdOut { x: f32, buf: f32 }
fn sgd(x: f32, g: f32, buf0: f32, first: bool) -> SgdOut {
  var d = decayed(g, x, p.maximize, p.decay);
  var B = 0.0;${momentum ? `
  if (first) { B = d * 1.0; } else { B = buf0 * p.momentum + d * p.oneMinusDampening; }
  if (p.nesterov != 0u) { d = d + B * p.momentum; } else { d = B * 1.0; }` : ""}
  return SgdOut(x - d * p.lr, B);
}`;

/** The arrays an SGD item binds, in this order: p (buf), written; g, read. */
function sgdUses(it: SgdStepItem<GpuArray>): Use[] {
  const uses: Use[] = [{ arr: it.p, out: true }];
  if (it.buf) uses.push({ arr: it.buf, out: true });
  uses.push({ arr: it.g, out: false });
  return uses;
}

/**
 * One dispatch's kernel over several items (`update` writes item j's element i from its roles'
 * elements), laid out over the workgroups one after another (arraysOverGroups): item j's arrays
 * are reached as b_s<slot>[p.o_s<slot> + p.x<j>_<role> + i], its slots fixed in the source, its
 * offsets, n and `itemFields` ("name: type", each as name<j>) parameters; with a scale, every
 * gradient element is multiplied by it as it is read.
 */
function batchedSource<T>(plan: BindingPlan<T>, roles: readonly string[], fields: readonly string[], itemFields: readonly string[],
  functions: string, update: (el: (r: number) => string, j: number) => string): string {
  const k = plan.items.length, nOut = plan.outs.length;
  const slots = Array.from({ length: nOut + plan.ins.length }, (_, i) => `s${i}`);
  const over = arraysOverGroups(k, WG);
  const cases = plan.items.map((_, j) => {
    const el = (r: number): string => {
      const s = plan.at[j]![r]!.slot;
      return `b_s${s}[p.o_s${s} + p.x${j}_${roles[r]} + i]`;
    };
    return `    case ${j}u: {
      if (i >= p.n${j}) { return; }
${update(el, j)}
    }`;
  });
  const sc = plan.common[0] ?? null;
  return /* wgsl */ `
${header(slots.slice(0, nOut), slots.slice(nOut), [...fields, ...(sc ? ["x_scale: u32"] : []),
  ...plan.items.flatMap((_, j) => [`n${j}: u32`, ...itemFields.map((f) => f.replace(":", `${j}:`)), ...roles.map((r) => `x${j}_${r}: u32`)]),
  ...over.fields])}
${DECAYED}
${functions}
${computeMain(WG)} {
${over.find}
${over.element}
  ${sc ? `let sc = b_s${sc.slot}[p.o_s${sc.slot} + p.x_scale];` : ""}
  switch a {
${cases.join("\n")}
    default: {}
  }
}`;
}

const sgdSource = (plan: BindingPlan<SgdStepItem<GpuArray>>, momentum: boolean, scaled: boolean) => (): string => {
  const roles = momentum ? ["p", "buf", "g"] : ["p", "g"];
  return batchedSource(plan, roles, ["maximize: u32", "nesterov: u32", "lr: f32", "decay: f32", "momentum: f32", "oneMinusDampening: f32"],
    ["first: u32"], sgdFn(momentum), (el, j) => {
      const g = el(roles.length - 1);
      return `      let r = sgd(${el(0)}, ${scaled ? `${g} * sc` : g}, ${momentum ? el(1) : "0.0"}, p.first${j} != 0u);
      ${momentum ? `${el(1)} = r.buf;` : ""}
      ${el(0)} = r.x;`;
    });
};

/** Items a dispatch may take (its switch's cases). */
const MAX_ITEMS = 16;

/** One dispatch of a batched update as planned: its bindings, its items' count, its pipeline's key and its workgroups. */
interface Planned<T> { plan: BindingPlan<T>; key: string; starts: number[]; groups: number }

/**
 * The last plans of each batched update (by context and name), and the arrays and sizes each was
 * made for: a training step's update is over the same arrays step after step (the parameters,
 * their moments, the gradients the pool hands out again: from two sets of buffers in turn when a
 * step is recorded while the last one's loss is read back), so a plan is reused while they stay.
 */
interface Memo { buffers: GPUBuffer[]; numbers: number[]; planned: Planned<unknown>[] }
const memos = new WeakMap<KernelContext, Map<string, Memo[]>>();
/** Plans kept per update, the most recently used first. */
const MEMO_PLANS = 4;

/**
 * What a plan depends on: each item's n and arrays (buffer, offset, length, written or not), and
 * the common arrays': their buffers, and the numbers.
 */
function signature<T extends { n: number }>(items: readonly T[], uses: (it: T) => Use[], common: readonly Use[]): Omit<Memo, "planned"> {
  const buffers: GPUBuffer[] = [], numbers: number[] = [];
  const put = (u: Use): void => {
    buffers.push(u.arr.buffer);
    numbers.push(u.arr.offset, u.arr.length, u.out ? 1 : 0);
  };
  for (const it of items) {
    const us = uses(it);
    numbers.push(it.n, us.length);
    for (const u of us) put(u);
  }
  numbers.push(-1);
  for (const u of common) put(u);
  return { buffers, numbers };
}

const sameList = <E>(a: readonly E[], b: readonly E[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The dispatches of `items` as planned (planBindings, the pipeline keys, the workgroups), the memo's when its arrays are the same. */
function plannedFor<T extends { n: number }>(ctx: KernelContext, name: string, items: readonly T[], uses: (it: T) => Use[],
  common: Use[]): Planned<T>[] {
  let byName = memos.get(ctx);
  if (!byName) memos.set(ctx, (byName = new Map()));
  const { buffers, numbers } = signature(items, uses, common);
  let kept = byName.get(name);
  if (!kept) byName.set(name, (kept = []));
  const hit = kept.findIndex((m) => sameList(m.buffers, buffers) && sameList(m.numbers, numbers));
  if (hit >= 0) {
    // the same arrays: the plans with this call's items in their places
    const memo = kept[hit]!;
    if (hit > 0) kept.unshift(...kept.splice(hit, 1));
    let at = 0;
    return memo.planned.map((p) => {
      const k = p.plan.items.length, mine = items.slice(at, at + k);
      at += k;
      return { ...p, plan: { ...p.plan, items: mine } } as Planned<T>;
    });
  }
  const planned = planBindings(items, uses, common, ctx.maxStorageBuffers, MAX_ITEMS, ctx.maxBindingBytes).map((plan) => {
    const { starts, groups } = workgroupStarts(plan.items.map((it) => it.n), WG);
    let key = `${name}.${plan.outs.length}.${plan.ins.length}.`;
    for (const at of plan.at) {
      for (const a of at) key += `${a.slot},`;
      key += ";";
    }
    return { plan, key, starts, groups };
  });
  kept.unshift({ buffers, numbers, planned: planned as Planned<unknown>[] });
  if (kept.length > MEMO_PLANS) kept.pop();
  return planned;
}

/**
 * The dispatches of a batched update: items planned over the device's bindings (each distinct
 * buffer bound once: shared-bindings.ts; the last plan reused while the arrays are the same),
 * each dispatch's parameters (shared, the common arrays' offsets, then per item its n, `scalars`
 * and its arrays' offsets, then the arrays' first workgroups) and its pipeline named by the slots
 * its items' arrays take (a training step's groups repeat, so few are compiled).
 */
function dispatchBatched<T extends { n: number }>(ctx: KernelContext, name: string, items: readonly T[], uses: (it: T) => Use[], common: Use[],
  shared: readonly number[], scalars: (it: T) => number[], source: (plan: BindingPlan<T>) => () => string): void {
  for (const { plan, key, starts, groups } of plannedFor(ctx, name, items, uses, common)) {
    const k = plan.items.length;
    const params = shared.slice();
    for (const c of plan.common) params.push(c.offset);
    for (let j = 0; j < k; j++) {
      const it = plan.items[j]!;
      params.push(it.n, ...scalars(it));
      for (const a of plan.at[j]!) params.push(a.offset);
    }
    for (const s of starts) params.push(s);
    ctx.dispatch(`${name}.k${k}`, ctx.pipeline(key, source(plan)), plan.outs, plan.ins, params, groups);
  }
}

/**
 * SGD updates of many parameters: p -= lr d, d the decayed (and, with momentum buffers, momentum-
 * averaged) gradient g, times scale[0] when a scale is given; each buf (all items or none) is
 * written, set to d on its first use. As many to a dispatch as the device binds: parameters whose
 * buffers are views of one flat array (the optimizer keeps them so) take two bindings each (p and
 * g) besides the buffers' one.
 */
export function sgdSteps(ctx: KernelContext, items: readonly SgdStepItem<GpuArray>[], o: SgdStepArgs, scale: GpuArray | null = null): void {
  const live = items.filter((it) => it.n > 0);
  if (live.length === 0) return;
  const momentum = live[0]!.buf !== null;
  for (const it of live) {
    if ((it.buf !== null) !== momentum) throw new ValueError("sgdSteps", "items", "every item with a momentum buffer or none", "a mix");
  }
  const shared = [+o.maximize, +o.nesterov, f32Bits(o.lr), f32Bits(o.weightDecay), f32Bits(o.momentum), f32Bits(1 - o.dampening)];
  const kind = `${momentum ? "momentum" : "plain"}${scale ? ".scaled" : ""}`;
  dispatchBatched(ctx, `sgdStep.${kind}`, live, sgdUses, scale ? [{ arr: scale, out: false }] : [], shared, (it) => [+it.first],
    (plan) => sgdSource(plan, momentum, scale !== null));
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

const adamSource = (plan: BindingPlan<AdamStepItem<GpuArray>>, amsgrad: boolean, scaled: boolean) => (): string => {
  const roles = amsgrad ? ["p", "m", "v", "vmax", "g"] : ["p", "m", "v", "g"];
  return batchedSource(plan, roles, ["maximize: u32", "b1: f32", "oneMinusB1: f32", "b2: f32", "oneMinusB2: f32", "eps: f32", "decay: f32", "l2: f32"],
    ["stepSize: f32", "bc2Sqrt: f32"], ADAM, (el, j) => {
      const g = el(roles.length - 1);
      return `      let r = adam(${el(0)}, ${scaled ? `${g} * sc` : g}, ${el(1)}, ${el(2)},
        ${amsgrad ? el(3) : "0.0"}, ${amsgrad}, p.stepSize${j}, p.bc2Sqrt${j});
      ${el(1)} = r.m;
      ${el(2)} = r.v;
      ${amsgrad ? `${el(3)} = r.vv;` : ""}
      ${el(0)} = r.x;`;
    });
};

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
  const kind = `${amsgrad ? "amsgrad" : "plain"}${scale ? ".scaled" : ""}`;
  dispatchBatched(ctx, `adamStep.${kind}`, live, adamUses, scale ? [{ arr: scale, out: false }] : [], shared,
    (it) => [f32Bits(it.stepSize), f32Bits(it.bc2Sqrt)], (plan) => adamSource(plan, amsgrad, scale !== null));
}
