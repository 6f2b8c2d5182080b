/**
 * The wasm backend: kernels compiled to WebAssembly with 128-bit SIMD (wasm/assembly). Each call
 * copies its inputs into the module's memory (a bump arena reset per call), runs one kernel and
 * copies the outputs back, so tensors stay plain Float32Arrays. Float64Array arguments (never sent
 * by the op layer, which routes float64 to js) run on the js kernels.
 *
 * With a worker pool (the threaded module over shared memory) a call large enough to pay for
 * waking the workers is split into parts (wasm/assembly/parts.ts): part 0 here, the others on the
 * workers. Parts never share a sum, so the results equal the single-threaded module's bit for bit.
 */
import type { FloatArray } from "../../tensor/dtype.js";
import { HostBackendBase } from "../host-arrays.js";
import type {
  AttentionArgs, Backend, BinaryOp, Conv2dArgs, LinearAttentionArgs, SparseAttentionArgs, SparsePattern, UnaryOp,
} from "../backend.js";
import { jsBackend } from "../js/index.js";
import { gatherRows, isDense, scatterRows, type Rows } from "../rows.js";
import { Arena } from "./arena.js";
import { binaryCode, unaryCode } from "./codes.js";
import { CONTROL_BYTES } from "./control.js";
import { partKernelNames, partKernels, type KernelExports, type PartKernel, type PartKernelName } from "./exports.js";
import type { WorkerPool } from "./pool.js";

/** Least work per thread before a call is split: multiply-adds (matmul, attention) or elements. */
const MIN_MACS_PER_PART = 1 << 19;
const MIN_ELEMENTS_PER_PART = 1 << 15;

/** Copies src into the f32 view at byte pointer p. */
function put(view: Float32Array, p: number, src: Float32Array): void {
  view.set(src, p >>> 2);
}

/** Copies n floats at byte pointer p out into dst. */
function get(dst: Float32Array, view: Float32Array, p: number, n: number): void {
  dst.set(view.subarray(p >>> 2, (p >>> 2) + n));
}

function isF32(...xs: (FloatArray | null)[]): boolean {
  return xs.every((x) => x === null || x instanceof Float32Array);
}

/** Sizes of q, k, v, out and lse (den) of an attention call; D is the size of a q / k row (M for linear attention). */
function attentionSizes(B: number, H: number, Hkv: number, L: number, S: number, D: number, Dv: number): [number, number, number, number, number] {
  return [B * H * L * D, B * Hkv * S * D, B * Hkv * S * Dv, B * H * L * Dv, B * H * L];
}

/** The layouts of an attention call's q, k, v and out (dq, dk, dv and dout share them). */
function attentionRows(a: AttentionArgs): { q: Rows; k: Rows; v: Rows; o: Rows } {
  const { B, H, Hkv, L, S, D, Dv } = a;
  return {
    q: { st: a.qStrides, B, heads: H, rows: L, n: D }, k: { st: a.kStrides, B, heads: Hkv, rows: S, n: D },
    v: { st: a.vStrides, B, heads: Hkv, rows: S, n: Dv }, o: { st: a.oStrides, B, heads: H, rows: L, n: Dv },
  };
}

/**
 * One array of a call for WasmBackend.marshal: the array, how many floats the kernel writes or reads,
 * and for a strided attention operand its layout (those floats are its elements as a dense
 * [B, heads, rows, n], gathered in and scattered out).
 */
type Operand<T> = readonly [T, number, Rows?];

/** One call's arrays for WasmBackend.marshal. */
interface Marshal {
  outs: readonly Operand<FloatArray>[];
  /** A null input (an absent mask) gets pointer 0. */
  ins: readonly Operand<FloatArray | null>[];
  /** The kernel's name (for its errors) and pattern, for sparse attention. */
  pattern?: readonly [string, SparsePattern];
  /** Scratch bytes of one part. */
  workBytes: number;
  /** The js kernel, for arrays that are not all Float32Array. */
  js: () => void;
}

