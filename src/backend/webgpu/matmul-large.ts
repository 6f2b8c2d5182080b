/**
 * The 128 x 128 GEMM kernel (matmul.ts picks it for large products), and the template the
 * subgroup kernel (matmul-subgroup.ts) and the fp16 option share.
 *
 * One workgroup of 256 threads computes a 128 x 128 tile of out; thread t (tx = t % 16,
 * ty = t / 16) holds 8 x 8 accumulators, as four 4 x 4 blocks strided by 64: rows ty * 4 + i and
 * 64 + ty * 4 + i, columns tx * 4 + j and 64 + tx * 4 + j (i, j < 4). Strided by 64, the 16
 * threads of a row read 16 consecutive vec4 of the B tile and one broadcast vec4 of the A tile
 * per block, without bank conflicts. k runs in steps of 8 through two workgroup buffers (A as
 * [8 k, 128 m], B as [8 k, 128 n], vec4 along m and n): while a step multiplies from one buffer,
 * the next step's 4 values of A and 4 of B per thread are loaded from storage into registers and
 * stored into the other buffer, so one barrier per step suffices. 16 KiB of workgroup memory.
 *
 * Storage loads: each thread loads 4 consecutive elements along the operand's contiguous
 * dimension (k of a, m of a^T, n of b, k of b^T); where that dimension is a multiple of 4 and the
 * operand's offset and batch stride are too (`vecA` / `vecB`), the operand is bound as
 * array<vec4<f32>> and read in one load, else element by element. Loads outside [M, N, K] read
 * 0 and stores outside are skipped, so any size works.
 *
 * `stage` is the operand tiles' type in workgroup memory: "f32"; "f16" (needs `shader-f16`): A
 * and B rounded to f16 when staged, products taken in f16, accumulated in f32 (the error: see
 * matmul.ts); "f16-rounded": the same roundings emulated in f32 through pack2x16float (core WGSL),
 * so the f16 numerics run and are tested where the device has no shader-f16. `subgroupWidth` > 0
 * takes A from registers through subgroup shuffles instead (matmul-subgroup.ts).
 *
 * ```ts
 * const shape = { transA: false, transB: true, vecA: true, vecB: true, stage: "f32", subgroupWidth: 0 } as const;
 * const pipeline = ctx.pipeline(largeKey(shape), () => largeSource(shape));
 * ```
 */
import { subgroupCheck, subgroupEntry, subgroupLoadA, subgroupReadA } from "./matmul-subgroup.js";
import { header } from "./wgsl.js";

export const TILE128 = 128;
/** k per step. */
const TK = 8;

export type GemmStage = "f32" | "f16" | "f16-rounded";

/** What one pipeline of the template is compiled for. */
export interface LargeGemmShape {
  transA: boolean;
  transB: boolean;
  /** a / b bound as array<vec4<f32>> (see the file comment for when they may be). */
  vecA: boolean;
  vecB: boolean;
  stage: GemmStage;
  /** 0: A through workgroup memory; else A through subgroup shuffles within groups of this many lanes (4, 8). */
  subgroupWidth: number;
  /** bias[n] added to each row of the product as it is stored (a linear layer's). */
  bias?: boolean;
  /** Each stored value v as select(0, v, v > 0) after the bias (a linear layer's relu, the relu kernel's). */
  relu?: boolean;
}

/** The pipeline cache key of `s`. */
export function largeKey(s: LargeGemmShape): string {
  const t = `${s.transA ? "T" : "N"}${s.transB ? "T" : "N"}`, v = `${s.vecA ? "4" : "1"}${s.vecB ? "4" : "1"}`;
  return `matmul.${s.subgroupWidth ? `sg${s.subgroupWidth}` : "128"}.${t}.v${v}.${s.stage}${s.bias ? ".bias" : ""}${s.relu ? ".relu" : ""}`;
}

const XYZW = ["x", "y", "z", "w"] as const;

/** The 16 accumulator updates of one k: a0 / a1 hold rows ty * 4 + i / 64 + ty * 4 + i, b0 / b1 the columns. */
function products(stage: GemmStage): string {
  const lines: string[] = [];
  for (let r = 0; r < 8; r++) {
    const a = `a${r >> 2}.${XYZW[r & 3]!}`;
    for (let c = 0; c < 2; c++) {
      const i = r * 2 + c;
      lines.push(stage === "f32" ? `acc[${i}] = fma(vec4<f32>(${a}), b${c}, acc[${i}]);`
        : stage === "f16" ? `acc[${i}] += vec4<f32>(${a} * b${c});`
          : `acc[${i}] += toHalf(vec4<f32>(${a}) * b${c});`);
    }
  }
  return lines.join("\n      ");
}

/**
 * The main loop over k: `aFromRegisters` reads A through subgroup shuffles (the B side is the same),
 * else both operands come from workgroup memory.
 */
