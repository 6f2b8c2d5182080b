/**
 * The Tensor type: a shape, a dtype and contiguous data, plus the autograd fields. The data is a
 * host typed array (every CPU backend) or a device array (tensor/device.ts: a GPU buffer of a
 * device backend). `data` is synchronous: on a device tensor it returns the copy `await t.read()`
 * made, and before that throws a DeviceSyncError. No math lives here (see ops/); host memory is the
 * garbage collector's, device memory its backend's pool's.
 *
 * ```ts
 * const x = tensor([[1, 2], [3, 4]]);       // float32 [2, 2]
 * const m = tensor([[true, false]], { dtype: "bool" });
 * const w = randn([4, 4], { requiresGrad: true });
 * ```
 */
import { allocate, type ArrayFor, type DType, type TypedArray, isFloat } from "./dtype.js";
import type { DeviceArray, DeviceStore } from "./device.js";
import { DTypeError, DeviceSyncError, FreedTensorError, ShapeError, ValueError, fmtShape } from "./errors.js";
import { defaultGenerator, type Generator } from "./rng.js";
import { noteDeviceTensor, noteView } from "./pool.js";
import { numel, type Shape } from "./shape.js";

/**
 * A gradient that is zero except on one block of its input: along `dim`, the positions
 * start, start + step, ... hold `block` (the input's shape with `dim` narrowed). Slicing ops return
 * it so that the engine adds the block into one accumulator instead of materializing a mostly-zero
 * tensor per slice.
 */
export interface BlockGrad {
  readonly kind: "block";
  readonly block: Tensor;
  readonly dim: number;
  readonly start: number;
  readonly step: number;
}

/** The record an op leaves on its output so that backward() can run (see autograd/). */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Given d(loss)/d(output), returns d(loss)/d(input) per input (null: no gradient). */
  readonly backward: (grad: Tensor) => readonly (Tensor | BlockGrad | null)[];
  /**
   * Tensors the op made for its backward alone (a layer norm's mean and rstd, attention's row
   * log-sum-exps), which only `backward` holds: freeGraph gives their device arrays back with the
   * graph's. The op must not hand them out.
   */
  readonly saved?: readonly Tensor[];
}

/**
 * The device array of a freed device tensor, told apart by its length of -1 (a real array's is at
 * least 0): `freed` says how its memory went back (FreedTensorError's `what`).
 */
interface FreedMarker extends DeviceArray { readonly freed: string | undefined }

const freedMarkers = new Map<string | undefined, FreedMarker>();

/** One marker per reason, shared by every tensor freed for it. */
function freedMarker(what: string | undefined): FreedMarker {
  let m = freedMarkers.get(what);
  if (!m) freedMarkers.set(what, (m = Object.freeze({ length: -1, freed: what })));
  return m;
}