export interface WasmBackendOptions {
  /** Split every call into as many parts as it has units (tests of the split on small sizes). */
  splitAll?: boolean;
}

export class WasmBackend extends HostBackendBase implements Backend {
  readonly name = "wasm" as const;
  private readonly arena: Arena;
  private readonly fns: Readonly<Record<PartKernelName, PartKernel>>;
  private readonly splitAll: boolean;

  /** `pool`: the workers of the threaded module (its control block sits at heapBase()), or null. */
  constructor(private readonly k: KernelExports, private pool: WorkerPool | null = null, opts: WasmBackendOptions = {}) {
    super();
    this.arena = new Arena(k, pool ? CONTROL_BYTES : 0);
    this.fns = partKernels(k);
    this.splitAll = opts.splitAll ?? false;
  }

  /** Threads a large call runs on (this one included); 1 for the single-threaded module. */
  get threads(): number {
    return this.pool?.usable ? this.pool.threads : 1;
  }

  /** Terminates the workers; the backend goes on, on the calling thread only. Idempotent. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /**
   * Runs kernel `name` over `args`, split into at most `units` parts when `work` is at least
   * `perPart` per part and the pool is ready (started here at the first split, where that can block).
   */
  private exec(name: PartKernelName, args: number[], work: number, perPart: number, units: number): void {
    const fn = this.fns[name], pool = this.pool;
    const parts = pool?.usable ? Math.min(pool.threads, units, this.splitAll ? units : Math.floor(work / perPart)) : 1;
    if (pool && parts > 1 && (pool.ready || pool.startSync())) {
      pool.run(partKernelNames.indexOf(name), args, parts, () => fn(...args, 0, parts));
    } else {
      fn(...args, 0, 1);
    }
  }

  /** Bytes of linear memory the kernels hold (it grows to the largest call and stays). */
  get memoryBytes(): number {
    return this.arena.capacity;
  }