function mainLoop(s: LargeGemmShape, aFromRegisters: boolean): string {
  const W = s.subgroupWidth;
  const readA = aFromRegisters ? subgroupReadA(W)
    : (k: number): string => `let a0 = As[(cur * ${TK}u + ${k}u) * 32u + ty];\n      let a1 = As[(cur * ${TK}u + ${k}u) * 32u + 16u + ty];`;
  const steps: string[] = [];
  for (let k = 0; k < TK; k++) {
    steps.push(`{
      ${readA(k)}
      let b0 = Bs[(cur * ${TK}u + ${k}u) * 32u + tx];
      let b1 = Bs[(cur * ${TK}u + ${k}u) * 32u + 16u + tx];
      ${products(s.stage)}
    }`);
  }
  return `{
    var acc: array<vec4<f32>, 16>;
    ${aFromRegisters ? `let src0 = lane & ~${W - 1}u;\n    ${subgroupLoadA(W, TK, "ra", "0u", true)}` : "putA(0u, t, tileA(aOff, m0, 0u, t));"}
    putB(0u, t, tileB(bOff, n0, 0u, t));
    workgroupBarrier();
    let steps = (p.K + ${TK - 1}u) / ${TK}u;
    for (var s = 0u; s < steps; s++) {
      let cur = s % 2u;
      let more = s + 1u < steps;
      let k1 = (s + 1u) * ${TK}u;
      var nextA = vec4<f32>(0.0);
      var nextB = vec4<f32>(0.0);
      ${aFromRegisters ? Array.from({ length: (2 * TK) / W }, (_, j) => `var rn${j} = vec4<f32>(0.0);`).join(" ") : ""}
      if (more) {
        ${aFromRegisters ? subgroupLoadA(W, TK, "rn", "k1", false) : "nextA = tileA(aOff, m0, k1, t);"}
        nextB = tileB(bOff, n0, k1, t);
      }
      ${steps.join("\n      ")}
      if (more) {
        ${aFromRegisters ? Array.from({ length: (2 * TK) / W }, (_, j) => `ra${j} = rn${j};`).join(" ") : "putA(1u - cur, t, nextA);"}
        putB(1u - cur, t, nextB);
      }
      workgroupBarrier();
    }
    let base = p.o_out + batch * p.M * p.N;
    ${Array.from({ length: 8 }, (_, r) => `if (m0 + ${(r >> 2) * 64 + (r & 3)}u + ty * 4u < p.M) {
      let row = base + (m0 + ${(r >> 2) * 64 + (r & 3)}u + ty * 4u) * p.N;
      put4(row, n0 + tx * 4u, acc[${2 * r}]);
      put4(row, n0 + 64u + tx * 4u, acc[${2 * r + 1}]);
    }`).join("\n    ")}
  }`;
}