export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  /**
   * The host array: the data of a host tensor; on a device tensor null until `read()` caches a
   * copy (cleared by `deviceWritten()`). Read it through `data`.
   */
  host: ArrayFor[D] | null;
  /** The device array behind `device`, or a freed marker (freeDevice). */
  private dev: DeviceArray | null;
  /** The backend holding `device`. */
  store: DeviceStore | null;
  /** True for a leaf that collects `.grad`, or for a result that depends on one. */
  requiresGrad = false;
  /** Accumulated gradient (leaves, and any tensor after retainGrad()). */
  grad: Tensor | null = null;
  /** The op that made this tensor, when recorded. */
  gradFn: GradNode | null = null;
  /** Keep `.grad` on a non-leaf during backward. */
  retainsGrad = false;

  /** A tensor over `data` (shared, not copied); with `data` null, over `device` on `store`. */
  constructor(data: ArrayFor[D] | null, shape: Shape, dtype: D, device: DeviceArray | null = null, store: DeviceStore | null = null) {
    const n = data !== null ? data.length : device !== null ? device.length : -1;
    if (n !== numel(shape) || (data === null && store === null)) {
      throw new ShapeError("Tensor", "data", `${numel(shape)} elements for shape ${fmtShape(shape)}`, data === null && device === null ? "no data" : `${n}`);
    }
    this.host = data;
    this.dev = device;
    if (device !== null) noteDeviceTensor(device);
    this.store = store;
    // a frozen array (another tensor's shape) cannot change: shared, not copied
    this.shape = Array.isArray(shape) && Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.dtype = dtype;
  }

  /** A float32 tensor whose data is `arr` on `store`'s device (shared, not copied). */
  static fromDevice(arr: DeviceArray, store: DeviceStore, shape: Shape): Tensor<"float32"> {
    return new Tensor<"float32">(null, shape, "float32", arr, store);
  }

  /**
   * The host array. On a device tensor: the copy the last `await read()` made; before one (or
   * after the device data changed) throws DeviceSyncError.
   */
  get data(): ArrayFor[D] {
    const h = this.host;
    if (h !== null) return h;
    return this.hostFor("data");
  }

  /**
   * The device array of a device tensor (its store in `store`); null on a host tensor. Throws
   * FreedTensorError once the array went back to its store (freeDevice).
   */
  get device(): DeviceArray | null {
    const d = this.dev;
    if (d !== null && d.length < 0) throw new FreedTensorError(this.toString(), (d as FreedMarker).freed);
    return d;
  }

  set device(d: DeviceArray | null) {
    this.dev = d;
  }

  /**
   * Marks a device tensor whose array went back to its store: every use of `device` and `data`
   * throws FreedTensorError from now on (`what` as its). Two field writes, where redefining the
   * two properties on the tensor cost a microsecond each (a step frees a few hundred).
   */
  freeDevice(what?: string): void {
    this.dev = freedMarker(what);
    this.host = null;
  }

  /** The host array (through `data`, which freeGraph may have poisoned), or a DeviceSyncError naming `op`. */
  private hostFor(op: string): ArrayFor[D] {
    if (this.host !== null) return this.data;
    const d = this.dev;
    if (d !== null && d.length < 0) throw new FreedTensorError(this.toString(), (d as FreedMarker).freed);
    throw new DeviceSyncError(op, this.toString(), this.store?.name ?? "unknown");
  }

  /** True when the data lives on a device (see `read()`). */
  get onDevice(): boolean {
    return this.device !== null;
  }

  /**
   * The data on the host: at once on a host tensor; on a device tensor once the work recorded so
   * far has run, copied back and cached (so `data`, `item()` and `toArray()` work afterwards).
   */
  async read(): Promise<ArrayFor[D]> {
    const dev = this.device;
    if (dev === null) return this.data;
    return this.cacheRead(dev, await this.store!.read(dev));
  }

  /**
   * The host copy of `raw`, the values `read()` (or a batched read, tensor/read-all.ts) got from
   * `dev`, in this tensor's dtype; cached unless the device data changed meanwhile.
   */
  cacheRead(dev: DeviceArray, raw: Float32Array): ArrayFor[D] {
    // an int32 tensor (indices) or a bool on a device holds its integers as float32 values
    const copy = (this.dtype === "float32" ? raw : allocate(this.dtype, raw.length).map((_, i) => raw[i]!)) as ArrayFor[D];
    // a later write to the device data clears the copy; keep it only when none came meanwhile
    if (this.device === dev) this.host = copy;
    return copy;
  }

  /** Drops the host copy of a device tensor (its device data was written in place). */
  deviceWritten(): void {
    if (this.device !== null) this.host = null;
  }

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    const dev = this.device;
    return dev === null ? this.data.length : dev.length;
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Sets requiresGrad on a leaf (chainable). */
  requiresGrad_(flag = true): this {
    if (flag && !isFloat(this.dtype)) throw new DTypeError("requiresGrad_", "tensor", "a float tensor", this.dtype);
    if (this.gradFn !== null && !flag) throw new ValueError("requiresGrad_", "flag", "true for a non-leaf tensor", "false");
    this.requiresGrad = flag;
    return this;
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError("item", "tensor", "one element", fmtShape(this.shape));
    return Number(this.hostFor("item")[0]);
  }

  /** Nested arrays (numbers; booleans for bool tensors). */
  toArray(): NestedArray {
    const data = this.hostFor("toArray");
    const conv = this.dtype === "bool" ? (x: number) => x !== 0 : (x: number) => x;
    const rec = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return conv(Number(data[off]));
      const n = this.shape[dim]!;
      const inner = numel(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(rec(dim + 1, off + i * inner));
      return out;
    };
    return rec(0, 0);
  }

  /** A new leaf sharing no graph with this one (the data is shared, not copied). */
  detach(): Tensor<D> {
    if (this.device !== null) return new Tensor(null, this.shape, this.dtype, this.device, this.store);
    noteView(this.data);
    return new Tensor(this.data, this.shape, this.dtype);
  }

  /** A deep copy, as a leaf (of a host tensor, or of a device tensor's host copy). */
  clone(): Tensor<D> {
    return new Tensor(this.hostFor("clone").slice() as ArrayFor[D], this.shape, this.dtype);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)})`;
  }
}

export type NestedArray = number | boolean | NestedArray[];


export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function leaf<D extends DType>(data: ArrayFor[D], shape: Shape, dtype: D, opts?: CreateOptions): Tensor<D> {
  const t = new Tensor(data, shape, dtype);
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function checkShape(shape: Shape, op: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ValueError(op, "shape", "non-negative integer sizes", fmtShape(shape));
  }
}

/** A tensor from nested arrays, a typed array (with `shape`), or a number. */
export function tensor(values: NestedArray | TypedArray, opts: CreateOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(values)) {
    const dtype: DType = opts.dtype ?? (values instanceof Float64Array ? "float64" : values instanceof Int32Array ? "int32" : values instanceof Uint8Array ? "bool" : "float32");
    const shape = opts.shape ?? [values.length];
    checkShape(shape, "tensor");
    const data = allocate(dtype, values.length);
    data.set(values);
    return leaf(data, shape, dtype, opts);
  }
  const shape: number[] = [];
  let probe: NestedArray = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] ?? 0;
  }
  const flat: (number | boolean)[] = [];
  const walk = (v: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) throw new ShapeError("tensor", "values", `a regular nested array of shape ${fmtShape(shape)}`, "a ragged array");
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new ShapeError("tensor", "values", `a regular nested array of shape ${fmtShape(shape)}`, "a ragged array");
    }
    for (const x of v) walk(x, dim + 1);
  };
  walk(values, 0);
  const dtype: DType = opts.dtype ?? (typeof flat[0] === "boolean" ? "bool" : "float32");
  const data = allocate(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i]!;
    if (typeof x === "boolean") data[i] = x ? 1 : 0;
    else if (typeof x === "number") data[i] = dtype === "bool" ? (x !== 0 ? 1 : 0) : x;
    else throw new ValueError("tensor", "values", "numbers or booleans", typeof x);
  }
  return leaf(data, shape, dtype, opts);
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  checkShape(shape, "full");
  const dtype = opts.dtype ?? "float32";
  const data = allocate(dtype, numel(shape));
  data.fill(dtype === "bool" ? (value ? 1 : 0) : value);
  return leaf(data, shape, dtype, opts);
}
export const zeros = (shape: Shape, opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: Shape, opts: CreateOptions = {}): Tensor => full(shape, 1, opts);
export const zerosLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 0, { dtype: t.dtype, ...opts });
export const onesLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 1, { dtype: t.dtype, ...opts });

/** [start, end) in steps; `arange(n)` is 0..n-1. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ValueError("arange", "step", "a finite non-zero number", String(step));
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? "float32";
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return leaf(data, [n], dtype, opts);
}

function floatDType(op: string, dtype: DType | undefined): "float32" | "float64" {
  const d = dtype ?? "float32";
  if (d !== "float32" && d !== "float64") throw new DTypeError(op, "dtype", "float32 or float64", d);
  return d;
}

/** Uniform in [0, 1) from the (seeded, counter-based) generator. */
export function rand(shape: Shape, opts: RandomOptions = {}): Tensor {
  checkShape(shape, "rand");
  const dtype = floatDType("rand", opts.dtype);
  const data = allocate(dtype, numel(shape));
  (opts.generator ?? defaultGenerator).fillUniform(data);
  return leaf(data, shape, dtype, opts);
}

/** Standard normal. */
export function randn(shape: Shape, opts: RandomOptions = {}): Tensor {
  checkShape(shape, "randn");
  const dtype = floatDType("randn", opts.dtype);
  const data = allocate(dtype, numel(shape));
  (opts.generator ?? defaultGenerator).fillNormal(data);
  return leaf(data, shape, dtype, opts);
}

/** Integers in [low, high), int32. */
export function randint(low: number, high: number, shape: Shape, opts: { generator?: Generator } = {}): Tensor {
  checkShape(shape, "randint");
  if (!(Number.isInteger(low) && Number.isInteger(high) && high > low)) {
    throw new ValueError("randint", "high", `an integer > low (${low})`, String(high));
  }
  const data = new Int32Array(numel(shape));
  (opts.generator ?? defaultGenerator).fillInt(data, low, high);
  return new Tensor(data, shape, "int32");
}

/** Throws a DTypeError unless `t` has one of `dtypes`. */
export function expectDType(t: Tensor, dtypes: readonly DType[], arg: string, op: string): void {
  if (!dtypes.includes(t.dtype)) throw new DTypeError(op, arg, dtypes.join(" or "), t.dtype);
}

/** Throws unless `x` is a Tensor. */
export function expectTensor(x: unknown, arg: string, op: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ValueError(op, arg, "a Tensor", x === null ? "null" : typeof x);
}
