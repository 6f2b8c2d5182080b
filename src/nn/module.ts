/**
 * Module: the base of every layer. Parameters and child modules are registered by name, so
 * namedParameters() and stateDict() give PyTorch's dotted names ("layers.0.self_attn.in_proj_weight")
 * and a PyTorch state dict loads unchanged.
 *
 * ```ts
 * class Affine extends Module {
 *   w = this.registerParameter("weight", randn([4, 4]));
 * }
 * const m = new Affine();
 * m.stateDict(); // { weight: Tensor [4, 4] }
 * ```
 */
import type { AnyBackend } from "../backend/backend.js";
import { readAll } from "../tensor/read-all.js";
import { arrayOf, backendOf, toDevice, writeValues } from "../backend/tensor-arrays.js";
import { StateDictError, ValueError } from "../tensor/errors.js";
import { dropPrepacked } from "../tensor/prepacked.js";
import { sameShape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

export type StateDict = Record<string, Tensor>;

export class Module {
  /** train() / eval() mode: dropout is active only in training. */
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _modules = new Map<string, Module | null>();

  /** Registers a trainable parameter (a float leaf; requiresGrad is switched on). */
  protected registerParameter<T extends Tensor | null>(name: string, t: T): T {
    if (name.includes(".") || name === "") throw new ValueError("registerParameter", "name", "a non-empty name without dots", JSON.stringify(name));
    if (t) t.requiresGrad_(true);
    this._params.set(name, t);
    return t;
  }

  /** Registers persistent state that is not trained (saved in the state dict). */
  protected registerBuffer<T extends Tensor | null>(name: string, t: T): T {
    this._buffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name`. */
  protected registerModule<M extends Module | null>(name: string, m: M): M {
    if (name.includes(".") || name === "") throw new ValueError("registerModule", "name", "a non-empty name without dots", JSON.stringify(name));
    this._modules.set(name, m);
    return m;
  }

  /** Replaces a registered parameter's tensor (used by loaders); keeps the registration order. */
  protected setParameter(name: string, t: Tensor): void {
    if (!this._params.has(name)) throw new ValueError("setParameter", "name", "a registered parameter", name);
    t.requiresGrad_(true);
    this._params.set(name, t);
  }

  /** (name, child) pairs, direct children only. */
  namedChildren(): [string, Module][] {
    const r: [string, Module][] = [];
    for (const [n, m] of this._modules) if (m) r.push([n, m]);
    return r;
  }

  /** Every module of the tree with its dotted name ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const r: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.namedChildren()) r.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return r;
  }

  /** (dotted name, parameter) pairs: own parameters first, then children's, in registration order. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const r: [string, Tensor][] = [];
    for (const [n, p] of this._params) if (p) r.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, m] of this.namedChildren()) r.push(...m.namedParameters(prefix ? `${prefix}.${n}` : n));
    return r;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = ""): [string, Tensor][] {
    const r: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) if (b) r.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, m] of this.namedChildren()) r.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return r;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * Moves every float32 parameter and buffer to `be`'s device in place (a no-op on a host
   * backend): optimizers made before or after keep working on the same tensors. Reading them on
   * the host afterwards needs `await t.read()`.
   */
  toDevice(be: AnyBackend): this {
    for (const p of this.parameters()) if (p.dtype === "float32") toDevice(p, be);
    for (const [, b] of this.namedBuffers()) if (b.dtype === "float32") toDevice(b, be);
    return this;
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [n, p] of this.namedParameters()) sd[n] = p;
    for (const [n, b] of this.namedBuffers()) sd[n] = b;
    return sd;
  }

  /**
   * The state dict after reading every parameter and buffer on a device back: their `data` (and
   * so `clone()`, saving, `captureTrainState`) works until the next update writes them. On a host
   * model the same as `stateDict()`.
   */
  async readState(): Promise<StateDict> {
    const sd = this.stateDict();
    await readAll(Object.values(sd));
    return sd;
  }

  /**
   * Copies values from a state dict (into a parameter or buffer on a device too, in place there;
   * the given tensors must be on the host, or read back). Checks every name and shape first and names every
   * missing, unexpected or wrongly shaped entry in one StateDictError; nothing is copied then.
   * `strict: false` ignores missing and unexpected names (shapes are still checked).
   */
  loadStateDict(sd: StateDict | Map<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const given = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing: string[] = [], unexpected: string[] = [];
    const mismatched: { name: string; expected: number[]; actual: number[] }[] = [];
    for (const name of Object.keys(own)) if (!given.has(name)) missing.push(name);
    for (const [name, t] of given) {
      const mine = own[name];
      if (!mine) { unexpected.push(name); continue; }
      if (!sameShape(mine.shape, t.shape)) mismatched.push({ name, expected: mine.shape.slice(), actual: t.shape.slice() });
      else if ((mine.dtype === "bool") !== (t.dtype === "bool") || (mine.dtype === "int32") !== (t.dtype === "int32")) {
        mismatched.push({ name, expected: mine.shape.slice(), actual: t.shape.slice() });
      }
    }
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      throw new StateDictError("loadStateDict", strict ? missing : [], strict ? unexpected : [], mismatched);
    }
    for (const [name, t] of given) {
      const mine = own[name];
      if (!mine) continue;
      dropPrepacked(mine);
      if (mine.device !== null && t.device !== null) copyOnDevice(mine, t);
      else writeValues(mine, t.data);
    }
  }
}

/**
 * Whether `m` runs `cls`'s own forward: an instance of exactly `cls` whose forward is not replaced
 * on the instance (interpret/capture.ts wraps forward that way). A stack may then call another
 * entry of the class (the transformer stacks' joined residual norms) and do what forward would.
 */
export function plainForward(m: Module, cls: abstract new (...args: never[]) => Module): boolean {
  return Object.getPrototypeOf(m) === cls.prototype && !Object.prototype.hasOwnProperty.call(m, "forward");
}

/** A list of modules named "0", "1", ... (as torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new ValueError("ModuleList.at", "i", `an index in [0, ${this.items.length})`, String(i));
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** dst = src, both on the same device: a copy there. */
function copyOnDevice(dst: Tensor, src: Tensor): void {
  const be = backendOf(dst);
  if (dst.size > 0) be.stridedCopy(arrayOf(dst, be), arrayOf(src, be), [dst.size], [1]);
  dst.deviceWritten();
}
