/**
 * Recording: ops call `attach` on their output with the inputs and the backward closure; the
 * closure is a required argument, so an op cannot be recorded without its gradient.
 *
 * ```ts
 * const y = noGrad(() => model.forward(x)); // nothing recorded
 * const ids = await noGradAsync(async () => (await argmax(model.forward(x), -1).read())); // nor across its awaits
 * ```
 */
import type { BlockGrad, Tensor } from "../tensor/tensor.js";

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` with recording switched off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * `noGrad` for an asynchronous `fn` (e.g. an evaluation that awaits device reads): recording is
 * off from the call until the promise `fn` returns settles (resolved or rejected), then back to
 * what it was. The flag is one for the whole program, not per task: anything else that runs
 * during `fn`'s awaits (a timer, another promise's continuation) runs without recording too, and
 * two such scopes that overlap without nesting restore the flag out of order. Use it where
 * nothing else records meanwhile (fit awaits its evaluation before the next step).
 */
export async function noGradAsync<T>(fn: () => T | Promise<T>): Promise<T> {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return await fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs `fn` with recording switched on (inside a noGrad scope). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when recording is on and some input needs a gradient. */
export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Records `out = op(inputs)` when an input requires grad. `backward(g)` returns the gradient of
 * each input (same shape as that input; or a BlockGrad, zero outside one block) or null. `saved`:
 * tensors the op made for `backward` alone (GradNode.saved), given back by freeGraph.
 */
export function attach<T extends Tensor>(out: T, op: string, inputs: readonly Tensor[],
  backward: (grad: Tensor) => readonly (Tensor | BlockGrad | null)[], saved?: readonly Tensor[]): T {
  if (!needsGrad(inputs)) return out;
  out.requiresGrad = true;
  out.gradFn = saved && saved.length > 0 ? { op, inputs, backward, saved } : { op, inputs, backward };
  return out;
}
