/**
 * Finite-difference gradient check in float64: compares backward() against central differences
 * of sum(f(inputs) * cotangent) for every float64 input that requires grad.
 *
 * ```ts
 * const x = randn([3, 4], { dtype: "float64", requiresGrad: true });
 * gradcheck((x) => softmax(x, -1), [x]); // { ok: true, maxError: ... }
 * ```
 */
import { DTypeError } from "../tensor/errors.js";
import { Generator } from "../tensor/rng.js";
import { Tensor } from "../tensor/tensor.js";
import { backward } from "./backward.js";
import { noGrad } from "./graph.js";

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxError: number;
  /** Describes the worst entry (input, index, analytic, numeric). */
  worst: string;
}

function outputsOf(r: Tensor | readonly Tensor[]): Tensor[] {
  return r instanceof Tensor ? [r] : r.slice();
}

/** Checks analytic gradients of `f` against central differences. Inputs must be float64. */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor | readonly Tensor[], inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-3;
  inputs.forEach((t, i) => {
    if (t.requiresGrad && t.dtype !== "float64") throw new DTypeError("gradcheck", `inputs[${i}]`, "float64", t.dtype);
  });
  const gen = new Generator(opts.seed ?? 1234);
  // random cotangents make the check sensitive to every output element
  const first = outputsOf(noGrad(() => f(...inputs)));
  const cots = first.map((o) => {
    const c = new Float64Array(o.size);
    gen.fillNormal(c);
    return c;
  });
  const loss = (): number => {
    const outs = outputsOf(noGrad(() => f(...inputs)));
    let s = 0;
    outs.forEach((o, k) => {
      const c = cots[k]!;
      for (let i = 0; i < o.size; i++) if (c[i] !== 0) s += Number(o.data[i]) * c[i]!;
    });
    return s;
  };
  for (const t of inputs) t.grad = null;
  const outs = outputsOf(f(...inputs));
  outs.forEach((o, k) => {
    if (o.requiresGrad) backward(o, new Tensor(Float64Array.from(cots[k]!), o.shape, "float64"));
  });
  let maxError = 0, worst = "";
  let ok = true;
  inputs.forEach((t, n) => {
    if (!t.requiresGrad) return;
    const d = t.data as Float64Array;
    for (let i = 0; i < d.length; i++) {
      const x0 = d[i]!;
      d[i] = x0 + eps;
      const lp = loss();
      d[i] = x0 - eps;
      const lm = loss();
      d[i] = x0;
      const num = (lp - lm) / (2 * eps);
      const ana = t.grad ? Number(t.grad.data[i]) : 0;
      const err = Math.abs(ana - num);
      if (err > maxError) { maxError = err; worst = `inputs[${n}][${i}]: analytic ${ana}, numeric ${num}`; }
      if (!(err <= atol + rtol * Math.abs(num))) ok = false;
    }
  });
  return { ok, maxError, worst };
}
