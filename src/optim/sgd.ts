/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, as
 * torch.optim.SGD:
 *
 *     g = grad (negated when maximize) + weightDecay * p
 *     buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *     g = nesterov ? g + momentum * buf : buf      (when momentum != 0)
 *     p -= lr * g
 *
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
 * opt.zeroGrad();
 * backward(loss);
 * opt.step();
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { sgdStepsDevice } from "./device-step.js";
import { checkBool, checkNonNegative, floatData, Optimizer, type ParamGroup, type Params } from "./optimizer.js";

export interface SGDOptions {
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0 (default false). */
  nesterov: boolean;
  /** Ascend instead of descend (default false). */
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    const defaults: SGDOptions = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...definedOnly(opts), lr: opts.lr };
    validateSGD(defaults, "");
    super("SGD", params, defaults);
  }

  protected override get readsGradScale(): boolean {
    return true;
  }

  protected validate(o: SGDOptions, where: string): void {
    validateSGD(o, where);
  }

  protected requiredBuffers(group: ParamGroup<SGDOptions>): string[] {
    return group.momentum !== 0 ? ["momentum_buffer"] : [];
  }

  protected updateGroup(group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    // the group's parameters on a device update together (a few kernels on webgpu), their momentum
    // buffers views of one flat array per device
    for (const { ps, grads } of this.onDevices(group.params)) {
      const bufs = momentum !== 0 ? this.deviceBuffersOf(ps, "momentum_buffer") : null;
      sgdStepsDevice(ps.map((p, j) => {
        this.stateOf(p).step++;
        return { p, g: grads[j]!, buf: bufs ? bufs[j]!.buf : null, first: bufs ? bufs[j]!.first : false };
      }), group, this.deviceScale);
    }
    for (const p of group.params) {
      if (p.device !== null) continue;
      const gd = this.hostGrad(p);
      if (!gd) continue;
      const pd = floatData(p);
      const s = this.stateOf(p);
      const first = !s.buffers.has("momentum_buffer");
      const buf = momentum !== 0 ? this.buffer(s, "momentum_buffer", pd.length) : null;
      s.step++;
      for (let i = 0; i < pd.length; i++) {
        const w = pd[i]!;
        let g = maximize ? -gd[i]! : gd[i]!;
        if (weightDecay !== 0) g += weightDecay * w;
        if (buf) {
          const b = first ? g : momentum * buf[i]! + (1 - dampening) * g;
          buf[i] = b;
          g = nesterov ? g + momentum * b : b;
        }
        pd[i] = w - lr * g;
      }
    }
  }
}

/** The options that are not undefined (so an explicit `undefined` keeps the default). */
export function definedOnly<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) r[k] = o[k];
  return r;
}

function validateSGD(o: SGDOptions, where: string): void {
  checkNonNegative(o.lr, `lr${where}`, "SGD");
  checkNonNegative(o.momentum, `momentum${where}`, "SGD");
  checkNonNegative(o.dampening, `dampening${where}`, "SGD");
  checkNonNegative(o.weightDecay, `weightDecay${where}`, "SGD");
  checkBool(o.nesterov, `nesterov${where}`, "SGD");
  checkBool(o.maximize, `maximize${where}`, "SGD");
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
    throw new ValueError("SGD", `nesterov${where}`, "momentum > 0 and dampening 0 with Nesterov momentum",
      `momentum ${o.momentum}, dampening ${o.dampening}`);
  }
}
