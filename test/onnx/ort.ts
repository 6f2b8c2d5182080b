/**
 * onnxruntime-node for the ONNX tests, loaded the way bench/peers/ort.ts loads it; `ortSkip` is the
 * reason to skip when it does not load (a test then says so instead of passing silently).
 */
import { createRequire } from "node:module";
import type { Tensor } from "../../src/tensor/tensor.js";

export type Ort = typeof import("onnxruntime-node");
export type Session = import("onnxruntime-node").InferenceSession;
export type OrtTensor = import("onnxruntime-node").Tensor;

let ort: Ort | null = null;
let why: string | false = false;
try {
  ort = createRequire(import.meta.url)("onnxruntime-node") as Ort;
} catch (e) {
  why = `onnxruntime-node did not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
}

/** false when onnxruntime-node loaded, else the reason (node:test's `skip` option). */
export const ortSkip: string | false = why;
if (why) console.log(`# skipping the ONNX Runtime tests: ${why}`);

export function getOrt(): Ort {
  if (!ort) throw new Error(String(why));
  return ort;
}

export async function session(bytes: Uint8Array): Promise<Session> {
  return getOrt().InferenceSession.create(bytes, { executionProviders: ["cpu"], intraOpNumThreads: 1, graphOptimizationLevel: "all" });
}

/** A qkv tensor as an ORT tensor (float32 as float32, int32 ids as int64, bool as bool). */
export function toOrt(t: Tensor, as?: "int64"): OrtTensor {
  const O = getOrt();
  if (as === "int64" || t.dtype === "int32") return new O.Tensor("int64", BigInt64Array.from(Array.from(t.data as Int32Array, (x) => BigInt(x))), t.shape);
  if (t.dtype === "bool") return new O.Tensor("bool", Uint8Array.from(t.data as Uint8Array), t.shape);
  return new O.Tensor("float32", Float32Array.from(t.data as ArrayLike<number>), t.shape);
}

export function int64(values: readonly number[], dims: readonly number[]): OrtTensor {
  return new (getOrt().Tensor)("int64", BigInt64Array.from(values, (x) => BigInt(x)), dims.slice());
}

/** Largest |a - b| (NaN counts as infinite). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i]! - b[i]!);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
  }
  return d;
}
