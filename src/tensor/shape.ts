/**
 * Shapes: sizes, strides, NumPy broadcasting and rank-checked destructuring.
 *
 * Dimension alphabet (used in every shape comment): B batch, H heads, L query length,
 * S key length, E embedding, D head dim.
 */
import { ShapeError, ValueError, fmtShape } from "./errors.js";

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Row-major strides. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting of two shapes; throws ShapeError naming `op`. */
export function broadcastShapes(a: Shape, b: Shape, op: string, argA = "a", argB = "b"): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, argB, `a shape broadcastable with ${argA} ${fmtShape(a)}`, fmtShape(b));
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen inside the broadcast `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  const r = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < shape.length; i++) r[i + off] = shape[i] === 1 ? 0 : st[i]!;
  return r;
}

/** True when `shape` broadcasts to `target` (target unchanged). */
export function broadcastsTo(shape: Shape, target: Shape): boolean {
  if (shape.length > target.length) return false;
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && shape[i] !== target[i + off]) return false;
  return true;
}

/** Normalizes a possibly negative axis; throws ValueError when out of range. */
export function normAxis(axis: number, rank: number, op: string, arg = "dim"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ValueError(op, arg, `an integer in [${-rank}, ${Math.max(rank, 1) - 1}]`, String(axis));
  }
  return axis < 0 ? axis + rank : axis;
}

interface HasShape { readonly shape: Shape }

function dimsN(t: HasShape, n: number, arg: string, op: string): number[] {
  if (t.shape.length !== n) {
    const letters = n === 1 ? "[N]" : `a ${n}-D shape`;
    throw new ShapeError(op, arg, letters, fmtShape(t.shape));
  }
  return t.shape.slice();
}

export function dims2(t: HasShape, arg: string, op: string): [number, number] {
  const d = dimsN(t, 2, arg, op);
  return [d[0]!, d[1]!];
}
export function dims3(t: HasShape, arg: string, op: string): [number, number, number] {
  const d = dimsN(t, 3, arg, op);
  return [d[0]!, d[1]!, d[2]!];
}
export function dims4(t: HasShape, arg: string, op: string): [number, number, number, number] {
  const d = dimsN(t, 4, arg, op);
  return [d[0]!, d[1]!, d[2]!, d[3]!];
}

/** Throws unless `t.shape` equals `expected`, where -1 in `expected` matches any size. */
export function expectShape(t: HasShape, expected: readonly number[], arg: string, op: string, letters?: string): void {
  const ok = t.shape.length === expected.length && expected.every((e, i) => e === -1 || e === t.shape[i]);
  if (!ok) throw new ShapeError(op, arg, letters ?? fmtShape(expected), fmtShape(t.shape));
}
