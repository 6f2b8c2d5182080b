/**
 * optim family: SGD / Adam / AdamW run for config.steps steps from params, with inputs
 * `grad_step{n}.{param}` assigned to `.grad` before step n; outputs `after_step{n}.{param}`.
 */
import { Adam, AdamW } from "../../../src/optim/adam.js";
import type { Optimizer } from "../../../src/optim/optimizer.js";
import { SGD } from "../../../src/optim/sgd.js";
import { copyTensor } from "../../../src/backend/tensor-arrays.js";
import type { Tensor } from "../../../src/tensor/tensor.js";
import { cfg, type FamilyRunner, type FxCase } from "../fixture.js";

function betas(c: FxCase): [number, number] {
  const b = c.config.betas;
  if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === "number")) throw new Error(`fixture ${c.name}: config.betas expected [b1, b2]`);
  return [b[0] as number, b[1] as number];
}

function make(c: FxCase, params: Tensor[]): Optimizer {
  const kind = cfg(c, "optimizer", "string");
  switch (kind) {
    case "SGD":
      return new SGD(params, {
        lr: cfg(c, "lr", "number"),
        momentum: cfg(c, "momentum", "number", 0),
        dampening: cfg(c, "dampening", "number", 0),
        weightDecay: cfg(c, "weight_decay", "number", 0),
        nesterov: cfg(c, "nesterov", "boolean", false),
        maximize: cfg(c, "maximize", "boolean", false),
      });
    case "Adam":
    case "AdamW": {
      const opts = {
        lr: cfg(c, "lr", "number", 1e-3),
        betas: c.config.betas === undefined ? ([0.9, 0.999] as [number, number]) : betas(c),
        eps: cfg(c, "eps", "number", 1e-8),
        weightDecay: cfg(c, "weight_decay", "number", kind === "Adam" ? 0 : 1e-2),
        amsgrad: cfg(c, "amsgrad", "boolean", false),
        maximize: cfg(c, "maximize", "boolean", false),
      };
      return kind === "Adam" ? new Adam(params, opts) : new AdamW(params, opts);
    }
    default:
      throw new Error(`unknown optimizer ${kind}`);
  }
}

export const optim: FamilyRunner = ({ c, inputs, params }) => {
  const names = Object.keys(params);
  // the optimizer updates these copies in place; the originals stay as the case's start values
  const live: Record<string, Tensor> = {};
  for (const n of names) live[n] = copyTensor(params[n]!).requiresGrad_(true);
  const opt = make(c, names.map((n) => live[n]!));
  const steps = cfg(c, "steps", "number");
  const outputs: Record<string, Tensor> = {};
  for (let s = 1; s <= steps; s++) {
    for (const n of names) {
      const g = inputs[`grad_step${s}.${n}`];
      live[n]!.grad = g ? copyTensor(g) : null;
    }
    opt.step();
    for (const n of names) outputs[`after_step${s}.${n}`] = copyTensor(live[n]!);
  }
  return { outputs };
};
