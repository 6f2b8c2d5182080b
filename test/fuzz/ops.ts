/**
 * Fuzz targets for public tensor ops and modules on the active backend: random shapes (empty
 * dimensions included), dtypes, values (NaN, ±Infinity, ±1e4) and option values. Each call must
 * give a typed error (ShapeError, DTypeError, ValueError) or a correct result: no TypeError or
 * RangeError from inside, results equal to a plain float64 reference, and no NaN where the math
 * is finite (softmax and attention on ±1e4 logits). Run in a child process per backend
 * (test/fuzz/child.ts), so a crash of the native addon is a failed child, not a lost runner.
 *
 * ```ts
 * const report = await runTargets(opTargets(), { seed: 1, runs: 30 });
 * ```
 */
import fc from "fast-check";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { add, mul } from "../../src/ops/elementwise.js";
import { matmul } from "../../src/ops/matmul.js";
import { packedSelfAttention } from "../../src/ops/packed-attention.js";
import { layerNorm } from "../../src/ops/norm.js";
import { sum } from "../../src/ops/reduce.js";
import { permute, reshape } from "../../src/ops/shape.js";
import { logSoftmax, softmax } from "../../src/ops/softmax.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { tensor, type Tensor } from "../../src/tensor/tensor.js";
import { expectTyped, Finding, target, type FuzzTarget } from "./harness.js";

const TYPED = [ShapeError, DTypeError, ValueError] as const;

const dim = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 5 }), weight: 6 }, fc.constant(0));
const shape = (maxRank = 4): fc.Arbitrary<number[]> => fc.array(dim, { maxLength: maxRank });
const special = fc.constantFrom(NaN, Infinity, -Infinity, 1e4, -1e4, 0, -0, 3.4e38, -3.4e38, 1e-45);
const value = fc.oneof({ arbitrary: fc.double({ min: -4, max: 4, noNaN: true }), weight: 4 }, special);
const finiteValue = fc.oneof({ arbitrary: fc.double({ min: -4, max: 4, noNaN: true }), weight: 3 }, fc.constantFrom(1e4, -1e4, 0, -0));
const dtype = fc.oneof({ arbitrary: fc.constant("float32" as const), weight: 6 }, fc.constantFrom("float64" as const, "int32" as const, "bool" as const));
const optionValue = fc.constantFrom<unknown>(-1, 0, 0.5, 1, 2, 1e9, NaN, Infinity, -Infinity, null, undefined, "1", true, [], {});

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** A tensor of the given shape and dtype with values from `vals`. */
function tensorOf(s: readonly number[], dt: "float32" | "float64" | "int32" | "bool", vals: fc.Arbitrary<number>): fc.Arbitrary<Tensor> {
  return fc.array(vals, { minLength: numel(s), maxLength: numel(s) }).map((xs) => {
    const data = dt === "bool" ? xs.map((x) => (x > 0 ? 1 : 0)) : dt === "int32" ? xs.map((x) => (Number.isFinite(x) ? Math.trunc(x) : 0)) : xs;
    return tensor(Float64Array.from(data), { shape: s.slice(), dtype: dt });
  });
}

const anyTensor = fc.tuple(shape(), dtype).chain(([s, dt]) => tensorOf(s, dt, value));

/** Relative closeness for float32 results against a float64 reference. */
function close(got: number, want: number, tol = 1e-4): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  return Math.abs(got - want) <= tol * (1 + Math.abs(want));
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Finding(what);
}

/** Row-wise float64 softmax of `xs` (rows of length n). */
function refSoftmax(xs: ArrayLike<number>, n: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * n < xs.length; r++) {
    const row = Array.from({ length: n }, (_, j) => xs[r * n + j]!);
    const m = Math.max(...row);
    const e = row.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((x) => x / z));
  }
  return out;
}

