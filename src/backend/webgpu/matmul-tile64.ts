/**
 * The 64 x 64 GEMM kernel (matmul.ts picks it for small products): one workgroup of 16 x 16
 * threads computes a 64 x 64 tile of out, each thread a 4 x 4 block; k runs in steps of 16 through
 * two workgroup tiles (A as 16 k x 64 rows, B as 16 k x 64 columns, both as vec4 so a thread reads
 * its 4 rows and 4 columns in one load each). Loads outside [M, N, K] read 0 and stores outside
 * are skipped, so any size works. Parameters and dispatch: matmul.ts (workgroups: column tiles x
 * row tiles x batch).
 *
 * ```ts
 * const pipeline = ctx.pipeline("matmul.64.NT", tile64Source(false, true));
 * ```
 */
import { header } from "./wgsl.js";

export const TILE64 = 64;
const TK = 16;

/**
 * The WGSL of the 64-tile kernel for op(a) = a^T when transA, op(b) = b^T when transB; with
 * `bias`, bias[n] is added to each row of the product as it is stored; with `sums`, the
 * workgroups of the first column tile also write sums[m] = the sum over k of op(a)[m][k], added
 * in k's order from 0 (a linear layer's bias gradient beside its weight gradient: op(a) = g^T),
 * by the threads of their first column from the A tiles they load anyway (batch 0 only); with
 * `relu`, each stored value v is select(0, v, v > 0) (the relu kernel's) after the bias.
 */
export const tile64Source = (transA: boolean, transB: boolean, bias = false, sums = false, relu = false) => (): string => /* wgsl */ `
${header(sums ? ["out", "sums"] : ["out"], bias ? ["a", "b", "bias"] : ["a", "b"], ["M: u32", "N: u32", "K: u32", "strideA: u32", "strideB: u32", "accumulate: u32", "batch0: u32", "tileM0: u32", "tileN0: u32"])}
// As[k * 16 + q] holds rows 4q .. 4q + 3 of the tile at k; Bs[k * 16 + q] columns 4q .. 4q + 3
var<workgroup> As: array<vec4<f32>, ${TK * 16}>;
var<workgroup> Bs: array<vec4<f32>, ${TK * 16}>;

fn loadA(off: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  return b_a[p.o_a + off + ${transA ? "k * p.M + m" : "m * p.K + k"}];
}
fn loadB(off: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  return b_b[p.o_b + off + ${transB ? "n * p.K + k" : "k * p.N + n"}];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  let batch = p.batch0 + wid.z;
  let m0 = (p.tileM0 + wid.y) * ${TILE64}u;
  let n0 = (p.tileN0 + wid.x) * ${TILE64}u;
  let aOff = batch * p.strideA;
  let bOff = batch * p.strideB;
  var acc: array<vec4<f32>, 4>;${sums ? `
  let summing = n0 == 0u && tx == 0u && batch == 0u;
  var rowSums = vec4<f32>(0.0);` : ""}
  for (var k0 = 0u; k0 < p.K; k0 += ${TK}u) {
    for (var e = 0u; e < 4u; e++) {
      let idx = e * 256u + t;
      // A tile [64 m, 16 k], read along a's contiguous dim
      let am = ${transA ? "idx % 64u" : "idx / 16u"};
      let ak = ${transA ? "idx / 64u" : "idx % 16u"};
      As[ak * 16u + am / 4u][am % 4u] = loadA(aOff, m0 + am, k0 + ak);
      // B tile [16 k, 64 n]
      let bn = ${transB ? "idx / 16u" : "idx % 64u"};
      let bk = ${transB ? "idx % 16u" : "idx / 64u"};
      Bs[bk * 16u + bn / 4u][bn % 4u] = loadB(bOff, k0 + bk, n0 + bn);
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let av = As[k * 16u + ty];
      let bv = Bs[k * 16u + tx];
      acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);${sums ? `
      if (summing) { rowSums = rowSums + av; }` : ""}
    }
    workgroupBarrier();
  }
${sums ? `  if (summing) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + ty * 4u + r;
      if (m < p.M) { b_sums[p.o_sums + m] = rowSums[r]; }
    }
  }
` : ""}  let base = p.o_out + batch * p.M * p.N;
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + ty * 4u + r;
    if (m >= p.M) { break; }
    for (var c = 0u; c < 4u; c++) {
      let n = n0 + tx * 4u + c;
      if (n >= p.N) { break; }
      let o = base + m * p.N + n;
      var v = acc[r][c];
      if (p.accumulate != 0u) { v += b_out[o]; }
      ${bias ? "v += b_bias[p.o_bias + n];" : ""}
      ${relu ? "v = select(0.0, v, v > 0.0);" : ""}
      b_out[o] = v;
    }
  }
}`;
