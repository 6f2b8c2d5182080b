/**
 * The subgroup GEMM kernel's pieces (matmul.ts picks it on devices with the `subgroups` feature):
 * the 128 x 128 kernel of matmul-large.ts with A taken from registers through subgroup shuffles
 * instead of workgroup memory; B is staged in workgroup memory as there.
 *
 * The idea (as in ONNX Runtime's WebGPU GEMM for Intel GPUs): the 16 threads of a row of the
 * workgroup (t / 16 alike) need the same 8 rows of A at every k, so instead of staging A, each
 * thread loads a share of those rows straight from storage into registers and the others read it
 * from its lane. Here a group of W consecutive threads (W = 4 or 8, at most the adapter's smallest
 * subgroup size, so the same WGSL serves every subgroup size the adapter may pick) holds the 8
 * rows at the step's TK = 8 values of k: lane i of the group the k with k % W = i (2 vec4 per k,
 * rows ty * 4 .. + 3 and 64 + ty * 4 .. + 3), and at k every lane takes them from lane k % W of
 * its group with subgroupShuffle. Registers per thread: 4 x 8 / W vec4 of A (this step's and the
 * next's), besides the 64 accumulators.
 *
 * That needs every W consecutive invocations of the workgroup to be W consecutive lanes of one
 * full subgroup. Every GPU known lays subgroups out so, but WGSL does not promise it: each
 * workgroup checks it first (subgroupsFit) and, where it does not hold, takes the workgroup-memory
 * path of matmul-large.ts instead, so the answer is right either way.
 *
 * ```ts
 * const shape = { transA: false, transB: false, vecA: true, vecB: true, stage: "f32", subgroupWidth: subgroupWidth(32) } as const;
 * const pipeline = ctx.pipeline(largeKey(shape), () => largeSource(shape)); // enable subgroups; ...
 * ```
 */

/** The lanes per group for an adapter whose subgroups have at least `minSize` lanes (WGSL: 4 .. 128). */
export function subgroupWidth(minSize: number): number {
  return minSize >= 8 ? 8 : 4;
}

/** The entry point's extra builtins. */
export const subgroupEntry = ", @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) lanes: u32";

/**
 * WGSL of subgroupsFit(t, lane, lanes): true in every thread of the workgroup when every group of
 * W consecutive threads (t / W alike) is W consecutive lanes of one full subgroup, lane % W = t % W.
 */
export function subgroupCheck(W: number): string {
  return /* wgsl */ `
var<workgroup> misfit: atomic<u32>;
fn subgroupsFit(t: u32, lane: u32, lanes: u32) -> bool {
  // the thread of the group's first lane, in a full subgroup
  let first = subgroupShuffle(t, lane & ~${W - 1}u);
  let fits = subgroupAdd(1u) == lanes && lanes % ${W}u == 0u && lane % ${W}u == t % ${W}u && first == t - t % ${W}u;
  if (!fits) { atomicOr(&misfit, 1u); }
  return workgroupUniformLoad(&misfit) == 0u;
}`;
}

/**
 * WGSL loading the thread's A registers for the step at k0: `name`<2j> holds rows ty * 4 .. + 3
 * and `name`<2j + 1> rows 64 + ty * 4 .. + 3, both at k0 + t % W + j W (j < TK / W).
 */
export function subgroupLoadA(W: number, TK: number, name: string, k0: string, declare: boolean): string {
  const lines: string[] = [];
  for (let j = 0; j < TK / W; j++) {
    const k = `${k0} + t % ${W}u + ${j * W}u`;
    lines.push(`${declare ? "var " : ""}${name}${2 * j} = rowsA(aOff, m0 + ty * 4u, ${k});`);
    lines.push(`${declare ? "var " : ""}${name}${2 * j + 1} = rowsA(aOff, m0 + 64u + ty * 4u, ${k});`);
  }
  return lines.join(" ");
}

/** WGSL setting a0, a1 (rows ty * 4 .. + 3, 64 + ty * 4 .. + 3 at the step's k) from lane src0 + k % W. */
export function subgroupReadA(W: number): (k: number) => string {
  return (k) => {
    const j = Math.floor(k / W);
    return `let a0 = subgroupShuffle(ra${2 * j}, src0 + ${k % W}u);\n      let a1 = subgroupShuffle(ra${2 * j + 1}, src0 + ${k % W}u);`;
  };
}