export function opTargets(): FuzzTarget[] {
  return [
    target({
      name: "softmax / logSoftmax",
      arbitrary: fc.tuple(fc.tuple(shape(3), dtype).chain(([s, dt]) => tensorOf(s, dt, value)), fc.oneof(fc.integer({ min: -4, max: 4 }), optionValue)),
      check: async ([x, d]) => {
        await expectTyped(() => {
          const y = softmax(x, d as number);
          logSoftmax(x, d as number);
          // on the last dim of finite input the result is a probability row, never NaN
          if (d === -1 && x.rank > 0 && x.dtype !== "int32" && x.dtype !== "bool" && Array.from(x.data).every(Number.isFinite)) {
            const n = x.shape[x.rank - 1]!;
            const ref = refSoftmax(x.data, n);
            y.data.forEach((v, i) => check(close(v, ref[i]!), `softmax[${i}] = ${v}, reference ${ref[i]} (input ${Array.from(x.data).slice(0, 8)})`));
          }
        }, { allowed: TYPED });
      },
    }),
    target({
      name: "softmax on ±1e4 logits stays finite",
      arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70 })).chain(([r, n]) => tensorOf([r, n], "float32", fc.constantFrom(1e4, -1e4, 0, 1e4 - 1))),
      check: (x) => {
        const y = softmax(x, -1);
        const ref = refSoftmax(x.data, x.shape[1]!);
        y.data.forEach((v, i) => check(close(v, ref[i]!), `softmax[${i}] = ${v}, reference ${ref[i]}`));
      },
    }),
    target({
      name: "scaledDotProductAttention",
      arbitrary: fc.record({
        B: dim, H: fc.integer({ min: 1, max: 3 }), L: dim, S: dim, D: fc.integer({ min: 1, max: 8 }), Dk: fc.option(fc.integer({ min: 1, max: 8 }), { freq: 5 }),
        causal: fc.boolean(), weights: fc.boolean(), big: fc.boolean(),
        dropoutP: fc.option(optionValue, { freq: 4 }), scale: fc.option(optionValue, { freq: 4 }),
        mask: fc.option(fc.constantFrom("bool", "float", "badshape"), { freq: 3 }), seed: fc.nat(),
      }).chain((c) => {
        const big = c.big ? fc.constantFrom(1e4, -1e4, 50, -50) : finiteValue;
        const q = tensorOf([c.B, c.H, c.L, c.D], "float32", big);
        const k = tensorOf([c.B, c.H, c.S, c.Dk ?? c.D], "float32", big);
        const v = tensorOf([c.B, c.H, c.S, c.D], "float32", finiteValue);
        const m = c.mask === null ? fc.constant(null)
          : c.mask === "bool" ? tensorOf([c.L, c.S], "bool", fc.double({ min: -1, max: 1, noNaN: true }))
          : c.mask === "float" ? tensorOf([c.L, c.S], "float32", fc.constantFrom(0, -Infinity, -1e4, 1))
          : tensorOf([c.L + 1, c.S], "float32", fc.constant(0));
        return fc.tuple(fc.constant(c), q, k, v, m);
      }),
      weight: 2,
      check: async ([c, q, k, v, m]) => {
        const opts = { isCausal: c.causal, needWeights: c.weights, ...(m ? { attnMask: m } : {}),
          ...(c.dropoutP !== null ? { dropoutP: c.dropoutP as number } : {}), ...(c.scale !== null ? { scale: c.scale as number } : {}) };
        await expectTyped(() => {
          const { output, weights } = scaledDotProductAttention(q, k, v, opts);
          check(output.shape.join() === [c.B, c.H, c.L, c.D].join(), `output shape [${output.shape}]`);
          // Finite logits and no mask that can empty a row: the output must be finite.
          const rowsKeepAKey = c.S > 0 && (m === null || c.mask === "badshape");
          const finiteScale = c.scale === null || Number.isFinite(c.scale as number);
          if (rowsKeepAKey && finiteScale && (c.dropoutP === null || c.dropoutP === 0)) {
            output.data.forEach((x, i) => check(Number.isFinite(x), `output[${i}] = ${x} on finite inputs (causal ${c.causal}, big ${c.big})`));
            weights?.data.forEach((x, i) => check(Number.isFinite(x), `weights[${i}] = ${x} on finite inputs`));
          }
        }, { allowed: TYPED });
      },
    }),
    target({
      name: "packedSelfAttention",
      arbitrary: fc.record({
        B: dim, T: dim, heads: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 6 }, optionValue), D: fc.integer({ min: 1, max: 6 }),
        extra: fc.constantFrom(0, 0, 0, 1), causal: fc.boolean(), big: fc.boolean(),
        dropoutP: fc.option(optionValue, { freq: 4 }), scale: fc.option(optionValue, { freq: 4 }),
        mask: fc.option(fc.constantFrom("bool", "float", "badshape"), { freq: 3 }),
      }).chain((c) => {
        // qkv sized for the heads asked for when they are small; a hostile count meets a small tensor
        const H = typeof c.heads === "number" && Number.isInteger(c.heads) && c.heads > 0 && c.heads <= 3 ? c.heads : 1;
        const big = c.big ? fc.constantFrom(1e4, -1e4, 50, -50) : finiteValue;
        const qkv = tensorOf([c.B, c.T, 3 * H * c.D + c.extra], "float32", big);
        const m = c.mask === null ? fc.constant(null)
          : c.mask === "bool" ? tensorOf([c.T, c.T], "bool", fc.double({ min: -1, max: 1, noNaN: true }))
          : c.mask === "float" ? tensorOf([c.T, c.T], "float32", fc.constantFrom(0, -Infinity, -1e4, 1))
          : tensorOf([c.T + 1, c.T], "float32", fc.constant(0));
        return fc.tuple(fc.constant(c), qkv, m);
      }),
      check: async ([c, qkv, m]) => {
        const opts = { isCausal: c.causal, ...(m ? { attnMask: m } : {}),
          ...(c.dropoutP !== null ? { dropoutP: c.dropoutP as number } : {}), ...(c.scale !== null ? { scale: c.scale as number } : {}) };
        qkv.requiresGrad_(true);
        await expectTyped(() => {
          const out = packedSelfAttention(qkv, c.heads as number, opts);
          const E = (qkv.shape[2]! / 3);
          check(out.shape.join() === [c.B, c.T, E].join(), `output shape [${out.shape}]`);
          // Finite logits and no mask that can empty a row: the output and the gradient are finite.
          if (c.T > 0 && m === null && (c.dropoutP === null || c.dropoutP === 0)) {
            out.data.forEach((x, i) => check(Number.isFinite(x), `output[${i}] = ${x} on finite inputs (causal ${c.causal}, big ${c.big})`));
            if (out.size > 0) {
              sum(out).backward();
              qkv.grad?.data.forEach((x, i) => check(Number.isFinite(x), `grad[${i}] = ${x} on finite inputs`));
            }
          }
        }, { allowed: TYPED });
      },
    }),
    target({
      name: "matmul",
      arbitrary: fc.tuple(shape(3), shape(3), fc.boolean()).chain(([a, b, align]) => {
        const bs = align && a.length >= 1 && b.length >= 2 ? [...b.slice(0, -2), a[a.length - 1]!, b[b.length - 1]!] : b;
        return fc.tuple(tensorOf(a, "float32", finiteValue), fc.tuple(dtype).chain(([dt]) => tensorOf(bs, dt, finiteValue)));
      }),
      check: async ([a, b]) => {
        await expectTyped(() => {
          const y = matmul(a, b);
          if (a.rank === 2 && b.rank === 2) {
            const [M, K] = a.shape as [number, number], N = b.shape[1]!;
            for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
              let s = 0, mag = 0;
              for (let p = 0; p < K; p++) {
                const t = a.data[i * K + p]! * b.data[p * N + j]!;
                s += t;
                mag += Math.abs(t);
              }
              // a float32 dot product of K terms is within about K·2^-24·Σ|a_p b_p| of the exact sum
              // (twice that allowed): terms of ±1e8 that cancel to 74 may come out as 72
              const got = y.data[i * N + j]!;
              const within = a.dtype === "float32" && b.dtype === "float32" ? Math.abs(got - s) <= (K + 1) * 2 ** -23 * mag : false;
              check(within || close(got, s, 1e-3), `matmul[${i},${j}] = ${got}, reference ${s} (sum of |terms| ${mag})`);
            }
          }
        }, { allowed: TYPED });
      },
    }),
    target({
      name: "add / mul broadcasting",
      arbitrary: fc.tuple(anyTensor, anyTensor),
      check: async ([a, b]) => {
        await expectTyped(() => {
          const s = add(a, b), p = mul(a, b);
          if (a.shape.join() === b.shape.join() && a.dtype === b.dtype && a.dtype !== "bool") {
            const round = a.dtype === "float32" ? Math.fround : (x: number): number => x;
            s.data.forEach((x, i) => check(close(x, round(a.data[i]! + b.data[i]!)) || a.dtype === "int32", `add[${i}] = ${x}`));
            p.data.forEach((x, i) => check(close(x, round(a.data[i]! * b.data[i]!), 1e-3) || a.dtype === "int32", `mul[${i}] = ${x}`));
          }
        }, { allowed: TYPED });
      },
    }),
    target({
      name: "layerNorm",
      arbitrary: fc.tuple(fc.tuple(shape(3), dtype).chain(([s, dt]) => tensorOf(s, dt, value)), fc.array(dim, { maxLength: 3 }), fc.oneof(fc.constant(1e-5), optionValue)),
      check: async ([x, ns, eps]) => {
        await expectTyped(() => layerNorm(x, ns, null, null, eps as number), { allowed: TYPED });
      },
    }),
    target({
      name: "reshape / permute / sum",
      arbitrary: fc.tuple(anyTensor, fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 4 }), fc.oneof(fc.integer({ min: -5, max: 5 }), optionValue)),
      check: async ([x, dims, d]) => {
        await expectTyped(() => reshape(x, dims), { allowed: TYPED });
        await expectTyped(() => permute(x, dims), { allowed: TYPED });
        await expectTyped(() => sum(x, d as number), { allowed: TYPED });
      },
    }),
    target({
      name: "MultiheadAttention",
      arbitrary: fc.record({
        E: fc.oneof(fc.integer({ min: 1, max: 8 }), optionValue), heads: fc.oneof(fc.integer({ min: 1, max: 4 }), optionValue),
        L: dim, S: dim, B: dim, dropout: fc.option(optionValue, { freq: 3 }), wrongE: fc.boolean(),
      }),
      weight: 0.5,
      check: async (c) => {
        let mha: MultiheadAttention | undefined;
        await expectTyped(() => { mha = new MultiheadAttention(c.E as number, c.heads as number, c.dropout !== null ? { dropout: c.dropout as number } : {}); }, { allowed: TYPED });
        if (!mha) return;
        const E = (c.E as number) + (c.wrongE ? 1 : 0);
        const q = tensor(new Float64Array(c.L * c.B * E).fill(0.5), { shape: [c.L, c.B, E] });
        const kv = tensor(new Float64Array(c.S * c.B * E).fill(-0.25), { shape: [c.S, c.B, E] });
        await expectTyped(() => {
          const { output } = mha!.forward(q, kv, kv);
          if (c.S > 0) output.data.forEach((x, i) => check(Number.isFinite(x), `output[${i}] = ${x}`));
        }, { allowed: TYPED });
      },
    }),
  ];
}