  matmul(out: FloatArray, a: FloatArray, b: FloatArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
    if (!(out instanceof Float32Array) || !(a instanceof Float32Array) || !(b instanceof Float32Array)) {
      jsBackend.matmul(out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
      return;
    }
    const n = batch * M * N;
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const po = ar.take(n * 4), pa = ar.take(a.length * 4), pb = ar.take(b.length * 4);
    const parts = this.threads;
    const pw = ar.take(parts * this.k.gemmWorkBytes(M, N, K));
    const { f32 } = ar.commit();
    put(f32, pa, a);
    put(f32, pb, b);
    if (accumulate) put(f32, po, out.subarray(0, n));
    // units: whole matrices, or MR-row / NR-column slices of each (wasm/assembly/matmul.ts)
    const units = batch >= parts ? batch : batch * Math.max(Math.ceil(M / 5), Math.ceil(N / 8));
    this.exec("matmul", [po, pa, pb, batch, M, N, K, +transA, +transB, strideA, strideB, +accumulate, pw],
      batch * M * N * Math.max(K, 1), MIN_MACS_PER_PART, units);
    get(out, f32, po, n);
  }

  unary(op: UnaryOp, out: FloatArray, x: FloatArray, n: number, alpha: number): void {
    if (!(out instanceof Float32Array) || !(x instanceof Float32Array)) {
      jsBackend.unary(op, out, x, n, alpha);
      return;
    }
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const po = ar.take(n * 4), px = ar.take(n * 4);
    const { f32 } = ar.commit();
    put(f32, px, x.subarray(0, n));
    this.exec("unary", [unaryCode[op], po, px, n, alpha], n, MIN_ELEMENTS_PER_PART, Math.ceil(n / 4));
    get(out, f32, po, n);
  }

  /** Dropout: the js kernel (a hash per element; the copy into linear memory would cost as much). */
  dropout(out: FloatArray, x: FloatArray, n: number, p: number, k0: number, k1: number, start: number): void {
    jsBackend.dropout(out, x, n, p, k0, k1, start);
  }

  /** A copy gains nothing from a trip through linear memory: the js walk. */
  stridedCopy(out: FloatArray, x: FloatArray, outShape: readonly number[], strides: readonly number[]): void {
    jsBackend.stridedCopy(out, x, outShape, strides);
  }

  binary(op: BinaryOp, out: FloatArray, a: FloatArray, b: FloatArray,
    outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void {
    if (!(out instanceof Float32Array) || !(a instanceof Float32Array) || !(b instanceof Float32Array)) {
      jsBackend.binary(op, out, a, b, outShape, aStrides, bStrides);
      return;
    }
    const n = out.length, rank = outShape.length;
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const po = ar.take(n * 4), pa = ar.take(a.length * 4), pb = ar.take(b.length * 4);
    const ps = ar.take(rank * 4), psa = ar.take(rank * 4), psb = ar.take(rank * 4), pi = ar.take(this.threads * rank * 4);
    const { f32, i32 } = ar.commit();
    put(f32, pa, a);
    put(f32, pb, b);
    i32.set(outShape, ps >>> 2);
    i32.set(aStrides, psa >>> 2);
    i32.set(bStrides, psb >>> 2);
    this.exec("binary", [binaryCode[op], po, pa, pb, rank, ps, psa, psb, pi, n], n, MIN_ELEMENTS_PER_PART,
      Math.ceil(n / 4));
    get(out, f32, po, n);
  }

  softmax(out: FloatArray, x: FloatArray, rows: number, cols: number, log: boolean): void {
    if (!(out instanceof Float32Array) || !(x instanceof Float32Array)) {
      jsBackend.softmax(out, x, rows, cols, log);
      return;
    }
    const n = rows * cols;
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const po = ar.take(n * 4), px = ar.take(n * 4);
    const { f32 } = ar.commit();
    put(f32, px, x.subarray(0, n));
    this.exec("softmax", [po, px, rows, cols, +log], n, MIN_ELEMENTS_PER_PART, rows);
    get(out, f32, po, n);
  }

  softmaxBackward(dx: FloatArray, y: FloatArray, dy: FloatArray, rows: number, cols: number, log: boolean): void {
    if (!(dx instanceof Float32Array) || !(y instanceof Float32Array) || !(dy instanceof Float32Array)) {
      jsBackend.softmaxBackward(dx, y, dy, rows, cols, log);
      return;
    }
    const n = rows * cols;
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const pdx = ar.take(n * 4), py = ar.take(n * 4), pdy = ar.take(n * 4);
    const { f32 } = ar.commit();
    put(f32, py, y.subarray(0, n));
    put(f32, pdy, dy.subarray(0, n));
    this.exec("softmaxBackward", [pdx, py, pdy, rows, cols, +log], n, MIN_ELEMENTS_PER_PART, rows);
    get(dx, f32, pdx, n);
  }

  layerNorm(out: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray | null,
    bias: FloatArray | null, rows: number, cols: number, eps: number): void {
    if (!(out instanceof Float32Array) || !(mean instanceof Float32Array) || !(rstd instanceof Float32Array) ||
      !(x instanceof Float32Array) || !isF32(weight, bias)) {
      jsBackend.layerNorm(out, mean, rstd, x, weight, bias, rows, cols, eps);
      return;
    }
    const n = rows * cols;
    if (n === 0) return;
    const ar = this.arena;
    ar.reset();
    const po = ar.take(n * 4), pm = ar.take(rows * 4), pr = ar.take(rows * 4), px = ar.take(n * 4);
    const pw = weight ? ar.take(cols * 4) : 0, pb = bias ? ar.take(cols * 4) : 0;
    const { f32 } = ar.commit();
    put(f32, px, x.subarray(0, n));
    if (weight instanceof Float32Array) put(f32, pw, weight.subarray(0, cols));
    if (bias instanceof Float32Array) put(f32, pb, bias.subarray(0, cols));
    this.exec("layerNorm", [po, pm, pr, px, pw, pb, rows, cols, eps], n, MIN_ELEMENTS_PER_PART, rows);
    get(out, f32, po, n);
    get(mean, f32, pm, rows);
    get(rstd, f32, pr, rows);
  }

  layerNormBackward(dx: FloatArray, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray,
    x: FloatArray, mean: FloatArray, rstd: FloatArray, weight: FloatArray | null, rows: number, cols: number): void {
    if (!(dx instanceof Float32Array) || !(dy instanceof Float32Array) || !(x instanceof Float32Array) ||
      !(mean instanceof Float32Array) || !(rstd instanceof Float32Array) || !isF32(dweight, dbias, weight)) {
      jsBackend.layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
      return;
    }
    const n = rows * cols;
    const ar = this.arena;
    ar.reset();
    const pdx = ar.take(n * 4), pdy = ar.take(n * 4), px = ar.take(n * 4), pm = ar.take(rows * 4), pr = ar.take(rows * 4);
    const pw = weight ? ar.take(cols * 4) : 0;
    const pdw = dweight ? ar.take(cols * 4) : 0, pdb = dbias ? ar.take(cols * 4) : 0;
    const pwork = ar.take(cols * 16);
    const { f32 } = ar.commit();
    put(f32, pdy, dy.subarray(0, n));
    put(f32, px, x.subarray(0, n));
    put(f32, pm, mean.subarray(0, rows));
    put(f32, pr, rstd.subarray(0, rows));
    if (weight instanceof Float32Array) put(f32, pw, weight.subarray(0, cols));
    this.exec("layerNormBackward", [pdx, pdw, pdb, pdy, px, pm, pr, pw, rows, cols, pwork], n, MIN_ELEMENTS_PER_PART,
      Math.max(rows, dweight || dbias ? cols : 0));
    get(dx, f32, pdx, n);
    if (dweight instanceof Float32Array) get(dweight, f32, pdw, cols);
    if (dbias instanceof Float32Array) get(dbias, f32, pdb, cols);
  }

  /**
   * The marshalling of one call (attention, convolution): unless every array is a Float32Array, `js`
   * runs instead, and with every output empty, nothing. Otherwise the arena takes the outputs' blocks, the
   * inputs' (their first n floats copied in; a null input gets pointer 0), the pattern's (checked and
   * copied in) and `threads * workBytes` of scratch; `run` gets the pointers of the outputs, inputs
   * and pattern, in that order, and the scratch's, and calls the kernel; the outputs are copied back.
   */
  private marshal(c: Marshal, run: (p: number[], work: number) => void): void {
    if (!c.outs.every(([x]) => x instanceof Float32Array) || !c.ins.every(([x]) => isF32(x))) {
      c.js();
      return;
    }
    if (c.outs.every(([, n]) => n === 0)) return;
    const ar = this.arena;
    ar.reset();
    const po = c.outs.map(([, n]) => ar.take(n * 4)), pi = c.ins.map(([x, n]) => (x ? ar.take(n * 4) : 0));
    const pp = c.pattern ? this.takePattern(c.pattern[0], c.pattern[1]) : null;
    const pw = ar.take(this.threads * c.workBytes);
    const { f32, i32 } = ar.commit();
    c.ins.forEach(([x, n, rows], i) => {
      if (!x) return;
      if (rows && !isDense(rows)) gatherRows(f32, pi[i]! >>> 2, x, rows);
      else put(f32, pi[i]!, x.subarray(0, n) as Float32Array);
    });
    if (c.pattern && pp) WasmBackend.putPattern(i32, c.pattern[1], pp);
    run([...po, ...pi, ...(pp ?? [])], pw);
    c.outs.forEach(([x, n, rows], i) => {
      if (rows && !isDense(rows)) scatterRows(x, f32, po[i]! >>> 2, rows);
      else get(x as Float32Array, f32, po[i]!, n);
    });
  }

  attentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, a: AttentionArgs): void {
    const { B, H, Hkv, L, S, D, Dv } = a;
    const [nq, nk, nv, no, nLse] = attentionSizes(B, H, Hkv, L, S, D, Dv);
    const r = attentionRows(a);
    this.marshal({
      outs: [[out, no, r.o], [lse, nLse]], ins: [[q, nq, r.q], [k, nk, r.k], [v, nv, r.v], [a.mask, a.mask?.length ?? 0]],
      workBytes: this.k.attentionWorkBytes(D, Dv, 0), js: () => jsBackend.attentionForward(out, lse, q, k, v, a),
    }, (p, pw) => {
      // units: (b, h, block of 64 query rows)
      this.exec("attentionForward", [...p.slice(0, 5), B, H, Hkv, L, S, D, Dv, a.scale, +a.causal, p[5]!, a.maskStrideB,
        a.maskStrideH, a.maskStrideL, a.dropoutP, a.seedK0, a.seedK1, a.seedStart, pw],
      nLse * S * (D + Dv), MIN_MACS_PER_PART, B * H * Math.ceil(L / 64));
    });
  }

  attentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray, k: FloatArray,
    v: FloatArray, out: FloatArray, lse: FloatArray, a: AttentionArgs): void {
    const { B, H, Hkv, L, S, D, Dv } = a;
    const [nq, nk, nv, no, nl] = attentionSizes(B, H, Hkv, L, S, D, Dv);
    const r = attentionRows(a);
    this.marshal({
      outs: [[dq, nq, r.q], [dk, nk, r.k], [dv, nv, r.v]],
      ins: [[dout, no, r.o], [q, nq, r.q], [k, nk, r.k], [v, nv, r.v], [out, no, r.o], [lse, nl], [a.mask, a.mask?.length ?? 0]],
      workBytes: this.k.attentionWorkBytes(D, Dv, 1), js: () => jsBackend.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, a),
    }, (p, pw) => {
      // units: kv heads (b, kv head)
      this.exec("attentionBackward", [...p.slice(0, 9), B, H, Hkv, L, S, D, Dv, a.scale, +a.causal, p[9]!, a.maskStrideB,
        a.maskStrideH, a.maskStrideL, a.dropoutP, a.seedK0, a.seedK1, a.seedStart, pw], nl * S * 2 * (D + Dv), MIN_MACS_PER_PART,
      B * Hkv);
    });
  }

  /** The Conv2dArgs sizes in the kernels' argument order. */
  private static convSizes(a: Conv2dArgs): number[] {
    return [a.B, a.C, a.H, a.W, a.O, a.kH, a.kW, a.oH, a.oW, a.sH, a.sW, a.padTop, a.padLeft, a.dH, a.dW, a.G];
  }

  /**
   * Element counts of a convolution call: output positions L = oH * oW, x / dx [B, C, H, W],
   * out / dy [B, O, L], the columns per group Kg = (C / G) * kH * kW and weight / dw [O, Kg].
   */
  private static convCounts(a: Conv2dArgs): { L: number; nIn: number; nOut: number; Kg: number; nW: number } {
    const L = a.oH * a.oW, Kg = (a.C / a.G) * a.kH * a.kW;
    return { L, nIn: a.B * a.C * a.H * a.W, nOut: a.B * a.O * L, Kg, nW: a.O * Kg };
  }

  /** Scratch of one part of a convolution call. */
  private convWorkBytes(a: Conv2dArgs): number {
    return this.k.conv2dWorkBytes(a.C, a.O, a.kH, a.kW, a.oH, a.oW, a.sH, a.sW, a.dH, a.dW, a.G);
  }

  conv2dForward(out: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray | null, a: Conv2dArgs): void {
    const { L, nIn, nOut, Kg, nW } = WasmBackend.convCounts(a);
    this.marshal({
      outs: [[out, nOut]], ins: [[x, nIn], [weight, nW], [bias, a.O]],
      workBytes: this.convWorkBytes(a), js: () => jsBackend.conv2dForward(out, x, weight, bias, a),
    }, (p, pw) => {
      // units: (group, image, 8-column chunk of positions)
      this.exec("conv2dForward", [...p, ...WasmBackend.convSizes(a), pw], nOut * Kg, MIN_MACS_PER_PART,
        a.B * a.G * Math.ceil(L / 8));
    });
  }

  conv2dBackwardInput(dx: FloatArray, dy: FloatArray, weight: FloatArray, a: Conv2dArgs): void {
    const { nIn, nOut, Kg, nW } = WasmBackend.convCounts(a);
    this.marshal({
      outs: [[dx, nIn]], ins: [[dy, nOut], [weight, nW]],
      workBytes: this.convWorkBytes(a), js: () => jsBackend.conv2dBackwardInput(dx, dy, weight, a),
    }, (p, pw) => {
      // units: (group, image, channel)
      this.exec("conv2dBackwardInput", [...p, ...WasmBackend.convSizes(a), pw], nOut * Kg, MIN_MACS_PER_PART, a.B * a.C);
    });
  }

  conv2dBackwardWeight(dweight: FloatArray, dy: FloatArray, x: FloatArray, a: Conv2dArgs): void {
    const { nIn, nOut, Kg, nW } = WasmBackend.convCounts(a);
    this.marshal({
      outs: [[dweight, nW]], ins: [[dy, nOut], [x, nIn]],
      workBytes: this.convWorkBytes(a), js: () => jsBackend.conv2dBackwardWeight(dweight, dy, x, a),
    }, (p, pw) => {
      // units: 8-column panels of each group's dw [O / G, Kg]
      this.exec("conv2dBackwardWeight", [...p, ...WasmBackend.convSizes(a), pw], nOut * Kg, MIN_MACS_PER_PART,
        a.G * Math.ceil(Kg / 8));
    });
  }

  /** The pattern's row bounds and ranges copied into the arena (taken by the caller): [rowLo, rowHi, spans]. */
  private static putPattern(i32: Int32Array, p: SparsePattern, at: readonly [number, number, number]): void {
    i32.set(p.rowLo.subarray(0, p.L), at[0] >>> 2);
    i32.set(p.rowHi.subarray(0, p.L), at[1] >>> 2);
    i32.set(p.spans, at[2] >>> 2);
  }

  /**
   * Arena blocks for the pattern's row bounds and ranges, after checking that every row's ranges
   * exist and every range lies in [0, S] with a step >= 1 (as the native addon does): the kernels
   * index k, v, dk and dv by its keys, and a key outside its kv head would read or write another
   * buffer of the shared memory (a step of 0 would never end).
   */
  private takePattern(fn: string, p: SparsePattern): [number, number, number] {
    const { L, S, rowLo, rowHi, spans } = p;
    const ranges = Math.floor(spans.length / 3);
    if (rowLo.length < L || rowHi.length < L) throw new RangeError(`${fn}: args.pattern.rowLo / rowHi need L elements`);
    for (let r = 0; r < ranges; r++) {
      const s = spans[3 * r]!, e = spans[3 * r + 1]!, st = spans[3 * r + 2]!;
      if (st < 1 || s < 0 || (e > s && e > S)) {
        throw new RangeError(`${fn}: args.pattern.spans: range ${r} is outside [0, S) or has a step < 1`);
      }
    }
    for (let i = 0; i < L; i++) {
      const lo = rowLo[i]!, hi = rowHi[i]!;
      if (lo < 0 || hi < lo || hi > ranges) throw new RangeError(`${fn}: args.pattern: row ${i} has ranges outside spans`);
    }
    const ar = this.arena;
    return [ar.take(L * 4), ar.take(L * 4), ar.take(spans.length * 4)];
  }

  sparseAttentionForward(out: FloatArray, lse: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray,
    a: SparseAttentionArgs): void {
    const { B, H, Hkv, D, Dv, pattern } = a;
    const { L, S } = pattern;
    const [nq, nk, nv, nOut, nLse] = attentionSizes(B, H, Hkv, L, S, D, Dv);
    this.marshal({
      outs: [[out, nOut], [lse, nLse]], ins: [[q, nq], [k, nk], [v, nv]], pattern: ["sparseAttentionForward", pattern],
      workBytes: this.k.sparseAttentionWorkBytes(), js: () => jsBackend.sparseAttentionForward(out, lse, q, k, v, a),
    }, (p, pw) => {
      // units: (b, h, row), cut into ranges of equal cost
      this.exec("sparseAttentionForward", [...p, B, H, Hkv, L, S, D, Dv, a.scale, pw],
        B * H * pattern.nnz * (D + Dv), MIN_MACS_PER_PART, nLse);
    });
  }

  sparseAttentionBackward(dq: FloatArray, dk: FloatArray, dv: FloatArray, dout: FloatArray, q: FloatArray,
    k: FloatArray, v: FloatArray, out: FloatArray, lse: FloatArray, a: SparseAttentionArgs): void {
    const { B, H, Hkv, D, Dv, pattern } = a;
    const { L, S } = pattern;
    const [nq, nk, nv, no, nl] = attentionSizes(B, H, Hkv, L, S, D, Dv);
    this.marshal({
      outs: [[dq, nq], [dk, nk], [dv, nv]], ins: [[dout, no], [q, nq], [k, nk], [v, nv], [out, no], [lse, nl]],
      pattern: ["sparseAttentionBackward", pattern], workBytes: this.k.sparseAttentionWorkBytes(),
      js: () => jsBackend.sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, a),
    }, (p, pw) => {
      // units: kv heads (b, kv head)
      this.exec("sparseAttentionBackward", [...p, B, H, Hkv, L, S, D, Dv, a.scale, pw],
        2 * B * H * pattern.nnz * (D + Dv), MIN_MACS_PER_PART, B * Hkv);
    });
  }

  linearAttentionForward(out: FloatArray, den: FloatArray, fq: FloatArray, fk: FloatArray, v: FloatArray,
    a: LinearAttentionArgs): void {
    const { B, H, Hkv, L, S, M, Dv } = a;
    const [nq, nk, nv, nOut, nDen] = attentionSizes(B, H, Hkv, L, S, M, Dv);
    this.marshal({
      outs: [[out, nOut], [den, nDen]], ins: [[fq, nq], [fk, nk], [v, nv]],
      workBytes: this.k.linearAttentionWorkBytes(M, Dv), js: () => jsBackend.linearAttentionForward(out, den, fq, fk, v, a),
    }, (p, pw) => {
      // units: kv heads (b, kv head)
      this.exec("linearAttentionForward", [...p, B, H, Hkv, L, S, M, Dv, +a.causal, pw],
        2 * (nDen + B * Hkv * S) * M * Dv, MIN_MACS_PER_PART, B * Hkv);
    });
  }

  linearAttentionBackward(dfq: FloatArray, dfk: FloatArray, dv: FloatArray, dout: FloatArray, fq: FloatArray,
    fk: FloatArray, v: FloatArray, out: FloatArray, den: FloatArray, a: LinearAttentionArgs): void {
    const { B, H, Hkv, L, S, M, Dv } = a;
    const [nq, nk, nv, no, nd] = attentionSizes(B, H, Hkv, L, S, M, Dv);
    this.marshal({
      outs: [[dfq, nq], [dfk, nk], [dv, nv]], ins: [[dout, no], [fq, nq], [fk, nk], [v, nv], [out, no], [den, nd]],
      workBytes: this.k.linearAttentionWorkBytes(M, Dv),
      js: () => jsBackend.linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, a),
    }, (p, pw) => {
      // units: kv heads (b, kv head)
      this.exec("linearAttentionBackward", [...p, B, H, Hkv, L, S, M, Dv, +a.causal, pw],
        4 * (nd + B * Hkv * S) * M * Dv, MIN_MACS_PER_PART, B * Hkv);
    });
  }
}
