/**
 * The optimizer base (torch.optim.Optimizer semantics): parameter groups with per-group
 * hyper-parameters, lazily created per-parameter state, zeroGrad(), and a state dict whose
 * tensors have flat names ("state.0.exp_avg", "state.0.step") so it can be written to a
 * safetensors file next to the model's tensors. Parameters are numbered across groups in order,
 * as PyTorch numbers them.
 *
 * ```ts
 * const opt = new AdamW([
 *   { params: decay, weightDecay: 0.1 },
 *   { params: noDecay, weightDecay: 0 },
 * ], { lr: 3e-4 });
 * opt.zeroGrad();
 * backward(loss);
 * opt.step();
 * const saved = opt.stateDict();   // { tensors: { "state.0.step": …, "state.0.exp_avg": … }, paramGroups: [...] }
 * opt.loadStateDict(saved);
 * ```
 */
import { noGrad } from "../autograd/graph.js";
import { scaleGradsBy } from "./clip-device.js";
import { releaseGrads } from "../autograd/release-grads.js";
import { readAll } from "../tensor/read-all.js";
import { backendOf, filledArray, writeValues, type DeviceBackend } from "../backend/tensor-arrays.js";
import { dropPrepacked } from "../tensor/prepacked.js";
import type { DeviceStore } from "../tensor/device.js";
import { DeviceSyncError, StateDictError, ValueError, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

/** Hyper-parameters every optimizer has. */
export interface BaseOptions {
  lr: number;
}

/** A group as given to a constructor: its parameters and any hyper-parameters overriding the defaults. */
export type ParamGroupSpec<O> = Partial<O> & { params: Iterable<Tensor> };

/** A live group: its parameters and its full set of hyper-parameters (`lr` is changed by schedulers). */
export type ParamGroup<O> = O & { params: Tensor[] };

/** What an optimizer accepts: parameters (one group) or a list of group specs. */
export type Params<O> = Iterable<Tensor> | readonly ParamGroupSpec<O>[];

/** A JSON-serializable hyper-parameter value. */
export type HyperValue = number | boolean | number[];

/** A group in a state dict: hyper-parameters and the global indices of its parameters. */
export type ParamGroupState = Record<string, HyperValue> & { params: number[] };

/**
 * An optimizer's state: per-parameter tensors named `state.{index}.{key}` (float64; `step` is a
 * scalar) and the groups' hyper-parameters.
 */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  paramGroups: ParamGroupState[];
}

/** Per-parameter state: the number of updates taken and named float64 buffers (PyTorch's names). */
export interface ParamState {
  step: number;
  buffers: Map<string, Float64Array>;
}

function isTensorIterable(p: unknown): p is Iterable<Tensor> {
  if (p instanceof Tensor) return false;
  if (Array.isArray(p)) return p.length === 0 || p[0] instanceof Tensor;
  return typeof p === "object" && p !== null && Symbol.iterator in p;
}

/** Throws a ValueError unless `v` is a finite number >= 0. */
export function checkNonNegative(v: unknown, arg: string, op: string): void {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new ValueError(op, arg, "a finite number >= 0", String(v));
}

/** Throws a ValueError unless `v` is a number in [0, 1). */
export function checkUnitInterval(v: unknown, arg: string, op: string): void {
  if (typeof v !== "number" || !(v >= 0 && v < 1)) throw new ValueError(op, arg, "a number in [0, 1)", String(v));
}

/** Throws a ValueError unless `v` is a boolean. */
export function checkBool(v: unknown, arg: string, op: string): void {
  if (typeof v !== "boolean") throw new ValueError(op, arg, "a boolean", String(v));
}

