/**
 * Many arrays scaled in place by one device scalar, as ScaleArrays (backend.ts) for the gradient
 * clipping (optim/clip-device.ts: every gradient times min(1, maxNorm / (total + 1e-6)), computed on
 * the device). Arrays go in groups of as many as the device binds besides the scalar (at most 8),
 * one dispatch per group; the group's workgroups are laid out array after array (ceil(n / 256)
 * each), and a workgroup finds its array from the group's running starts. Each element is
 * x * s in float32, as binary "mul" gives.
 *
 * ```ts
 * scaleArrays(ctx, [g0, g1], [n0, n1], coef); // g0 *= coef[0]; g1 *= coef[0]
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { dispatchGroups, dispatchKernel } from "./context.js";
import { arraysPerDispatch } from "./sum-squares.js";
import { arraysOverGroups, computeMain, header, workgroupStarts } from "./wgsl.js";

const WG = 256;

/** k arrays x0 .. x(k-1), laid out over the workgroups one after another (arraysOverGroups). */
const source = (k: number) => (): string => {
  const xs = Array.from({ length: k }, (_, j) => `x${j}`), over = arraysOverGroups(k, WG);
  const cases = xs.map((x, j) => `    case ${j}u: { if (i < p.n${j}) { b_${x}[p.o_${x} + i] = b_${x}[p.o_${x} + i] * s; } }`);
  return /* wgsl */ `
${header(xs, ["s"], [...xs.map((_, j) => `n${j}: u32`), ...over.fields])}
${computeMain(WG)} {
${over.find}
${over.element}
  let s = b_s[p.o_s];
  switch a {
${cases.join("\n")}
    default: {}
  }
}`;
};

/**
 * xs[j][i] *= s[0] for every j and i < ns[j] (arrays of 0 elements are skipped). An array on a
 * buffer already in the group starts the next group, so that no dispatch writes one buffer through
 * two bindings (an array listed twice is scaled twice, as one call per array would).
 */
export function scaleArrays(ctx: KernelContext, xs: readonly GpuArray[], ns: readonly number[], s: GpuArray): void {
  const live = xs.map((x, j) => ({ x, n: ns[j]! })).filter((a) => a.n > 0);
  for (const group of dispatchGroups(live, arraysPerDispatch(ctx), (a) => [a.x])) {
    const gns = group.map((a) => a.n), { starts, groups } = workgroupStarts(gns, WG);
    dispatchKernel(ctx, `scaleArrays.k${group.length}`, source(group.length), group.map((a) => a.x), [s], [...gns, ...starts], groups);
  }
}
