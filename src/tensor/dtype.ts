/**
 * Data types. float32 is the storage of models; float64 exists for gradient checks and references
 * (computed by the js backend); int32 holds indices; bool holds masks (one byte per element).
 */
import { ValueError } from "./errors.js";
import { newFloat32, poisoning, takeFloat32 } from "./pool.js";

export type DType = "float32" | "float64" | "int32" | "bool";
export type FloatDType = "float32" | "float64";

export type FloatArray = Float32Array | Float64Array;
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface ArrayFor {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

/** A zero-filled array of n elements (float32 ones may come from the buffer pool, tensor/pool.ts). */
export function allocate<D extends DType>(dtype: D, n: number): ArrayFor[D];
export function allocate(dtype: DType, n: number): TypedArray {
  if (dtype === "float32") {
    const pooled = takeFloat32(n);
    if (pooled !== null) return pooled.fill(0);
  }
  try {
    switch (dtype) {
      case "float32": return newFloat32(n);
      case "float64": return new Float64Array(n);
      case "int32": return new Int32Array(n);
      case "bool": return new Uint8Array(n);
    }
  } catch (e) {
    // a size past what typed arrays hold, or than memory allows: a typed error, not a RangeError
    if (e instanceof RangeError) throw new ValueError("allocate", "size", "a tensor that fits in memory", `${n} ${dtype} elements`);
    throw e;
  }
}

/**
 * An array of n elements whose contents are unspecified: for outputs a kernel writes in full.
 * float32 ones come from the buffer pool without being zero-filled (the tests poison them with
 * NaN, tensor/pool.ts); anything else is `allocate`'s.
 */
export function allocateUninit<D extends DType>(dtype: D, n: number): ArrayFor[D];
export function allocateUninit(dtype: DType, n: number): TypedArray {
  if (dtype === "float32") {
    const pooled = takeFloat32(n);
    if (pooled !== null) return poisoning() ? pooled.fill(NaN) : pooled;
  }
  return allocate(dtype, n);
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === "float32" || dtype === "float64";
}

/** The dtype of a result of mixing two float dtypes (float64 wins). */
export function promote(a: DType, b: DType): DType {
  if (a === "float64" || b === "float64") return "float64";
  if (a === "float32" || b === "float32") return "float32";
  if (a === "int32" || b === "int32") return "int32";
  return "bool";
}