export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  /** The state of parameters on a device: float32 device tensors by parameter and PyTorch's buffer name. */
  private readonly deviceBuffers = new Map<Tensor, Map<string, Tensor>>();

  /**
   * @param name the optimizer's name in error messages ("SGD", "Adam", ...)
   * @param defaults hyper-parameters of groups that do not set their own (already validated)
   */
  protected constructor(readonly name: string, params: Params<O>, protected readonly defaults: O) {
    if (isTensorIterable(params)) this.addParamGroup({ params } as ParamGroupSpec<O>);
    else if (Array.isArray(params)) for (const g of params as readonly ParamGroupSpec<O>[]) this.addParamGroup(g);
    else throw new ValueError(name, "params", "an iterable of tensors or a list of parameter groups", String(params));
  }

  /** Throws a ValueError naming the bad hyper-parameter (`where` is "" or " (group 1)"). */
  protected abstract validate(options: O, where: string): void;

  /** The buffers that a parameter with state must have under `group`'s options. */
  protected abstract requiredBuffers(group: ParamGroup<O>): string[];

  /** Updates the parameters of one group (called under noGrad). */
  protected abstract updateGroup(group: ParamGroup<O>): void;

  /** Adds a group; hyper-parameters it omits come from the defaults. */
  addParamGroup(spec: ParamGroupSpec<O>): void {
    const where = this.paramGroups.length ? ` (group ${this.paramGroups.length})` : "";
    if (typeof spec !== "object" || spec === null || !("params" in spec)) {
      throw new ValueError(this.name, `params${where}`, "a group { params, ...options }", String(spec));
    }
    const raw: unknown = spec.params;
    const list = raw instanceof Tensor ? [raw] : isTensorIterable(raw) ? [...raw] : null;
    if (!list) throw new ValueError(this.name, `params${where}`, "an iterable of tensors", String(raw));
    if (list.length === 0) throw new ValueError(this.name, `params${where}`, "at least one parameter", "an empty parameter list");
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ValueError(this.name, `params[${i}]${where}`, "a Tensor", String(p));
      if (p.dtype !== "float32" && p.dtype !== "float64") throw new ValueError(this.name, `params[${i}]${where}`, "a float tensor", p.dtype);
      if (!p.isLeaf) throw new ValueError(this.name, `params[${i}]${where}`, "a leaf tensor", `the output of ${p.gradFn?.op ?? "an op"}`);
      if (seen.has(p)) throw new ValueError(this.name, `params[${i}]${where}`, "a parameter in no other group", "a parameter given twice");
      seen.add(p);
    });
    const overrides: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(spec)) if (k !== "params" && v !== undefined) overrides[k] = v;
    const group = { ...this.defaults, ...overrides, params: list } as ParamGroup<O>;
    this.validate(group, where);
    this.paramGroups.push(group);
  }

  /** Every parameter, in the global order used by the state dict. */
  params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /**
   * Sets every parameter's `.grad` to null (PyTorch's default `set_to_none=True`). With `release`,
   * the gradients backward made give their memory back at once (autograd/release-grads.ts: to the
   * buffer pool, or to their device's store), and reading one afterwards throws FreedTensorError.
   */
  zeroGrad(opts: { release?: boolean } = {}): void {
    if (typeof opts !== "object" || opts === null) throw new ValueError("Optimizer.zeroGrad", "opts", "an object such as { release: true }", String(opts));
    if (opts.release !== undefined && typeof opts.release !== "boolean") throw new ValueError("Optimizer.zeroGrad", "opts.release", "a boolean", String(opts.release));
    if (opts.release) releaseGrads(this.params());
    else for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /**
   * One update of every parameter that has a gradient, in place, in float64 arithmetic (float32
   * kernels for parameters on a device, whose recorded work is then submitted). With
   * `{ submit: false }` the device work stays recorded for the next flush or read to submit (fit
   * reads the loss right after, so the step and the read go in one submission). With
   * `{ gradScale }`, a one-element tensor where the parameters are (on their device, or on the
   * host), every gradient is read as gradient * gradScale (the clipping's coefficient from
   * `clipCoefficientTensor`): the same numbers as scaling the gradients in place first, in one pass
   * instead of two on a device; `.grad` itself is left as it was.
   */
  step(opts: { submit?: boolean; gradScale?: Tensor } = {}): void {
    if (typeof opts !== "object" || opts === null) throw new ValueError("Optimizer.step", "opts", "an object such as { submit: false }", String(opts));
    if (opts.submit !== undefined && typeof opts.submit !== "boolean") {
      throw new ValueError("Optimizer.step", "opts.submit", "true or false", JSON.stringify(opts.submit) ?? String(opts.submit));
    }
    const scale = opts.gradScale;
    if (scale !== undefined && !(scale instanceof Tensor && scale.size === 1 && (scale.dtype === "float32" || scale.dtype === "float64"))) {
      throw new ValueError("Optimizer.step", "opts.gradScale", "a one-element float tensor",
        scale instanceof Tensor ? `a ${scale.dtype} tensor of shape ${fmtShape(scale.shape)}` : String(scale));
    }
    // the scale is where every gradient is, checked before anything is updated
    if (scale !== undefined) for (const p of this.params()) if (p.grad) checkScaleOn(scale, p.store, this.name);
    const stores = new Set<DeviceStore>();
    // an optimizer whose update does not read the scale gets its gradients scaled in place first
    if (scale !== undefined && !this.readsGradScale) scaleGradsInPlace(this.params(), scale);
    else this.scale = scale ?? null;
    try {
      noGrad(() => {
        for (const g of this.paramGroups) {
          this.validate(g, "");
          this.updateGroup(g);
          for (const p of g.params) {
            if (p.store !== null) stores.add(p.store);
            dropPrepacked(p); // a packed copy kept for inference is stale now
          }
        }
      });
    } finally {
      this.scale = null;
    }
    if (opts.submit !== false) for (const s of stores) s.flush();
  }

  /** The step's gradient scale (Optimizer.step's gradScale) while a step runs, else null. */
  private scale: Tensor | null = null;

  /**
   * Whether updateGroup reads its gradients through `hostGrad` and `deviceScale`, so that a step's
   * gradScale reaches them (SGD, Adam, AdamW); otherwise step scales the gradients in place first.
   */
  protected get readsGradScale(): boolean {
    return false;
  }

  /**
   * This step's gradient scale for the parameters on a device (step checked it is on theirs), or
   * null without one: a one-element tensor the update multiplies each gradient element by as it
   * reads it. Host updates read their gradients through `hostGrad`, scaled.
   */
  protected get deviceScale(): Tensor | null {
    return this.scale;
  }

  /** p's gradient data on the host (null without one), multiplied by this step's gradient scale (a copy) when there is one. */
  protected hostGrad(p: Tensor): Float32Array | Float64Array | null {
    const gd = gradData(p, `${this.name}.step`);
    const s = this.scale;
    if (!gd || s === null) return gd;
    const c = Number(s.data[0]);
    const out = gd instanceof Float32Array ? new Float32Array(gd.length) : new Float64Array(gd.length);
    for (let i = 0; i < gd.length; i++) out[i] = gd[i]! * c;
    return out;
  }

  /**
   * The device state buffers `key` of parameters on one device, each with whether it was just made
   * with zeros (no state loaded on the host moved into it: the update's first use of it); those
   * made now are views of one flat array, so that a backend binding each buffer once updates many
   * parameters in one kernel (webgpu's SGD and Adam).
   */
  protected deviceBuffersOf(ps: readonly Tensor[], key: string): { buf: Tensor; first: boolean }[] {
    const missing = ps.filter((p) => !this.deviceBuffers.get(p)?.has(key));
    const fresh = new Set<Tensor>();
    if (missing.length > 0) {
      const be = backendOf(missing[0]!) as DeviceBackend;
      let total = 0;
      for (const p of missing) total += p.size;
      const flat = filledArray(be, "float32", Math.max(1, total), 0);
      let at = 0;
      for (const p of missing) {
        if (!this.keepDeviceBuffer(p, key, new Tensor(null, p.shape, "float32", be.view(flat, at, p.size), be))) fresh.add(p);
        at += p.size;
      }
    }
    return ps.map((p) => ({ buf: this.deviceBuffers.get(p)!.get(key)!, first: fresh.has(p) }));
  }

  /**
   * The parameters of `params` on a device that have a gradient (its shape checked), by device, in
   * their order: each device's parameters update together (a few kernels on webgpu).
   */
  protected onDevices(params: readonly Tensor[]): { ps: Tensor[]; grads: Tensor[] }[] {
    const by = new Map<unknown, { ps: Tensor[]; grads: Tensor[] }>();
    for (const p of params) {
      if (p.device === null) continue;
      const g = this.deviceGrad(p, `${this.name}.step`);
      if (!g) continue;
      let list = by.get(p.store);
      if (!list) by.set(p.store, (list = { ps: [], grads: [] }));
      list.ps.push(p);
      list.grads.push(g);
    }
    return [...by.values()];
  }

  /**
   * Keeps `buf` (zeros) as p's device buffer `key`; state loaded (or made) while p was on the host
   * moves into it (true then).
   */
  private keepDeviceBuffer(p: Tensor, key: string, buf: Tensor): boolean {
    let m = this.deviceBuffers.get(p);
    if (!m) this.deviceBuffers.set(p, (m = new Map()));
    m.set(key, buf);
    const s = this.state.get(p), fromHost = s?.buffers.get(key);
    if (!fromHost) return false;
    writeValues(buf, fromHost);
    s!.buffers.delete(key);
    return true;
  }

  /** p's gradient when p is on a device and has one (shape checked), else null. */
  protected deviceGrad(p: Tensor, op: string): Tensor | null {
    const g = p.grad;
    if (!g) return null;
    if (!sameShape(g.shape, p.shape)) throw new ValueError(op, "param.grad", `shape ${fmtShape(p.shape)}`, fmtShape(g.shape));
    return g;
  }

  /** The state of `p`, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, buffers: new Map() };
      this.state.set(p, s);
    }
    return s;
  }

  /** The buffer `key` of `s`, created as zeros of `n` elements on first use. */
  protected buffer(s: ParamState, key: string, n: number): Float64Array {
    let b = s.buffers.get(key);
    if (!b) {
      b = new Float64Array(n);
      s.buffers.set(key, b);
    }
    return b;
  }

  /**
   * A copy of the state: float64 tensors `state.{i}.step` and `state.{i}.{buffer}`, and the groups.
   * The buffers of parameters trained on a device must have been read back (`readState()`), else
   * DeviceSyncError.
   */
  stateDict(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    const paramGroups: ParamGroupState[] = [];
    let index = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s) {
          tensors[`state.${index}.step`] = new Tensor(Float64Array.of(s.step), [], "float64");
          for (const [k, b] of s.buffers) tensors[`state.${index}.${k}`] = new Tensor(b.slice(), p.shape, "float64");
          for (const [k, b] of this.deviceBuffers.get(p) ?? []) {
            if (b.host === null) throw new DeviceSyncError(`${this.name}.stateDict`, `state.${index}.${k} (await optimizer.readState() first)`, b.store?.name ?? "unknown");
            tensors[`state.${index}.${k}`] = new Tensor(Float64Array.from(b.host as Float32Array), p.shape, "float64");
          }
        }
        ids.push(index++);
      }
      const hyper: Record<string, HyperValue> = {};
      for (const [k, v] of Object.entries(g)) {
        if (k === "params") continue;
        if (typeof v === "number" || typeof v === "boolean") hyper[k] = v;
        else if (Array.isArray(v) && v.every((x) => typeof x === "number")) hyper[k] = v.slice();
      }
      paramGroups.push({ ...hyper, params: ids });
    }
    return { tensors, paramGroups };
  }

  /**
   * The state dict after reading the state of parameters trained on a device back (their moments
   * are float32 device tensors); on the host the same as `stateDict()`.
   */
  async readState(): Promise<OptimizerState> {
    await readAll(this.deviceStateTensors());
    return this.stateDict();
  }

  /** The state tensors that live on a device (the moments of parameters trained there), for reading them back with others at once. */
  deviceStateTensors(): Tensor[] {
    const bufs: Tensor[] = [];
    for (const m of this.deviceBuffers.values()) bufs.push(...m.values());
    return bufs;
  }

  /**
   * Restores a state dict: the groups' hyper-parameters (lr included) and the per-parameter
   * state. Everything is checked first (group and parameter counts, names, shapes, required
   * buffers); on a mismatch a StateDictError names every problem and nothing changes.
   */
  loadStateDict(sd: OptimizerState): void {
    const op = `${this.name}.loadStateDict`;
    if (typeof sd !== "object" || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.tensors !== "object" || sd.tensors === null) {
      throw new ValueError(op, "state", "{ tensors, paramGroups }", String(sd));
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new ValueError(op, "paramGroups", `${this.paramGroups.length} groups`, `${sd.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    const groupOf = new Map<number, ParamGroup<O>>();
    const newGroups: ParamGroup<O>[] = [];
    sd.paramGroups.forEach((gs, gi) => {
      const mine = this.paramGroups[gi]!;
      if (!Array.isArray(gs.params) || gs.params.length !== mine.params.length) {
        throw new ValueError(op, `paramGroups[${gi}].params`, `${mine.params.length} parameters`, String(Array.isArray(gs.params) ? gs.params.length : gs.params));
      }
      const { params: ids, ...hyper } = gs;
      const merged = { ...mine, ...hyper, params: mine.params } as ParamGroup<O>;
      this.validate(merged, ` (group ${gi})`);
      newGroups.push(merged);
      ids.forEach((id, k) => {
        if (!Number.isInteger(id) || byIndex.has(id)) throw new ValueError(op, `paramGroups[${gi}].params[${k}]`, "a unique integer index", String(id));
        byIndex.set(id, mine.params[k]!);
        groupOf.set(id, merged);
      });
    });
    const unexpected: string[] = [], missing: string[] = [];
    const mismatched: { name: string; expected: number[]; actual: number[] }[] = [];
    const next = new Map<Tensor, ParamState>();
    for (const [name, t] of Object.entries(sd.tensors)) {
      const m = /^state\.(\d+)\.([A-Za-z0-9_]+)$/.exec(name);
      const p = m ? byIndex.get(Number(m[1])) : undefined;
      if (!m || !p || !(t instanceof Tensor) || t.dtype === "bool" || t.dtype === "int32") {
        unexpected.push(name);
        continue;
      }
      let s = next.get(p);
      if (!s) next.set(p, (s = { step: 0, buffers: new Map() }));
      if (m[2] === "step") {
        const v = t.size === 1 ? Number(t.data[0]) : NaN;
        if (!Number.isInteger(v) || v < 0) mismatched.push({ name, expected: [], actual: t.shape.slice() });
        else s.step = v;
      } else if (!sameShape(t.shape, p.shape)) mismatched.push({ name, expected: p.shape.slice(), actual: t.shape.slice() });
      else s.buffers.set(m[2]!, Float64Array.from(t.data));
    }
    for (const [id, p] of byIndex) {
      const s = next.get(p);
      if (!s) continue;
      if (!(`state.${id}.step` in sd.tensors)) missing.push(`state.${id}.step`);
      for (const k of this.requiredBuffers(groupOf.get(id)!)) if (!(`state.${id}.${k}` in sd.tensors)) missing.push(`state.${id}.${k}`);
    }
    if (unexpected.length || missing.length || mismatched.length) throw new StateDictError(op, missing, unexpected, mismatched);
    newGroups.forEach((g, i) => Object.assign(this.paramGroups[i]!, g));
    this.state.clear();
    // the buffers of a parameter on a device move there at its next update (deviceBuffersOf)
    this.deviceBuffers.clear();
    for (const [p, s] of next) this.state.set(p, s);
  }
}

/**
 * Every gradient of `params` multiplied in place by the one-element `scale` (on the gradients'
 * device, or on the host): Optimizer.step's gradScale for an update that does not read it.
 */
function scaleGradsInPlace(params: readonly Tensor[], scale: Tensor): void {
  const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
  const host = grads.filter((g) => g.device === null), device = grads.filter((g) => g.device !== null);
  const c = host.length > 0 ? Number(scale.data[0]) : 1;
  for (const g of host) {
    const d = floatData(g);
    for (let i = 0; i < d.length; i++) d[i] = d[i]! * c;
  }
  if (device.length > 0) scaleGradsBy(device, scale);
}

/**
 * Throws a ValueError naming opts.gradScale unless `scale` is where the parameters are: on the
 * host (store null), or a float32 tensor on their device `store`.
 */
function checkScaleOn(scale: Tensor, store: DeviceStore | null, name: string): void {
  if (store === null) {
    if (scale.store !== null) throw new ValueError(`${name}.step`, "opts.gradScale", "a host tensor, where the parameters are", `a tensor on ${scale.store.name}`);
    return;
  }
  if (scale.store !== store || scale.dtype !== "float32") {
    throw new ValueError(`${name}.step`, "opts.gradScale", `a float32 tensor on ${store.name}, where the parameters are`,
      scale.store === null ? "a host tensor" : `a ${scale.dtype} tensor on ${scale.store.name}`);
  }
}

/** The data of a float parameter or gradient. */
export function floatData(t: Tensor): Float32Array | Float64Array {
  return t.data as Float32Array | Float64Array;
}

/** The gradient of `p` as float data, or null when `p` has none; its shape must match. */
export function gradData(p: Tensor, op: string): Float32Array | Float64Array | null {
  const g = p.grad;
  if (!g) return null;
  if (!sameShape(g.shape, p.shape)) throw new ValueError(op, "param.grad", `shape ${fmtShape(p.shape)}`, fmtShape(g.shape));
  return floatData(g);
}
