/**
 * The PyTorch fixture format (see test/fixtures/pytorch/README.md) and the generic case runner:
 * build inputs and parameters, run a family's forward, back-propagate the stored cotangents, and
 * compare outputs and gradients elementwise with the case's tolerance.
 *
 * A case runs on the host, or on a device backend (`runCase(c, runner, be)`, with `be` active):
 * float inputs and parameters are moved there before the forward (bool and integer inputs stay
 * on the host, as masks and indices do), modules loaded through `ctx.load` are moved there, and
 * outputs and gradients are read back before they are compared.
 */
import { backward } from "../../src/autograd/backward.js";
import type { AnyBackend } from "../../src/backend/backend.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import type { Module } from "../../src/nn/module.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { add } from "../../src/ops/elementwise.js";
import { Tensor } from "../../src/tensor/tensor.js";

export interface FxTensor {
  shape: number[];
  dtype: "float32" | "bool" | "int64";
  data: (number | boolean | string)[];
}

export interface FxCase {
  name: string;
  config: Record<string, unknown>;
  inputs: Record<string, FxTensor>;
  params: Record<string, FxTensor>;
  outputs: Record<string, FxTensor>;
  cotangents: Record<string, FxTensor>;
  grads: Record<string, FxTensor>;
  tolerance: { rtol: number; atol: number };
}

export interface FxFile {
  family: string;
  conventions?: string;
  cases: FxCase[];
}

const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

export function fxNumbers(t: FxTensor): Float64Array {
  return Float64Array.from(t.data, (x) => (typeof x === "string" ? special[x] ?? NaN : Number(x)));
}

/** A fixture tensor as a qkv tensor: float32, bool, or int32 (int64 values are small). */
export function fxTensor(t: FxTensor): Tensor {
  if (t.dtype === "bool") return new Tensor(Uint8Array.from(t.data, (x) => (x ? 1 : 0)), t.shape, "bool");
  if (t.dtype === "int64") return new Tensor(Int32Array.from(t.data, (x) => Number(x)), t.shape, "int32");
  return new Tensor(Float32Array.from(fxNumbers(t)), t.shape, "float32");
}

/** What a family's runner returns for one case. */
export interface Forward {
  outputs: Record<string, Tensor | null | undefined>;
  /** The tensor whose .grad is the gradient named `name` (default: the input or parameter of that name). */
  gradTarget?: (name: string) => Tensor | null | undefined;
  /** Gradient names this family deliberately does not compute (the README allows float-mask grads to be skipped). */
  skipGrads?: string[];
}

export interface CaseContext {
  c: FxCase;
  /** Float inputs require grad; bool and int inputs do not. */
  inputs: Record<string, Tensor>;
  /** Parameters as leaf tensors that require grad. */
  params: Record<string, Tensor>;
  /** Puts `m` where the case runs (on its device, for a device run), then loads `state` into it by state-dict name. */
  load(m: Module, state: Record<string, Tensor>, opts?: { strict?: boolean }): void;
}

export type FamilyRunner = (ctx: CaseContext) => Forward;

export interface CaseOutcome {
  name: string;
  ok: boolean;
  problems: string[];
}

/** Compares actual to expected; an expected NaN (the fully masked rows) requires the documented 0 (`nanMeans: "zero"`) or any finite value (`"finite"`). */
export function compare(label: string, actual: Tensor, expected: FxTensor, rtol: number, atol: number, nanMeans: "zero" | "finite"): string | null {
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return `${label}: shape [${actual.shape.join(", ")}] != expected [${expected.shape.join(", ")}]`;
  }
  const e = expected.dtype === "bool" ? Float64Array.from(expected.data, (x) => (x ? 1 : 0)) : fxNumbers(expected);
  const exact = expected.dtype !== "float32";
  let bad = 0, first = "";
  for (let i = 0; i < e.length; i++) {
    const a = Number(actual.data[i]), x = e[i]!;
    let ok: boolean;
    if (exact) ok = a === x;
    else if (Number.isNaN(x)) ok = nanMeans === "zero" ? a === 0 : Number.isFinite(a);
    else if (!Number.isFinite(x)) ok = a === x;
    else ok = Math.abs(a - x) <= atol + rtol * Math.abs(x);
    if (!ok) {
      if (!bad) first = `[${i}] got ${a}, expected ${x}`;
      bad++;
    }
  }
  return bad ? `${label}: ${bad}/${e.length} entries off, first ${first}` : null;
}

