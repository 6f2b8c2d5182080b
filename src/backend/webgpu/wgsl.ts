/**
 * WGSL pieces every kernel shares: the binding header (see context.ts for the convention) and
 * helpers for infinities. WGSL lets a compiler assume no infinities, and a constant expression may
 * not produce one, so -Infinity is made from bits at run time and recognised by its bits, never by
 * comparison or arithmetic; "no finite value seen yet" is the finite LOWEST.
 */

/**
 * WGSL text declaring the parameter block `p` and the arrays `b_<name>`, outputs writable; `types`
 * gives an array's element type where it is not f32 (matmul-large.ts reads aligned operands as vec4<f32>).
 */
export function header(outputs: readonly string[], inputs: readonly string[], fields: readonly string[], table = false,
  types: Readonly<Record<string, string>> = {}): string {
  const offsets = [...outputs, ...inputs].map((n) => `o_${n}: u32`);
  const lines = [`struct Params { ${[...offsets, ...fields].join(", ")} }`, "@group(0) @binding(0) var<uniform> p: Params;"];
  let i = 1;
  for (const n of outputs) lines.push(`@group(0) @binding(${i++}) var<storage, read_write> b_${n}: array<${types[n] ?? "f32"}>;`);
  for (const n of inputs) lines.push(`@group(0) @binding(${i++}) var<storage, read> b_${n}: array<${types[n] ?? "f32"}>;`);
  if (table) lines.push(`@group(0) @binding(${i++}) var<storage, read> tab: array<u32>;`);
  return `${lines.join("\n")}\n${COMMON}`;
}

const COMMON = /* wgsl */ `
const LOWEST: f32 = -3.40282346638528859812e+38;
var<private> NEG_INF_BITS: u32 = 0xff800000u;
var<private> POS_INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn negInf() -> f32 { return bitcast<f32>(NEG_INF_BITS); }
fn posInf() -> f32 { return bitcast<f32>(POS_INF_BITS); }
fn nanF() -> f32 { return bitcast<f32>(NAN_BITS); }
fn isNegInf(x: f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
/** The linear workgroup index of a dispatch laid out over x and y. */
fn groupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
`;

/**
 * WGSL opening the entry point of a kernel of `size` threads per workgroup (a number, or WGSL text
 * such as "64, 4"), with the builtins most kernels read: wid, nwg and t (the thread's index).
 */
export function computeMain(size: number | string): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32)`;
}

/** A tree reduction over a workgroup of WG threads through \`red\` (workgroup array<f32, WG>); OP combines two values. */
export function reduceFn(name: string, WG: number, op: (a: string, b: string) => string): string {
  return /* wgsl */ `
fn ${name}(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = ${op("red[t]", "red[t + s]")}; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
}

/**
 * For a kernel over k arrays laid out one after another over its workgroups (array j over
 * workgroups [start j, start j+1), start 0 = 0; the starts are parameter fields `start1` ..):
 * the parameter fields; `find`, the WGSL that sets `a`, the array of this workgroup, and `base`,
 * its first workgroup (from `gi`, this workgroup's index); and `element`, the WGSL that sets `i`,
 * this thread's element in the array (WG threads a workgroup). `workgroupStarts` gives the starts.
 */
export function arraysOverGroups(k: number, WG: number): { fields: string[]; find: string; element: string } {
  const later = Array.from({ length: k - 1 }, (_, j) => j + 1);
  return {
    fields: later.map((j) => `start${j}: u32`),
    find: `  let gi = groupIndex(wid, nwg);
  var a = 0u;
  var base = 0u;
${later.map((j) => `  if (gi >= p.start${j}) { a = ${j}u; base = p.start${j}; }`).join("\n")}`,
    element: `  let i = (gi - base) * ${WG}u + t;`,
  };
}

/** The starts of arrays of ns elements laid out over workgroups of WG threads (the fields after the first), and the workgroups in all. */
export function workgroupStarts(ns: readonly number[], WG: number): { starts: number[]; groups: number } {
  const starts: number[] = [];
  let groups = 0;
  for (const n of ns) {
    starts.push(groups);
    groups += Math.ceil(n / WG);
  }
  return { starts: starts.slice(1), groups };
}
