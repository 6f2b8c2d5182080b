/**
 * Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW (bias-corrected moments, optional
 * AMSGrad). Adam folds weight decay into the gradient (L2 penalty); AdamW decays the weights
 * directly (`p *= 1 - lr * weightDecay`) before the Adam update:
 *
 *     g = grad (negated when maximize)  [+ weightDecay * p for Adam]
 *     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (AMSGrad: vmax = max(vmax, v), used for v)
 *     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, betas: [0.9, 0.95], weightDecay: 0.1 });
 * opt.zeroGrad();
 * backward(loss);
 * opt.step();
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { adamStepsDevice, type AdamDeviceItem, type AdamStepOptions } from "./device-step.js";
import { checkBool, checkNonNegative, checkUnitInterval, floatData, Optimizer, type ParamGroup, type Params } from "./optimizer.js";
import { definedOnly } from "./sgd.js";

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1) (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0); AdamW: decoupled decay (default 1e-2). */
  weightDecay: number;
  /** Use the maximum of past second moments (default false). */
  amsgrad: boolean;
  /** Ascend instead of descend (default false). */
  maximize: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  /**
   * The device update of a group's parameters on one device that have a gradient: their moments
   * (made together, views of one flat array per moment), each step count advanced, and the update.
   */
  private updateOnDevice(ps: readonly Tensor[], grads: readonly Tensor[], group: ParamGroup<AdamOptions>,
    shared: Omit<AdamStepOptions, "stepSize" | "bc2Sqrt">): void {
    const [b1, b2] = group.betas;
    const m = this.deviceBuffersOf(ps, "exp_avg"), v = this.deviceBuffersOf(ps, "exp_avg_sq");
    const vmax = group.amsgrad ? this.deviceBuffersOf(ps, "max_exp_avg_sq") : null;
    const items: AdamDeviceItem[] = ps.map((p, j) => {
      const t = ++this.stateOf(p).step;
      return { p, g: grads[j]!, m: m[j]!.buf, v: v[j]!.buf, vmax: vmax ? vmax[j]!.buf : null, stepSize: group.lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t) };
    });
    adamStepsDevice(items, shared, this.deviceScale);
  }

  protected constructor(name: string, params: Params<AdamOptions>, opts: Partial<AdamOptions>, weightDecay: number,
    private readonly decoupled: boolean) {
    const defaults: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay, amsgrad: false, maximize: false, ...definedOnly(opts) };
    validateAdam(defaults, "", name);
    super(name, params, defaults);
  }

  protected override get readsGradScale(): boolean {
    return true;
  }

  protected validate(o: AdamOptions, where: string): void {
    validateAdam(o, where, this.name);
  }

  protected requiredBuffers(group: ParamGroup<AdamOptions>): string[] {
    return group.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];
  }

  protected updateGroup(group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad, maximize } = group;
    const [b1, b2] = group.betas;
    const onDevice = this.onDevices(group.params);
    for (const p of group.params) {
      if (p.device !== null) continue;
      const gd = this.hostGrad(p);
      if (!gd) continue;
      const pd = floatData(p);
      const s = this.stateOf(p);
      const m = this.buffer(s, "exp_avg", pd.length);
      const v = this.buffer(s, "exp_avg_sq", pd.length);
      const vmax = amsgrad ? this.buffer(s, "max_exp_avg_sq", pd.length) : null;
      const t = ++s.step;
      const stepSize = lr / (1 - b1 ** t);
      const bc2Sqrt = Math.sqrt(1 - b2 ** t);
      const decay = this.decoupled ? 1 - lr * weightDecay : 1;
      const l2 = this.decoupled ? 0 : weightDecay;
      if (!vmax && !maximize && l2 === 0 && pd instanceof Float32Array && gd instanceof Float32Array) {
        adamStep32(pd, gd, m, v, b1, b2, decay, stepSize, bc2Sqrt, eps);
        continue;
      }
      for (let i = 0; i < pd.length; i++) {
        const w = pd[i]! * decay;
        let g = maximize ? -gd[i]! : gd[i]!;
        if (l2 !== 0) g += l2 * w;
        const mi = b1 * m[i]! + (1 - b1) * g;
        let vi = b2 * v[i]! + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        if (vmax) {
          vi = Math.max(vmax[i]!, vi);
          vmax[i] = vi;
        }
        pd[i] = w - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
      }
    }
    const shared = { b1, b2, eps, maximize, decay: this.decoupled ? 1 - lr * weightDecay : 1, l2: this.decoupled ? 0 : weightDecay };
    for (const { ps, grads } of onDevice) this.updateOnDevice(ps, grads, group, shared);
  }
}

/**
 * The common case of the update above (float32, no AMSGrad, not maximizing, no L2 term) as one
 * monomorphic loop: the same arithmetic in the same order, so the same bits.
 */
function adamStep32(pd: Float32Array, gd: Float32Array, m: Float64Array, v: Float64Array, b1: number, b2: number,
  decay: number, stepSize: number, bc2Sqrt: number, eps: number): void {
  for (let i = 0; i < pd.length; i++) {
    const w = pd[i]! * decay;
    const g = gd[i]!;
    const mi = b1 * m[i]! + (1 - b1) * g;
    const vi = b2 * v[i]! + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    pd[i] = w - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

/** torch.optim.Adam: weight decay as an L2 penalty in the gradient (default 0). */
export class Adam extends AdamBase {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("Adam", params, opts, 0, false);
  }
}

/** torch.optim.AdamW: decoupled weight decay (default 1e-2). */
export class AdamW extends AdamBase {
  constructor(params: Params<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super("AdamW", params, opts, 1e-2, true);
  }
}

function validateAdam(o: AdamOptions, where: string, op: string): void {
  checkNonNegative(o.lr, `lr${where}`, op);
  checkNonNegative(o.eps, `eps${where}`, op);
  checkNonNegative(o.weightDecay, `weightDecay${where}`, op);
  if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new ValueError(op, `betas${where}`, "two numbers [beta1, beta2]", String(o.betas));
  checkUnitInterval(o.betas[0], `betas[0]${where}`, op);
  checkUnitInterval(o.betas[1], `betas[1]${where}`, op);
  checkBool(o.amsgrad, `amsgrad${where}`, op);
  checkBool(o.maximize, `maximize${where}`, op);
}
