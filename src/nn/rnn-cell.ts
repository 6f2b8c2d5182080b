/**
 * LSTMCell and GRUCell with torch.nn's gates, parameter names (weight_ih, weight_hh, bias_ih,
 * bias_hh) and initialization U(-1/sqrt(H), 1/sqrt(H)); the single-step updates that LSTM and GRU
 * loop over.
 *
 * LSTM gates (row blocks i, f, g, o): c' = f*c + i*g, h' = o*tanh(c').
 * GRU gates (row blocks r, z, n): n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h.
 *
 * ```ts
 * const cell = new LSTMCell(3, 8);
 * let state = { h: zeros([2, 8]), c: zeros([2, 8]) };
 * for (const x of steps) state = cell.forward(x, [state.h, state.c]);   // x [2, 3] -> h, c [2, 8]
 * const gru = new GRUCell(3, 8);
 * const h = gru.forward(randn([2, 3]));                                   // [2, 8]
 * ```
 */
import { add, mul, sigmoid, sub, tanh } from "../ops/elementwise.js";
import { linear } from "../ops/matmul.js";
import { chunk, squeeze, unsqueeze } from "../ops/shape.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import type { Generator } from "../tensor/rng.js";
import { Tensor, expectTensor, zeros } from "../tensor/tensor.js";
import { uniform } from "./init.js";
import { Module } from "./module.js";

/**
 * One LSTM step from the input projection xp = x W_ih^T + b_ih [B, 4H] and the state h, c [B, H]:
 * -> h', c' [B, H].
 */
export function lstmStep(xp: Tensor, h: Tensor, c: Tensor, weightHh: Tensor, biasHh: Tensor | null): { h: Tensor; c: Tensor } {
  const gates = add(xp, linear(h, weightHh, biasHh)); // [B, 4H]
  const [i, f, g, o] = chunk(gates, 4, -1) as [Tensor, Tensor, Tensor, Tensor]; // 4 x [B, H]
  const c1 = add(mul(sigmoid(f), c), mul(sigmoid(i), tanh(g))); // [B, H]
  return { h: mul(sigmoid(o), tanh(c1)), c: c1 };
}

/** One GRU step from the input projection xp = x W_ih^T + b_ih [B, 3H] and the state h [B, H]: -> h' [B, H]. */
export function gruStep(xp: Tensor, h: Tensor, weightHh: Tensor, biasHh: Tensor | null): Tensor {
  const [xr, xz, xn] = chunk(xp, 3, -1) as [Tensor, Tensor, Tensor]; // 3 x [B, H]
  const [hr, hz, hn] = chunk(linear(h, weightHh, biasHh), 3, -1) as [Tensor, Tensor, Tensor];
  const r = sigmoid(add(xr, hr));
  const z = sigmoid(add(xz, hz));
  const n = tanh(add(xn, mul(r, hn)));
  return add(n, mul(z, sub(h, n))); // (1-z)*n + z*h
}

export function positiveInt(v: number, arg: string, op: string): void {
  if (!Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
}

export interface RNNCellOptions {
  bias?: boolean;
  generator?: Generator;
}

/** The parameters and input checks shared by LSTMCell (4 gates) and GRUCell (3 gates). */
abstract class RNNCellBase extends Module {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;

  protected constructor(protected readonly op: string, gates: number, readonly inputSize: number, readonly hiddenSize: number, opts: RNNCellOptions) {
    super();
    positiveInt(inputSize, "inputSize", op);
    positiveInt(hiddenSize, "hiddenSize", op);
    const k = 1 / Math.sqrt(hiddenSize), g = opts.generator;
    this.weightIh = this.registerParameter("weight_ih", uniform([gates * hiddenSize, inputSize], -k, k, g));
    this.weightHh = this.registerParameter("weight_hh", uniform([gates * hiddenSize, hiddenSize], -k, k, g));
    const bias = opts.bias ?? true;
    this.biasIh = this.registerParameter("bias_ih", bias ? uniform([gates * hiddenSize], -k, k, g) : null);
    this.biasHh = this.registerParameter("bias_hh", bias ? uniform([gates * hiddenSize], -k, k, g) : null);
  }

  /** input [B, I] or [I] -> input as [B, I] and whether it was batched. */
  protected batchedInput(input: Tensor): { x: Tensor; batched: boolean } {
    expectTensor(input, "input", this.op);
    if (input.dtype !== "float32" && input.dtype !== "float64") throw new DTypeError(this.op, "input", "float32 or float64", input.dtype);
    if ((input.rank !== 1 && input.rank !== 2) || input.shape[input.rank - 1] !== this.inputSize) {
      throw new ShapeError(this.op, "input", `[B, ${this.inputSize}] or [${this.inputSize}]`, fmtShape(input.shape));
    }
    return input.rank === 2 ? { x: input, batched: true } : { x: unsqueeze(input, 0), batched: false };
  }

  /** A state [B, H] ([H] unbatched) as [B, H]; zeros when absent. */
  protected state(t: Tensor | null | undefined, arg: string, x: Tensor, batched: boolean): Tensor {
    const B = x.shape[0]!, H = this.hiddenSize;
    if (t === null || t === undefined) return zeros([B, H], { dtype: x.dtype });
    expectTensor(t, arg, this.op);
    const exp = batched ? [B, H] : [H];
    if (t.rank !== exp.length || t.shape.some((d, i) => d !== exp[i])) throw new ShapeError(this.op, arg, fmtShape(exp), fmtShape(t.shape));
    if (t.dtype !== x.dtype) throw new DTypeError(this.op, arg, `${x.dtype} (the dtype of input)`, t.dtype);
    return batched ? t : unsqueeze(t, 0);
  }
}

/** torch.nn.LSTMCell: forward(input [B, I] or [I], [h, c]?) -> { h, c } [B, H] (or [H]). */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    super("LSTMCell", 4, inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): { h: Tensor; c: Tensor } {
    const { x, batched } = this.batchedInput(input);
    if (hx !== null && hx !== undefined && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new ValueError(this.op, "hx", "a pair [h, c]", String(hx));
    }
    const h0 = this.state(hx?.[0], "h0", x, batched), c0 = this.state(hx?.[1], "c0", x, batched);
    const r = lstmStep(linear(x, this.weightIh, this.biasIh), h0, c0, this.weightHh, this.biasHh); // [B, H]
    return batched ? r : { h: squeeze(r.h, 0), c: squeeze(r.c, 0) };
  }
}

/** torch.nn.GRUCell: forward(input [B, I] or [I], h?) -> h' [B, H] (or [H]). */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    super("GRUCell", 3, inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: Tensor | null): Tensor {
    const { x, batched } = this.batchedInput(input);
    const h0 = this.state(hx, "hx", x, batched);
    const h = gruStep(linear(x, this.weightIh, this.biasIh), h0, this.weightHh, this.biasHh); // [B, H]
    return batched ? h : squeeze(h, 0);
  }
}