/** Reads a device tensor back (so that `data` works); a host tensor as it is. */
async function settled(t: Tensor | null | undefined): Promise<void> {
  if (t?.onDevice) await t.read();
}

/** Runs one case: on the host, or on the device backend `device` (which must be the active backend). */
export async function runCase(c: FxCase, runner: FamilyRunner, device: AnyBackend | null = null): Promise<CaseOutcome> {
  const problems: string[] = [];
  const place = (t: Tensor): Tensor => (device && t.dtype === "float32" ? toDevice(t, device) : t);
  const inputs: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(c.inputs ?? {})) {
    const x = place(fxTensor(t));
    if (x.dtype === "float32") x.requiresGrad_(true);
    inputs[n] = x;
  }
  const params: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(c.params ?? {})) params[n] = place(fxTensor(t)).requiresGrad_(true);
  const load = (m: Module, state: Record<string, Tensor>, opts?: { strict?: boolean }): void => {
    if (device) m.toDevice(device);
    m.loadStateDict(state, opts);
  };
  const { rtol, atol } = c.tolerance ?? { rtol: 1e-4, atol: 1e-5 };
  let fwd: Forward;
  try {
    fwd = runner({ c, inputs, params, load });
    for (const o of Object.values(fwd.outputs)) await settled(o);
  } catch (e) {
    return { name: c.name, ok: false, problems: [`threw ${(e as Error).stack ?? String(e)}`] };
  }
  for (const [n, exp] of Object.entries(c.outputs ?? {})) {
    const a = fwd.outputs[n];
    if (!a) { problems.push(`output ${n}: missing`); continue; }
    const p = compare(`output ${n}`, a, exp, rtol, atol, "zero");
    if (p) problems.push(p);
  }
  const cots = Object.entries(c.cotangents ?? {});
  if (cots.length && Object.keys(c.grads ?? {}).length) {
    let loss: Tensor | null = null;
    for (const [n, ct] of cots) {
      const o = fwd.outputs[n];
      if (!o) continue;
      const term = sum(mul(o, fxTensor(ct)));
      loss = loss ? add(loss, term) : term;
    }
    try {
      if (loss && loss.requiresGrad) backward(loss);
      for (const n of Object.keys(c.grads ?? {})) await settled((fwd.gradTarget?.(n) ?? inputs[n] ?? params[n])?.grad);
    } catch (e) {
      return { name: c.name, ok: false, problems: [...problems, `backward threw ${(e as Error).stack ?? String(e)}`] };
    }
    for (const [n, exp] of Object.entries(c.grads ?? {})) {
      if (fwd.skipGrads?.includes(n)) continue;
      const target = fwd.gradTarget?.(n) ?? inputs[n] ?? params[n];
      if (!target) { problems.push(`grad ${n}: no such input or parameter`); continue; }
      const g = target.grad ?? new Tensor(new Float32Array(target.size), target.shape, "float32");
      const p = compare(`grad ${n}`, g, exp, rtol, atol, "finite");
      if (p) problems.push(p);
    }
  }
  return { name: c.name, ok: problems.length === 0, problems };
}

/** Reads a config value with a type check, so a malformed fixture fails loudly. */
export function cfg<T extends "number" | "boolean" | "string">(c: FxCase, key: string, type: T, fallback?: T extends "number" ? number : T extends "boolean" ? boolean : string):
  T extends "number" ? number : T extends "boolean" ? boolean : string {
  const v = c.config?.[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback as never;
    throw new Error(`fixture ${c.name}: config.${key} missing`);
  }
  if (typeof v !== type) throw new Error(`fixture ${c.name}: config.${key} expected ${type}, got ${typeof v}`);
  return v as never;
}