/** The WGSL of `s`. */
export function largeSource(s: LargeGemmShape): string {
  const { transA, transB, vecA, vecB, stage } = s;
  const S = stage === "f16" ? "f16" : "f32";
  const stageVec = stage === "f16" ? "vec4<f16>(v)" : stage === "f16-rounded" ? "toHalf(v)" : "v";
  const enables = [stage === "f16" ? "enable f16;" : "", s.subgroupWidth ? "enable subgroups;" : ""].join("\n");
  // the thread's 4 elements of the A tile [128 m, 8 k]: along k (a [M, K]) or along m (a^T [K, M])
  const aAt = transA ? ["(t % 32u) * 4u", "t / 32u"] : ["t / 2u", "(t % 2u) * 4u"];
  // of the B tile [8 k, 128 n]: along n (b [K, N]) or along k (b^T [N, K])
  const bAt = transB ? ["(t % 2u) * 4u", "t / 2u"] : ["t / 32u", "(t % 32u) * 4u"];
  return /* wgsl */ `${enables}
${header(["out"], s.bias ? ["a", "b", "bias"] : ["a", "b"], ["M: u32", "N: u32", "K: u32", "strideA: u32", "strideB: u32", "accumulate: u32", "batch0: u32", "tileM0: u32", "tileN0: u32"],
    false, { a: vecA ? "vec4<f32>" : "f32", b: vecB ? "vec4<f32>" : "f32" })}
// two buffers of [8 k, 128]: X[(buf * 8 + k) * 32 + q] holds rows (columns) 4q .. 4q + 3 at k
var<workgroup> As: array<vec4<${S}>, ${2 * TK * 32}>;
var<workgroup> Bs: array<vec4<${S}>, ${2 * TK * 32}>;

/** x rounded to f16 and back (ties to even, as f16 arithmetic rounds). */
fn toHalf(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(pack2x16float(x.xy)), unpack2x16float(pack2x16float(x.zw)));
}
/** Element i of a / b, however they are bound. */
fn elemA(i: u32) -> f32 { return ${vecA ? "b_a[i / 4u][i % 4u]" : "b_a[i]"}; }
fn elemB(i: u32) -> f32 { return ${vecB ? "b_b[i / 4u][i % 4u]" : "b_b[i]"}; }
/** A[m, k] of batch offset off, 0 outside. */
fn loadA(off: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  return elemA(p.o_a + off + ${transA ? "k * p.M + m" : "m * p.K + k"});
}

/** The thread's 4 elements of the A tile at (m0, k0), along a's contiguous dimension. */
fn tileA(off: u32, m0: u32, k0: u32, t: u32) -> vec4<f32> {
  let m = m0 + ${aAt[0]};
  let k = k0 + ${aAt[1]};
  ${vecA ? `if (m >= p.M || k >= p.K) { return vec4<f32>(0.0); }
  return b_a[(p.o_a + off + ${transA ? "k * p.M + m" : "m * p.K + k"}) / 4u];`
    : `return vec4<f32>(${[0, 1, 2, 3].map((i) => (transA ? `loadA(off, m + ${i}u, k)` : `loadA(off, m, k + ${i}u)`)).join(", ")});`}
}
/** The thread's 4 elements of the B tile at (k0, n0). */
fn tileB(off: u32, n0: u32, k0: u32, t: u32) -> vec4<f32> {
  let k = k0 + ${bAt[0]};
  let n = n0 + ${bAt[1]};
  ${vecB ? `if (k >= p.K || n >= p.N) { return vec4<f32>(0.0); }
  return b_b[(p.o_b + off + ${transB ? "n * p.K + k" : "k * p.N + n"}) / 4u];`
    : `return vec4<f32>(${[0, 1, 2, 3].map((i) => (transB ? `loadB(off, k + ${i}u, n)` : `loadB(off, k, n + ${i}u)`)).join(", ")});`}
}
fn loadB(off: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  return elemB(p.o_b + off + ${transB ? "n * p.K + k" : "k * p.N + n"});
}
/** Stores the thread's 4 elements into buffer buf: one vec4 along m (n), or 4 elements along k. */
fn putA(buf: u32, t: u32, x: vec4<f32>) {
  let v = x;
  ${transA ? `As[(buf * ${TK}u + t / 32u) * 32u + t % 32u] = ${stageVec};`
    : `let h = ${stageVec};
  let m = t / 2u;
  for (var i = 0u; i < 4u; i++) { As[(buf * ${TK}u + (t % 2u) * 4u + i) * 32u + m / 4u][m % 4u] = h[i]; }`}
}
fn putB(buf: u32, t: u32, x: vec4<f32>) {
  let v = x;
  ${transB ? `let h = ${stageVec};
  let n = t / 2u;
  for (var i = 0u; i < 4u; i++) { Bs[(buf * ${TK}u + (t % 2u) * 4u + i) * 32u + n / 4u][n % 4u] = h[i]; }`
    : `Bs[(buf * ${TK}u + t / 32u) * 32u + t % 32u] = ${stageVec};`}
}
/** out[row + n .. n + 3] (+)= v (+ bias[n ..], then relu where asked), the columns inside [0, N). */
fn put4(row: u32, n: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    if (n + j >= p.N) { return; }
    var x = v[j];
    if (p.accumulate != 0u) { x += b_out[row + n + j]; }
    ${s.bias ? "x += b_bias[p.o_bias + n + j];" : ""}
    ${s.relu ? "x = select(0.0, x, x > 0.0);" : ""}
    b_out[row + n + j] = x;
  }
}
/** The 4 rows m .. m + 3 of A at k (the subgroup kernel's registers), 0 outside. */
fn rowsA(off: u32, m: u32, k: u32) -> vec4<f32> {
  ${vecA && transA ? `if (m >= p.M || k >= p.K) { return vec4<f32>(0.0); }
  return b_a[(p.o_a + off + k * p.M + m) / 4u];`
    : "return vec4<f32>(loadA(off, m, k), loadA(off, m + 1u, k), loadA(off, m + 2u, k), loadA(off, m + 3u, k));"}
}
${s.subgroupWidth ? subgroupCheck(s.subgroupWidth) : ""}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32${s.subgroupWidth ? subgroupEntry : ""}) {
  let tx = t % 16u;
  let ty = t / 16u;
  let batch = p.batch0 + wid.z;
  let m0 = (p.tileM0 + wid.y) * ${TILE128}u;
  let n0 = (p.tileN0 + wid.x) * ${TILE128}u;
  let aOff = batch * p.strideA;
  let bOff = batch * p.strideB;
  ${s.subgroupWidth ? `if (subgroupsFit(t, lane, lanes)) ${mainLoop(s, true)} else ${mainLoop(s, false)}` : mainLoop(s, false)}
}`;
}
